"""One run: its resolved params, seed, version, result, error with traceback, a chart of each
metric it logs, and its log; the charts and the log followed live while it runs."""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Log, Static

import runner
from runner.tui.charts import Chart, ChartStack, Source, colour, number
from runner.tui.focus import focus_now
from runner.tui.text import block, clean, duration, elapsed, status_text, when
from runner.tui.threads import still_shown

FOLLOW = 0.5  # seconds between looks at the log, the run's record and its metrics
NO_METRICS = (
    "no metrics: call runner.log(...) in the workflow (runner.log(loss=loss)) to chart them here"
)


class RunScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "back"),
        Binding("l", "focus_log", "log"),
        Binding("m", "curves_only", "curves"),
        Binding("r", "rerun", "rerun"),
        Binding("c", "cancel", "cancel"),
        Binding("y", "copy", "copy id"),
    ]

    def __init__(self, run_id: str, focus_log: bool = False) -> None:
        super().__init__()
        self.run_id = run_id
        self.focus_log = focus_log
        self.log_path: Path | None = None
        self.log_read = 0  # bytes of the log already read
        self.partial = ""  # the end of the log read so far that is not a whole line yet
        self.status = ""
        self.head = Text()
        self.metrics_seen: tuple[tuple[str, int, float], ...] = ()  # (key, count, updated)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="run-info"):
            yield Static("", id="run-head")
            yield Static("", id="run-body")
        with ChartStack(id="run-curves"):
            yield Static(NO_METRICS, id="no-metrics")
        yield Log(id="run-log", highlight=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#run-log", Log).border_title = "log"
        self.follow()
        self.set_interval(FOLLOW, self.follow)
        if self.focus_log:
            self.action_focus_log()

    @work(thread=True, exclusive=True, group="follow")
    def follow(self) -> None:
        home = self.app.home  # type: ignore[attr-defined]
        run, path = runner.log_path(self.run_id, home=home)
        new = ""
        if path.is_file():
            with path.open("rb") as log:
                log.seek(self.log_read)
                data = log.read(1 << 20)
            self.log_read += len(data)
            new = data.decode("utf-8", errors="replace")
        # The summaries (a row a key) tell whether points came; only then are they read.
        summaries = runner.metric_summaries(self.run_id, home=home)
        seen = tuple((m.key, m.count, m.updated) for m in summaries)
        series = runner.metric_series(self.run_id, home=home) if seen != self.metrics_seen else None
        self.app.call_from_thread(self._show, run, new)
        if series is not None:
            self.app.call_from_thread(self._show_metrics, seen, summaries, series)

    def _show_metrics(
        self,
        seen: tuple[tuple[str, int, float], ...],
        summaries: list[runner.MetricSummary],
        series: list[runner.Series],
    ) -> None:
        """One chart per metric, titled with its last value, min and max; charts already
        shown get their new points."""
        if not still_shown(self, "#run-curves"):
            return
        self.metrics_seen = seen
        if not series:
            return
        self.add_class("charted")
        box = self.query_one("#run-curves", ChartStack)
        for empty in box.query("#no-metrics"):
            empty.remove()
        about = {m.key: m for m in summaries}
        charts = {chart.name: chart for chart in box.query(Chart).results(Chart)}
        for index, one in enumerate(series):
            chart = charts.get(one.key)
            if chart is None:
                chart = Chart(name=one.key)
                box.mount(chart)
            chart.show([Source(one.steps, one.values, colour(index))], _title(about.get(one.key)))
        box.fit()

    def _show(self, run: runner.RunRecord, new_log: str) -> None:
        if not still_shown(self, "#run-head", "#run-body", "#run-log"):
            return
        head = _head(run)
        if head != self.head:  # a running run's: how long it has run, every look
            self.head = head
            self.query_one("#run-head", Static).update(head)
        if run.status.value != self.status:
            self.status = run.status.value
            body = Text()
            body.append("\nparams\n", style="bold")
            body.append_text(block(run.params))
            if run.shown_result is not None:  # a big result: its summary, not its file
                body.append("\n\nresult\n", style="bold")
                body.append_text(block(run.shown_result))
                if run.result_file:
                    body.append(f"\nin {run.result_file}", style="dim")
            if run.error:
                body.append("\n\nerror\n", style="bold red")
                body.append_text(block(run.error))
            if run.traceback:
                body.append("\n\n")
                body.append_text(block(run.traceback))
            if run.cached_from:
                body.append(f"\n\nserved from the cache of run {run.cached_from}", style="dim")
            self.query_one("#run-body", Static).update(body)
        text = self.partial + new_log
        lines = text.split("\n")
        self.partial = "" if run.status.finished else lines.pop()
        if run.status.finished and lines and lines[-1] == "":
            lines.pop()  # the newline that ends the log
        if lines:
            # Escaped here: terminal sequences a run prints are shown as text, never sent on.
            self.query_one("#run-log", Log).write_lines([clean(line) for line in lines])
        elif self.log_read == 0 and run.status.finished:
            log = self.query_one("#run-log", Log)
            if not log.lines:
                log.write_line("(this run printed nothing)")

    def action_focus_log(self) -> None:
        self.remove_class("curves-only")
        focus_now(self.query_one("#run-log", Log))

    def action_curves_only(self) -> None:
        """The charts alone on the screen, or back beside the details and the log."""
        self.toggle_class("curves-only")
        self.call_after_refresh(self.query_one("#run-curves", ChartStack).fit)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.run_id)
        self.notify(f"copied {self.run_id}")

    def action_rerun(self) -> None:
        self.app.rerun(self.run_id)  # type: ignore[attr-defined]

    def action_cancel(self) -> None:
        self.app.confirm_cancel(self.run_id, is_run=True)  # type: ignore[attr-defined]


def _head(run: runner.RunRecord) -> Text:
    head = Text()
    head.append(f"run {run.id}\n", style="bold")
    head.append_text(status_text(run.status.value))
    head.append(
        f"  {clean(run.workflow_id)}:{clean(run.workflow_version)}  seed {run.seed}"
        f"  launch {run.launch_id[:12]}\n",
    )
    if run.status is runner.RunStatus.RUNNING and run.started is not None:
        where = f"on {clean(run.host)} ({clean(run.worker)})" if run.host else f"pid {run.pid}"
        head.append(
            f"created {when(run.created)}  started {when(run.started)}"
            f"  running for {elapsed(time.time() - run.started)}  {where}"
            f"  attempts {run.attempts or 1}",
            style="dim",
        )
        return head
    head.append(
        f"created {when(run.created)}  started {when(run.started)}"
        f"  ended {when(run.ended)}  took {duration(run.duration)}"
        f"  attempts {run.attempts or 1}",
        style="dim",
    )
    return head


def _title(summary: runner.MetricSummary | None) -> str:
    """`loss  0.2091 at step 19  min 0.2  max 1.8  (20 points)`: the chart's title line."""
    if summary is None:
        return ""
    return (
        f"{clean(summary.key)}  {number(summary.last) or 'nan'} at step {summary.last_step}"
        f"  min {number(summary.min)}  max {number(summary.max)}  ({summary.count:,} points)"
    )
