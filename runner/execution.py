"""Running recorded runs: serve cached ones, build batches, drive the engine, record blocks;
resume, rerun, and the pending runs of a detached launch. Returns launches as recorded."""

from __future__ import annotations

import itertools
import operator
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import Interrupted, UsageError
from runner.progress import OnCreated, OnOutcome, following
from runner.reads import Recorded, find_run, recorded, store_at
from runner.records import (
    Done,
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
    from runner.launchers import Launcher
    from runner.worker import Batch, Shared

RECORD_EVERY = 2_000  # runs recorded per transaction as a streamed launch takes them

# Consecutive runs of one definition share these (the same objects: compared at once).
_SHARED = operator.attrgetter("entrypoint", "base", "timeout", "retries")


def in_batches(specs: Iterable[RunSpec], size: int) -> Iterator[list[RunSpec]]:
    source = iter(specs)
    while batch := list(itertools.islice(source, size)):
        yield batch


def serve_cached(
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


def respec(
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


def respecced(store: Store, record: LaunchRecord) -> Specs:
    """Every run of a recorded launch as the spec it was made from, read as they are used."""
    return Specs(
        record.run_count, lambda: (respec(run, record) for run in store.every_run(record.id))
    )


class Todo(Specs):
    """A launch's runs still to run, read as they are used: its pending runs as recorded,
    then, for a launch whose runs follow from their indexes, those it had not recorded yet
    (its launcher was stopped first). Sized, so progress knows how many there are."""

    def __init__(self, store: Store, record: LaunchRecord) -> None:
        self.store, self.record = store, record
        pending = store.count_pending(record.id)
        self.first_missing = store.count_runs(record.id)  # the runs recorded come first
        self.plan = store.index_plan(record.id)
        self.missing_count = record.run_count - self.first_missing if self.plan is not None else 0
        super().__init__(pending + self.missing_count, self.every)

    def recorded(self) -> Iterator[RunSpec]:
        """Its pending runs, as recorded."""
        return (respec(run, self.record) for run in self.store.pending(self.record.id))

    def missing(self) -> Iterator[RunSpec]:
        """The runs it had not recorded, made from their indexes."""
        from runner.plan import index_specs

        if self.plan is None:
            return iter(())
        return index_specs(self.plan, self.record, self.first_missing)

    def missing_blocks(self) -> Iterator[RunBlock]:
        """The runs it had not recorded, a block at a time (to record as they run)."""
        from runner.plan import index_blocks, index_template

        if self.plan is None:
            return iter(())
        template = index_template(self.plan, self.record)
        return index_blocks(self.plan, template, self.first_missing, RECORD_EVERY)

    def every(self) -> Iterator[RunSpec]:
        return itertools.chain(self.recorded(), self.missing())


def todo(store: Store, record: LaunchRecord, *, record_missing: bool = False) -> Todo:
    """What resume runs; `record_missing`: the runs the launch had not recorded are recorded
    now (a detached process reads its runs back from the store)."""
    found = Todo(store, record)
    if record_missing and found.missing_count:
        for block in found.missing_blocks():
            store.record_block(record, block)
        found = Todo(store, record)
    return found


def detached(
    store: Store,
    record: LaunchRecord,
    specs: Sequence[RunSpec],
    fail_fast: bool,
    overwrite_cache: bool,
    on_created: OnCreated | None,
) -> Recorded:
    """Hand a recorded launch to a background process of its own. The runs are recorded
    here, so the plan (ids, seeds) is this one; the process runs the pending ones, as
    resume does. It owns the launch from the start: its pid is what `lost` is checked on."""
    from runner import detach
    from runner.store import process_start

    left = 0
    for batch in in_batches(specs, RECORD_EVERY):
        left += len(serve_cached(store, batch, overwrite_cache, None))
    if left or record.definition.get("search"):  # (a search asks its trials there)
        pid = detach.spawn(
            store.home, record.id, fail_fast=fail_fast, overwrite_cache=overwrite_cache
        )
        store.set_owner(record.id, pid, process_start(pid))
    if on_created:
        on_created(record, specs)
    return recorded(store, record.id)


class Execution:
    """One launch's runs on their way to the engine: what every batch of it shares, the
    batches made from recorded specs and from blocks recorded as they run, and the
    recording of those blocks."""

    def __init__(
        self,
        store: Store,
        record: LaunchRecord,
        *,
        fail_fast: bool,
        overwrite_cache: bool,
        on_outcome: OnOutcome | None,
        on_recorded: Callable[[list[str]], None] | None,
    ) -> None:
        self.store, self.record = store, record
        self.fail_fast, self.overwrite_cache = fail_fast, overwrite_cache
        self.on_outcome, self.on_recorded = on_outcome, on_recorded
        self.runs_root = os.path.join(store.run_dir("").resolve(), "")  # ends with a separator
        self.registered = Path(record.project_root).is_relative_to(
            (store.home / "snapshots").resolve()
        )
        self.sys_path = (record.project_root,)  # one tuple, so pickling sends it once per batch

    def shared(
        self, entrypoint: str, base: dict[str, Any], timeout: float | None, retries: int
    ) -> Shared:
        """What the runs of one definition share in a batch."""
        from runner.worker import Shared

        return Shared(
            entrypoint=entrypoint,
            params=base,
            runs_root=self.runs_root,
            sys_path=self.sys_path,
            env=self.record.env,
            timeout=timeout,
            registered=self.registered,
            retries=retries,
            fail_fast=self.fail_fast,
        )

    def batches(self, specs: list[RunSpec], first_row: int) -> Iterator[Batch]:
        """Recorded specs, cached ones served, as batches of one definition each. The specs'
        rows follow each other from first_row (0: not known here)."""
        from runner.worker import Batch

        served = serve_cached(self.store, specs, self.overwrite_cache, self.on_outcome)
        if not first_row:
            rows = [0] * len(served)
        elif served is specs:
            rows = list(range(first_row, first_row + len(specs)))
        else:
            row_of = {spec.id: first_row + n for n, spec in enumerate(specs)}
            rows = [row_of[spec.id] for spec in served]
        start = 0
        for (entrypoint, base, timeout, retries), group in itertools.groupby(served, _SHARED):
            runs = list(group)
            stop = start + len(runs)
            yield Batch(
                self.shared(entrypoint, base, timeout, retries),
                [spec.id for spec in runs],
                [spec.seed for spec in runs],
                [spec.sets for spec in runs],
                rows[start:stop],
            )
            start = stop

    def stream(self, specs: Iterable[RunSpec], fresh: Iterator[RunBlock]) -> Iterator[Batch]:
        """Every batch: the recorded specs', then the fresh blocks' (recorded as they run)."""
        from runner.worker import Batch

        for batch in in_batches(specs, RECORD_EVERY):
            yield from self.batches(batch, 0)
        for block in fresh:
            t = block.template
            if t.cache:  # some may be served from the cache: recorded now
                first_row = self.record_block(block)
                yield from self.batches(block.specs(), first_row)
                continue
            shared = self.shared(t.entrypoint, t.base, t.timeout, t.retries)
            taken = Batch(shared, block.ids, block.seeds, block.sets, [0] * len(block))
            taken.block = block  # recorded as its runs finish (engine.Recorder)
            yield taken

    def record_block(self, block: RunBlock, done: Sequence[Done | None] = ()) -> int:
        first_row = self.store.record_block(self.record, block, done)
        if self.on_recorded:
            self.on_recorded(block.ids)
        return first_row


def execute(
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
) -> Recorded:
    """Serve cached runs, then execute the rest; what finished is recorded whatever happens.
    `specs` are recorded already; `fresh` ones are recorded a block at a time as their runs
    finish, each run written once (see engine.Recorder). Both are read as they are used, never held whole.
    `launcher`: one already prepared; else the launch's own is made."""
    from runner import engine
    from runner.cancellation import Cancelled
    from runner.launchers import make_launcher

    own = launcher is None
    definition = record.definition
    if launcher is None:
        launcher = make_launcher(
            definition["launcher"], definition.get("max_parallelism"), definition.get("addr")
        )
        launcher.prepare(record.run_count)
    runs = Execution(
        store,
        record,
        fail_fast=fail_fast,
        overwrite_cache=overwrite_cache,
        on_outcome=on_outcome,
        on_recorded=on_recorded,
    )
    unrecorded = iter(fresh)
    batches: Iterable[Batch] = runs.stream(specs, unrecorded)
    search = None
    if definition.get("search"):
        # A study's trials are asked as workers are free, from the runs the store has
        # (`specs` are among them): runner.search.
        from runner.search import Search, told

        search = Search(store, record, runs)
        batches, on_outcome = search.batches(), told(search, on_outcome)
        runs.on_outcome = on_outcome  # (the runs it serves from the cache are told too)
        # As many trials at once as max_concurrent says, else as the launcher runs runs
        # (a cluster: its threads, not the thousand runs a grid keeps in flight there).
        threads = getattr(launcher, "threads", None)
        concurrent = search.config.max_concurrent or (threads() if threads else None)
        if concurrent:
            launcher.n_jobs = concurrent
        if hasattr(launcher, "on_demand"):
            launcher.on_demand = True
    try:
        engine.execute(
            store,
            launcher,
            batches,
            fail_fast=fail_fast,
            on_outcome=on_outcome,
            launch_id=record.id,
            record_block=runs.record_block,
            on_points=search.on_points if search is not None and search.pruner else None,
        )
        if search is not None and search.stopped:
            store.stop_search(record.id, search.stopped)
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
            runs.record_block(block)
        store.cancel_unfinished(
            record.id,
            f"not run: --fail-fast stopped the launch after run {stop.outcome.run_id} failed",
        )
    finally:
        if own:
            launcher.release()  # a cluster's client is closed
    return recorded(store, record.id)


def resume(
    launch_id: str,
    *,
    home: str | Path | None = None,
    on_created: OnCreated | None = None,
    on_outcome: OnOutcome | None = None,
    detach: bool = False,
    wait: bool = True,
    progress: bool | None = None,
) -> Recorded:
    """Run again, into the same launch, exactly the runs that did not succeed (see
    `runner.resume`)."""
    from runner.store import launcher_alive, process_start

    store = store_at(home)
    record = store.launch(find_run(store, launch_id).launch_id)
    assert record is not None
    unfinished = record.counts.get(RunStatus.PENDING.value) or record.counts.get(
        RunStatus.RUNNING.value
    )
    if unfinished and launcher_alive(record.pid, record.pid_start) and record.pid != os.getpid():
        raise UsageError(
            f"launch {record.id} is still running (pid {record.pid}); nothing to resume"
        )
    if record.definition.get("search_stopped"):
        # Stopped by its failures (max_failure_rate): it asks no more trials, and runs none
        # again; why is recorded, and said with it. A new launch searches on.
        return recorded(store, record.id)
    # A search's failed trials are trials it finished: resume runs those it did not.
    search = bool(record.definition.get("search"))
    store.reopen(record.id, None, os.getpid(), process_start(os.getpid()), failures_stay=search)
    if detach or not wait:
        return detached(
            store, record, todo(store, record, record_missing=True), False, False, on_created
        )
    specs = todo(store, record)
    with following(progress, on_created, on_outcome) as (on_created, on_outcome):
        if on_created:
            on_created(record, specs)
        return execute(
            store, record, specs.recorded(), fresh=specs.missing_blocks(), on_outcome=on_outcome
        )


def rerun(
    run_id: str,
    *,
    home: str | Path | None = None,
    on_created: OnCreated | None = None,
    on_outcome: OnOutcome | None = None,
    detach: bool = False,
    wait: bool = True,
) -> Recorded:
    """Reproduce one recorded run (workflow version, params, seed) as a new run (see
    `runner.rerun`)."""
    import dataclasses

    from runner.plan import new_id
    from runner.store import process_start, this_host

    store = store_at(home)
    original = find_run(store, run_id)
    launch_record = store.launch(original.launch_id)
    assert launch_record is not None
    spec = respec(original, launch_record, run_id=new_id(), index=0)
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
        return detached(store, record, [spec], False, False, on_created)
    if on_created:
        on_created(record, [spec])
    return execute(store, record, [spec], on_outcome=on_outcome)


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


def run_pending(
    launch_id: str,
    *,
    home: str | Path | None = None,
    fail_fast: bool = False,
    overwrite_cache: bool = False,
) -> Recorded:
    """Run a recorded launch's pending runs in this process, which becomes its owner (the
    background process of a detached launch); `overwrite_cache`: a search's trials run even
    when an identical run is cached."""
    from runner.store import process_start

    store = store_at(home)
    record = store.launch(launch_id)
    if record is None:
        raise UsageError(f"no launch {launch_id} in {store.path}")
    store.set_owner(record.id, os.getpid(), process_start(os.getpid()))
    pending = Todo(store, record)
    return execute(
        store,
        record,
        pending.recorded(),
        fresh=pending.missing_blocks(),
        fail_fast=fail_fast or bool(record.definition.get("fail_fast")),
        overwrite_cache=overwrite_cache,
    )
