"""How launches, run lists and results tables read in a notebook (HTML) and a terminal (text)."""

from __future__ import annotations

import datetime
import io
import json
import shutil
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from runner.printable import clean
from runner.records import LaunchRecord, RunRecord, RunStatus

if TYPE_CHECKING:
    from runner.catalog import WorkflowInfo
    from runner.results import ResultsTable
    from runner.studies import SearchStatus

# Inline styles only: a notebook shown on GitHub or nbviewer drops external CSS and classes.
COLOURS = {
    RunStatus.SUCCEEDED: "#1a7f37",
    RunStatus.CACHED: "#0a7d8c",
    RunStatus.FAILED: "#cf222e",
    RunStatus.TIMED_OUT: "#bc4c00",
    RunStatus.CANCELLED: "#6e7781",
    RunStatus.RUNNING: "#0969da",
    RunStatus.PENDING: "#8c959f",
    RunStatus.LOST: "#8250df",
    RunStatus.PRUNED: "#9a6700",
}
MAX_ROWS = 50  # rows shown in HTML; the rest are counted, as pandas does past its limit
BIG_LAUNCH = 2000  # past this many runs a launch's HTML reads only its first page
_CELL = "padding:2px 8px;text-align:left;border-bottom:1px solid #d0d7de"


def status_html(status: str | RunStatus | None) -> str:
    if status is None:
        return ""
    colour = COLOURS.get(RunStatus(status), "inherit") if status in COLOURS else "inherit"
    return f'<span style="color:{colour};font-weight:bold">{escape(str(status))}</span>'


def counts_text(counts: dict[str, int]) -> str:
    order = [s.value for s in RunStatus]
    return ", ".join(
        f"{counts[s]:,} {s}" for s in sorted(counts, key=lambda s: order.index(s)) if counts[s]
    )


def counts_html(counts: dict[str, int]) -> str:
    order = [s.value for s in RunStatus]
    return ", ".join(
        f"{counts[s]:,} {status_html(s)}"
        for s in sorted(counts, key=lambda s: order.index(s))
        if counts[s]
    )


def _when(stamp: float | None) -> str:
    if stamp is None:
        return ""
    return datetime.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S")


def _table(headers: Sequence[str], rows: list[list[str]], hidden: int = 0) -> str:
    head = "".join(f'<th style="{_CELL}">{h}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{cell}</td>' for cell in row) + "</tr>"
        for row in rows
    )
    more = (
        f'<tr><td colspan="{len(headers)}" style="{_CELL}"><i>&hellip; {hidden:,} more rows</i>'
        "</td></tr>"
        if hidden
        else ""
    )
    return (
        '<table style="border-collapse:collapse;font-size:0.9em">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}{more}</tbody></table>"
    )


def table_html(table: ResultsTable) -> str:
    """The results table: varying params and result columns, status in colour, fixed
    params in a line above it."""
    shown = table.rows[:MAX_ROWS]
    headers = [escape(c.name) for c in table.columns]
    rows = [
        [
            status_html(row.status) if column.kind == "status" else escape(table.cell(row, column))
            for column in table.columns
        ]
        for row in shown
    ]
    fixed = escape(table.fixed_text())
    what = "sweep points" if table.by_point else "runs"
    caption = f"<small>{len(table.rows):,} {what}" + (f"; fixed: {fixed}" if fixed else "")
    # A block of its own: after a launch's head it must not run on from the head's last line.
    return f"<div>{caption}</small></div>" + _table(headers, rows, len(table.rows) - len(shown))


def table_text(table: ResultsTable) -> str:
    """The table as plain text (a console, a doctest), through rich as the CLI renders it."""
    from rich.console import Console
    from rich.table import Table

    grid = Table(box=None, pad_edge=False)
    for column in table.columns:
        grid.add_column(
            column.name, justify="right" if column.kind in ("integer", "number") else "left"
        )
    for row in table.rows[:MAX_ROWS]:
        grid.add_row(*(table.cell(row, column) for column in table.columns))
    # Into a string, never Jupyter's display: rich would show the table a second time there.
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None, force_jupyter=False)
    console.print(grid)
    what = "sweep points" if table.by_point else "runs"
    fixed = table.fixed_text()
    hidden = len(table.rows) - min(len(table.rows), MAX_ROWS)
    tail = f"\n... {hidden:,} more rows" if hidden else ""
    head = f"ResultsTable: {len(table.rows):,} {what}" + (f"; fixed: {fixed}" if fixed else "")
    return head + "\n" + out.getvalue().rstrip() + tail


def launch_text(record: LaunchRecord, about: str = "") -> str:
    """One line; `about`: what the launch is when it is a search (a search of 12 trials)."""
    name = f" {record.name!r}" if record.name else ""
    return (
        f"<Launch {record.id}{name}: {record.workflow_id}:{record.workflow_version},"
        + (f" {about}," if about else "")
        + f" {record.run_count:,} runs ({counts_text(record.counts) or 'none recorded'})>"
    )


def first_page(record: LaunchRecord) -> int | None:
    """How many runs of a launch its HTML shows: a big launch's first page (what HTML shows
    anyway), never its whole table; None: all of them."""
    return MAX_ROWS if record.run_count > BIG_LAUNCH else None


