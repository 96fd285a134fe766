"""Drive a launch's runs through a launcher: attempts and retries, crash isolation, fail-fast, batched records."""

from __future__ import annotations

import contextlib
import itertools
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence

from runner.cancellation import Cancellation, Cancelled, watching
from runner.launchers import Launcher, WorkerCrash
from runner.metrics import Sent
from runner.records import Done, RunBlock, RunOutcome, RunStatus
from runner.running import PRUNING_TICK, TICK, Running
from runner.store import Store
from runner.worker import Batch, Task, read_markers

# Seconds between batched writes of finished runs: short, so the writes happen while the
# launcher would otherwise wait for its workers.
FLUSH_EVERY = 0.05
FLUSH_SIZE = 1000  # or this many finished runs, whichever comes first
HOLD_MOST = 1.0  # seconds a streamed launch's runs may run before they are recorded
# Runs per call of the launcher, at most: what a launch holds in memory, whatever its size
# (runs handed out, finished, their outcomes not yet recorded). A call ends by waiting for
# its last runs, so a round is long enough for that to cost little.
ROUND = 50_000


class FailedFast(Exception):
    """--fail-fast: a run failed for good, so no further run is started."""

    def __init__(self, outcome: RunOutcome) -> None:
        super().__init__(outcome.run_id)
        self.outcome = outcome


class _Held:
    """A streamed launch's block taken by the launcher and not recorded yet: what its runs
    did so far (None: not yet), and since when the first of them waits."""

    __slots__ = ("batch", "done", "left", "since", "taken")

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.done: list[Done | None] = [None] * len(batch)
        self.left = len(batch)
        self.since: float | None = None
        self.taken = time.monotonic()


