"""The public API: the one path every front-end (CLI, TUI, notebook) takes through a launch.

Each function calls one service (launching, execution, lifecycle, reads) and wraps the
records it returns as handles (runner.handles)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner import execution, launching, lifecycle, reads
from runner.catalog import Described, describe, describe_workflow
from runner.execution import RECORD_EVERY, Todo
from runner.export import to_csv, to_json, to_markdown, to_parquet
from runner.handles import Entities, Launch, Preview, ResultsTable, Runs, Watch, results_table
from runner.launching import params_schema, plan, register, request
from runner.progress import OnCreated, OnOutcome
from runner.reads import launch_logs, log_path, metric_series, metric_summaries
from runner.records import LaunchRecord, RunOutcome, RunRecord, RunSpec
from runner.store import DB_NAME, default_home
from runner.studies import about as search_about

if TYPE_CHECKING:
    from runner.entrypoints import Workflow
    from runner.errors import StoreUnusable
    from runner.inputs import (
        INJECTED,
        InputError,
        from_text,
        hints,
        json_form,
        precedence,
        read_inputs_file,
        read_stdin,
        to_json_value,
    )
    from runner.lifecycle import CancelResult
    from runner.store_check import StoreCheck

__all__ = [
    "DB_NAME",
    "INJECTED",
    "RECORD_EVERY",
    "Described",
    "Entities",
    "InputError",
    "Launch",
    "OnCreated",
    "OnOutcome",
    "Preview",
    "ResultsTable",
    "Runs",
    "Todo",
    "Watch",
    "builtin_schema",
    "cancel",
    "check_store",
    "compose",
    "default_home",
    "describe",
    "describe_workflow",
    "end_workers",
    "entities",
    "find_config_dir",
    "from_text",
    "get",
    "hints",
    "json_form",
    "launch",
    "launch_logs",
    "launch_only_process",
    "launches",
    "log_path",
    "metric_series",
    "metric_summaries",
    "output_path",
    "params_schema",
    "pick_workflow",
    "plan",
    "precedence",
    "read_inputs_file",
    "read_stdin",
    "register",
    "request",
    "rerun",
    "resolve_entrypoint",
    "resume",
    "runs",
    "search_about",
    "show",
    "start_early_workers",
    "status",
    "stop_waiting_for_early_workers",
    "store_damage",
    "store_path",
    "store_report",
    "table",
    "to_csv",
    "to_json",
    "to_json_value",
    "to_markdown",
    "to_parquet",
    "wait",
    "watch",
    "workflows_in",
]


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

    A search (`search=`, as `launch` takes it) plans no runs: `preview.search` is its
    SearchConfig (`describe()`: what `runner show` prints of it). Raises what `launch` would
    (runner.DefinitionError and its kinds) for the same input.
    """
    the_plan, _ = launching.plan(
        launching.request_of(target, overrides, options, "compose"),
        config_dir=config_dir,
        root=root,
        home=home,
    )
    return Preview.of(the_plan)


