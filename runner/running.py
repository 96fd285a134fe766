"""What the launching process learns while its runs run: which runs execute now and where,
and the points they log (runner.metrics). The engine's recorder reads it every TICK seconds
on its own thread and writes both to the store.

Which runs execute: a worker process says it in its marker (worker.executing: the run and
since when, a write to memory as the run starts and ends); a run in the launching process
(threads, sequential) and a Dask run, in the launch's `metrics.Inbox`. A run is written
`running` (with its start, pid, host, Dask worker) once it has executed RUNNING_AFTER
seconds: most runs of a big launch end sooner and are written once, finished, as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from runner import metrics
from runner.store import Store
from runner.worker import executing

TICK = 0.2  # seconds between two looks
PRUNING_TICK = 0.05  # with a search's pruner: its decisions reach the runs the sooner
RUNNING_AFTER = 0.2  # seconds a run executes before it is written running
# The series whose row ids are kept from one write of points to the next, at most (a run's
# later points find theirs again with a lookup): a million runs logging keep this many.
SERIES_KEPT = 10_000

Executing = tuple[str, float, int | None, str | None, str | None]  # id, since, pid, host, worker


class Running:
    """A launch's runs executing and points logged, as its launching process sees them."""

    def __init__(self, store: Store, worker_dir: str, isolated: bool) -> None:
        self.store = store
        self.worker_dir = worker_dir
        self.isolated = isolated  # its runs run in worker processes (markers, points files)
        self.inbox = metrics.open_inbox(worker_dir)
        self.files = metrics.Files(worker_dir)
        self.marked: dict[str, float] = {}  # run id -> the start it was written running with
        self.series: dict[tuple[str, str], list[Any]] = {}  # see Store.record_points
        self.points = 0  # recorded so far
        # A search's pruner: hears the points once recorded, names the runs to stop; those
        # are told so on this machine (metrics.prune) and by `stop_remote` (a Dask cluster's).
        self.on_points: Callable[[list[metrics.Sent]], list[str]] | None = None
        self.stop_remote: Callable[[list[str]], None] | None = None

    def close(self) -> None:
        metrics.close_inbox(self.worker_dir)

    def record_points(self) -> None:
        """Write the points sent since the last call."""
        sent = self.files.take() + self.inbox.take()
        if sent:
            if len(self.series) > SERIES_KEPT:
                self.series.clear()
            self.points += self.store.record_points(sent, self.series)
            if self.on_points is not None:
                pruned = self.on_points(sent)
                if pruned:
                    metrics.prune(self.worker_dir, pruned)
                    if self.stop_remote is not None:
                        self.stop_remote(pruned)

    def due(self) -> list[Executing]:
        """The runs executing for RUNNING_AFTER seconds and not written running yet."""
        now = time.time()
        found: list[Executing] = []
        if self.isolated:
            found.extend(
                (run_id, since, pid, None, None)
                for pid, run_id, since in executing(self.worker_dir)
            )
        found.extend(self.inbox.running.copy().values())
        return [
            one
            for one in found
            if now - one[1] >= RUNNING_AFTER and self.marked.get(one[0]) != one[1]
        ]

    def record_running(self, due: list[Executing]) -> list[Executing]:
        """Write these runs running; returns those that have no row yet."""
        marked = set(self.store.record_running(due))
        for run_id, since, *_ in due:
            if run_id in marked:
                self.marked[run_id] = since
        return [one for one in due if one[0] not in marked]
