"""The live progress of a launch waited on from Python: tqdm.auto (a Jupyter widget or a console bar)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runner.records import LaunchRecord, RunOutcome, RunSpec, RunStatus


class Progress:
    """A bar of finished runs out of all (tqdm gives the rate and ETA), with how many
    failed and how many are still running (or waiting for a worker) beside it. Made by
    `created`, fed by `outcome`, closed by `close`; every callback is chained to the
    caller's own."""

    def __init__(
        self,
        on_created: Callable[[LaunchRecord, list[RunSpec]], None] | None = None,
        on_outcome: Callable[[RunOutcome], None] | None = None,
    ) -> None:
        self._on_created = on_created
        self._on_outcome = on_outcome
        self._bar: Any = None
        self._failed = 0
        self._total = 0
        self._done = 0

    def created(self, record: LaunchRecord, specs: list[RunSpec]) -> None:
        from tqdm.auto import tqdm

        self._total = record.run_count
        # Runs finished before this call (a resumed or re-joined launch) start the bar.
        finished = {RunStatus(s) for s in record.counts if RunStatus(s).finished}
        self._done = sum(record.counts.get(s.value, 0) for s in finished)
        self._failed = sum(record.counts.get(s.value, 0) for s in finished if not s.ok)
        if len(specs) < self._total:  # only these are left to run here
            self._done = max(self._done, self._total - len(specs))
        self._bar = tqdm(
            total=self._total,
            initial=self._done,
            desc=f"launch {record.id[:8]}",
            unit="run",
            dynamic_ncols=True,
        )
        self._show()
        if self._on_created:
            self._on_created(record, specs)

    def outcome(self, outcome: RunOutcome) -> None:
        self._done += 1
        if not outcome.status.ok:
            self._failed += 1
        if self._bar is not None:
            self._bar.update(1)
            self._show()
        if self._on_outcome:
            self._on_outcome(outcome)

    def _show(self) -> None:
        self._bar.set_postfix(
            failed=self._failed, running=max(self._total - self._done, 0), refresh=True
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def wanted(progress: bool | None, *callbacks: object) -> bool:
    """progress=None: shown unless the caller follows the launch itself (the CLI, the TUI)."""
    if progress is None:
        return not any(callbacks)
    return progress
