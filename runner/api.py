"""The public API: the one path every front-end (CLI, TUI, notebook) takes through a launch."""

from __future__ import annotations

import contextlib
import gc
import itertools
import operator
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.catalog import describe_presets, describe_workflows, registered_versions
from runner.errors import Interrupted, UsageError, WorkflowError
from runner.records import (
    Done,
    IndexPlan,
    LaunchRecord,
    Provenance,
    RunBlock,
    RunOutcome,
    RunRecord,
    RunSpec,
    RunStatus,
    Specs,
)
from runner.store import Store

if TYPE_CHECKING:
    from runner.composer import ConfigSpace, Definition, Project, Request
    from runner.entrypoints import Workflow
    from runner.launchers import Launcher
    from runner.lifecycle import CancelResult
    from runner.plan import Plan
    from runner.provenance import GitStatus
    from runner.results import ResultsTable

# Composition (Hydra) and execution (joblib) are imported where they are used, so that
# `runner status`, `runner --help` and `import runner` stay fast.


class Launch:
    """A launch and its runs, as recorded; the runs are read from the store when first asked.

    In a notebook it renders as HTML (its runs, status in colour, the params that vary and
    the results); in a console as one line::

        launch = runner.launch("pi", sweep={"samples": [100, 1000]}, repeat=3)
        launch                  # <Launch 3f2a...: pi:1.0, 6 runs (6 succeeded)>
        launch.to_dataframe()   # one row per run (pandas: the `notebook` extra)
    """

    def __init__(
        self, record: LaunchRecord, runs: list[RunRecord] | None = None, store: Store | None = None
    ) -> None:
        self.record = record
        self._runs = runs
        self._store = store

    def __repr__(self) -> str:
        from runner.display import launch_text

        return launch_text(self)

    def _repr_html_(self) -> str:
        from runner.display import launch_html

        return launch_html(self)

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def runs(self) -> Runs:
        """Its runs in plan order (read once; `status()` reads them again)."""
        if self._runs is None:
            self._runs = self._store.runs(self.id) if self._store else []
        return Runs(self._runs)

    def iter_runs(self) -> Iterator[RunRecord]:
        """Its runs in plan order, read a page at a time: memory for a page whatever the
        launch's size (a million runs). Big results stay in their files until asked for::

            for run in launch.iter_runs():
                if run.status.value == "failed":
                    print(run.id, run.error)
        """
        if self._runs is not None or self._store is None:
            yield from self.runs
        else:
            yield from self._store.every_run(self.id)

    def run_ids(self) -> Iterator[str]:
        """Its run ids in plan order, streamed (nothing else is read)."""
        if self._runs is not None or self._store is None:
            yield from (run.id for run in self.runs)
        else:
            yield from self._store.run_ids(self.id)

    def count(self) -> dict[str, int]:
        """Its runs by status, read again from the store into `record.counts` (every run
        read: 0.27 s for a million)."""
        if self._store is not None:
            self._store.fill_counts([self.record])
        return self.record.counts

    def counting(self) -> Callable[[], dict[str, int]]:
        """`count` started in a thread, on a connection of its own (SQLite reads without
        holding the GIL), for a reader to show the first runs meanwhile; what it returns
        waits for the counts and returns them (or raises what counting raised)."""
        if self._store is None:
            return self.count
        import threading

        home, record = self._store.home, self.record
        failed: list[Exception] = []

        def count() -> None:
            try:
                store = Store(home)
                try:
                    store.fill_counts([record])
                finally:
                    store.close()
            except Exception as exc:  # raised by the caller, in its thread
                failed.append(exc)

        thread = threading.Thread(target=count, name=f"count {record.id}", daemon=True)
        thread.start()

        def counted() -> dict[str, int]:
            thread.join()
            if failed:
                raise failed[0]
            return record.counts

        return counted

    def first_run(self) -> RunRecord | None:
        """Its first run in plan order (one row read)."""
        if self._runs is not None or self._store is None:
            return self._runs[0] if self._runs else None
        return self._store.first_run(self.id)

    @property
    def ok(self) -> bool:
        return all(RunStatus(status).ok for status in self.record.counts)

    @property
    def failed(self) -> int:
        """How many runs did not succeed (nor were served from the cache)."""
        return sum(n for status, n in self.record.counts.items() if not RunStatus(status).ok)

    @property
    def results(self) -> list[Any]:
        return [run.result for run in self.runs]

    @property
    def cancelled(self) -> bool:
        """The launch as a whole was cancelled (runner cancel, Launch.cancel(), Ctrl-C)."""
        return self.record.cancelled is not None

    @property
    def home(self) -> Path | None:
        return self._store.home if self._store else None

    def status(self) -> str:
        """The launch's status read again from the store (running, succeeded, failed,
        timed_out, cancelled, lost), its record and runs refreshed with it::

            launch = runner.launch("nap", repeat=4, wait=False)
            launch.status()          # 'running'
            launch.record.counts     # {'succeeded': 1, 'running': 2, 'pending': 1}
        """
        if self._store is not None:
            record = self._store.launch(self.id)
            assert record is not None
            self.record, self._runs = record, None
        return self.record.status

    def cancel(self) -> CancelResult:
        """Cancel this launch, from any process: pending runs never start, running ones are
        stopped, both recorded cancelled; finished runs are kept::

            launch = runner.launch("nap", repeat=20, wait=False)
            launch.cancel().cancelled    # how many runs it stopped
        """
        from runner.lifecycle import cancel

        (done,) = cancel([self.id], home=self.home)
        self.status()
        return done

    def wait(
        self,
        *,
        poll_interval: float = 0.5,
        timeout: float | None = None,
        on_outcome: Callable[[RunOutcome], None] | None = None,
        progress: bool | None = None,
    ) -> Launch:
        """This launch once it has ended (it may run in another process); see `runner.wait`.
        `progress`: a live bar (tqdm.auto) of done, failed and running runs with an ETA;
        None shows it unless `on_outcome` follows the launch. The launch itself is
        refreshed too::

            launch = runner.launch("pi", sweep={"samples": [100, 1000]}, wait=False)
            launch.wait(timeout=60).results
        """
        from runner.lifecycle import wait

        done = wait(
            self.id,
            home=self.home,
            poll_interval=poll_interval,
            timeout=timeout,
            on_outcome=on_outcome,
            progress=progress,
        )
        self.record, self._runs, self._store = done.record, None, done._store
        return done

    def resume(self, *, wait: bool = True, progress: bool | None = None) -> Launch:
        """Run again, into this launch, the runs that did not succeed (same params and
        seeds); see `runner.resume`::

            launch.cancel()
            launch.resume(wait=False)
        """
        done = resume(self.id, home=self.home, wait=wait, progress=progress)
        self.record, self._runs, self._store = done.record, None, done._store
        return done

    def table(self, **options: Any) -> ResultsTable:
        """Its results table (`runner.table`: the params that vary, results flattened, by
        sweep point when runs repeat); `options` as `runner.table` takes them::

            launch.table(by_point=True, stats=True, sort="pi")
        """
        return table(self, home=self.home, **options)

    def to_dataframe(self, *, by_point: bool = False, **options: Any) -> Any:
        """Its results as a pandas DataFrame, one row per run by default (index: run id;
        columns `params.x`, `result.y`, `status`, `seed`, `repeat`, `duration`), to
        aggregate with pandas. Needs the `notebook` extra
        (pip install 'runner-launch[notebook]')::

            frame = launch.to_dataframe()
            frame.groupby("params.samples")["result.pi"].agg(["mean", "std"])
        """
        return self.table(by_point=by_point, **options).to_dataframe()

    def plot(self, x: str, y: str, *, by: str | None = None, ax: Any = None) -> Any:
        """Plot result `y` against param `x`: the mean over the runs at each x with a band of
        one standard deviation, one line per value of the param `by` if given. The title says
        what each mean is over (repeats, and any other param that varies); returns the
        matplotlib Axes. Needs the `notebook` extra::

            launch.plot(x="samples", y="error")
            launch.plot(x="C", y="accuracy", by="kernel")   # one line per kernel
        """
        from runner.frames import plot

        return plot(self.table(by_point=False, all_columns=True), x, y, by=by, ax=ax)

    def to_json(self, *, runs: bool = True) -> dict[str, Any]:
        """The launch as `--json` prints it; `runs=False`: its runs left out (a listing).
        Big results are shown by their summary and `result_file`, their files not read
        (`runner status LAUNCH --json` streams the same runs a page at a time); a one-run
        launch's JSON holds its whole result."""
        whole = self.record.run_count == 1
        return {
            **self.record.to_json(),
            "runs": [run.to_json(load=whole) for run in self.iter_runs()] if runs else [],
        }


