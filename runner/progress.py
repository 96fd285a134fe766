"""The live progress of a launch waited on from Python: tqdm.auto (a Jupyter widget or a console bar)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from runner.records import LaunchRecord, RunOutcome, RunSpec, RunStatus

OnCreated = Callable[[LaunchRecord, Sequence[RunSpec]], None]
OnOutcome = Callable[[RunOutcome], None]


class Progress:
    """A bar of finished runs out of all (tqdm gives the rate and ETA), with how many
    failed (and were cancelled) and how many are still running or waiting for a worker. Made by
    `created`, fed by `outcome`, closed by `close`; every callback is chained to the
    caller's own."""

    def __init__(
        self,
        on_created: Callable[[LaunchRecord, Sequence[RunSpec]], None] | None = None,
        on_outcome: Callable[[RunOutcome], None] | None = None,
    ) -> None:
        self._on_created = on_created
        self._on_outcome = on_outcome
        self._bar: Any = None
        self._shown: Any = None  # Jupyter's handle on the widget, to show it again finished
        self._seen: set[str] = set()  # a wait reports every finished run once; guard anyway
        self._failed = 0
        self._cancelled = 0
        self._total = 0

    def created(self, record: LaunchRecord, specs: Sequence[RunSpec]) -> None:
        from tqdm.auto import tqdm

        self._total = record.run_count
        # A resume runs only some of the launch's runs: the others count as done already. A
        # search's runs are made as its trials are asked: those that ended before are done.
        before = max(self._total - len(specs), 0)
        if record.definition.get("search"):
            before = sum(n for status, n in record.counts.items() if RunStatus(status).finished)
        options: dict[str, Any] = {
            "total": self._total,
            "initial": before,
            "desc": f"launch {record.id[:8]}",
            "unit": "run",
            "dynamic_ncols": True,
        }
        if _widget(tqdm):
            # Shown through a display handle: a notebook keeps the widget's text (what GitHub,
            # nbviewer and nbconvert show) as it was when displayed, "0/12" unless updated.
            from IPython.display import display

            self._bar = tqdm(**options, display=False)
            self._shown = display(self._bar.container, display_id=True)
        else:
            self._bar = tqdm(**options)
        self._show()
        if self._on_created:
            self._on_created(record, specs)

    def outcome(self, outcome: RunOutcome) -> None:
        if outcome.run_id not in self._seen:
            self._seen.add(outcome.run_id)
            if outcome.status is RunStatus.CANCELLED:
                self._cancelled += 1
            elif not outcome.status.ok:
                self._failed += 1
            if self._bar is not None:
                self._bar.update(1)
                self._show()
        if self._on_outcome:
            self._on_outcome(outcome)

    def _show(self) -> None:
        left = max(self._total - self._bar.n, 0)
        shown = {"failed": self._failed, "running": left}
        if self._cancelled:
            shown["cancelled"] = self._cancelled
        self._bar.set_postfix(shown, refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            if self._shown is not None:
                self._shown.update(self._bar.container)  # its text now: "12/12", finished
                self._shown = None
            self._bar = None


def _widget(bar: type) -> bool:
    """Whether tqdm.auto chose its Jupyter widget (in a kernel with ipywidgets)."""
    notebook = sys.modules.get("tqdm.notebook")
    return notebook is not None and issubclass(bar, notebook.tqdm_notebook)


def wanted(progress: bool | None, *callbacks: object) -> bool:
    """progress=None: shown unless the caller follows the launch itself (the CLI, the TUI)."""
    if progress is None:
        return not any(callbacks)
    return progress


@contextlib.contextmanager
def following(
    progress: bool | None, on_created: OnCreated | None, on_outcome: OnOutcome | None
) -> Iterator[tuple[OnCreated | None, OnOutcome | None]]:
    """The callbacks to follow a launch with: the caller's, behind a progress bar if wanted."""
    if not wanted(progress, on_created, on_outcome):
        yield on_created, on_outcome
        return
    bar = Progress(on_created, on_outcome)
    try:
        yield bar.created, bar.outcome
    finally:
        bar.close()
