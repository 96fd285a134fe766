"""The launches view: launches (most recent first, live counts) and, for the selected one, its
runs as runner's results table (varying params and result fields as columns), kept live."""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

import runner
from runner.tui.charts import number
from runner.tui.focus import focus_now
from runner.tui.text import clean, elapsed, plain, status_text, when
from runner.tui.threads import still_shown

LAUNCHES_SHOWN = 200  # the most recent launches listed
PAGE = 200  # runs read at first; 500 more load each time the cursor nears the end
MORE = 500
REFRESH = 1.0  # seconds between looks at the store
# What changes as runs finish comes first; workflow and name are cut to the room left.
LAUNCH_COLUMNS = (
    ("launch", "id"),
    ("status", "status"),
    ("done", "done"),
    ("runs", "runs"),
    ("workflow", "workflow"),
    ("name", "name"),
    ("created", "created"),
)
COLUMN_LABELS = tuple(label for label, _ in LAUNCH_COLUMNS)


class LaunchesPane(Vertical):
    """Reads the store in a thread every REFRESH seconds and redraws only what changed."""

    BINDINGS = [
        Binding("slash", "filter", "filter", priority=True),  # as in the workflows view
        Binding("l", "log", "log"),
        Binding("m", "curves", "curves"),
        Binding("r", "rerun", "rerun"),
        Binding("R", "resume", "resume"),
        Binding("c", "cancel", "cancel"),
        Binding("y", "copy", "copy id"),
        Binding("f", "follow", "newest"),
    ]

    class OpenRun(Message):
        def __init__(self, run_id: str, log: bool = False) -> None:
            super().__init__()
            self.run_id = run_id
            self.log = log

    class OpenCurves(Message):
        """A launch's curves of one metric, a line per run."""

        def __init__(self, launch_id: str) -> None:
            super().__init__()
            self.launch_id = launch_id

    def __init__(self) -> None:
        super().__init__(id="launches")
        self.records: list[runner.LaunchRecord] = []
        self.launch_id: str | None = None  # the selected launch
        self.results: Any = None  # the selected launch's results table (rows read so far)
        self.rows: list[Any] = []  # the results table's rows shown, in order
        self.columns: list[ShownColumn] = []
        self.latest: dict[str, dict[str, float | None]] = {}  # run id -> metric -> last value
        self._started: dict[str, float] = {}  # running runs shown -> when they started
        self.loaded = 0  # runs read of the selected launch
        self._seen: tuple[Any, ...] = ()  # what the launches table last showed
        self._runs_seen: tuple[Any, ...] = ()
        self._loading_more = False
        self._cells: dict[str | None, tuple[str, ...]] = {}  # run id -> the cells shown
        self._width = 0  # the width the launches table was last filled for (the pane's)
        self.search: Any = None  # the selected launch's search status (a search's)

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ filter launches", id="launch-filter")
        yield DataTable(id="launch-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="fixed")
        yield DataTable(id="run-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#launch-table", DataTable)
        for label, key in LAUNCH_COLUMNS:
            table.add_column(label, key=key)
        self.query_one("#launch-filter", Input).display = False
        self.store_watch = runner.watch(self.app.home)  # type: ignore[attr-defined]
        self.poll()
        self.set_interval(REFRESH, self.poll)

    # -- reading the store, in a thread -----------------------------------------------------

    def poll(self, force: bool = False) -> None:
        """Reads only when the store changed (one cheap query otherwise): idle costs nothing.
        How long running runs have run is counted here, without a read."""
        self._tick()
        if force or self.store_watch.changed():
            self._read(self.launch_id, max(self.loaded, PAGE))

    @work(thread=True, exclusive=True, group="poll")
    def _read(self, launch_id: str | None, count: int, launches_too: bool = True) -> None:
        """Launches (with their counts, a query over all their runs) only when the store
        changed; selecting a launch reads just its runs. Then the selected launch's metric
        summaries (a row a run and key, never a point), each time: points arrive while the
        counts stay; the rows are shown before them."""
        home = self.app.home  # type: ignore[attr-defined]
        launches = (
            [item.record for item in runner.status(home=home, limit=LAUNCHES_SHOWN)]  # type: ignore[union-attr]
            if launches_too or not self.records
            else self.records
        )
        selected = next((r for r in launches if r.id == launch_id), None)
        runs_key: tuple[Any, ...] = ()
        table = None
        started: dict[str, float] = {}
        if selected is not None:
            runs_key = (selected.id, tuple(sorted(selected.counts.items())), count)
            if runs_key != self._runs_seen:
                runs = runner.runs(launch=selected.id, limit=count, home=home)
                table = runner.table(runs, by_point=False)
                started = {
                    r.id: r.started
                    for r in runs
                    if r.status is runner.RunStatus.RUNNING and r.started is not None
                }
        self.app.call_from_thread(self._show, launches, runs_key, table, started)
        if selected is not None:
            summaries = runner.metric_summaries(selected.id, home=home)
            self.app.call_from_thread(self._show_metrics, selected.id, summaries)
            if selected.definition.get("search"):  # its best so far, with the trials' values
                found = runner.get(selected.id, home=home)
                search = found.search_status() if isinstance(found, runner.Launch) else None
                self.app.call_from_thread(self._show_search, selected.id, search)

    def _show(
        self,
        launches: list[runner.LaunchRecord],
        runs_key: tuple[Any, ...],
        table: Any,
        started: dict[str, float],
    ) -> None:
        if not still_shown(self, "#launch-table", "#launch-filter", "#run-table"):
            return
        seen = tuple((r.id, tuple(sorted(r.counts.items())), r.name) for r in launches)
        if seen != self._seen:
            self._seen = seen
            self.records = launches
            self._fill_launches()
        if table is not None and runs_key[0] == self.launch_id:  # (not a launch left since)
            self._runs_seen = runs_key
            self.results, self._started = table, started
            self._fill_runs()

    def _show_metrics(self, launch_id: str, summaries: list[runner.MetricSummary]) -> None:
        latest = _latest(summaries)
        if launch_id != self.launch_id or latest == self.latest:
            return
        self.latest = latest
        if self.results is not None and still_shown(self, "#run-table", "#fixed"):
            self._fill_runs()

    def _show_search(self, launch_id: str, search: Any) -> None:
        if launch_id != self.launch_id or search == self.search:
            return
        self.search = search
        if still_shown(self, "#fixed"):
            self._show_fixed()

    def _fill_launches(self) -> None:
        table = self.query_one("#launch-table", DataTable)
        needle = self.query_one("#launch-filter", Input).value.strip().lower()
        keep = table.cursor_row
        table.clear()
        shown = [r for r in self.records if not needle or needle in _words(r)]
        rows = []
        for record in shown:
            finished = sum(n for s, n in record.counts.items() if runner.RunStatus(s).finished)
            rows.append(
                [
                    Text(record.id[:8]),
                    status_text(record.status),
                    Text(_done(record, finished)),
                    _count_text(record.counts),
                    plain(f"{record.workflow_id}:{record.workflow_version}"),
                    plain(record.name or ""),
                    Text(when(record.created)),
                ]
            )
        self._width = self.size.width or self.app.size.width  # the table spans the pane
        for row, record in zip(_fitted(rows, self._width), shown, strict=True):
            table.add_row(*row, key=record.id)
        if shown:
            index = next((i for i, r in enumerate(shown) if r.id == self.launch_id), None)
            table.move_cursor(row=index if index is not None else min(keep, len(shown) - 1))
            if self.launch_id is None:
                self.select_launch(shown[0].id)

    def on_resize(self, event: events.Resize) -> None:
        if self.records and event.size.width != self._width:
            self._fill_launches()  # workflow and name cut to the new width

    def _fill_runs(self) -> None:
        """Rows already shown are updated cell by cell, new ones appended: a live launch or
        the next page costs what changed, not a redraw of every row."""
        results = self.results
        table = self.query_one("#run-table", DataTable)
        keep = table.cursor_row
        columns = _shown_columns(
            results.columns, sorted({k for m in self.latest.values() for k in m})
        )
        keys = [c.key for c in columns]
        if keys != [c.key for c in self.columns] or results.rows[:1] != self.rows[:1]:
            table.clear(columns=True)
            for column in columns:
                table.add_column(column.label, key=column.key)
            self._cells = {}
        self.columns = columns
        self.rows = list(results.rows)
        self.loaded = len(self.rows)
        for row in self.rows:
            self._show_row(table, row)
        if self.rows and table.cursor_row != keep:
            table.move_cursor(row=min(keep, len(self.rows) - 1))
        self._show_fixed()
        self._loading_more = False

    def _show_fixed(self) -> None:
        """The line above the runs: a search's progress and best trial so far, the fixed
        params, and how many rows are read."""
        text = Text()
        search = self.search
        if search is not None and search.launch_id == self.launch_id:
            text.append(clean(search.progress()))
            if search.best is None:
                text.append("\n" + clean(search.best_trial_text()))
            else:
                text.append("\n" + clean(search.best_trial_text()) + ": ")
                text.append(clean(search.best_values()), style="bold")
                text.append("  " + clean(search.best_params()))
            text.append("\n")
        results = self.results
        fixed = getattr(results, "fixed", {}) or {}
        if fixed:
            text.append("fixed: ", style="dim")
            text.append(clean(results.fixed_text()))
        record = self.selected_launch
        if record is not None and self.loaded < record.run_count and results is not None:
            text.append(
                f"  (rows 1-{self.loaded:,} of {record.run_count:,}; more load as you scroll)"
            )
        text.rstrip()  # (a search's lines end in a newline, for the fixed params after)
        self.query_one("#fixed", Static).update(text)

    def _show_row(self, table: DataTable[Any], row: Any) -> None:
        """A row added, or its cells that changed updated."""
        values = self._values(row)
        shown = self._cells.get(row.run_id)
        if shown is None:
            table.add_row(*self._cells_of(values), key=row.run_id)
        elif shown != values:
            for column, value, old in zip(self.columns, values, shown, strict=True):
                if value != old:
                    table.update_cell(row.run_id, column.key, self._cell(column, value))
        self._cells[row.run_id] = values

    def _values(self, row: Any) -> tuple[str, ...]:
        """The row's cells as text: the results table's, a running run's time so far beside
        its status, and the latest value of each metric."""
        latest = self.latest.get(row.run_id, {})
        since = self._started.get(row.run_id)
        values = []
        for column in self.columns:
            if column.metric is not None:
                values.append(number(latest[column.metric]) if column.metric in latest else "")
            else:
                value = self.results.cell(row, column.model)
                if column.kind == "status" and since is not None and value == "running":
                    value = f"{value} {elapsed(time.time() - since)}"
                values.append(value)
        return tuple(values)

    def _tick(self) -> None:
        """How long each running run has run, a second further."""
        if not self._started or self.results is None:
            return
        table = self.query_one("#run-table", DataTable)
        for row in self.rows:
            if row.run_id in self._started and row.run_id in self._cells:
                self._show_row(table, row)

    def _cells_of(self, values: tuple[str, ...]) -> list[Text]:
        return [
            self._cell(column, value) for column, value in zip(self.columns, values, strict=True)
        ]

    @staticmethod
    def _cell(column: ShownColumn, value: str) -> Text:
        if column.kind == "status":
            status, _, since = value.partition(" ")
            cell = status_text(status)
            if since:
                cell.append(f" {since}", style="dim")
            return cell
        if column.kind in ("integer", "number", "duration"):
            return Text(clean(value), justify="right")
        return plain(value)

    # -- selection --------------------------------------------------------------------------

    @property
    def selected_launch(self) -> runner.LaunchRecord | None:
        return next((r for r in self.records if r.id == self.launch_id), None)

    @property
    def selected_run(self) -> str | None:
        table = self.query_one("#run-table", DataTable)
        if not self.rows or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row].run_id

    def select_launch(self, launch_id: str) -> None:
        if launch_id == self.launch_id:
            return
        self.launch_id = launch_id
        self.loaded = 0
        self._runs_seen = ()
        self.rows = []
        self.latest, self._started, self.search = {}, {}, None
        self._read(launch_id, PAGE, launches_too=False)

    @on(DataTable.RowHighlighted, "#launch-table")
    def _launch_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self.select_launch(event.row_key.value)

    @on(DataTable.RowSelected, "#launch-table")
    def _launch_chosen(self, _event: DataTable.RowSelected) -> None:
        focus_now(self.query_one("#run-table", DataTable))

    @on(DataTable.RowHighlighted, "#run-table")
    def _run_highlighted(self, event: DataTable.RowHighlighted) -> None:
        record = self.selected_launch
        near_end = event.cursor_row >= self.loaded - 20
        if record and near_end and self.loaded < record.run_count and not self._loading_more:
            self._loading_more = True
            self._runs_seen = ()
            self._read(self.launch_id, self.loaded + MORE, launches_too=False)

    @on(DataTable.RowSelected, "#run-table")
    def _run_chosen(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.post_message(self.OpenRun(event.row_key.value))

    @on(Input.Changed, "#launch-filter")
    def _filter(self, _event: Input.Changed) -> None:
        self._fill_launches()

    @on(Input.Submitted, "#launch-filter")
    def _filter_done(self, _event: Input.Submitted) -> None:
        focus_now(self.query_one("#launch-table", DataTable))

    def show_launch(self, launch_id: str) -> None:
        """Select a launch (a new one, perhaps not listed yet) and read it and the list now."""
        self.launch_id, self.loaded, self.rows = launch_id, 0, []
        self.latest, self._started, self.search = {}, {}, None
        self._runs_seen = self._seen = ()
        self._read(launch_id, PAGE, launches_too=True)

    # -- actions ----------------------------------------------------------------------------

    def _target(self) -> str | None:
        """The run when the runs table has the focus, else the launch."""
        if self.query_one("#run-table", DataTable).has_focus and self.selected_run:
            return self.selected_run
        return self.launch_id

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter":  # in the filter itself, "/" is text
            return not any(box.has_focus for box in self.query("#launch-filter"))
        return True

    def action_filter(self) -> None:
        box = self.query_one("#launch-filter", Input)
        box.display = True
        focus_now(box)

    def action_follow(self) -> None:
        if self.records:
            self.show_launch(self.records[0].id)

    def action_log(self) -> None:
        if self.selected_run:
            self.post_message(self.OpenRun(self.selected_run, log=True))

    def action_curves(self) -> None:
        if self.launch_id is not None:
            self.post_message(self.OpenCurves(self.launch_id))

    def action_copy(self) -> None:
        target = self._target()
        if target:
            self.app.copy_to_clipboard(target)
            self.notify(f"copied {target}")

    def action_rerun(self) -> None:
        if self.selected_run:
            self.app.rerun(self.selected_run)  # type: ignore[attr-defined]

    def action_resume(self) -> None:
        if self.selected_launch is not None:
            self.app.confirm_resume(self.selected_launch)  # type: ignore[attr-defined]

    def action_cancel(self) -> None:
        target = self._target()
        if target:
            self.app.confirm_cancel(target, is_run=target != self.launch_id)  # type: ignore[attr-defined]


class ShownColumn(NamedTuple):
    """A column of the runs table: one of the results table's, or a metric's latest value."""

    key: str
    label: str
    kind: str
    model: Any = None  # the results table's Column
    metric: str | None = None  # the metric's key


def _shown_columns(columns: list[Any], metrics: list[str]) -> list[ShownColumn]:
    """The results table's columns, with a `KEY.last` column for each metric after the
    params (or the status): what a running launch changes sits beside what it varies. The
    results table's own metric columns are left out: these are read live, as points come."""
    columns = [c for c in columns if c.group != "metrics"]
    shown = [ShownColumn(c.key, clean(c.name), c.kind, model=c) for c in columns]
    at = max(
        (i for i, c in enumerate(columns) if c.group == "params" or c.key == "status"), default=-1
    )
    extra = [ShownColumn(f"metric:{k}", f"{clean(k)}.last", "number", metric=k) for k in metrics]
    return shown[: at + 1] + extra + shown[at + 1 :]


def _latest(summaries: list[runner.MetricSummary]) -> dict[str, dict[str, float | None]]:
    latest: dict[str, dict[str, float | None]] = {}
    for summary in summaries:
        latest.setdefault(summary.run_id, {})[summary.key] = summary.last
    return latest


FLEXIBLE = (4, 5)  # workflow and name: cut to the room the other columns leave
MIN_FLEXIBLE = (12, 6)  # what they keep at least (the rest scrolls off to the right)


def _fitted(rows: list[list[Text]], width: int) -> list[list[Text]]:
    """The rows with workflow and name cut (with "…") so that the columns fit `width`: a long
    workflow id (`digits_py:4027f04d72d0`) must not push the counts off the screen."""
    if not rows:
        return rows
    padding = 2  # a DataTable cell's padding, one each side
    natural = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    natural = [max(w, len(label)) for w, label in zip(natural, COLUMN_LABELS, strict=True)]
    fixed = sum(w for i, w in enumerate(natural) if i not in FLEXIBLE)
    room = width - fixed - padding * len(natural) - 2  # 2: the vertical scrollbar
    workflow, name = (natural[i] for i in FLEXIBLE)
    if workflow + name > room and room < sum(MIN_FLEXIBLE):
        room += natural[-1] + padding  # created, the last column, goes off to the right
    if workflow + name <= room:
        return rows
    # The workflow keeps what the name (a third at most) leaves; the name, what is left.
    workflow = min(
        workflow, max(MIN_FLEXIBLE[0], room - min(name, max(MIN_FLEXIBLE[1], room // 3)))
    )
    name = min(name, max(MIN_FLEXIBLE[1], room - workflow))
    for row in rows:
        for i, cut in zip(FLEXIBLE, (workflow, name), strict=True):
            row[i] = row[i].copy()
            row[i].truncate(max(cut, len(COLUMN_LABELS[i])), overflow="ellipsis")
    return rows


def _done(record: runner.LaunchRecord, finished: int) -> str:
    """Runs ended of the launch's; a search's trials ended of its n_trials, and its sampler
    ('3/12 tpe trials': a trial is `repeat` runs)."""
    search = record.definition.get("search")
    if not search:
        return f"{finished:,}/{record.run_count:,}"
    trials = f"{finished // max(record.repeat, 1):,}/{int(search['n_trials']):,}"
    return f"{trials} {search['sampler']} trials"


def _words(record: runner.LaunchRecord) -> str:
    return " ".join(
        [record.id, record.workflow_id, record.name or "", " ".join(record.tags), record.status]
    ).lower()


def _count_text(counts: dict[str, int]) -> Text:
    text = Text()
    for status, count in sorted(counts.items()):
        if text:
            text.append(" ")
        text.append_text(status_text(f"{count:,} {status}"))
    return text