class Runs(list[RunRecord]):
    """A list of runs that reads well: HTML in a notebook (status in colour, the params that
    vary, results), one line a run in a console. What `runner.runs` and `Launch.runs` return::

        failed = runner.runs(workflow="pi", status="failed")
        failed.table()          # the core results table of these runs
    """

    def __repr__(self) -> str:
        from runner.display import runs_text

        return runs_text(self)

    def _repr_html_(self) -> str:
        from runner.display import runs_html

        return runs_html(self)

    def table(self) -> ResultsTable:
        """These runs as the core results table, one row per run::

        runner.runs(status="failed").table()
        """
        from runner.display import runs_table

        return runs_table(self)

    def to_dataframe(self) -> Any:
        """These runs as a pandas DataFrame, one row per run (the `notebook` extra)::

        runner.runs(workflow="pi", limit=500).to_dataframe()["result.error"].describe()
        """
        return self.table().to_dataframe()


@dataclass
class Preview:
    """What `show` returns: the composed definition and the runs a launch would make."""

    definition: dict[str, Any]
    seed: int
    seed_drawn: bool
    specs: Sequence[RunSpec]  # made as they are read (a sweep may be huge)
    params_schema: dict[str, Any]
    axes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "definition": self.definition,
            "seed": self.seed,
            "seed_drawn": self.seed_drawn,
            "runs": [
                {"index": s.index, "params": s.params, "seed": s.seed, "repeat": s.repeat_index}
                for s in self.specs
            ],
        }


@dataclass
class Entities:
    """What `runner list` shows: workflows (every version) and saved run definitions."""

    workflows: list[dict[str, Any]]
    presets: list[dict[str, Any]]
    broken: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"workflows": self.workflows, "presets": self.presets, "broken": self.broken}


def request(
    target: str | None = None,
    overrides: Iterable[str] = (),
    *,
    name: str | None = None,
    tags: Sequence[str] | None = None,
    notes: str | None = None,
    repeat: int | str | None = None,
    seed: int | str | None = None,
    params: dict[str, Any] | Iterable[str] | None = None,
    labels: dict[str, Any] | None = None,
    annotations: dict[str, Any] | None = None,
    env: dict[str, Any] | None = None,
    max_parallelism: int | None = None,
    addr: str | None = None,
    timeout: float | str | None = None,
    retries: int | str | None = None,
    cache: bool | None = None,
    workflow: Workflow | None = None,
    inputs: dict[str, Any] | None = None,
    inputs_label: str = "inputs file",
    sweep: dict[str, Any] | None = None,
    max_runs: int | None = None,
) -> Request:
    """A Request from keyword arguments; options that are None are left to the definition.

    `workflow` launches a workflow already in hand (a Python file's entity) instead of one
    named by `target`; `inputs` are params read from an inputs file or stdin, which sit above
    files and below overrides. Each input replaces its default whole (a dict is not merged into
    a dict default), as typed inputs do in pyflyte.
    """
    from runner.composer import Request

    if target is not None and not isinstance(target, str):
        what = type(target).__name__
        raise UsageError(
            f"target: a run file, WORKFLOW[:VERSION] or a saved run definition's name is a"
            f" string, not a {what}; overrides go second (launch(target, [overrides]))"
        )
    if isinstance(overrides, str):
        raise UsageError(f"overrides: a list of strings, not one string ({[overrides]!r})")
    overrides = list(overrides)
    # Iterables read once, here, so that they can be checked and then used.
    tags = list(tags) if tags is not None else None
    params = params if params is None or isinstance(params, dict) else list(params)
    sweep = {
        key: list(values)
        if isinstance(values, Iterable) and not isinstance(values, str | range)
        else values
        for key, values in (sweep or {}).items()
    }
    _check_usable(
        target=target,
        overrides=overrides,
        name=name,
        tags=tags,
        notes=notes,
        repeat=repeat,
        seed=seed,
        params=params,
        labels=labels,
        annotations=annotations,
        env=env,
        addr=addr,
        timeout=timeout,
        retries=retries,
        inputs=inputs,
        sweep={k: v for k, v in sweep.items() if not isinstance(v, range)},
    )
    options = {
        "name": name,
        "tags": tags,
        "notes": notes,
        "repeat": repeat,
        "seed": seed,
        "labels": labels,
        "annotations": annotations,
        "env": env,
        "max_parallelism": max_parallelism,
        "addr": addr,
        "timeout": timeout,
        "retries": retries,
        "cache": cache,
    }
    if workflow is not None and inputs:
        inputs = _typed_inputs(workflow, inputs, inputs_label)
    # A dict of params merges as values; k=v strings are typed by Hydra's grammar, as on the CLI.
    if isinstance(params, dict):
        options["params"] = dict(params)
        option_params = []
    else:
        option_params = list(params or ())
    return Request(
        target=target,
        overrides=list(overrides),
        options={k: v for k, v in options.items() if v is not None},
        option_params=option_params,
        workflow=workflow,
        inputs=dict(inputs or {}),
        inputs_label=inputs_label,
        sweeps=dict(sweep or {}),
        max_runs=max_runs or _max_runs_setting(),
    )


