"""A launch's curves of one metric: a line per run, coloured by a param that varies in the
launch, with a legend; followed live while the launch runs."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Label, Select, Static

import runner
from runner.tui.charts import Chart, Source, colour, rich_colour
from runner.tui.text import clean
from runner.tui.threads import still_shown

SHOWN = 50  # runs drawn at most: the first that logged the metric, in run order
PAGE = 500  # the launch's runs whose params are read at first (the others' one by one)
REFRESH = 1.0  # seconds between looks at the store
BY_RUN = "run"  # colour by: each run its own colour
NO_METRICS = (
    "no metrics: call runner.log(...) in the workflow (runner.log(loss=loss));"
    " the curves appear here as its runs log them"
)


class LaunchCurvesScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "back"),
        Binding("k", "next_metric", "next metric"),
        Binding("b", "next_colour", "colour by"),
    ]

    def __init__(self, launch_id: str) -> None:
        super().__init__()
        self.launch_id = launch_id
        self.keys: list[str] = []  # the metrics the launch's runs logged
        self.key: str | None = None  # the one drawn
        self.wanted: str | None = None  # the one chosen, maybe not read yet
        self.logged = 0  # runs that logged it
        self.series: dict[str, runner.Series] = {}  # run id -> its points of the metric drawn
        self.counts: dict[str, int] = {}  # run id -> the points read of it
        self.params: dict[str, dict[str, tuple[str, Any]]] = {}  # run id -> key -> (text, value)
        self.choices: list[tuple[str, str]] = []  # colour by: (column key, its name)
        self.by: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="curves-head")
        with Horizontal(id="curves-choices"):
            yield Label("metric ")
            yield Select[str]([], id="curves-metric", allow_blank=True, compact=True)
            yield Label("  colour by ")
            yield Select[str]([], id="curves-by", allow_blank=True, compact=True)
        yield Chart(id="curves-chart")
        yield Static("", id="curves-legend")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#curves-chart", Chart).display = False
        self.store_watch = runner.watch(self.app.home)  # type: ignore[attr-defined]
        self.store_watch.changed()
        self._read(None, {}, set())
        self.set_interval(REFRESH, self.poll)

    def poll(self) -> None:
        if self.store_watch.changed():
            self._read(self.wanted or self.key, dict(self.counts), set(self.params))

    # -- reading, in a thread ------------------------------------------------------------

    @work(thread=True, exclusive=True, group="curves")
    def _read(self, key: str | None, counts: dict[str, int], known: set[str]) -> None:
        """The summaries (no point) say which runs logged what; only the points of runs
        that logged more since the last read are read, and the params of runs not seen."""
        home = self.app.home  # type: ignore[attr-defined]
        summaries = runner.metric_summaries(self.launch_id, home=home)
        keys = sorted({m.key for m in summaries})
        if key not in keys:  # first, the metric logged most often by a run: a curve (a
            # search's `objective` is one point a run)
            longest = max(summaries, key=lambda m: m.count, default=None)
            key, counts = (longest.key if longest else None), {}
        logged = [m for m in summaries if m.key == key]
        shown = logged[:SHOWN]
        fresh: dict[str, runner.Series] = {}
        for summary in shown:
            if counts.get(summary.run_id) != summary.count:
                for one in runner.metric_series(summary.run_id, [summary.key], home=home):
                    if one.run_id == summary.run_id:
                        fresh[one.run_id] = one
        tables = []
        if not known:  # what the launch varies (its sweep), and its first runs' values
            tables.append(runner.table(self.launch_id, first=PAGE, by_point=False, home=home))
            known = {row.run_id for row in tables[0].rows if row.run_id}
        wanted = {m.run_id for m in shown} - known
        if wanted:  # runs past the first page
            tables.append(_params_of(wanted, home))
        self.app.call_from_thread(self._show, keys, key, len(logged), fresh, tables)

    def _show(
        self,
        keys: list[str],
        key: str | None,
        logged: int,
        fresh: dict[str, runner.Series],
        tables: list[Any],
    ) -> None:
        if not still_shown(self, "#curves-chart", "#curves-metric", "#curves-by"):
            return
        if self.wanted in keys and key != self.wanted:
            return  # read before another metric was chosen
        if key != self.key:
            self.series, self.counts = {}, {}
        self.key, self.logged = key, logged
        for run_id, one in fresh.items():
            self.series[run_id] = one
            self.counts[run_id] = len(one.values)
        for table in tables:
            self._add_params(table)
        if keys != self.keys:
            self.keys = keys
            metric = self.query_one("#curves-metric", Select)
            with self.prevent(Select.Changed):
                metric.set_options((clean(k), k) for k in keys)
                if key is not None:
                    metric.value = key
        self.draw()

    def _add_params(self, table: Any) -> None:
        """The params of more runs; from the launch's own table (the first), the choices of
        colour: the params the launch varies (the first chosen until one is), or each run
        its own."""
        if not self.choices:
            varying = [c for c in table.columns if c.group == "params"]
            self.choices = [(c.key, c.name) for c in varying] + [(BY_RUN, BY_RUN)]
            by = self.query_one("#curves-by", Select)
            with self.prevent(Select.Changed):
                by.set_options((clean(name), key) for key, name in self.choices)
                self.by = self.choices[0][0]
                by.value = self.by
        columns = {c.key: c for c in table.columns}
        keys = [key for key, _ in self.choices if key in columns]
        for row in table.rows:
            self.params[row.run_id] = {
                key: (table.cell(row, columns[key]), row.get(key)) for key in keys
            }

    # -- drawing -------------------------------------------------------------------------

    def draw(self) -> None:
        chart = self.query_one("#curves-chart", Chart)
        head = self.query_one("#curves-head", Static)
        legend = self.query_one("#curves-legend", Static)
        if self.key is None:
            chart.display = False
            head.update(Text(f"launch {self.launch_id[:12]}"))
            legend.update(Text(NO_METRICS, style="dim"))
            return
        chart.display = True
        runs = list(self.series)
        groups = self._groups(runs)
        sources = []
        for index, (_, members) in enumerate(groups):
            sources += [
                Source(self.series[r].steps, self.series[r].values, colour(index)) for r in members
            ]
        chart.show(sources, "")  # the line above names the metric
        text = Text(f"launch {self.launch_id[:12]}  ", style="bold")
        text.append(f"{clean(self.key)} of {len(runs):,} run{'s' * (len(runs) != 1)}")
        if self.logged > len(runs):
            text.append(f" (the first {len(runs):,} of {self.logged:,} that logged it)")
        head.update(text)
        shown = Text()
        name = dict(self.choices).get(self.by or BY_RUN, BY_RUN)
        shown.append(f"{clean(name)}: ", style="dim")
        for index, (label, _) in enumerate(groups):
            if index:
                shown.append("  ")
            shown.append("━━ ", style=rich_colour(colour(index)))
            shown.append(clean(label))
        legend.update(shown)

    def _groups(self, runs: list[str]) -> list[tuple[str, list[str]]]:
        """The runs by the value of the chosen param (in order of value), or one by one."""
        by = self.by or BY_RUN
        if by == BY_RUN:
            return [(run_id[:8], [run_id]) for run_id in runs]
        groups: dict[str, list[str]] = {}
        order: dict[str, Any] = {}
        for run_id in runs:
            text, value = self.params.get(run_id, {}).get(by, ("?", None))  # (not read yet)
            groups.setdefault(text, []).append(run_id)
            order[text] = value
        return sorted(groups.items(), key=lambda item: _order(order[item[0]]))

    # -- choices -------------------------------------------------------------------------

    @on(Select.Changed, "#curves-metric")
    def _metric_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.key:
            self.wanted = event.value
            self._read(event.value, {}, set(self.params))

    @on(Select.Changed, "#curves-by")
    def _colour_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.by:
            self.by = event.value
            self.draw()

    def action_next_metric(self) -> None:
        if len(self.keys) > 1 and self.key is not None:
            following = self.keys[(self.keys.index(self.key) + 1) % len(self.keys)]
            self.query_one("#curves-metric", Select).value = following

    def action_next_colour(self) -> None:
        keys = [k for k, _ in self.choices]
        if len(keys) > 1:
            at = keys.index(self.by) if self.by in keys else -1
            self.query_one("#curves-by", Select).value = keys[(at + 1) % len(keys)]


def _params_of(run_ids: set[str], home: Any) -> Any:
    """The results table of these runs (at most SHOWN, past the launch's first page)."""
    found = [runner.get(run_id, home=home) for run_id in sorted(run_ids)]
    return runner.table(
        [r for r in found if isinstance(r, runner.RunRecord)],
        by_point=False,
        all_columns=True,
        home=home,
    )


def _order(value: Any) -> tuple[int, Any]:
    """Numbers by value, then everything else by its text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))
