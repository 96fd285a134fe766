"""Drive a launch's runs through a launcher: attempts and retries, crash isolation, fail-fast, batched records."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Generator, Sequence

from runner.cancellation import Cancellation, Cancelled, watching
from runner.launchers import Launcher, WorkerCrash
from runner.records import RunOutcome, RunStatus
from runner.store import Store
from runner.worker import Task, read_markers

# Seconds between batched writes of finished runs: short, so the writes happen while the
# launcher would otherwise wait for its workers.
FLUSH_EVERY = 0.05
FLUSH_SIZE = 1000  # or this many finished runs, whichever comes first


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
        self.last = time.monotonic()

    def add(self, outcome: RunOutcome) -> None:
        self.pending.append(outcome)
        if len(self.pending) >= FLUSH_SIZE or time.monotonic() - self.last > FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Everything added so far is in the store when this returns."""
        if self.pending:
            self.store.record_outcomes(self.pending)
            self.pending = []
        self.last = time.monotonic()


def execute(
    store: Store,
    launcher: Launcher,
    tasks: Sequence[Task],
    *,
    retries: dict[str, int],
    fail_fast: bool = False,
    on_outcome: Callable[[RunOutcome], None] | None = None,
    launch_id: str | None = None,
) -> None:
    """Run every task to a final outcome, recording each attempt as it arrives.

    A failed attempt is retried (same seed) while the run has retries left. KeyboardInterrupt
    and FailedFast propagate after what finished is recorded; the caller cancels the rest.
    With `launch_id`, cancel requests in the store (`runner cancel`, from any process) stop
    the launch (Cancelled propagates) or drop single runs; whoever cancels records them.
    """
    recorder = Recorder(store)
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
            while tasks:
                if cancel.launch:
                    raise Cancelled()
                again: list[Task] = []
                by_id = {task.run_id: task for task in tasks}
                attempts = _attempts(launcher, tasks, marker_dir, cancel)
                with contextlib.closing(attempts) as outcomes:
                    for outcome in outcomes:
                        if cancel.launch:
                            raise Cancelled()
                        if outcome.run_id in cancel.runs:  # recorded cancelled already
                            cancel.settle(outcome.run_id)
                            continue
                        recorder.add(outcome)
                        if on_outcome:
                            on_outcome(outcome)
                        if outcome.status.ok:
                            continue
                        task = by_id[outcome.run_id]
                        if task.attempt <= retries.get(task.run_id, 0):
                            again.append(task._replace(attempt=task.attempt + 1))
                        elif fail_fast:
                            raise FailedFast(outcome)
                tasks = again
        finally:
            recorder.flush()


def _attempts(
    launcher: Launcher, tasks: Sequence[Task], marker_dir: str, cancel: Cancellation
) -> Generator[RunOutcome, None, None]:
    """One attempt of each task. When a worker dies, the runs the dead workers held (their
    markers say which) are run again one at a time, so a crash fails only the run that
    causes it; the others go on in a new pool. A worker ended because its run was cancelled
    is no crash: the runs beside it go on in a new pool."""
    remaining = {task.run_id: task for task in tasks if task.run_id not in cancel.runs}
    while remaining:
        try:
            for outcome in launcher.run(list(remaining.values()), marker_dir):
                remaining.pop(outcome.run_id, None)
                yield outcome
        except WorkerCrash as crash:
            if cancel.launch:
                raise Cancelled() from None
            held = read_markers(marker_dir)
            stopped = [run_id for run_id in held if run_id in cancel.runs]
            if stopped:
                for run_id in {*stopped, *cancel.unsettled()}:
                    remaining.pop(run_id, None)
                    cancel.settle(run_id)
                continue
            suspects = [remaining[run_id] for run_id in held if run_id in remaining]
            for task in suspects or list(remaining.values()):
                del remaining[task.run_id]
                if held.get(task.run_id):  # its own worker ended it for its timeout
                    yield _lost_worker(task, time.time(), crash, timed_out=True)
                else:
                    yield _alone(launcher, task, marker_dir)


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
