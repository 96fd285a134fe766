"""Drive a launch's runs through a launcher: attempts and retries, crash isolation, fail-fast, batched records."""

from __future__ import annotations

import contextlib
import itertools
import tempfile
import time
from collections.abc import Callable, Generator, Iterable, Iterator

from runner.cancellation import Cancellation, Cancelled, watching
from runner.launchers import Launcher, WorkerCrash
from runner.records import RunOutcome, RunStatus
from runner.store import Store
from runner.worker import Task, read_markers

# Seconds between batched writes of finished runs: short, so the writes happen while the
# launcher would otherwise wait for its workers.
FLUSH_EVERY = 0.05
FLUSH_SIZE = 1000  # or this many finished runs, whichever comes first
# Runs per call of the launcher, at most: what a launch holds in memory, whatever its size
# (runs handed out, finished, their outcomes not yet recorded). A call ends by waiting for
# its last runs, so a round is long enough for that to cost little.
ROUND = 50_000


class FailedFast(Exception):
    """--fail-fast: a run failed for good, so no further run is started."""

    def __init__(self, outcome: RunOutcome) -> None:
        super().__init__(outcome.run_id)
        self.outcome = outcome


class Recorder:
    """Writes outcomes to the store in batches: few transactions, however many runs."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pending: list[RunOutcome] = []
        self.rows: dict[str, int] = {}  # run id -> rowid, for the runs whose rowid is known
        self.last = time.monotonic()

    def add(self, outcome: RunOutcome, row: int = 0) -> None:
        pending = self.pending
        pending.append(outcome)
        if row:
            self.rows[outcome.run_id] = row
        if len(pending) >= FLUSH_SIZE or time.monotonic() - self.last > FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Everything added so far is in the store when this returns."""
        if self.pending:
            if self.rows:
                self.store.record_outcomes(self.pending, self.rows)
            else:
                self.store.record_outcomes(self.pending)
            self.pending = []
            self.rows = {}
        self.last = time.monotonic()


def execute(
    store: Store,
    launcher: Launcher,
    tasks: Iterable[Task],
    *,
    fail_fast: bool = False,
    on_outcome: Callable[[RunOutcome], None] | None = None,
    launch_id: str | None = None,
) -> None:
    """Run every task to a final outcome, recording each attempt as it arrives.

    `tasks` are read as the launcher takes them: a million-run launch holds the runs in
    flight, not all its runs. A failed attempt is retried (same seed) while the run has
    retries left (`Task.retries`), once the first attempts are done. KeyboardInterrupt and
    FailedFast propagate after what finished is recorded; the caller cancels the rest. With
    `launch_id`, cancel requests in the store (`runner cancel`, from any process) stop the
    launch (Cancelled propagates) or drop single runs; whoever cancels records them.
    """
    recorder = Recorder(store)
    succeeded = RunStatus.SUCCEEDED
    with (
        tempfile.TemporaryDirectory(prefix="runner-workers-") as marker_dir,
        watching(
            store,
            launch_id,
            marker_dir if launcher.isolated else None,
            getattr(launcher, "stop", None),
        ) as cancel,
    ):
        try:
            round_: Iterable[Task] = tasks
            while True:
                if cancel.launch:
                    raise Cancelled()
                again: list[Task] = []  # failed attempts to retry: as many as failures
                attempts = _attempts(launcher, round_, marker_dir, cancel)
                with contextlib.closing(attempts) as outcomes:
                    for outcome, task in outcomes:
                        if cancel.launch:
                            raise Cancelled()
                        if outcome.run_id in cancel.runs:  # recorded cancelled already
                            cancel.settle(outcome.run_id)
                            continue
                        recorder.add(outcome, task.row)
                        if on_outcome:
                            on_outcome(outcome)
                        if outcome.status is succeeded or outcome.status.ok:
                            continue
                        if task.attempt <= task.retries:
                            again.append(task._replace(attempt=task.attempt + 1))
                        elif fail_fast:
                            raise FailedFast(outcome)
                if not again:
                    return
                round_ = again
        finally:
            recorder.flush()


def _attempts(
    launcher: Launcher, tasks: Iterable[Task], marker_dir: str, cancel: Cancellation
) -> Generator[tuple[RunOutcome, Task], None, None]:
    """One attempt of each task, with the task. When a worker dies, the runs the dead workers
    held (their markers say which) are run again one at a time, so a crash fails only the
    run that causes it; the others go on in a new pool. A worker ended because its run was
    cancelled is no crash: the runs beside it go on in a new pool. Only the tasks the
    launcher has taken and not finished are held here."""
    inflight: dict[str, Task] = {}

    def taken(source: Iterator[Task]) -> Iterator[Task]:
        for task in source:
            if task.run_id in cancel.runs:
                continue
            inflight[task.run_id] = task
            yield task

    source: Iterator[Task] = iter(tasks)
    while True:
        first = next(source, None)
        if first is None:
            return
        # A round of at most ROUND runs per launcher call: joblib hands out runs as workers
        # finish, whether or not their outcomes were read yet, so outcomes that arrive faster
        # than they are recorded pile up, at most a round's worth.
        round_ = itertools.chain([first], itertools.islice(source, ROUND - 1))
        try:
            for outcome in launcher.run(taken(round_), marker_dir):
                task = inflight.pop(outcome.run_id)
                yield outcome, task
            continue
        except WorkerCrash as crash:
            if cancel.launch:
                raise Cancelled() from None
            held = read_markers(marker_dir)
            unfinished = dict(inflight)
            inflight.clear()
            stopped = [run_id for run_id in held if run_id in cancel.runs]
            if stopped:
                for run_id in {*stopped, *cancel.unsettled()}:
                    unfinished.pop(run_id, None)
                    cancel.settle(run_id)
            else:
                suspects = [unfinished[run_id] for run_id in held if run_id in unfinished]
                for task in suspects or list(unfinished.values()):
                    del unfinished[task.run_id]
                    if held.get(task.run_id):  # its own worker ended it for its timeout
                        yield _lost_worker(task, time.time(), crash, timed_out=True), task
                    else:
                        yield _alone(launcher, task, marker_dir), task
            # The runs taken and not finished go first in the new pool, then the rest.
            source = itertools.chain(list(unfinished.values()), round_, source)


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
