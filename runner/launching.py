"""Making a launch: a request from arguments, compose, validate and plan, record the launch
(whole, or streamed as its runs run), then run it here or detach it."""

from __future__ import annotations

import contextlib
import gc
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner import execution
from runner.errors import UsageError
from runner.execution import detached, execute
from runner.progress import following
from runner.reads import Recorded
from runner.records import IndexPlan, LaunchRecord, RunBlock, RunOutcome, RunSpec
from runner.store import Store

if TYPE_CHECKING:
    from runner.composer import Definition, Project, Request
    from runner.entrypoints import Workflow
    from runner.launchers import Launcher
    from runner.plan import Plan
    from runner.provenance import GitStatus
    from runner.search_space import SearchConfig

# Composition (Hydra) and execution (joblib) are imported where they are used, so that
# `runner status`, `runner --help` and `import runner` stay fast.


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
    search: str | Mapping[str, Any] | SearchConfig | None = None,
    max_runs: int | None = None,
) -> Request:
    """A Request from keyword arguments; options that are None are left to the definition.

    `workflow` launches a workflow already in hand (a Python file's entity) instead of one
    named by `target`; `inputs` are params read from an inputs file or stdin, which sit above
    files and below overrides. Each input replaces its default whole (a dict is not merged into
    a dict default), as typed inputs do in pyflyte. `search` chooses a search (see
    `search_argument`); `sweep` is then its space.
    """
    from runner.composer import Request, sweep_key

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
    sampler, settings, space = search_argument(search)
    if space:
        # A search given whole (a SearchConfig) brings its settings and space: sweep= and
        # overrides of the same keys win, as later values do (search.n_trials=5 runs 5).
        overridden = {line.split("=", 1)[0].lstrip("+~") for line in overrides}
        given = {sweep_key(key) for key in sweep} | overridden
        sweep = {**{k: v for k, v in space.items() if k not in given}, **sweep}
        settings = {k: v for k, v in (settings or {}).items() if f"search.{k}" not in given}
        sampler = None if "search" in overridden else sampler
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
        search=settings,
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
        "search": settings,
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
        search=sampler,
        max_runs=max_runs or _max_runs_setting(),
    )


def search_argument(
    search: str | Mapping[str, Any] | SearchConfig | None,
) -> tuple[str | None, dict[str, Any] | None, dict[str, Any]]:
    """The API's search=, as (the option it chooses, its settings, its space):

    - a name, "tpe": the `search` config group's option (search=tpe on the command line);
    - a mapping, as a run file's `search:` holds it: {"sampler": "tpe", "n_trials": 60,
      "direction": "maximize", ...} (without "sampler": settings of a search chosen elsewhere,
      by an override or a run file);
    - a SearchConfig (`runner.compose(...).search`), or its JSON (a launch's recorded
      `definition["search"]`): the same search again, its space with it.
    """
    if search is None:
        return None, None, {}
    if isinstance(search, str):
        if not search.strip():
            raise UsageError("search: name a search (search='tpe'), or leave it out for a grid")
        return search.strip(), None, {}
    from runner.search_space import SearchConfig

    if isinstance(search, Mapping) and {"directions", "space"} <= set(search):
        try:
            search = SearchConfig.from_json(search)
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(
                f"search: a mapping with 'directions' and 'space' is a SearchConfig's JSON,"
                f" and this one cannot be read ({type(exc).__name__}: {exc})"
            ) from None
    if isinstance(search, SearchConfig):
        settings = search.settings()
        return str(settings.pop("sampler")), settings, search.sweeps()
    if not isinstance(search, Mapping):
        raise UsageError(
            f"search: a search's name (search='tpe'), a mapping of its settings"
            f" ({{'sampler': 'tpe', 'n_trials': 60}}) or a SearchConfig, not a"
            f" {type(search).__name__}"
        )
    settings = {str(k): v for k, v in search.items()}
    sampler = settings.pop("sampler", None)
    if sampler is not None and not isinstance(sampler, str):
        raise UsageError(
            f"search: its 'sampler' is a search's name ('tpe', 'random', ...), not {sampler!r}"
        )
    return sampler, settings or None, {}


def request_of(
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
) -> Recorded:
    """Compose, validate, plan, record, execute and record again (see `runner.launch`): a
    launch of many runs made from their indexes records its runs as they run; a detached
    one is handed to a process of its own once recorded."""
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
                request_of(target, overrides, options, "launch"),
                config_dir=config_dir,
                root=root,
                home=home,
                on_first=prepare,
            )
            search = the_plan.base.search
            if search is not None:  # (what Optuna refuses, refused before anything is stored)
                from runner.search import check

                check(search)
            store = Store(home)
            record = _launch_record(the_plan, project, git)
            # A launch whose runs follow from their indexes records each run as it is about
            # to run (so a million runs start at once, in constant memory); any other, and
            # a detached one (its own process reads them back), records them all now. A
            # search records each trial's runs as it asks it (runner.search).
            streamed = the_plan.by_index is not None and not detach and the_plan.count > KEPT_SPECS
            the_plan.specs.streamed = streamed
            kept = None if streamed or search else the_plan.specs
            store.record_launch(record, kept, None if search else the_plan.by_index)
        planned: Sequence[RunSpec] = () if search else the_plan.specs
        if detach:
            return detached(store, record, planned, fail_fast, overwrite_cache, on_created)
        with following(progress, on_created, on_outcome) as (on_created, on_outcome):
            if on_created:
                on_created(record, planned)
            return execute(
                store,
                record,
                () if streamed or search else the_plan.specs,
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
    return index_blocks(plan, index_template(plan, record), 0, execution.RECORD_EVERY)


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
    search: dict[str, Any] = {}
    if the_plan.base.search is not None:
        # What each trial's runs are made from (runner.search), and the study itself.
        search = {
            "search": the_plan.base.search.to_json(),
            "entrypoint": first.entrypoint,
            "code": first.code,
            "cache": first.cache,  # (the definition's, else its workflow's: as a grid's runs)
        }
        if the_plan.base.interpolates:  # each trial resolves them at its values (`${params.lr}`)
            search["raw_params"] = the_plan.base.raw_params
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
            **search,
        },
        pid=os.getpid(),
        run_count=(
            the_plan.base.search.n_trials * int(base.get("repeat", 1))
            if the_plan.base.search is not None
            else the_plan.count
        ),
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
    from runner.snapshots import registered

    return None if req.workflow is not None else registered(req.target or "", home)
