"""How a launching process learns of `runner cancel` (through the store) and stops the work."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from runner.store import Store
from runner.worker import held_runs

# Seconds between two looks at the store for cancel requests. One indexed SELECT on a
# connection of its own: nothing beside a launch's work, and a cancel takes effect well
# within a second (the poll, then the killed workers' pool breaking).
POLL_EVERY = 0.2


class Cancelled(Exception):
    """The whole launch was cancelled: no further run starts (its runs are recorded already)."""


class Cancellation:
    """What was cancelled in this launch so far. Written by the watcher thread, read by the
    engine's loop for each outcome: a flag and a set, so the check costs next to nothing."""

    def __init__(self) -> None:
        self.launch = False
        self.runs: set[str] = set()
        self.settled: set[str] = set()  # cancelled runs the engine is done with
        self._lock = threading.Lock()

    def add(self, run_id: str | None) -> None:
        with self._lock:
            if run_id is None:
                self.launch = True
            else:
                self.runs.add(run_id)

    def settle(self, run_id: str) -> None:
        with self._lock:
            self.settled.add(run_id)

    def unsettled(self) -> set[str]:
        with self._lock:
            return self.runs - self.settled


class Watcher:
    """Polls the store for cancel requests of one launch in a thread; stops the worker
    processes that hold cancelled runs (a loky pool then breaks, which the engine sees).
    Runs of the threads or sequential launchers cannot be stopped midway: the engine starts
    nothing more and drops what they return. A launcher that hands runs to others (a Dask
    cluster) is given `stop`: the run ids to stop, or None for all of the launch's."""

    def __init__(
        self,
        home: Path,
        launch_id: str,
        marker_dir: str | None,
        cancellation: Cancellation,
        stop: Stop | None = None,
    ) -> None:
        self.home = home
        self.launch_id = launch_id
        self.marker_dir = marker_dir
        self.stop_runs = stop
        self.cancellation = cancellation
        self.last = 0
        self.pid = os.getpid()
        self._store: Store | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="runner-cancel-watch", daemon=True)

    def start(self) -> None:
        self._store = Store(self.home)  # a connection of its own: the launch writes on its own
        self.poll()  # a launch cancelled before it started starts nothing
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._store is not None:
            self._store.close()

    def _loop(self) -> None:
        while not self._done.wait(POLL_EVERY):
            self.poll()

    def poll(self) -> None:
        assert self._store is not None
        for request_id, run_id in self._store.cancel_requests(self.launch_id, self.last):
            self.last = request_id
            self.cancellation.add(run_id)
        if self._store.owner(self.launch_id)[0] != self.pid:
            # `runner resume` elsewhere took the launch over (after a cancel, while this
            # process lived on): its runs are that process's now.
            self.cancellation.add(None)
        if self.marker_dir and (self.cancellation.launch or self.cancellation.runs):
            self._stop_workers(self.marker_dir)
        if self.stop_runs and (self.cancellation.launch or self.cancellation.runs):
            self.stop_runs(None if self.cancellation.launch else self.cancellation.unsettled())

    def _stop_workers(self, marker_dir: str) -> None:
        wanted = self.cancellation.unsettled()
        for pid, run_id in held_runs(marker_dir).items():
            if self.cancellation.launch or run_id in wanted:
                # SIGKILL: the run's record is written already; nothing it does now counts.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)


Stop = Callable[[set[str] | None], None]


@contextlib.contextmanager
def watching(
    store: Store, launch_id: str | None, marker_dir: str | None, stop: Stop | None = None
) -> Iterator[Cancellation]:
    """A Cancellation kept up to date while the block runs (never cancelled without a launch id)."""
    cancellation = Cancellation()
    if launch_id is None:
        yield cancellation
        return
    watcher = Watcher(store.home, launch_id, marker_dir, cancellation, stop)
    watcher.start()
    try:
        yield cancellation
    finally:
        watcher.stop()