def launch_html(
    record: LaunchRecord,
    table: ResultsTable,
    first: int | None = None,
    search: SearchStatus | None = None,
) -> str:
    """The launch (id, workflow, counts by status) and its results table (of its `first`
    runs, when not all); a search's progress and best trial so far (`search`) between."""
    tags = ", ".join(escape(t) for t in record.tags)
    # One block a line: the table's own caption follows the last one.
    head = (
        f"<div><b>Launch {escape(record.id)}</b>"
        + (f" &ldquo;{escape(record.name)}&rdquo;" if record.name else "")
        + f" &mdash; {escape(record.workflow_id)}:{escape(record.workflow_version)},"
        + (f" {escape(search.about())}," if search is not None else "")
        + f" {record.run_count:,} runs: {counts_html(record.counts)}</div>"
        + f"<div><small>created {_when(record.created)}; seed {record.seed}"
        + (f"; tags {tags}" if tags else "")
        + "</small></div>"
    )
    if search is not None:
        head += f"<div>{escape(search.progress())}</div><div>{_best_html(search)}</div>"
    shown = table_html(table)
    if first is not None:
        shown += f"<div><small>the first {first} of {record.run_count:,} runs</small></div>"
    return f"<div>{head}{shown}</div>"


def _best_html(search: SearchStatus) -> str:
    """A search's best trial so far: its values in bold, its run and params."""
    if search.best is None:
        return escape(search.best_trial_text())
    return (
        f"{escape(search.best_trial_text())}: <b>{escape(search.best_values())}</b>"
        f"<br><small>{escape(search.best_params())}</small>"
    )


def runs_text(runs: Sequence[RunRecord]) -> str:
    from runner.results import one_line

    lines = [f"{len(runs):,} runs"]
    for run in runs[:MAX_ROWS]:
        outcome = one_line(run.error) if run.error else json.dumps(run.shown_result, default=str)
        lines.append(
            f"  {run.id}  {run.status.value:<9}  {run.workflow_id}:{run.workflow_version}"
            f"  {json.dumps(run.params, default=str)}  {_clip(outcome or '')}"
        )
    if len(runs) > MAX_ROWS:
        lines.append(f"  ... {len(runs) - MAX_ROWS:,} more")
    return "\n".join(lines)


def _clip(text: str, width: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def workflows_text(found: Sequence[WorkflowInfo]) -> str:
    """One line a workflow (id, version, kind, params, description), as a console reads it."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    width = shutil.get_terminal_size((100, 24)).columns
    grid = Table(box=None, pad_edge=False)
    grid.add_column("workflow", no_wrap=True)
    grid.add_column("version", no_wrap=True)
    grid.add_column("kind", no_wrap=True)
    grid.add_column("params", min_width=16)
    # At most a third of the width and cut, not wrapped: the columns before it keep room.
    grid.add_column("description", no_wrap=True, overflow="ellipsis", max_width=width // 3)
    for info in found:
        about = f"cannot describe: {_first_line(info.error)}" if info.error else info.description
        # Text, not markup: a description's "[...]" is shown as written.
        cells = (info.id, info.version, info.kind, _param_names(info), about)
        grid.add_row(*(Text(clean(cell)) for cell in cells))
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, force_jupyter=False).print(grid)
    count = f"{len(found)} workflow{'s' * (len(found) != 1)}"
    return f"{count} (one's params and defaults: runner.workflows()[i])\n" + out.getvalue().rstrip()


def workflow_text(info: WorkflowInfo) -> str:
    """One workflow as a console reads it: what it is, where it is defined, its params with
    their types and defaults (JSON, as overrides write them)."""
    lines = [f"<WorkflowInfo {clean(info.id)} {clean(info.version)} ({info.kind})>"]
    if info.description:
        lines.append(clean(info.description))
    lines.append(f"defined in {clean(info.where)}")
    if info.error:
        lines.append(f"cannot describe: {clean(_first_line(info.error))}")
    rows = [
        (
            clean(p.name) + ("*" if p.required else ""),
            p.type,
            clean(json.dumps(p.default, default=str)) if p.has_default else "(required)",
        )
        for p in info.params
    ]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(2)]
    lines += ["params:"] if rows else []
    lines += [
        f"  {name.ljust(widths[0])}  {kind.ljust(widths[1])}  {default}"
        for name, kind, default in rows
    ]
    return "\n".join(lines)


def workflows_html(found: Sequence[WorkflowInfo]) -> str:
    """The workflows as a table: id and version, kind, params, description and where each
    is defined; a workflow whose params cannot be read says why, in red."""
    rows = []
    for info in found:
        about = escape(info.description)
        if info.error:
            about = (
                f'<span style="color:{COLOURS[RunStatus.FAILED]}">cannot describe: '
                f"{escape(_first_line(info.error))}</span>"
            )
        rows.append(
            [
                f"<b>{escape(info.id)}</b>",
                escape(info.version),
                escape(info.kind),
                escape(_param_names(info)),
                f"{about}<br><small>{escape(info.where)}</small>",
            ]
        )
    count = f"{len(found)} workflow{'s' * (len(found) != 1)}"
    headers = ["workflow", "version", "kind", "params", "description"]
    return f"<div><small>{count}</small></div>" + _table(headers, rows)


def _param_names(info: WorkflowInfo) -> str:
    return ", ".join(p.name + ("*" if p.required else "") for p in info.params)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")