class Recorder:
    """Writes what finished to the store in batches: few transactions, however many runs.

    A streamed launch's blocks (`Batch.block`) are recorded as their runs finish, each run
    written once, finished (`record_block`), rather than pending before it runs and again
    after. Blocks are recorded in plan order, so the runs recorded are always the first of
    the launch (resume runs the others); no finished run waits more than FLUSH_EVERY, and no
    run taken more than HOLD_MOST (so long runs can be looked up while they run): a block
    whose runs are not all done by then is recorded with the rest pending, and those are
    written when they finish.

    With `running`, the same thread writes every TICK the runs seen executing and the
    metrics they logged (runner.running)."""

    def __init__(
        self,
        store: Store,
        record_block: Callable[[RunBlock, Sequence[Done | None]], int] | None = None,
        running: Running | None = None,
    ) -> None:
        self.store = store
        self.record_block = record_block
        self.running = running
        self.parts: list[tuple[Batch, list[Done]]] = []
        self.runs = 0
        self.held: dict[int, _Held] = {}  # by id of the batch, in the order taken
        self.last = time.monotonic()
        # Held blocks are also recorded on time when no run finishes for a while (long
        # runs): by a thread of their own, so recording is done under a lock.
        self._lock = threading.Lock()
        self._ticking: threading.Thread | None = None
        self._stop = threading.Event()

    def take(self, batch: Batch) -> None:
        """The launcher took this batch: a block is held from now on, in order."""
        if batch.block is None or self.record_block is None:
            return
        # Without the lock: joblib dispatches from here, and must not wait for a write to
        # the store (workers then sat idle). A dict's item is set atomically, and recording
        # reads the blocks held from a copy of them, in order.
        self.held[id(batch)] = _Held(batch)
        self.start()

    def start(self) -> None:
        """Start the thread that records on time (held blocks, running runs, metrics)."""
        if self._ticking is None:
            self._ticking = threading.Thread(target=self._tick, name="runner-record", daemon=True)
            self._ticking.start()

    def _tick(self) -> None:
        tick = PRUNING_TICK if self.running is not None and self.running.on_points else TICK
        while not self._stop.wait(tick):
            with self._lock:
                try:
                    if self.held:
                        self._record_blocks(everything=False)
                    if self.parts and time.monotonic() - self.last > FLUSH_EVERY:
                        # (runs that ended while the others run on are not kept waiting
                        # for the next to end)
                        self._flush(everything=False)
                    if self.running is not None:
                        self._watch(self.running)
                except Exception:
                    # (a store that cannot be written: the launch's own next write meets the
                    # same error and reports it, with the exit code it calls for)
                    return

    def _watch(self, running: Running) -> None:
        running.record_points()
        due = running.due()
        if due:
            late = running.record_running(due)
            if late and self.held:  # rows not recorded yet: their blocks are, now
                self._record_blocks(everything=True)
                running.record_running(late)

    def close(self) -> None:
        """Record everything, and stop the thread that records on time."""
        self._stop.set()
        if self._ticking is not None:
            self._ticking.join()
        if self.running is not None:
            with self._lock:
                self.running.record_points()
        self.flush(everything=True)
        if self.running is not None:
            self.running.close()

    def add(self, part: Batch, done: list[Done]) -> None:
        with self._lock:
            if self.running is not None:
                # A worker sends its runs' last points before their outcomes: they are in
                # the store before any reader (or `on_outcome`) learns the runs ended.
                self.running.record_points()
            self._add(part, done)

    def _add(self, part: Batch, done: list[Done]) -> None:
        held = self.held.get(id(part.source)) if self.held else None
        if held is None:
            source = part.source
            if source.block is not None:  # its block is recorded: its rows are known now
                part.rows = source.rows[part.offset : part.offset + len(part)]
            elif self.held and not all(part.rows):
                # Runs of a held block may come back in a batch of their own (run again
                # after a worker died): their rows must exist before they are written.
                self._record_blocks(everything=True)
            self.parts.append((part, done))
            self.runs += len(done)
        else:
            held.done[part.offset : part.offset + len(done)] = done
            held.left -= len(done)
            if held.since is None:
                held.since = time.monotonic()
            if not held.left:  # done: recorded now if the blocks before it are
                self._record_blocks(everything=False)
        if self.runs >= FLUSH_SIZE or time.monotonic() - self.last > FLUSH_EVERY:
            self._flush(everything=False)

    def flush(self, everything: bool = False) -> None:
        """What finished so far is in the store when this returns (`everything`: every
        block held is recorded too, its unfinished runs pending)."""
        with self._lock:
            self._flush(everything)

    def _flush(self, everything: bool) -> None:
        if self.held:
            self._record_blocks(everything)
        if self.parts:
            self.store.record_done(
                ((part.run_ids, part.rows, part.attempt), done) for part, done in self.parts
            )
            self.parts = []
            self.runs = 0
        self.last = time.monotonic()

    def _record_blocks(self, everything: bool) -> None:
        assert self.record_block is not None
        held = list(self.held.values())
        now = time.monotonic()
        # Every block up to the last one held too long goes now, done or not.
        due = max(
            (
                n
                for n, h in enumerate(held)
                if now - h.taken > HOLD_MOST
                or (h.since is not None and now - h.since > FLUSH_EVERY)
            ),
            default=-1,
        )
        for n, h in enumerate(held):
            if h.left and n > due and not everything:
                break
            first = self.record_block(h.batch.block, h.done)  # type: ignore[arg-type]
            # Its runs still running are written by rowid when they finish.
            h.batch.rows[:] = range(first, first + len(h.batch))
            del self.held[id(h.batch)]