def _request(
    target: str | None, overrides: Iterable[str], options: dict[str, Any], call: str
) -> Request:
    """request() from a call's keyword arguments: one that is no option of a run definition
    is named (a workflow's param given as `C=10` belongs in params)."""
    import inspect

    known = inspect.signature(request).parameters
    for name in options:
        if name not in known:
            raise UsageError(
                f"runner.{call}() has no argument '{name}'; a workflow's params go in"
                f" params={{{name!r}: ...}} (or an override 'params.{name}=...')"
            )
    return request(target, overrides, **options)


def _check_usable(**arguments: Any) -> None:
    """Refuse, naming the argument, what no store, file or message can hold: text with a lone
    surrogate, an integer of more digits than Python writes (the CLI refuses arguments that
    are not UTF-8 as it reads them; run and inputs files are checked as they are parsed)."""
    from runner.documents import unusable

    for argument, value in arguments.items():
        found = unusable({argument: value})
        if found:
            raise UsageError(f"argument {found.where}: {found.what}; {found.why}")


def _max_runs_setting() -> int:
    from runner.composer import MAX_RUNS

    text = os.environ.get("RUNNER_MAX_RUNS", "").strip()
    if not text:
        return MAX_RUNS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"RUNNER_MAX_RUNS={text!r}: give a whole number of runs, 1 or more")
    return value


def _typed_inputs(workflow: Workflow, inputs: dict[str, Any], label: str) -> dict[str, Any]:
    """Inputs in the JSON form the CLI records for them (`RED` as its value, a datetime as
    ISO text), so the API records what the CLI does for the same inputs."""
    from runner.entrypoints import import_entrypoint
    from runner.errors import DefinitionError
    from runner.inputs import InputError, typed_inputs

    try:
        return typed_inputs(import_entrypoint(workflow), inputs, label)
    except InputError as exc:
        raise DefinitionError(f"invalid inputs for {workflow.id}: {exc}") from None


def plan(
    req: Request,
    *,
    config_dir: str | Path | None = None,
    root: str | Path | None = None,
    home: str | Path | None = None,
    on_first: Callable[[Definition, int], None] | None = None,
) -> tuple[Plan, Project]:
    """Compose, validate and plan; raises a DefinitionError before anything is stored.

    `root`: the folder the runs import from, when it is not the config dir's parent (a
    Python file's package root, a registered snapshot)."""
    import dataclasses

    from runner.composer import Composer, Project, config_space
    from runner.plan import plan_runs

    registered = _registered(req, home)
    if registered is not None:
        workflow, folder = registered
        req = dataclasses.replace(req, target=None, workflow=workflow)
        root = folder
    project = Project.find(config_dir)
    if root is not None:
        project = dataclasses.replace(project, root=Path(root))
    with config_space(project) as space:
        return plan_runs(Composer(space, req), on_first), project


def compose(
    target: str | None = None,
    overrides: Iterable[str] = (),
    *,
    config_dir: str | Path | None = None,
    root: str | Path | None = None,
    home: str | Path | None = None,
    **options: Any,
) -> Preview:
    """The composed, validated definition and its planned runs; nothing is stored or run::

        preview = runner.compose("pi", ["params.samples=1000,10000"], repeat=3)
        len(preview.specs), preview.specs[0].params, preview.seed

    Raises what `launch` would (runner.DefinitionError and its kinds) for the same input.
    """
    the_plan, _ = plan(
        _request(target, overrides, options, "compose"),
        config_dir=config_dir,
        root=root,
        home=home,
    )
    base = the_plan.base
    definition = dict(base.fields)
    if the_plan.axes:
        definition["sweep"] = {
            axis.key: list(axis.values if axis.is_params else axis.shown) for axis in the_plan.axes
        }
    return Preview(
        definition=definition,
        seed=the_plan.seed,
        seed_drawn=base.fields.get("seed") is None,
        specs=the_plan.specs,
        params_schema=base.params_validator.schema,
    )


show = compose  # `runner show` is its name on the command line


class Watch:
    """Tells cheaply whether a store changed since the last look, so that a live view reads
    only when something was written (SQLite's data_version, one query on a kept connection)::

        watch = runner.watch()
        if watch.changed():
            ...read runner.status(), runner.runs(...)

    A launcher that dies writes nothing, yet its unfinished runs become `lost`: `changed`
    also answers True every `recheck` seconds.
    """

    def __init__(self, home: str | Path | None = None, recheck: float = 5.0) -> None:
        self.home = home
        self.recheck = recheck
        self._store: Store | None = None
        self._version: int | None = None
        self._looked = 0.0

    def changed(self) -> bool:
        if self._store is None:
            self._store = Store.existing(self.home)
            if self._store is None:
                return False
        version = self._store.data_version()
        now = time.monotonic()
        if version != self._version or now - self._looked >= self.recheck:
            self._version, self._looked = version, now
            return True
        return False


def watch(home: str | Path | None = None) -> Watch:
    """A Watch over the store at `home` (default: RUNNER_HOME, then ./.runner)."""
    return Watch(home)


def get(ident: str, *, home: str | Path | None = None) -> Launch | RunRecord:
    """The launch or run an id, or a unique prefix of one, names, however it was launched::

    runner.get("3f2a").results
    """
    found = status([ident], home=home)
    return found[0]