show = compose  # `runner show` is its name on the command line


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
    timeout, retries, cache), `sweep` (key -> a list of values, or a Hydra sweep string) and
    `search`. `search` makes the launch a search instead of a grid: Optuna's sampler draws each
    trial's params from the space that `sweep` (and params overrides) then describe, in Hydra's
    Optuna sweeper's grammar ("interval(0, 1)", "int(interval(2, 8))", "tag(log, interval(1e-5,
    1e-1))", "choice(a, b)" or a list). It is a search's name ("tpe", "random", "cmaes", "gp",
    "qmc", "nsga2", "grid"), a mapping of its settings as a run file's `search:` holds them
    ({"sampler": "tpe", "n_trials": 60, "direction": "maximize", "objective": "acc",
    "max_concurrent": 4, "seed": 0, ...}), or a SearchConfig (`runner.compose(...).search`, or
    a launch's recorded `definition["search"]`) to make the same search again, its space with
    it. Each trial is a run of the launch. `detach` (or `wait=False`, as the CLI's --no-wait): return as
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
        study = runner.launch(
            "train",
            search={"sampler": "tpe", "n_trials": 40, "objective": "loss"},
            sweep={"lr": "tag(log, interval(1e-5, 1e-1))", "opt": ["adam", "sgd"]},
        )
        runner.table(study, sort="loss")    # the trials, best first
    """
    return Launch.of(
        launching.launch(
            target,
            overrides,
            config_dir=config_dir,
            root=root,
            home=home,
            fail_fast=fail_fast,
            overwrite_cache=overwrite_cache,
            detach=detach,
            wait=wait,
            on_created=on_created,
            on_outcome=on_outcome,
            on_recorded=on_recorded,
            progress=progress,
            **options,
        )
    )


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
    return Launch.of(
        execution.resume(
            launch_id,
            home=home,
            on_created=on_created,
            on_outcome=on_outcome,
            detach=detach,
            wait=wait,
            progress=progress,
        )
    )


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
    return Launch.of(
        execution.rerun(
            run_id,
            home=home,
            on_created=on_created,
            on_outcome=on_outcome,
            detach=detach,
            wait=wait,
        )
    )


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
    found: list[Any] = reads.status(ids, home=home, limit=limit, workflow=workflow, counts=counts)
    return [Launch.of(item) if isinstance(item, reads.Recorded) else item for item in found]


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
    return Runs(
        reads.runs(
            launch=launch,
            workflow=workflow,
            status=status,
            tag=tag,
            since=since,
            limit=limit,
            offset=offset,
            home=home,
        )
    )


def entities(*, config_dir: str | Path | None = None, home: str | Path | None = None) -> Entities:
    """Workflows (each with its versions, registered ones apart) and saved run definitions,
    as `runner list --json` prints them::

        [w["id"] for w in runner.entities().workflows]
    """
    return Entities(**reads.entities(config_dir=config_dir, home=home))


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
    found = reads.launches(ids, workflow=workflow, tag=tag, last=last, home=home)
    return [Launch.of(item) for item in found]


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
    varying). Big results show as their summary: their files are not read. Metrics the runs
    logged (runner.log) are columns `loss.last` (keys `metrics.loss.last`), and `loss.min`,
    `loss.max`, `loss.count` when `columns`, `sort` or `where` names them or `all_columns`;
    read from their summaries, never their points::

        runner.table(launch, by_point=True, stats=True, sort="error", top=5)
        runner.table(["3f2a", "9c1e"], where=["status=failed"]).to_dataframe()
    """
    return results_table(
        source,
        home=home,
        by_point=by_point,
        stats=stats,
        where=where,
        sort=sort,
        desc=desc,
        top=top,
        columns=columns,
        all_columns=all_columns,
        first=first,
    )


def cancel(ids: Sequence[str], *, home: str | Path | None = None) -> list[CancelResult]:
    """Cancel launches or single runs (ids or unique prefixes), from any process: unfinished
    runs are recorded cancelled at once, and the process running them stops their work
    (within a second; it is not itself stopped). A launch whose process is gone has its
    unfinished runs recorded cancelled; a finished one is left as it is::

        (done,) = runner.cancel(["3f2a"])
        done.cancelled, done.counts      # 12, {'succeeded': 4, 'cancelled': 12}
    """
    return lifecycle.cancel(ids, home=home)


def wait(
    launch_id: str,
    *,
    home: str | Path | None = None,
    poll_interval: float = 0.5,
    timeout: float | None = None,
    on_created: Callable[[LaunchRecord, Sequence[RunSpec]], None] | None = None,
    on_outcome: Callable[[RunOutcome], None] | None = None,
    progress: bool | None = None,
) -> Launch:
    """Wait, by reading the store, until a launch (or the launch of a run id) has ended,
    whichever process runs it; returns it as recorded. Its runs are reported to `on_created`
    and (as they finish) to `on_outcome`, as a launch made here would report them. A launch
    whose process died ends the wait too (its runs show as lost). `timeout` (seconds):
    WaitTimeout past it; the launch is left alone. `progress`: a live bar (tqdm.auto) of
    done, failed and running runs with an ETA; None shows it unless a callback follows::

        runner.wait(launch.id, timeout=600, progress=True).results
    """
    return Launch.of(
        lifecycle.wait(
            launch_id,
            home=home,
            poll_interval=poll_interval,
            timeout=timeout,
            on_created=on_created,
            on_outcome=on_outcome,
            progress=progress,
        )
    )


# The typed inputs of a workflow in a .py file (runner.inputs), for `runner FILE.py`:
# imported when first asked, so that a command reading the store does not load them.
_INPUTS = {
    "INJECTED",
    "InputError",
    "from_text",
    "hints",
    "json_form",
    "precedence",
    "read_inputs_file",
    "read_stdin",
    "to_json_value",
}


def __getattr__(name: str) -> Any:
    if name not in _INPUTS:
        raise AttributeError(f"module 'runner.api' has no attribute {name!r}")
    from runner import inputs

    return getattr(inputs, name)


# What a command line needs beyond launches and reads: the store's place, the local workers
# of a launching process, workflows in a .py file and their typed inputs. Each calls one
# module, imported when first asked so that a light command stays light.


def store_path() -> Path:
    """The store's database file under RUNNER_HOME (default ./.runner)."""
    return default_home() / DB_NAME


def store_damage(exc: BaseException) -> StoreUnusable | None:
    """The error to report when `exc` is SQLite finding the store damaged or foreign."""
    from runner.store import damaged

    return damaged(exc, store_path())


def check_store(home: Path | str | None = None) -> StoreCheck:
    """The store checked without changing it: schema version, integrity, counts by status."""
    from runner import store_check

    return store_check.check(home)


def store_report(found: StoreCheck) -> str:
    """A store check as a person reads it."""
    from runner import store_check

    return store_check.report(found)


def output_path(home: Path, launch_id: str) -> Path:
    """Where a detached launch's process writes its output."""
    from runner import detach

    return detach.output_path(home, launch_id)


def find_config_dir(config_dir: str | Path | None = None) -> None:
    """Check a config dir exists (--config-dir, RUNNER_CONFIG_DIR, ./conf): UsageError if not."""
    from runner.composer import Project

    Project.find(config_dir)


def launch_only_process() -> None:
    """Declare that this process only launches and runs no workflow itself (the CLI)."""
    from runner import launchers

    launchers.launch_only_process()


def start_early_workers() -> None:
    """Start local workers now, for a launch whose launcher is likely the default one."""
    from runner import launchers

    launchers.start_early_workers()


def stop_waiting_for_early_workers() -> None:
    """Wait for early workers no launcher took."""
    from runner import launchers

    launchers.stop_waiting_for_early_workers()


def end_workers() -> None:
    """End the idle local workers now, in a process that launched for the last time."""
    from runner import launchers

    launchers.end_workers()


def workflows_in(path: Path) -> tuple[Path, list[Workflow]]:
    """A .py file's import root and the workflows it defines or imports, in file order."""
    from runner import pyfile

    return pyfile.workflows_in(path)


def pick_workflow(path: Path, found: list[Workflow], wanted: str) -> Workflow:
    """The workflow named `wanted` among a file's, or a WorkflowError naming those it has."""
    from runner import pyfile

    return pyfile.pick(path, found, wanted)


def resolve_entrypoint(entrypoint: str) -> Callable[..., Any]:
    """The function a workflow's entrypoint (module:function) names, imported."""
    from runner import entrypoints

    return entrypoints.resolve_entrypoint(entrypoint)


def builtin_schema(name: str) -> dict[str, Any]:
    """A JSON schema shipped with runner (run.schema.json, ...)."""
    from runner import validate

    return validate.builtin_schema(name)