def execute(
    store: Store,
    launcher: Launcher,
    batches: Iterable[Batch],
    *,
    fail_fast: bool = False,
    on_outcome: Callable[[RunOutcome], None] | None = None,
    launch_id: str | None = None,
    record_block: Callable[[RunBlock, Sequence[Done | None]], int] | None = None,
    on_points: Callable[[list[Sent]], list[str]] | None = None,
) -> None:
    """Run every batch's runs to a final outcome, recording each attempt as it arrives.

    `batches` are read as the launcher takes them: a million-run launch holds the runs in
    flight, not all its runs. A failed attempt is retried (same seed) while the run has
    retries left (`Batch.retries`), once the first attempts are done. KeyboardInterrupt and
    FailedFast propagate after what finished is recorded; the caller cancels the rest. With
    `launch_id`, cancel requests in the store (`runner cancel`, from any process) stop the
    launch (Cancelled propagates) or drop single runs; whoever cancels records them.
    `record_block` records a batch's block (`Batch.block`) with what its runs did.
    `on_points` hears the points runs logged, once recorded, and names runs to stop (a
    search's pruner: runner.search).
    """
    with (
        tempfile.TemporaryDirectory(prefix="runner-workers-") as marker_dir,
        watching(
            store,
            launch_id,
            marker_dir if launcher.isolated else None,
            getattr(launcher, "stop", None),
        ) as cancel,
    ):
        running = Running(store, marker_dir, launcher.isolated)
        running.on_points = on_points
        running.stop_remote = getattr(launcher, "prune", None)
        recorder = Recorder(store, record_block, running)
        recorder.start()
        try:
            round_: Iterable[Batch] = batches
            while True:
                if cancel.launch:
                    raise Cancelled()
                again: list[Batch] = []  # failed attempts to retry: as many as failures
                attempts = _attempts(launcher, round_, marker_dir, cancel, recorder.take)
                with contextlib.closing(attempts) as finished:
                    for part, done in finished:
                        if cancel.launch:
                            raise Cancelled()
                        if cancel.runs:  # recorded cancelled already
                            part, done = _not_cancelled(part, done, cancel)
                        recorder.add(part, done)
                        if on_outcome:
                            for outcome in part.outcomes(done):
                                on_outcome(outcome)
                        # Most runs succeed (a tuple): only the others are looked at.
                        retry: list[int] = []
                        others = enumerate(done) if set(map(type, done)) != {tuple} else ()
                        for i, other in others:
                            if isinstance(other, tuple) or other.status.ok:
                                continue
                            if part.attempt <= part.retries:
                                retry.append(i)
                            elif fail_fast:
                                raise FailedFast(other)
                        if retry:
                            again.append(part.pick(retry).again())
                recorder.flush(everything=True)  # retries write over the runs' rows
                if not again:
                    return
                round_ = again
        finally:
            recorder.close()


def _not_cancelled(part: Batch, done: list[Done], cancel: Cancellation) -> tuple[Batch, list[Done]]:
    """The part's runs not cancelled meanwhile (the canceller recorded those)."""
    if not any(run_id in cancel.runs for run_id in part.run_ids):
        return part, done
    kept = []
    for i, run_id in enumerate(part.run_ids):
        if run_id in cancel.runs:
            cancel.settle(run_id)
        else:
            kept.append(i)
    return part.pick(kept), [done[i] for i in kept]


class _Taken:
    """A batch the launcher took, and the parts of it that came back so far."""

    __slots__ = ("batch", "finished", "parts")

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.finished = 0
        self.parts: list[Batch] = []

    def unfinished(self) -> list[int]:
        """The indexes of the batch's runs that have not come back."""
        back: set[int] = set()
        for part in self.parts:
            back.update(range(part.offset, part.offset + len(part)))
        return [i for i in range(len(self.batch)) if i not in back]