def launch(
    target: str | None = None,
    overrides: Iterable[str] = (),
    *,
    config_dir: str | Path | None = None,
    root: str | Path | None = None,
    home: str | Path | None = None,
    fail_fast: bool = False,
    overwrite_cache: bool = False,
    detach: bool = False,
    wait: bool = True,
    on_created: Callable[[LaunchRecord, Sequence[RunSpec]], None] | None = None,
    on_outcome: Callable[[RunOutcome], None] | None = None,
    on_recorded: Callable[[list[str]], None] | None = None,
    progress: bool | None = None,
    **options: Any,
) -> Launch:
    """Compose, validate, plan, record, execute and record again; returns the recorded launch.

    `target` is a run file, WORKFLOW[:VERSION] or a saved run definition's name; `overrides`
    use Hydra's grammar (params.a=1,2 sweeps); `options` are the run definition's fields
    (name, tags, notes, repeat, seed, params, labels, annotations, env, max_parallelism, addr,
    timeout, retries, cache). `detach` (or `wait=False`, as the CLI's --no-wait): return as
    soon as the runs are recorded; a background process of its own runs them (`runner.wait`,
    `runner.cancel` and `runner.status` follow it from anywhere). In a notebook the kernel
    stays free and the runs go on if the kernel restarts; `Launch.wait`, `.status()` and
    `.cancel()` follow them. `progress`: a live bar (tqdm.auto: a widget in Jupyter, a line
    in a console) of done, failed and running runs with an ETA while this call waits; None
    shows it unless `on_created` / `on_outcome` follow the launch (the CLI, the TUI).
    A launch of more than 2,000 runs made from their indexes records its runs as they run,
    each written once, in constant memory: the specs `on_created` receives are then
    `streamed`, and `on_recorded` receives the ids of each block of runs as it is recorded
    (as its runs finish, or a second after they started; a run's id can be looked up from
    then on)::

        launch = runner.launch("pi", sweep={"samples": [100, 1000]}, repeat=3, seed=0)
        launch.results                      # 6 results, in plan order
        later = runner.launch("nap", repeat=8, wait=False)
        later.status()                      # 'running': the kernel is free meanwhile
    """
    from runner.composer import Project
    from runner.launchers import make_launcher
    from runner.plan import KEPT_SPECS
    from runner.provenance import GitStatus

    detach = detach or not wait

    launchers: list[Launcher] = []
    # The project's git state is read by a `git status` that runs while the launch is
    # composed and planned: its root is the Python file's, or the config dir's project's
    # (a registered version runs from its snapshot, not from the project launched from).
    git = GitStatus(Path(root) if root is not None else Project.find(config_dir).root)

    def prepare(first: Definition, runs: int) -> None:
        """Workers start while the runs are planned and recorded."""
        fields = first.fields
        launcher = make_launcher(
            fields["launcher"], fields.get("max_parallelism"), fields.get("addr")
        )
        if detach:
            # Checked here as for any launch (a cluster reached); its workers start in its
            # own process. Releasing an unprepared local launcher does not import joblib.
            launcher.release()
            return
        launcher.prepare(runs)
        launchers.append(launcher)

    try:
        with _no_cycle_collection():
            the_plan, project = plan(
                _request(target, overrides, options, "launch"),
                config_dir=config_dir,
                root=root,
                home=home,
                on_first=prepare,
            )
            store = Store(home)
            record = _launch_record(the_plan, project, git)
            # A launch whose runs follow from their indexes records each run as it is about
            # to run (so a million runs start at once, in constant memory); any other, and
            # a detached one (its own process reads them back), records them all now.
            streamed = the_plan.by_index is not None and not detach and the_plan.count > KEPT_SPECS
            the_plan.specs.streamed = streamed
            store.record_launch(record, None if streamed else the_plan.specs, the_plan.by_index)
        if detach:
            return _detached(store, record, the_plan.specs, fail_fast, overwrite_cache, on_created)
        with _progress(progress, on_created, on_outcome) as (on_created, on_outcome):
            if on_created:
                on_created(record, the_plan.specs)
            return _execute(
                store,
                record,
                () if streamed else the_plan.specs,
                fresh=_fresh(record, the_plan.by_index) if streamed else (),
                on_recorded=on_recorded,
                launcher=launchers[0],
                fail_fast=fail_fast or bool(the_plan.base.fields.get("fail_fast")),
                overwrite_cache=overwrite_cache,
                on_outcome=on_outcome,
            )
    finally:
        git.close()  # (read by then, unless the launch failed first)
        for launcher in launchers:
            launcher.release()  # a no-op once its runs ran


def _fresh(record: LaunchRecord, by_index: dict[str, Any] | None) -> Iterator[RunBlock]:
    """A streamed launch's runs, a block at a time, from its plan."""
    from runner.plan import index_blocks, index_template

    assert by_index is not None
    plan = IndexPlan.from_json(by_index)
    return index_blocks(plan, index_template(plan, record), 0, RECORD_EVERY)


OnCreated = Callable[[LaunchRecord, Sequence[RunSpec]], None]
OnOutcome = Callable[[RunOutcome], None]


@contextlib.contextmanager
def _progress(
    progress: bool | None, on_created: OnCreated | None, on_outcome: OnOutcome | None
) -> Iterator[tuple[OnCreated | None, OnOutcome | None]]:
    """The callbacks to follow a launch with: the caller's, behind a progress bar if wanted."""
    from runner.progress import Progress, wanted

    if not wanted(progress, on_created, on_outcome):
        yield on_created, on_outcome
        return
    bar = Progress(on_created, on_outcome)
    try:
        yield bar.created, bar.outcome
    finally:
        bar.close()


