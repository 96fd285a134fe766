"""A launch's life after it starts, from any process: wait for it, cancel it. Returns
records; the public face wraps them as handles."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.errors import UsageError, WaitTimeout
from runner.execution import respecced
from runner.progress import following
from runner.reads import Recorded, store_at
from runner.records import LaunchRecord, RunOutcome, RunSpec, RunStatus


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
    """Cancel launches or single runs, from any process (see `runner.cancel`)."""
    store = store_at(home)
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
) -> Recorded:
    """Wait, by reading the store, until a launch (or the launch of a run id) has ended
    (see `runner.wait`); returns it as recorded."""
    with following(progress, on_created, on_outcome) as (on_created, on_outcome):
        return _wait(launch_id, home, poll_interval, timeout, on_created, on_outcome)


def _wait(
    launch_id: str,
    home: str | Path | None,
    poll_interval: float,
    timeout: float | None,
    on_created: Callable[[LaunchRecord, Sequence[RunSpec]], None] | None,
    on_outcome: Callable[[RunOutcome], None] | None,
) -> Recorded:
    if poll_interval <= 0:
        raise UsageError(f"poll interval must be more than 0 seconds, not {poll_interval}")
    deadline = None if timeout is None else time.monotonic() + timeout
    store = store_at(home)
    kind, full = store.resolve(launch_id)
    if kind == "run":
        run = store.run(full)
        assert run is not None
        full = run.launch_id
    record = store.launch(full)
    assert record is not None
    if on_created:
        on_created(record, respecced(store, record))
    seen: set[str] = set()
    while True:
        record = store.launch(full)  # first: every run it counts finished is reported below
        assert record is not None
        for outcome in store.finished(full, seen):
            seen.add(outcome.run_id)
            if on_outcome:
                on_outcome(outcome)
        if not any(record.counts.get(s.value) for s in (RunStatus.PENDING, RunStatus.RUNNING)):
            return Recorded(record, store)
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
