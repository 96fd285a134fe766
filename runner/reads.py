"""What the store holds, read for every front-end: status, runs, launches, id lookup, results
rows, logs, counting. Returns records (with the store they were read from), never handles."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.catalog import describe_presets, describe_workflows, registered_versions
from runner.errors import UsageError
from runner.records import LaunchRecord, MetricSummary, RunRecord, RunRow, Series
from runner.store import Store

if TYPE_CHECKING:
    from runner.composer import ConfigSpace
    from runner.results import ResultsTable


@dataclass
class Recorded:
    """A launch as recorded, with the store it was read from (None: not stored) and its runs
    when they are in hand already (None: read from the store when asked)."""

    record: LaunchRecord
    store: Store | None = None
    runs: list[RunRecord] | None = None


def store_at(home: str | Path | None) -> Store:
    """The existing store at `home`; a UsageError when there is none."""
    store = Store.existing(home)
    if store is None:
        from runner.store import default_home

        raise UsageError(f"no run store at {Path(home) if home else default_home()}")
    return store


def find_run(store: Store, prefix: str) -> RunRecord:
    """The run an id (prefix) names; a launch id names its first run."""
    kind, full = store.resolve(prefix)
    run = store.run(full) if kind == "run" else store.first_run(full)
    if run is None:
        raise UsageError(f"launch {full} has no runs")
    return run


def recorded(store: Store, launch_id: str, *, counts: bool = True) -> Recorded:
    """A launch read again from the store, with its counts by status unless told not to."""
    record = store.launch(launch_id, counts=counts)
    assert record is not None
    return Recorded(record, store)


def status(
    ids: Sequence[str] = (),
    *,
    home: str | Path | None = None,
    limit: int | None = 20,
    workflow: str | None = None,
    counts: bool = True,
) -> list[Recorded] | list[RunRecord]:
    """Recorded launches (most recent first), or the launches and runs named by id prefixes
    (see `runner.status`)."""
    store = Store.existing(home)
    if store is None:
        if ids:
            raise UsageError(
                f"no run store at {Path(home or os.environ.get('RUNNER_HOME') or '.runner')}"
            )
        return []
    if not ids:
        return [Recorded(record, store) for record in store.launches(limit, workflow_id=workflow)]
    found: list[Any] = []
    for prefix in ids:
        kind, full = store.resolve(prefix)
        if kind == "launch":
            found.append(recorded(store, full, counts=counts))
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
) -> list[RunRecord]:
    """Recorded runs, however they were launched (see `runner.runs`)."""
    store = Store.existing(home)
    if store is None:
        return []
    launch_id = None
    if launch is not None:
        kind, launch_id = store.resolve(launch)
        if kind == "run":
            found = store.run(launch_id)
            launch_id = found.launch_id if found else launch_id
    statuses = [status] if isinstance(status, str) else list(status or ())
    return store.find_runs(
        launch_id=launch_id,
        workflow_id=workflow,
        statuses=statuses,
        tag=tag,
        since=since,
        limit=limit,
        offset=offset,
    )


def launches(
    ids: Sequence[str] = (),
    *,
    workflow: str | None = None,
    tag: str | None = None,
    last: int | None = None,
    home: str | Path | None = None,
) -> list[Recorded]:
    """Launches by id prefix (a run's id names its launch), or the recorded ones of a
    workflow, with a tag, or the `last` N; oldest first, so a comparison reads in order."""
    store = store_at(home)
    found: list[Recorded] = []
    for prefix in ids:
        kind, full = store.resolve(prefix)
        if kind == "run":
            run = store.run(full)
            assert run is not None
            full = run.launch_id
        if full not in (launch.record.id for launch in found):
            found.append(recorded(store, full))
    if workflow is not None or tag is not None or last is not None or not ids:
        picked = [
            record
            for record in store.launches(None)
            if (workflow is None or record.workflow_id == workflow)
            and (tag is None or tag in record.tags)
        ]
        if last is not None or (not ids and workflow is None and tag is None):
            picked = picked[: last or 1]
        known = {launch.record.id for launch in found}
        found.extend(Recorded(r, store) for r in reversed(picked) if r.id not in known)
    if not found:
        what = " ".join(
            f"{name} {value}" for name, value in (("workflow", workflow), ("tag", tag)) if value
        )
        raise UsageError(f"no recorded launch matches {what or 'that'} in {store.path}")
    return found


def counting(home: Path, record: LaunchRecord) -> Callable[[], dict[str, int]]:
    """A launch's counts by status read in a thread, on a connection of its own (SQLite
    reads without holding the GIL); what it returns waits for the counts and returns them
    (or raises what counting raised)."""
    import threading

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


def table(
    items: Sequence[Recorded | RunRecord],
    *,
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
    """The results table of launches and runs (see `runner.table`): the rows of a launch
    whose runs are not in hand come from the store with their JSON still encoded. The
    launches' whole tables of searches (every one a search, to the same direction) show
    their objective after the params and sort by it, best first, unless told otherwise."""
    import json

    from runner import results

    chunks: list[tuple[bool, list[RunRow]]] = []  # (JSON still encoded, rows)
    vary: list[str] = []
    summaries: list[MetricSummary] = []
    loose: dict[str | None, list[str]] = {}  # runs given alone, by their store's home
    for item in items:
        if isinstance(item, RunRecord):
            chunks.append((False, results.rows_of([item])))
            loose.setdefault(item.home, []).append(item.id)
        elif item.runs is not None or item.store is None:
            runs = item.runs or []
            runs = runs if first is None else runs[:first]
            chunks.append((False, results.rows_of(runs, item.record.repeat)))
            if item.store is not None:
                summaries += _metrics(item.store, item.record, [r.id for r in runs], first)
        else:
            chunks.append((True, item.store.table_rows(item.record, first)))
            read = [row.run_id for row in chunks[-1][1]]
            summaries += _metrics(item.store, item.record, read, first)
        if first is not None and not isinstance(item, RunRecord):
            vary.extend(item.record.definition.get("swept") or {})
    for home, run_ids in loose.items():
        if home is not None and (store := Store.existing(home)) is not None:
            try:
                summaries += store.metric_summaries(run_ids=run_ids)
            finally:
                store.close()
    encoded = all(raw for raw, _ in chunks)
    rows: list[RunRow] = []
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
        metrics=summaries,
        objective=_objective(items) if first is None else None,
    )


def _objective(items: Sequence[Recorded | RunRecord]) -> tuple[str, bool] | None:
    """The metric the runs of these launches record their search's value as, and whether
    bigger is better: when they are all searches to the same first direction."""
    from runner.studies import OBJECTIVE

    directions = set()
    for item in items:
        search = None if isinstance(item, RunRecord) else item.record.definition.get("search")
        if not search:
            return None
        directions.add(search["directions"][0])
    if len(directions) != 1:
        return None
    return OBJECTIVE, directions.pop() == "maximize"


def _metrics(
    store: Store, launch: LaunchRecord, run_ids: list[str], first: int | None
) -> list[MetricSummary]:
    """The metric summaries of these runs of a launch: read for the whole launch in one query
    when they are all its runs, else run by run (`first`: a page of a big launch reads its
    page's, never the launch's)."""
    if first is None or len(run_ids) >= launch.run_count:
        return store.metric_summaries(launch_id=launch.id)
    return store.metric_summaries(run_ids=run_ids)


def _loads(text: str | None) -> Any:
    import json

    return None if text is None else json.loads(text)


def log_path(run_id: str, *, home: str | Path | None = None) -> tuple[RunRecord, Path]:
    """A run and where its log is (the file exists once the run has written something)."""
    from runner.worker import LOG_NAME

    store = store_at(home)
    run = find_run(store, run_id)
    return run, store.run_dir(run.id) / LOG_NAME


def metric_summaries(
    ident: str, keys: Sequence[str] = (), *, home: str | Path | None = None
) -> list[MetricSummary]:
    """The summary (count, last, min, max) of each metric a run logged, or each run of a
    launch (an id or a unique prefix), in run order then by key; `keys`: only those. Reads
    no point."""
    store = store_at(home)
    kind, full = store.resolve(ident)
    if kind == "launch":
        return store.metric_summaries(launch_id=full, keys=keys)
    return store.metric_summaries(run_ids=[full], keys=keys)


def metric_series(
    ident: str, keys: Sequence[str] = (), *, home: str | Path | None = None
) -> list[Series]:
    """Every point of each metric a run logged, or each run of a launch that logged (an id
    or a unique prefix), in the order logged; `keys`: only those."""
    store = store_at(home)
    kind, full = store.resolve(ident)
    if kind == "launch":
        logged = dict.fromkeys(m.run_id for m in store.metric_summaries(launch_id=full, keys=keys))
    else:
        logged = {full: None}
    return [series for run_id in logged for series in store.metric_series(run_id, keys)]


def launch_logs(
    ident: str, *, home: str | Path | None = None
) -> tuple[LaunchRecord, Iterator[tuple[str, str, Path]]] | None:
    """For an id naming a launch of several runs: the launch and (run id, status, log path)
    of each of its runs that wrote a log, in plan order, streamed from the store a page at
    a time; None for a run (or a one-run launch), whose log `log_path` finds."""
    from runner.worker import LOG_NAME

    store = store_at(home)
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


def entities(
    *, config_dir: str | Path | None = None, home: str | Path | None = None
) -> dict[str, Any]:
    """Workflows (each with its versions, registered ones apart) and saved run definitions,
    as `runner list --json` prints them: `workflows`, `presets`, `broken`."""
    from runner.composer import Project, config_space

    project = Project.find(config_dir)
    with config_space(project) as space:
        found = _entities(space)
    registered = registered_versions(home)
    for workflow in found["workflows"]:
        workflow["registered"] = registered.get(workflow["id"], [])
    return found


def _entities(space: ConfigSpace) -> dict[str, Any]:
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
    return {"workflows": workflows, "presets": presets, "broken": space.broken_declarations()}