def _detached(
    store: Store,
    record: LaunchRecord,
    specs: Sequence[RunSpec],
    fail_fast: bool,
    overwrite_cache: bool,
    on_created: Callable[[LaunchRecord, Sequence[RunSpec]], None] | None,
) -> Launch:
    """Hand a recorded launch to a background process of its own. The runs are recorded
    here, so the plan (ids, seeds) is this one; the process runs the pending ones, as
    resume does. It owns the launch from the start: its pid is what `lost` is checked on."""
    from runner import detach
    from runner.store import process_start

    left = 0
    for batch in _batches(specs, RECORD_EVERY):
        left += len(_serve_cached(store, batch, overwrite_cache, None))
    if left:
        pid = detach.spawn(store.home, record.id, fail_fast=fail_fast)
        store.set_owner(record.id, pid, process_start(pid))
    if on_created:
        on_created(record, specs)
    return _recorded(store, record.id)


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Planning and recording make tens of thousands of objects that live as long as the
    launch, and no reference cycles: the cyclic garbage collector would only scan them,
    over and over (0.025 s of 10,000 runs' planning). It is off meanwhile, as Mercurial does
    around its parsers, and back on after (if it was on)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _launch_record(the_plan: Plan, project: Project, git: GitStatus) -> LaunchRecord:
    """The launch as the store keeps it, with its provenance."""
    from runner.provenance import collect
    from runner.store import process_start, this_host

    base = the_plan.base.fields
    first = the_plan.specs[0]
    return LaunchRecord(
        id=the_plan.launch_id,
        created=time.time(),
        workflow_id=the_plan.base.workflow.id,
        workflow_version=the_plan.base.workflow.version,
        name=base.get("name"),
        tags=list(base.get("tags") or []),
        notes=base.get("notes"),
        seed=the_plan.seed,
        repeat=int(base.get("repeat", 1)),
        labels=dict(base.get("labels") or {}),
        annotations=dict(base.get("annotations") or {}),
        env={k: str(v) for k, v in (base.get("env") or {}).items()},
        launcher=str(base["launcher"]["name"]),
        addr=base.get("addr"),
        # The values every run was given, for resume and rerun to give them again.
        definition={
            **base,
            "seed": the_plan.seed,
            "timeout": first.timeout,
            "retries": first.retries,
            # What was swept (key -> number of values), for `runner status` to say.
            "swept": {axis.key: len(axis.values) for axis in the_plan.axes},
        },
        pid=os.getpid(),
        run_count=the_plan.count,
        project_root=str(project.root),
        pid_start=process_start(os.getpid()),
        host=this_host(),
        provenance=collect(
            the_plan.codes,
            [workflow.entrypoint for workflow in the_plan.workflows],
            project.root,
            git,
        ),
    )


def params_schema(target: str, *, config_dir: str | Path | None = None) -> dict[str, Any]:
    """A workflow's params JSON Schema: declared, or derived from its signature."""
    from runner.composer import Project, config_space
    from runner.entrypoints import import_entrypoint
    from runner.inputs import signature_schema

    with config_space(Project.find(config_dir)) as space:
        workflow = space.resolve_workflow(target)
        if workflow.schema is not None:
            return workflow.schema
        return signature_schema(import_entrypoint(workflow))


def register(
    target: str, *, config_dir: str | Path | None = None, home: str | Path | None = None
) -> tuple[str, str, bool]:
    """Snapshot a workflow (declaration and package source) into the store as a version:
    (workflow id, version, whether it is new). Identical content gives the same version."""
    from runner.composer import Project, config_space
    from runner.snapshots import register as snapshot

    project = Project.find(config_dir)
    with config_space(project) as space:
        workflow = space.resolve_workflow(target)
        registered, new = snapshot(Store(home), workflow)
    return registered.id, registered.version, new


def _registered(req: Request, home: str | Path | None) -> tuple[Workflow, Path] | None:
    """The registered snapshot a target names (WF:rXXXXXXXXXXXX), unpacked; else None."""
    from runner.snapshots import PREFIX, checkout

    target = req.target or ""
    workflow_id, _, version = target.partition(":")
    if req.workflow is not None or not version.startswith(PREFIX) or len(version) != 13:
        return None
    store = Store.existing(home)
    found = checkout(store, workflow_id, version) if store else None
    if found is None:
        raise WorkflowError(
            f"workflow '{workflow_id}' has no registered version '{version}'"
            " (runner list --versions shows them)"
        )
    return found


def resume(
    launch_id: str,
    *,
    home: str | Path | None = None,
    on_created: Callable[[LaunchRecord, Sequence[RunSpec]], None] | None = None,
    on_outcome: Callable[[RunOutcome], None] | None = None,
    detach: bool = False,
    wait: bool = True,
    progress: bool | None = None,
) -> Launch:
    """Run again, into the same launch, exactly the runs that did not succeed: same params,
    same seeds. `detach` / `wait=False`: in a background process, as `launch` does. For a launch whose launcher died (its runs show as lost), was interrupted or
    cancelled. A launch cancelled in a process that lives on (a TUI, a kernel) can be resumed
    elsewhere: that process stops running a launch it no longer owns. `progress` as in
    `launch`::

        runner.resume("3f2a")                 # or runner.get("3f2a").resume()
    """
    from runner.store import launcher_alive, process_start

    store = _store(home)
    record = store.launch(_find_run(store, launch_id).launch_id)
    assert record is not None
    unfinished = record.counts.get(RunStatus.PENDING.value) or record.counts.get(
        RunStatus.RUNNING.value
    )
    if unfinished and launcher_alive(record.pid, record.pid_start) and record.pid != os.getpid():
        raise UsageError(
            f"launch {record.id} is still running (pid {record.pid}); nothing to resume"
        )
    store.reopen(record.id, None, os.getpid(), process_start(os.getpid()))
    if detach or not wait:
        return _detached(
            store, record, _todo(store, record, record_missing=True), False, False, on_created
        )
    specs = _todo(store, record)
    with _progress(progress, on_created, on_outcome) as (on_created, on_outcome):
        if on_created:
            on_created(record, specs)
        return _execute(
            store, record, specs.recorded(), fresh=specs.missing_blocks(), on_outcome=on_outcome
        )


class Todo(Specs):
    """A launch's runs still to run, read as they are used: its pending runs as recorded,
    then, for a launch whose runs follow from their indexes, those it had not recorded yet
    (its launcher was stopped first). Sized, so progress knows how many there are."""

    def __init__(self, store: Store, record: LaunchRecord) -> None:
        from runner.plan import index_blocks, index_specs, index_template

        pending = store.count_pending(record.id)
        recorded = store.count_runs(record.id)
        plan = store.index_plan(record.id)
        missing = record.run_count - recorded if plan is not None else 0
        self.recorded = lambda: (_respec(run, record) for run in store.pending(record.id))
        self.missing = lambda: index_specs(plan, record, recorded) if plan is not None else iter(())
        self.missing_blocks = lambda: (
            index_blocks(plan, index_template(plan, record), recorded, RECORD_EVERY)
            if plan is not None
            else iter(())
        )
        self.missing_count = missing
        super().__init__(
            pending + missing, lambda: itertools.chain(self.recorded(), self.missing())
        )


def _todo(store: Store, record: LaunchRecord, *, record_missing: bool = False) -> Todo:
    """What resume runs; `record_missing`: the runs the launch had not recorded are recorded
    now (a detached process reads its runs back from the store)."""
    todo = Todo(store, record)
    if record_missing and todo.missing_count:
        for block in todo.missing_blocks():
            store.record_block(record, block)
        todo = Todo(store, record)
    return todo


def rerun(
    run_id: str,
    *,
    home: str | Path | None = None,
    on_created: Callable[[LaunchRecord, Sequence[RunSpec]], None] | None = None,
    on_outcome: Callable[[RunOutcome], None] | None = None,
    detach: bool = False,
    wait: bool = True,
) -> Launch:
    """Reproduce one recorded run (workflow version, params, seed) as a new run.
    `detach` / `wait=False`: in a background process, as `launch` does::

        again = runner.rerun("9c1e")    # a run id (prefix)
        again.results == runner.get("9c1e").result
    """
    import dataclasses

    from runner.plan import new_id
    from runner.store import process_start, this_host

    store = _store(home)
    original = _find_run(store, run_id)
    launch_record = store.launch(original.launch_id)
    assert launch_record is not None
    spec = _respec(original, launch_record, run_id=new_id(), index=0)
    provenance = _rerun_provenance(store, original, launch_record)
    spec.code = provenance.code_of(spec.workflow_id, spec.workflow_version) or ""
    record = dataclasses.replace(
        launch_record,
        id=spec.id,
        created=time.time(),
        repeat=1,
        run_count=1,
        pid=os.getpid(),
        pid_start=process_start(os.getpid()),
        host=this_host(),
        annotations={**launch_record.annotations, "rerun_of": original.id},
        definition={**launch_record.definition, "params": original.params, "seed": original.seed},
        counts={},
        provenance=provenance,
    )
    store.record_launch(record, [spec])
    if detach or not wait:
        return _detached(store, record, [spec], False, False, on_created)
    if on_created:
        on_created(record, [spec])
    return _execute(store, record, [spec], on_outcome=on_outcome)


def _rerun_provenance(store: Store, run: RunRecord, launch: LaunchRecord) -> Provenance:
    """A rerun's own provenance: it runs the code on disk now (a registered version's is
    its snapshot, its hash recorded), in this process's environment."""
    from runner.composer import Project
    from runner.entrypoints import code_hash
    from runner.provenance import GitStatus, collect

    root = Path(launch.project_root)
    registered = root.resolve().is_relative_to((store.home / "snapshots").resolve())
    code = run.code if registered and run.code else code_hash(run.entrypoint, root)
    return collect(
        {f"{run.workflow_id}:{run.workflow_version}": code},
        [run.entrypoint],
        root,
        GitStatus(Project.find().root if registered else root),
    )


def log_path(run_id: str, *, home: str | Path | None = None) -> tuple[RunRecord, Path]:
    """A run and where its log is (the file exists once the run has written something)::

    run, path = runner.log_path("9c1e")
    print(path.read_text() if path.exists() else "(no output)")
    """
    from runner.worker import LOG_NAME

    store = _store(home)
    run = _find_run(store, run_id)
    return run, store.run_dir(run.id) / LOG_NAME


def launch_logs(
    ident: str, *, home: str | Path | None = None
) -> tuple[LaunchRecord, Iterator[tuple[str, str, Path]]] | None:
    """For an id naming a launch of several runs: the launch and (run id, status, log path)
    of each of its runs that wrote a log, in plan order, streamed from the store a page at
    a time; None for a run (or a one-run launch), whose log `log_path` finds::

        record, logs = runner.api.launch_logs("3f2a")
        for run_id, status, path in logs:
            print(run_id, path.read_text())
    """
    from runner.worker import LOG_NAME

    store = _store(home)
    kind, full = store.resolve(ident)
    record = store.launch(full, counts=False) if kind == "launch" else None
    if record is None or record.run_count < 2:
        return None

    def found() -> Iterator[tuple[str, str, Path]]:
        for run_id, status, run_dir in store.logged_runs(full):
            path = Path(run_dir) / LOG_NAME
            if path.exists():
                yield run_id, status, path

    return record, found()


RECORD_EVERY = 2_000  # runs recorded per transaction as a streamed launch takes them


def _execute(
    store: Store,
    record: LaunchRecord,
    specs: Iterable[RunSpec],
    *,
    fresh: Iterable[RunBlock] = (),
    on_recorded: Callable[[list[str]], None] | None = None,
    launcher: Launcher | None = None,
    fail_fast: bool = False,
    overwrite_cache: bool = False,
    on_outcome: Callable[[RunOutcome], None] | None = None,
) -> Launch:
    """Serve cached runs, then execute the rest; what finished is recorded whatever happens.
    `specs` are recorded already; `fresh` ones are recorded a block at a time as their runs
    finish, each run written once (see engine.Recorder). Both are read as they are used, never held whole.
    `launcher`: one already prepared; else the launch's own is made."""
    from runner import engine
    from runner.cancellation import Cancelled
    from runner.launchers import make_launcher
    from runner.worker import Batch, Shared

    own = launcher is None
    if launcher is None:
        definition = record.definition
        launcher = make_launcher(
            definition["launcher"], definition.get("max_parallelism"), definition.get("addr")
        )
        launcher.prepare(record.run_count)
    runs_root = os.path.join(store.run_dir("").resolve(), "")  # ends with a separator
    registered = Path(record.project_root).is_relative_to((store.home / "snapshots").resolve())
    sys_path = (record.project_root,)  # one tuple, so pickling sends it once per batch
    env = record.env
    # Consecutive runs of one definition share these (the same objects: compared at once).
    shared = operator.attrgetter("entrypoint", "base", "timeout", "retries")

    def batches(specs: list[RunSpec], first_row: int) -> Iterator[Batch]:
        # The specs' rows follow each other from first_row (0: not known here).
        served = _serve_cached(store, specs, overwrite_cache, on_outcome)
        if not first_row:
            rows = [0] * len(served)
        elif served is specs:
            rows = list(range(first_row, first_row + len(specs)))
        else:
            row_of = {spec.id: first_row + n for n, spec in enumerate(specs)}
            rows = [row_of[spec.id] for spec in served]
        start = 0
        for (entrypoint, base, timeout, retries), group in itertools.groupby(served, shared):
            runs = list(group)
            stop = start + len(runs)
            yield Batch(
                Shared(
                    entrypoint,
                    base,
                    runs_root,
                    sys_path,
                    env,
                    timeout,
                    registered,
                    retries,
                    fail_fast,
                ),
                [spec.id for spec in runs],
                [spec.seed for spec in runs],
                [spec.sets for spec in runs],
                rows[start:stop],
            )
            start = stop

    unrecorded = iter(fresh)

    def stream() -> Iterator[Batch]:
        for batch in _batches(specs, RECORD_EVERY):
            yield from batches(batch, 0)
        for block in unrecorded:
            t = block.template
            if t.cache:  # some may be served from the cache: recorded now
                first_row = record_block(block)
                yield from batches(block.specs(), first_row)
                continue
            shared = Shared(
                t.entrypoint,
                t.base,
                runs_root,
                sys_path,
                env,
                t.timeout,
                registered,
                t.retries,
                fail_fast,
            )
            taken = Batch(shared, block.ids, block.seeds, block.sets, [0] * len(block))
            taken.block = block  # recorded as its runs finish (engine.Recorder)
            yield taken

    def record_block(block: RunBlock, done: Sequence[Done | None] = ()) -> int:
        first_row = store.record_block(record, block, done)
        if on_recorded:
            on_recorded(block.ids)
        return first_row

    try:
        engine.execute(
            store,
            launcher,
            stream(),
            fail_fast=fail_fast,
            on_outcome=on_outcome,
            launch_id=record.id,
            record_block=record_block,
        )
    except Cancelled:
        pass  # whoever cancelled recorded the runs; this process lives on (a TUI, a kernel)
    except KeyboardInterrupt:
        # A cancel of the whole launch, as `runner cancel` makes: `runner wait` exits 130 too.
        cancelled = store.cancel(record.id, None, "interrupted")
        raise Interrupted(
            f"interrupted: {cancelled} unfinished runs of launch {record.id} recorded as cancelled"
        ) from None
    except engine.FailedFast as stop:
        for block in unrecorded:  # to record them cancelled too
            record_block(block)
        store.cancel_unfinished(
            record.id,
            f"not run: --fail-fast stopped the launch after run {stop.outcome.run_id} failed",
        )
    finally:
        if own:
            launcher.release()  # a cluster's client is closed
    return _recorded(store, record.id)


def _batches(specs: Iterable[RunSpec], size: int) -> Iterator[list[RunSpec]]:
    source = iter(specs)
    while batch := list(itertools.islice(source, size)):
        yield batch


def _serve_cached(
    store: Store,
    specs: list[RunSpec],
    overwrite: bool,
    on_outcome: Callable[[RunOutcome], None] | None,
) -> list[RunSpec]:
    """Record runs whose identical twin already succeeded as cached; return the rest."""
    wanted = [spec for spec in specs if spec.cache and not overwrite]
    if not wanted:
        return specs
    keys = {spec.id: spec.cache_key for spec in wanted}
    found = store.cached_results(keys.values())
    now = time.time()
    served = [
        RunOutcome(
            run_id=spec.id,
            status=RunStatus.CACHED,
            started=now,
            ended=now,
            result_json=found[keys[spec.id]][1],
            result_ref=found[keys[spec.id]][2],
            cached_from=found[keys[spec.id]][0],
            attempt=0,
        )
        for spec in wanted
        if keys[spec.id] in found
    ]
    store.record_outcomes(served)
    for outcome in served:
        if on_outcome:
            on_outcome(outcome)
    done = {outcome.run_id for outcome in served}
    return [spec for spec in specs if spec.id not in done]


def _respec(
    run: RunRecord, launch: LaunchRecord, *, run_id: str | None = None, index: int | None = None
) -> RunSpec:
    """The spec a recorded run was made from, to run it again as it was (as a new run, with
    `run_id` and `index`)."""
    definition = launch.definition
    return RunSpec(
        id=run.id if run_id is None else run_id,
        index=run.index if index is None else index,
        workflow_id=run.workflow_id,
        workflow_version=run.workflow_version,
        entrypoint=run.entrypoint,
        params=run.params,
        seed=run.seed,
        repeat_index=0,
        timeout=definition.get("timeout"),
        retries=int(definition.get("retries") or 0),
        code=run.code or "",
    )


def _find_run(store: Store, prefix: str) -> RunRecord:
    """The run an id (prefix) names; a launch id names its first run."""
    kind, full = store.resolve(prefix)
    run = store.run(full) if kind == "run" else store.first_run(full)
    if run is None:
        raise UsageError(f"launch {full} has no runs")
    return run


def _store(home: str | Path | None) -> Store:
    store = Store.existing(home)
    if store is None:
        from runner.store import default_home

        raise UsageError(f"no run store at {Path(home) if home else default_home()}")
    return store


def status(
    ids: Sequence[str] = (),
    *,
    home: str | Path | None = None,
    limit: int | None = 20,
    workflow: str | None = None,
    counts: bool = True,
) -> list[Launch] | list[RunRecord]:
    """Recorded launches (most recent first; of one workflow when given), or the launches and
    runs named by id prefixes (`runner status`)::

        runner.status(limit=5)              # the last five launches
        runner.status(["3f2a", "9c1e"])     # a launch and a run

    `counts=False`: launches named by id come without their counts by status (`record.counts`
    empty until `Launch.count()`), which read every run of a launch, for a read that shows
    its runs first (the CLI streams a million-run launch before counting it).
    """
    store = Store.existing(home)
    if store is None:
        if ids:
            raise UsageError(
                f"no run store at {Path(home or os.environ.get('RUNNER_HOME') or '.runner')}"
            )
        return []
    if not ids:
        return [
            Launch(record, store=store) for record in store.launches(limit, workflow_id=workflow)
        ]
    found: list[Any] = []
    for prefix in ids:
        kind, full = store.resolve(prefix)
        if kind == "launch":
            found.append(_recorded(store, full, counts=counts))
        else:
            found.append(store.run(full))
    return found


def runs(
    *,
    launch: str | None = None,
    workflow: str | None = None,
    status: str | Iterable[str] | None = None,
    tag: str | None = None,
    since: float | None = None,
    limit: int | None = 100,
    offset: int = 0,
    home: str | Path | None = None,
) -> Runs:
    """Recorded runs, however they were launched (CLI, TUI, notebook)::

        runner.runs(workflow="pi", status="failed", limit=10)   # most recent first
        runner.runs(launch="3f2a", offset=100, limit=50)          # a page of one launch, in plan order

    `launch` takes an id or a unique prefix; `since` is a time.time() value: runs created,
    started or ended since then.
    """
    store = Store.existing(home)
    if store is None:
        return Runs()
    launch_id = None
    if launch is not None:
        kind, launch_id = store.resolve(launch)
        if kind == "run":
            found = store.run(launch_id)
            launch_id = found.launch_id if found else launch_id
    statuses = [status] if isinstance(status, str) else list(status or ())
    return Runs(
        store.find_runs(
            launch_id=launch_id,
            workflow_id=workflow,
            statuses=statuses,
            tag=tag,
            since=since,
            limit=limit,
            offset=offset,
        )
    )


def entities(*, config_dir: str | Path | None = None, home: str | Path | None = None) -> Entities:
    """Workflows (each with its versions, registered ones apart) and saved run definitions,
    as `runner list --json` prints them::

        [w["id"] for w in runner.entities().workflows]
    """
    from runner.composer import Project, config_space

    project = Project.find(config_dir)
    with config_space(project) as space:
        found = _entities(space)
    registered = registered_versions(home)
    for workflow in found.workflows:
        workflow["registered"] = registered.get(workflow["id"], [])
    return found


def _entities(space: ConfigSpace) -> Entities:

    workflows = [
        {
            "id": info.id,
            "kind": info.kind,
            "latest": info.version,
            "versions": info.versions,
            "description": info.description,
            "entrypoint": info.entrypoint,
            "source": info.source,
        }
        for info in describe_workflows(space, params=False)
    ]
    presets = [
        {
            "name": preset.name,
            "workflow": preset.workflow,
            "description": f"invalid: {preset.error}" if preset.error else preset.description,
        }
        for preset in describe_presets(space)
    ]
    return Entities(workflows=workflows, presets=presets, broken=space.broken_declarations())


def _recorded(store: Store, launch_id: str, *, counts: bool = True) -> Launch:
    record = store.launch(launch_id, counts=counts)
    assert record is not None
    return Launch(record, store=store)


def launches(
    ids: Sequence[str] = (),
    *,
    workflow: str | None = None,
    tag: str | None = None,
    last: int | None = None,
    home: str | Path | None = None,
) -> list[Launch]:
    """Launches by id prefix (a run's id names its launch), or the recorded ones of a
    workflow, with a tag, or the `last` N; oldest first, so a comparison reads in order."""
    store = _store(home)
    found: list[Launch] = []
    for prefix in ids:
        kind, full = store.resolve(prefix)
        if kind == "run":
            run = store.run(full)
            assert run is not None
            full = run.launch_id
        if full not in (launch.id for launch in found):
            found.append(_recorded(store, full))
    if workflow is not None or tag is not None or last is not None or not ids:
        picked = [
            record
            for record in store.launches(None)
            if (workflow is None or record.workflow_id == workflow)
            and (tag is None or tag in record.tags)
        ]
        if last is not None or (not ids and workflow is None and tag is None):
            picked = picked[: last or 1]
        known = {launch.id for launch in found}
        found.extend(Launch(r, store=store) for r in reversed(picked) if r.id not in known)
    if not found:
        what = " ".join(
            f"{name} {value}" for name, value in (("workflow", workflow), ("tag", tag)) if value
        )
        raise UsageError(f"no recorded launch matches {what or 'that'} in {store.path}")
    return found


def table(
    source: Launch | RunRecord | str | Iterable[Launch | RunRecord | str],
    *,
    home: str | Path | None = None,
    by_point: bool | None = None,
    stats: bool = False,
    where: Sequence[str] = (),
    sort: str | None = None,
    desc: bool = False,
    top: int | None = None,
    columns: Sequence[str] | None = None,
    all_columns: bool = False,
    first: int | None = None,
) -> ResultsTable:
    """The results table of launches (objects or id prefixes) or runs: one row per run, or
    per sweep point (`by_point`, the default when runs repeat), the params that vary as
    columns, results flattened. The CLI, the TUI and notebooks all render this object.

    `where`: filters such as 'error<0.01' or 'status=failed'; `sort` (a column), `desc`,
    `top` (rows kept); `columns` picks and orders; `all_columns` shows fixed params too;
    `stats` adds min and max to the mean and std of each point; `first`: only the first N
    runs of each launch are read (a page of a big launch: what it swept still shows as
    varying). Big results show as their summary: their files are not read::

        runner.table(launch, by_point=True, stats=True, sort="error", top=5)
        runner.table(["3f2a", "9c1e"], where=["status=failed"]).to_dataframe()
    """
    import json

    from runner import results

    items = [source] if isinstance(source, Launch | RunRecord | str) else list(source)
    chunks: list[tuple[bool, list[results.RunRow]]] = []  # (JSON still encoded, rows)
    vary: list[str] = []
    for item in items:
        if isinstance(item, str):
            item = launches([item], home=home)[0]
        if isinstance(item, RunRecord):
            chunks.append((False, results.rows_of([item])))
        elif item._runs is not None or item._store is None:
            runs = item.runs if first is None else item.runs[:first]
            chunks.append((False, results.rows_of(runs, item.record.repeat)))
        else:
            chunks.append((True, item._store.table_rows(item.record, first)))
        if first is not None and not isinstance(item, RunRecord):
            vary.extend(item.record.definition.get("swept") or {})
    encoded = all(raw for raw, _ in chunks)
    rows: list[results.RunRow] = []
    for raw, chunk in chunks:
        if raw and not encoded:  # some runs came decoded: decode the store's here, once
            chunk = [
                r._replace(params=json.loads(r.params), result=_loads(r.result)) for r in chunk
            ]
        rows.extend(chunk)
    return results.build(
        rows,
        decoded=not encoded,
        by_point=by_point,
        stats=stats,
        where=where,
        sort=sort,
        desc=desc,
        top=top,
        columns=columns,
        all_columns=all_columns,
        vary=vary,
    )


def _loads(text: str | None) -> Any:
    import json

    return None if text is None else json.loads(text)