def _attempts(
    launcher: Launcher,
    batches: Iterable[Batch],
    marker_dir: str,
    cancel: Cancellation,
    on_taken: Callable[[Batch], None],
) -> Generator[tuple[Batch, list[Done]], None, None]:
    """One attempt of each batch's runs: the parts that finish, with what their runs did.
    When a worker dies, the runs the dead workers held (their markers say which) are run
    again one at a time, so a crash fails only the run that causes it; the others go on in
    a new pool. A worker ended because its run was cancelled is no crash: the runs beside it
    go on in a new pool. Only the batches the launcher has taken and not finished are held
    here."""
    inflight: dict[int, _Taken] = {}

    def taken(source: Iterator[Batch]) -> Iterator[Batch]:
        for batch in source:
            if cancel.runs and any(run_id in cancel.runs for run_id in batch.run_ids):
                batch = batch.pick([i for i, r in enumerate(batch.run_ids) if r not in cancel.runs])
            if len(batch):
                inflight[id(batch)] = _Taken(batch)
                on_taken(batch)
                yield batch

    source: Iterator[Batch] = iter(batches)
    while True:
        first = next(source, None)
        if first is None:
            return
        # A round of at most ROUND runs per launcher call: joblib hands out runs as workers
        # finish, whether or not their outcomes were read yet, so outcomes that arrive faster
        # than they are recorded pile up, at most a round's worth.
        round_ = itertools.chain([first], _up_to(source, ROUND - len(first)))
        try:
            for part, done in _run_batches(launcher, taken(round_), marker_dir):
                if len(done) < len(part):  # it stopped at a failure (--fail-fast)
                    part = part.part(0, len(done))
                took = inflight[id(part.source)]
                took.finished += len(part)
                if took.finished >= len(took.batch):
                    del inflight[id(part.source)]
                else:
                    took.parts.append(part)
                yield part, done
            continue
        except WorkerCrash as crash:
            if cancel.launch:
                raise Cancelled() from None
            held = read_markers(marker_dir)
            # run id -> (its batch, its index there), for every run taken and not finished
            unfinished = {
                took.batch.run_ids[i]: (took.batch, i)
                for took in inflight.values()
                for i in took.unfinished()
            }
            inflight.clear()
            stopped = [run_id for run_id in held if run_id in cancel.runs]
            if stopped:
                for run_id in {*stopped, *cancel.unsettled()}:
                    unfinished.pop(run_id, None)
                    cancel.settle(run_id)
            else:
                suspects = [run_id for run_id in held if run_id in unfinished]
                for run_id in suspects or list(unfinished):
                    batch, i = unfinished.pop(run_id)
                    task = batch.task(i)
                    if held.get(run_id):  # its own worker ended it for its timeout
                        outcome = _lost_worker(task, time.time(), crash, timed_out=True)
                    else:
                        outcome = _alone(launcher, task, marker_dir)
                    yield batch.part(i, i + 1), [outcome]
            # The runs taken and not finished go first in the new pool, then the rest.
            by_batch: dict[int, tuple[Batch, list[int]]] = {}
            for batch, i in unfinished.values():
                by_batch.setdefault(id(batch), (batch, []))[1].append(i)
            rest = [batch.pick(indexes) for batch, indexes in by_batch.values()]
            source = itertools.chain(rest, round_, source)


def _up_to(source: Iterator[Batch], runs: int) -> Iterator[Batch]:
    """Batches from `source` while they hold fewer than `runs` runs in all."""
    while runs > 0:
        batch = next(source, None)
        if batch is None:
            return
        runs -= len(batch)
        yield batch


def _run_batches(
    launcher: Launcher, batches: Iterator[Batch], marker_dir: str
) -> Iterator[tuple[Batch, list[Done]]]:
    """The launcher's parts and what their runs did; a launcher that takes runs one at a
    time (a Dask cluster's) is given them so, each coming back as a part of one run."""
    run_batches = getattr(launcher, "run_batches", None)
    if run_batches is not None:
        yield from run_batches(batches, marker_dir)
        return
    places: dict[str, tuple[Batch, int]] = {}

    def tasks() -> Iterator[Task]:
        for batch in batches:
            for i in range(len(batch)):
                places[batch.run_ids[i]] = (batch, i)
                yield batch.task(i)

    for outcome in launcher.run(tasks(), marker_dir):
        batch, i = places.pop(outcome.run_id)
        yield batch.part(i, i + 1), [outcome]


def _alone(launcher: Launcher, task: Task, marker_dir: str) -> RunOutcome:
    """A suspect of a crash, run with nothing beside it: if its worker dies, it was the cause."""
    started = time.time()
    try:
        for outcome in launcher.run([task], marker_dir):
            return outcome
    except WorkerCrash as crash:
        timed_out = read_markers(marker_dir).get(task.run_id, False)
        return _lost_worker(task, started, crash, timed_out=timed_out)
    raise AssertionError(f"the launcher returned no outcome for run {task.run_id}")


def _lost_worker(task: Task, started: float, crash: WorkerCrash, *, timed_out: bool) -> RunOutcome:
    return RunOutcome(
        run_id=task.run_id,
        status=RunStatus.TIMED_OUT if timed_out else RunStatus.FAILED,
        started=started,
        ended=time.time(),
        error=(
            f"timed out after {task.timeout:g}s; its worker would not stop and was ended"
            if timed_out
            else crash.detail
        ),
        attempt=task.attempt,
    )
