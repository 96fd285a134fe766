"""A launch's life after it starts, from any process: wait for it, cancel it, run it detached."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.api import Launch, Todo, _execute, _progress, _respec, _store
from runner.errors import UsageError, WaitTimeout
from runner.records import LaunchRecord, RunOutcome, RunSpec, RunStatus, Specs


@dataclass
class CancelResult:
    """What `cancel` did to one launch or run."""

    kind: str  # launch | run
    id: str
    cancelled: int  # runs recorded cancelled now (0: it had ended; nothing changed)
    counts: dict[str, int]  # the launch's runs by status, after

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "cancelled": self.cancelled,
            "counts": self.counts,
        }


CANCEL_REASON = "cancelled (runner cancel)"


def cancel(ids: Sequence[str], *, home: str | Path | None = None) -> list[CancelResult]:
    """Cancel launches or single runs (ids or unique prefixes), from any process: unfinished
    runs are recorded cancelled at once, and the process running them stops their work
    (within a second; it is not itself stopped). A launch whose process is gone has its
    unfinished runs recorded cancelled; a finished one is left as it is::

        (done,) = runner.cancel(["3f2a"])
        done.cancelled, done.counts      # 12, {'succeeded': 4, 'cancelled': 12}
    """
    store = _store(home)
    named = [store.resolve(prefix) for prefix in ids]  # every id is checked before any cancel
    done: list[CancelResult] = []
    for kind, full in named:
        if kind == "launch":
            launch_id, run_id = full, None
        else:
            run = store.run(full)
            assert run is not None
            launch_id, run_id = run.launch_id, full
        count = store.cancel(launch_id, run_id, CANCEL_REASON)
        record = store.launch(launch_id)
        assert record is not None
        done.append(CancelResult(kind, full, count, record.counts))
    return done


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
    with _progress(progress, on_created, on_outcome) as (on_created, on_outcome):
        return _wait(launch_id, home, poll_interval, timeout, on_created, on_outcome)


def _wait(
    launch_id: str,
    home: str | Path | None,
    poll_interval: float,
    timeout: float | None,
    on_created: Callable[[LaunchRecord, Sequence[RunSpec]], None] | None,
    on_outcome: Callable[[RunOutcome], None] | None,
) -> Launch:
    if poll_interval <= 0:
        raise UsageError(f"poll interval must be more than 0 seconds, not {poll_interval}")
    deadline = None if timeout is None else time.monotonic() + timeout
    store = _store(home)
    kind, full = store.resolve(launch_id)
    if kind == "run":
        run = store.run(full)
        assert run is not None
        full = run.launch_id
    record = store.launch(full)
    assert record is not None
    if on_created:
        every = record
        on_created(
            record,
            Specs(record.run_count, lambda: (_respec(run, every) for run in store.every_run(full))),
        )
    seen: set[str] = set()
    while True:
        record = store.launch(full)  # first: every run it counts finished is reported below
        assert record is not None
        for outcome in store.finished(full, seen):
            seen.add(outcome.run_id)
            if on_outcome:
                on_outcome(outcome)
        if not any(record.counts.get(s.value) for s in (RunStatus.PENDING, RunStatus.RUNNING)):
            return Launch(record, store=store)
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimeout(
                f"gave up waiting after {timeout:g}s: launch {full} is still running"
                f" ({_counts(record.counts)}); it goes on"
            )
        pause = (
            poll_interval if deadline is None else min(poll_interval, deadline - time.monotonic())
        )
        time.sleep(max(pause, 0.0))


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {status}" for status, n in sorted(counts.items()))


def run_pending(
    launch_id: str, *, home: str | Path | None = None, fail_fast: bool = False
) -> Launch:
    """Run a recorded launch's pending runs in this process, which becomes its owner (the
    background process of a detached launch)."""
    from runner.store import process_start

    store = _store(home)
    record = store.launch(launch_id)
    if record is None:
        raise UsageError(f"no launch {launch_id} in {store.path}")
    store.set_owner(record.id, os.getpid(), process_start(os.getpid()))
    todo = Todo(store, record)
    return _execute(
        store,
        record,
        todo.recorded(),
        fresh=todo.missing_blocks(),
        fail_fast=fail_fast or bool(record.definition.get("fail_fast")),
    )
