"""How the CLI shows things: rich tables for people, ids for scripts, pretty JSON for both."""

from __future__ import annotations

import itertools
import json
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import yaml

from runner.printable import clean
from runner.records import RunStatus

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console

    from runner.api import Entities, Launch, Preview
    from runner.records import LaunchRecord, RunRecord, RunSpec
    from runner.results import ResultsTable

SHOWN_IDS = 20  # run ids printed on creation before "... and N more"
SHOWN_VALUES = 10  # values of one swept key in `runner show`'s definition
SHOWN_ROWS = 50  # table rows before "... N more; runner status ID --json for all"
SUMMARY_ROWS = 20  # after a launch: every run up to this many, else only the failed ones
SHOWN_RUNNING = 10  # running runs listed under a launch's table, with where and how long
# Past this many runs a launch's table is read a page at a time: `runner status LAUNCH` and
# the report after a launch show the first page and the counts, never the whole launch.
WHOLE_RUNS = 2000


def _console() -> Console:
    """The console for stdout. Piped (not a terminal), it is 80 columns, or COLUMNS: rich
    would otherwise take the width of whichever terminal stdin or stderr is."""
    import os

    from rich.console import Console

    piped = not sys.stdout.isatty() and not os.environ.get("COLUMNS", "").isdigit()
    return Console(highlight=False, soft_wrap=False, width=PIPED_WIDTH if piped else None)


PIPED_WIDTH = 80


def snippet(launch: Launch) -> None:
    """Python that loads this launch and its results through the public API (--dump-snippet)."""
    from runner import api

    home = str(api.default_home().resolve())
    print(
        "import runner\n"
        f"(launch,) = runner.status([{launch.id!r}], home={home!r})\n"
        "for run in launch.runs:\n"
        "    print(run.id, run.status.value, run.params, run.result)",
        file=sys.stderr,
    )


def as_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def ids(record: LaunchRecord, specs: Sequence[RunSpec]) -> None:
    """The launch's id (when it has several runs), then each run's, as they are planned."""
    out = sys.stdout
    if record.has_parent:
        out.write(record.id + "\n")
    source = iter(specs)
    while chunk := [spec.id for spec in itertools.islice(source, 10_000)]:
        out.write("\n".join(chunk) + "\n")
    out.flush()


def created(record: LaunchRecord, specs: Sequence[RunSpec], *, run_ids: bool = True) -> None:
    """The launch's line, then (`run_ids`) its runs' ids: a wait for a launch made earlier
    says which launch it follows, the ids having been printed when it was made."""
    from runner import api

    what = clean(f"{record.workflow_id}:{record.workflow_version}")
    if search := api.search_about(record):  # (its trials' runs are made as they are asked)
        print(f"launch {record.id}: {search} of {what} (seed {record.seed})")
    elif record.has_parent:
        print(f"launch {record.id}: {len(specs):,} runs of {what} (seed {record.seed})")
        for spec in specs[:SHOWN_IDS] if run_ids else ():
            print(f"  run {spec.id}")
        if len(specs) > SHOWN_IDS and run_ids:
            print(f"  ... and {len(specs) - SHOWN_IDS:,} more (runner status {record.id[:12]} -q)")
    else:
        print(f"run {specs[0].id}: {what} (seed {specs[0].seed})")
    sys.stdout.flush()


def summary(launch: Launch) -> None:
    """After a launch: its results table (the first rows and every failure when it is big).
    The runs are read and flattened once: the points and the failures come from one table.
    Cancelled runs are counted as cancelled, never listed as failures."""
    from runner import api
    from runner.results import points

    console = _console()
    if launch.record.run_count == 1:  # (its provenance: runner status RUN)
        _run_detail(console, launch.first_run(), provenance=False, host=launch.record.host)
        return
    how = f"runner compare {launch.id[:12]}"
    failures = failures_hint(how, launch.record.counts)
    if launch.record.run_count > WHOLE_RUNS:
        first_page(console, launch)
        failed_runs = api.runs(
            launch=launch.id, status=list(FAILURES), limit=SUMMARY_ROWS, home=launch.home
        )
        if failed_runs:
            console.print(f"failed runs (the first {SUMMARY_ROWS}):", markup=False)
            results(console, api.table(failed_runs, by_point=False), how=failures)
        _search_lines(console, launch)
        console.print(f"{_counts(launch.record.counts)} ({how} to sort, filter, export)")
        return
    runs = api.table(launch, by_point=False)
    failed = [row for row in runs.rows if row.status and row.status.failure]
    if any(column.key == "repeat" for column in runs.columns):
        results(console, points(runs), max_rows=SHOWN_ROWS, how=how)
        if failed:
            console.print("failed runs:", markup=False)
            results(console, _with_rows(runs, failed), max_rows=SUMMARY_ROWS, how=failures)
    elif len(runs.rows) <= SUMMARY_ROWS:
        results(console, runs, how=how)
    else:
        results(console, _with_rows(runs, runs.rows[:SUMMARY_ROWS]), how=how)
        console.print(
            f"... {runs.runs - SUMMARY_ROWS:,} more runs ({how} {EVERY_ROW} for all)", markup=False
        )
        later = [row for row in runs.rows[SUMMARY_ROWS:] if row.status and row.status.failure]
        if later:
            console.print(f"failed runs past the first {SUMMARY_ROWS}:", markup=False)
            results(console, _with_rows(runs, later), max_rows=SUMMARY_ROWS, how=failures)
    _search_lines(console, launch)
    console.print(f"{_counts(launch.record.counts)} ({how} to sort, filter, export)")


def _search_lines(console: Console, launch: Launch) -> None:
    """A search's progress and best trial, under its table."""
    search = launch.search_status()
    for line in search.lines() if search is not None else ():
        console.print(clean(line), markup=False)


# The statuses of runs that went wrong, listed after a launch ("failed runs:").
FAILURES = tuple(status.value for status in RunStatus if status.failure)
# What a table's command adds to print every row (a terminal's table stops at SHOWN_ROWS).
EVERY_ROW = "--format csv"


def failures_hint(how: str, counts: dict[str, int]) -> str:
    """`runner compare` options that find exactly a launch's failed runs: its one failure
    status by name, or every other status it has left out (--where clauses are and-ed)."""
    wrong = [status for status in FAILURES if counts.get(status)]
    if len(wrong) == 1:
        return f"{how} --by-run --where status={wrong[0]}"
    others = [status for status, n in sorted(counts.items()) if n and status not in FAILURES]
    return " ".join([f"{how} --by-run", *(f"--where status!={status}" for status in others)])


def _with_rows(table: ResultsTable, rows: list[Any]) -> ResultsTable:
    import dataclasses

    return dataclasses.replace(table, rows=rows, matched=len(rows))


def results(
    console: Console, table: ResultsTable, *, max_rows: int | None = SHOWN_ROWS, how: str = ""
) -> None:
    """A results table for a terminal: the fixed params on one line, then the rows. The
    varying params are never cut; result and detail columns give way (rich shortens them
    with an ellipsis) and those that do not fit at all are named below the table. `how`: the
    `runner compare` command of this table, named (with EVERY_ROW) past `max_rows` rows."""
    from rich.table import Table
    from rich.text import Text

    if table.fixed:
        console.print(Text(f"fixed: {clean(table.fixed_text())}"))
    if table.by_point:
        points = f"{table.matched:,} point{'s' * (table.matched != 1)}"
        if len(table.rows) < table.matched:
            points = f"{len(table.rows):,} of {points}"
        runs = f"{table.runs:,} runs"
        if table.runs_matched is not None:
            runs = f"{table.runs_matched:,} of {table.runs:,} runs match --where"
        console.print(Text(f"{points} ({runs}); results: mean ± std over n runs"))
    rows = table.rows if max_rows is None else table.rows[:max_rows]
    shown = _display_columns(table, rows)
    kept, dropped = _fit(shown, console.width)
    grid = Table(box=None, header_style="bold", pad_edge=False)
    for column in kept:
        grid.add_column(
            Text(column.header),
            justify="right" if column.numeric else "left",
            no_wrap=True,
            overflow="ellipsis",
            min_width=column.allotted,
            max_width=column.allotted,
        )
    for i, row in enumerate(rows):
        style = _STATUS_STYLE.get(row.status.value) if row.status else None
        grid.add_row(*(Text(column.cells[i]) for column in kept), style=style)
    console.print(grid)
    if max_rows is not None and len(table.rows) > max_rows:
        console.print(
            Text(
                f"... {len(table.rows) - max_rows:,} more rows"
                f" ({how or 'runner compare ...'} {EVERY_ROW} for all)"
            )
        )
    if dropped:
        names = ", ".join(c.header for c in dropped)
        more = "1 more column" if len(dropped) == 1 else f"{len(dropped):,} more columns"
        console.print(Text(f"{more}: {names} (pick with --columns)"))


_STATUS_STYLE = {"failed": "red", "timed_out": "red", "lost": "red", "cancelled": "yellow"}


class _Shown:
    """A column as a terminal shows it: by point, a mean and its std share one."""

    def __init__(
        self, header: str, key: str, cells: list[str], numeric: bool, protected: bool
    ) -> None:
        self.header = header
        self.key = key
        self.cells = cells
        self.numeric = numeric
        self.protected = protected
        self.width = max([len(header), *(len(cell) for cell in cells)])
        self.squeezed = min(self.width, max(len(header), 10))
        self.allotted = self.width


def _display_columns(table: ResultsTable, rows: list[Any]) -> list[_Shown]:
    from runner.results import format_value

    keys = {column.key for column in table.columns}
    shown: list[_Shown] = []
    for column in table.columns:
        if column.stat == "std" and f"{column.of}.mean" in keys:
            continue  # shown with its mean
        if column.stat == "mean" and f"{column.of}.std" in keys:
            std = f"{column.of}.std"
            cells = [
                _mean_std(row.values.get(column.key), row.values.get(std), format_value)
                for row in rows
            ]
            header = column.name[: -len(" mean")]
        else:
            cells = [clean(table.cell(row, column)) for row in rows]
            header = column.name
        protected = column.group == "params" or column.key in ("launch", "run", "status", "n")
        if not protected and not any(cells):
            continue  # empty in every row shown (results of failed runs): nothing to see
        numeric = column.kind in ("integer", "number", "duration")
        item = _Shown(clean(header), column.key, cells, numeric, protected)
        if column.kind in ("integer", "duration", "id"):
            item.squeezed = item.width  # a cut seed or id reads as another one: whole or not at all
        shown.append(item)
    return shown


def _mean_std(mean: Any, std: Any, format_value: Any) -> str:
    if mean is None:
        return ""
    if std is None:
        return format_value(mean, "number")
    return f"{format_value(mean, 'number')} ± {format_value(std, 'number')}"


def _fit(columns: list[_Shown], width: int) -> tuple[list[_Shown], list[_Shown]]:
    """Which columns a terminal this wide shows, and how wide: every protected one (run,
    status, the varying params) at its full width; then the results and the error, each
    while it fits at its squeezed width; the repeat; then the results and the error widened
    again, before the duration and the seed (a failure's message says more than its seed).
    rich shortens a cell past its column's max_width with an ellipsis (it never shrinks a
    no_wrap column)."""
    used = sum(c.width + 2 for c in columns if c.protected) - 2
    kept = {id(c) for c in columns if c.protected}
    dropped = []

    def place(group: list[_Shown]) -> None:
        nonlocal used
        for column in group:
            if used + 2 + column.squeezed <= width:
                used += 2 + column.squeezed
                column.allotted = column.squeezed
                kept.add(id(column))
            else:
                dropped.append(column)

    def widen(group: list[_Shown]) -> None:
        nonlocal used
        for column in group:
            if id(column) in kept:
                extra = min(column.width - column.allotted, max(width - used, 0))
                column.allotted += extra
                used += extra

    for column in columns:
        column.allotted = column.width
    free = [c for c in columns if not c.protected]
    by_key = {c.key: c for c in free}
    main = [c for c in free if c.key not in ("repeat", "duration", "seed")]
    later = [by_key[key] for key in ("duration", "seed") if key in by_key]
    place(main)
    place([by_key["repeat"]] if "repeat" in by_key else [])
    widen(main)
    place(later)
    widen(later)
    return [c for c in columns if id(c) in kept], [c for c in columns if c in dropped]


def export(table: ResultsTable, fmt: str, output: str | None, *, how: str = "") -> None:
    """A results table in a format, to stdout or to a file."""
    from pathlib import Path

    from runner import api

    if fmt == "parquet":
        if not output:
            from runner.errors import UsageError

            raise UsageError("--format parquet writes a file: give it with -o FILE")
        api.to_parquet(table, Path(output))
        return
    import contextlib

    with contextlib.ExitStack() as stack:
        handle = (
            stack.enter_context(open(output, "w", encoding="utf-8", newline=""))
            if output
            else sys.stdout
        )
        if fmt == "table":
            from rich.console import Console

            console = (
                Console(file=handle, width=200, highlight=False, soft_wrap=False)
                if output
                else _console()
            )
            results(console, table, max_rows=None if output else SHOWN_ROWS, how=how)
        else:
            write = {
                "csv": api.to_csv,
                "json": api.to_json,
                "markdown": api.to_markdown,
            }[fmt]
            write(table, handle)


def metrics(ident: str, keys: Sequence[str], fmt: str) -> None:
    """`runner metrics`: a table of what a run or launch logged, or every point as CSV/JSON."""
    from runner import cli_metrics

    cli_metrics.show(ident, keys, fmt, _console)


def preview(p: Preview) -> None:
    console = _console()
    definition = dict(p.definition)
    if p.search is not None:
        definition.pop("search", None)  # described below, with its space
    if "sweep" in definition:  # a long sweep shows its first values and how many it has
        definition["sweep"] = {
            key: values if len(values) <= SHOWN_VALUES else
            [*values[:SHOWN_VALUES], f"... {len(values):,} values in all"]
            for key, values in definition["sweep"].items()
        }  # fmt: skip
    if p.seed_drawn:
        definition["seed"] = p.seed
    text = yaml.safe_dump(definition, sort_keys=False, default_flow_style=False)
    if p.seed_drawn:  # the seed stays a number; what it is said in a YAML comment after it
        seed = yaml.safe_dump({"seed": p.seed}, default_flow_style=False)
        note = "  # drawn now; a launch draws its own unless --seed is given\n"
        at = f"\n{text}".find(f"\n{seed}")  # the top-level key, at the start of its line
        if at >= 0:
            text = text[:at] + seed[:-1] + note + text[at + len(seed) :]
    sys.stdout.write(text)
    if p.search is not None:
        from rich.text import Text

        for line in p.search.describe():  # keys and choices are the user's: shown as text
            console.print(Text(clean(line)), soft_wrap=True)
    elif len(p.specs) > 1:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=f"{len(p.specs):,} planned runs", title_justify="left")
        for column in ("#", "params", "repeat", "seed"):
            table.add_column(column)
        for spec in p.specs[:SHOWN_ROWS]:
            table.add_row(
                str(spec.index), Text(_compact(spec.params)), str(spec.repeat_index), str(spec.seed)
            )
        console.print(table)
        _more(console, len(p.specs), "runner show ... --json")


def entities(found: Entities, *, registered: bool = False) -> None:
    from rich.table import Table
    from rich.text import Text

    console = _console()
    table = Table(title="workflows", title_justify="left")
    for column in ("id", "kind", "latest", "versions", "description"):
        table.add_column(column)
    for wf in found.workflows:
        versions = ", ".join(wf["versions"] + (wf.get("registered", []) if registered else []))
        table.add_row(
            *(Text(clean(v)) for v in (wf["id"], wf["kind"], wf["latest"], versions)),
            Text(clean(wf["description"] or "")),
        )
    console.print(table)
    if found.presets:
        presets = Table(
            title="saved run definitions (runner NAME or +run=NAME)", title_justify="left"
        )
        for column in ("name", "workflow", "description"):
            presets.add_column(column)
        for preset in found.presets:
            presets.add_row(
                *(Text(clean(preset[k] or "")) for k in ("name", "workflow", "description"))
            )
        console.print(presets)
    for option, problem in found.broken.items():
        line = Text("broken declaration", style="red")
        line.append(clean(f" workflow/{option}: {problem}"))
        console.print(line)


def status(found: list[Any], *, expand: bool) -> None:
    from runner import api
    from runner.api import Launch

    # A big launch's counts read every run: on another core, while the rest is shown.
    counting = {
        id(item): item.counting()
        for item in found
        if expand and isinstance(item, Launch) and item.record.run_count > WHOLE_RUNS
    }
    from rich.table import Table
    from rich.text import Text

    console = _console()
    if not found:
        console.print("no launches recorded yet")
        return
    if not expand:
        # One line a launch: ids, times, run counts and statuses stay whole; when the line is
        # too wide, rich narrows the name, workflow and sweep, the widest first, each cell cut
        # with an ellipsis (a column that may narrow holds cells that never wrap). A column
        # empty on every line (no launch named) is left out.
        rows = [
            {
                "launch": record.id[:12],
                "created": _when(record.created, seconds=False, year=False),
                "workflow": f"{record.workflow_id}:{record.workflow_version}",
                "name": record.name or "",
                "runs": f"{record.run_count:,}",
                "swept": swept(record, short=True),
                "status": _counts(record.counts),
            }
            for record in (item.record for item in found)
        ]
        table = Table(box=None, header_style="bold", pad_edge=False)
        shown = [
            key for key in rows[0] if key not in ("name", "swept") or any(r[key] for r in rows)
        ]
        for column in shown:
            whole = column in ("launch", "created", "runs", "status")
            table.add_column(
                column,
                no_wrap=whole,
                min_width=max(len(row[column]) for row in rows) if whole else None,
                justify="right" if column == "runs" else "left",
            )
        for row in rows:
            # User data: control characters escaped, markup ([/red], [link=...]) literal.
            table.add_row(
                *(Text(clean(row[key]), no_wrap=True, overflow="ellipsis") for key in shown)
            )
        console.print(table)
        return
    for item in found:
        if isinstance(item, Launch):
            record = item.record
            big = record.run_count > WHOLE_RUNS
            if not big and not record.counts:
                item.count()
            # A big launch's status (from its counts: every run read) comes after its rows.
            status = "" if big else record.status
            # Two lines, so 80 columns hold them: what and how it went, then when and its seed.
            what = f"{record.workflow_id}:{record.workflow_version}"
            lines = [
                f"launch {record.id}  {what}  {status}".rstrip(),
                f"  created {_when(record.created)}  seed {record.seed}",
            ]
            for key in ("name", "notes"):
                if getattr(record, key):
                    lines.append(f"  {key}: {getattr(record, key)}")
            if record.tags:
                lines.append(f"  tags: {', '.join(record.tags)}")
            if not big and record.process:  # what runs it, to find it (or stop it)
                lines.append(f"  {_running_in(record)}")
            if record.addr:  # a launch on a Dask cluster
                lines.append(f"  cluster: {record.addr} (launcher {record.launcher})")
            for key in ("labels", "annotations", "env"):
                if getattr(record, key):
                    lines.append(f"  {key}: {_compact(getattr(record, key))}")
            search = item.search_status()
            if search is not None:  # how far it got, and its best trial so far
                lines += [f"  {line}" for line in search.lines()]
            for line in lines:
                console.print(clean(line), markup=False)
            if record.run_count == 1 and search is None:
                _run_detail(console, item.first_run(), host=record.host)
            elif big:
                first_page(console, item)
                counting[id(item)]()
                console.print(f"{record.status}; runs: {_counts(record.counts)}", markup=False)
                if record.process:
                    console.print(_running_in(record), markup=False)
                running_runs(console, item)
            else:
                results(console, api.table(item), how=f"runner compare {record.id[:12]}")
                running_runs(console, item)
        else:
            _run_detail(console, item, host=_launch_host(item))


def _launch_host(run: RunRecord) -> str:
    """The machine of a run's launch, where a run with a pid ran (a one-row read)."""
    from runner import api

    if not run.pid or run.worker or run.host:
        return ""
    (launch,) = api.status([run.launch_id], home=run.home, counts=False)
    return launch.record.host if isinstance(launch, api.Launch) else ""


def _running_in(record: LaunchRecord) -> str:
    return clean(f"running in pid {record.pid} on {record.host or 'an unknown host'}")


def first_page(console: Console, launch: Launch) -> None:
    """The first page of a big launch's results table (SHOWN_ROWS rows: by point, all the
    repeats of the first points), read without the rest of its runs; how to see more."""
    from runner import api

    record = launch.record
    repeat = max(record.repeat, 1)
    table = api.table(launch, first=SHOWN_ROWS * repeat)
    short = record.id[:12]
    results(console, table, max_rows=None)
    read = min(SHOWN_ROWS * repeat, record.run_count)
    console.print(
        f"... the first {read:,} of {record.run_count:,} runs (runner compare {short}"
        f" --where/--sort/--top to find runs; runner status {short} --json or -q stream"
        " them all)",
        markup=False,
    )


def swept(record: LaunchRecord, *, short: bool = False) -> str:
    """What a launch swept, to find it again: 'samples: 3 values, repeat 4' (short, for one
    line a launch: 'samples: 3, repeat 4'); a search says so: 'a search of 12 trials (tpe)'."""
    from runner import api

    if search := api.search_about(record, short=short):
        return search
    if record.run_count < 2:
        return ""
    axes = record.definition.get("swept") or {}
    each = "{key}: {n:,}" if short else "{key}: {n:,} values"
    parts = [each.format(key=key.removeprefix("params."), n=n) for key, n in axes.items()]
    if record.repeat > 1:
        parts.append(f"repeat {record.repeat:,}")
    return ", ".join(parts)


def status_ids(found: list[Any], *, expand: bool) -> None:
    """Ids, one a line: a launch's runs streamed from the store a page at a time (written
    as they are read: the first lines of a million-run launch come at once)."""
    import itertools

    from runner.api import Launch

    write = sys.stdout.write
    for item in found:
        if isinstance(item, Launch):
            write(item.record.id + "\n")
            if expand and item.record.has_parent:
                ids = item.run_ids()
                while chunk := list(itertools.islice(ids, 1000)):
                    write("\n".join(chunk) + "\n")
        else:
            write(item.id + "\n")
    sys.stdout.flush()


def status_json(found: list[Any], *, expand: bool) -> None:
    """`runner status --json`: what `as_json` would print of the items' to_json(), but a
    launch's runs are written as they are read, a page at a time, one run a line (the C
    encoder: indenting each would take the pure-Python one, five times slower), then, for
    a launch read without them, its status and counts; big results are their summary and
    `result_file`. A run (named by its id, or a one-run
    launch) shows its whole result."""
    from runner.api import Launch

    write = sys.stdout.write
    encode = json.JSONEncoder(default=str).encode
    write("[")
    for n, item in enumerate(found):
        write(",\n  " if n else "\n  ")
        if not isinstance(item, Launch):
            write(_indented(item.to_json(), 1))
            continue
        head = item.to_json(runs=False)
        if not expand:
            write(_indented(head, 1))
            continue
        del head["runs"]
        search = item.search_status()
        if search is not None:  # how far a search got, and its best trial (as Launch.to_json)
            head["search"] = search.to_json()
        counted = bool(item.record.counts) or not item.record.run_count
        if not counted:  # counted once the runs are written (every run is read to count)
            del head["status"], head["counts"], head["process"]
        write(_indented(head, 1)[: -len("\n  }")] + ',\n    "runs": [')
        first = True
        whole = item.record.run_count == 1  # a run's own JSON holds its whole result
        for run in item.iter_runs():
            write(("\n      " if first else ",\n      ") + encode(run.to_json(load=whole)))
            first = False
        write("]" if first else "\n    ]")
        if not counted:
            item.count()
            record = item.record
            tail = {"status": record.status, "counts": record.counts, "process": record.process}
            write(",\n    " + _indented(tail, 1)[len("{\n    ") : -len("\n  }")])
        write("\n  }")
    write("\n]\n" if found else "]\n")
    sys.stdout.flush()


def _indented(data: Any, level: int) -> str:
    """json.dumps(indent=2) of a value that sits `level` levels deep in an indented list."""
    return json.dumps(data, indent=2, default=str).replace("\n", "\n" + "  " * level)


def _run_detail(
    console: Console, run: RunRecord | None, *, provenance: bool = True, host: str = ""
) -> None:
    """A run, one row a line: what it is, how it went (running: for how long, and where),
    its metrics' last values and curves, where it came from. `host`: its launch's machine,
    where a run with a pid ran."""
    if run is None:
        console.print("no runs recorded", markup=False)
        return
    from runner import cli_metrics
    from runner.printable import clean_lines

    room = console.width - len("result file  ")  # past its key, a row's value fits the width
    rows = [
        ("run", run.id),
        ("parent", run.parent_id or "-"),
        ("workflow", f"{run.workflow_id}:{run.workflow_version}"),
        ("params", _compact(run.params, room)),
        ("seed", str(run.seed)),
    ]
    if run.status is RunStatus.RUNNING and run.started is not None:
        since = _when(run.started)
        rows.append(("status", f"running for {cli_metrics.elapsed(run.started)} (since {since})"))
    else:
        rows.append(("status", run.status.value))
        rows.append(("duration", f"{run.duration:.3f}s" if run.duration is not None else "-"))
        rows.append(("result", _compact(run.shown_result, room)))
    if run.result_ref:
        rows.append(("result file", f"{run.result_file}"))
    if run.error:
        rows.append(("error", run.error))
    if run.cached_from:
        rows.append(cache_hit(run))
    if run.attempts > 1:
        rows.append(("attempts", str(run.attempts)))
    where = _where(run, host)
    if where:
        rows.append(where)
    if run.home:
        rows.extend(cli_metrics.status_rows(run, room))
    if run.run_dir:
        rows.append(("folder", run.run_dir))
    if provenance:
        rows.extend(provenance_rows(run, room))
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        if key == "error":  # a message of several lines keeps them, each under the first
            text = clean_lines("\n".join(line.rstrip() for line in value.strip().splitlines()))
            text = text.replace("\n", "\n" + " " * (width + 2))
        else:
            text = clean(value)
        console.print(f"{key:<{width}}  {text}", markup=False)
    if run.traceback:
        console.print(clean_lines(run.traceback.rstrip()), markup=False, style="dim")


def _where(run: RunRecord, host: str = "") -> tuple[str, str] | None:
    """Where a run runs (ran): a Dask worker on its host, or a process (pid) on `host`, its
    launch's machine (the pid of a local run; host and worker are a Dask run's alone)."""
    ran = "runs" if run.status is RunStatus.RUNNING else "ran"
    if run.worker:
        return f"{ran} on", f"{run.host or '?'} (Dask worker {run.worker})"
    if run.host:
        return f"{ran} on", run.host
    if run.pid:
        return f"{ran} in", f"pid {run.pid}" + (f" on {host}" if host else "")
    return None


def running_runs(console: Console, launch: Launch) -> None:
    """The runs of a launch running now: for how long, and where (the first SHOWN_RUNNING)."""
    from runner import api, cli_metrics

    running = launch.record.counts.get(RunStatus.RUNNING.value, 0)
    if not running:
        return
    runs = api.runs(launch=launch.id, status="running", limit=SHOWN_RUNNING, home=launch.home)
    console.print(f"running now ({running:,}):", markup=False)
    for run in runs:
        where = _where(run, launch.record.host)
        place = f"  {where[0].split()[1]} {where[1]}" if where else ""
        since = cli_metrics.elapsed(run.started) if run.started is not None else "?"
        console.print(clean(f"  {run.id[:8]}  for {since}{place}"), markup=False)
    if running > len(runs):
        more = running - len(runs)
        console.print(f"  ... and {more:,} more (runner status {launch.id[:12]} --json)")


def cache_hit(run: RunRecord) -> tuple[str, str]:
    """Why a run was served from the cache: its cache key (runs.cache_key) is its workflow
    version's, code's, params' and seed's."""
    if not run.code:  # recorded before runner kept the code's hash
        return ("cached from", str(run.cached_from))
    source = str(run.cached_from)[:12]  # (a prefix: the line fits 80 columns)
    return ("cached", f"same code {run.code}, params and seed as run {source}")


def provenance_rows(run: RunRecord, width: int) -> list[tuple[str, str]]:
    """Where a run came from, as rows of the run's view: its code's hash, the project's git
    commit, Python and the packages' versions (wrapped to `width`)."""
    import textwrap

    found = run.provenance
    if found is None:  # recorded before runner kept it
        return []
    rows = [("code", run.code or "-")]
    if found.git_commit is None and found.git_dirty is None:
        rows.append(("git", "- (not a git checkout, or git is not installed)"))
    else:
        changes = "uncommitted changes" if found.git_dirty else "clean"
        rows.append(("git", f"{found.git_commit or 'no commit yet'} ({changes})"))
    rows.append(("python", found.python))
    # A name and its version stay on one line (joined by a no-break space while wrapping).
    packages = ", ".join(f"{name}\xa0{version}" for name, version in found.packages.items())
    lines = textwrap.wrap(packages, max(width, 20), break_on_hyphens=False) or ["-"]
    rows.extend(
        ("packages" if n == 0 else "", line.replace("\xa0", " ")) for n, line in enumerate(lines)
    )
    return rows


def _more(console: Console, total: int, how: str, shown: int = SHOWN_ROWS) -> None:
    if total > shown:
        console.print(f"... {total - shown:,} more ({how} for all)")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {status}" for status, n in sorted(counts.items()))


def _compact(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _when(timestamp: float, *, seconds: bool = True, year: bool = True) -> str:
    """A local time; without `year`, this year's times drop it (12-06 21:40)."""
    when = time.localtime(timestamp)
    shown = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    if not year and when.tm_year == time.localtime().tm_year:
        shown = shown.removeprefix("%Y-")
    return time.strftime(shown, when)


_SUCCEEDED = RunStatus.SUCCEEDED


WATCH_EVERY = 0.5  # seconds between two reads of a watched metric (runner wait's own poll)


class Watch:
    """What a launch shows while it runs: ids on creation, then (on a terminal) live progress
    with the first failure's reason as soon as it happens. Silent for -q's ids and --json.
    `watch`: a metric's key, shown on a line under the bar (cli_metrics.watched), its
    summaries read every `every` seconds on a thread of their own (never a point)."""

    def __init__(
        self,
        *,
        quiet: bool,
        as_json: bool,
        run_ids: bool = True,
        watch: str | None = None,
        every: float = WATCH_EVERY,
    ) -> None:
        self.run_ids = run_ids  # False: a launch made earlier, its ids printed then
        self.quiet = quiet
        self.as_json = as_json
        self.live = not quiet and not as_json and sys.stdout.isatty()
        self.progress: Any = None
        self.counts: dict[str, int] = {}
        self.total = 0
        self.first_failure_shown = False
        self.watch = watch
        self.every = every
        self.watched = ""  # the watched metric's line (a search's best so far), as last read
        self.search = False  # the launch is a search
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.join()
        if self.progress is not None:
            self.progress.stop()

    def created(self, record: LaunchRecord, specs: Sequence[RunSpec]) -> None:
        if self.quiet:
            ids(record, () if getattr(specs, "streamed", False) else specs)
        elif not self.as_json:
            created(record, specs, run_ids=self.run_ids)
        # A search's runs are made as its trials are asked: it has its planned runs to go,
        # but those that ended before (a resume).
        self.search = bool(record.definition.get("search"))
        self.total = _runs_left(record) if self.search else len(specs)
        if self.live and self.total:
            from rich.progress import BarColumn, TextColumn, TimeRemainingColumn

            # The bar writes to stdout as it is now. Left to follow sys.stdout, it wrote to the
            # launchers' own stand-in (threads and sequential route a run's output to its log,
            # worker._install), which passes what no run writes on to rich's stand-in, which
            # prints it through the bar again: the bar stopped, and the launch never ended.
            console = _console()
            console.file = sys.stdout
            self.progress = _bar(
                self,
                BarColumn(),
                TextColumn("{task.fields[counts]}"),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            self.task = self.progress.add_task("runs", total=self.total, counts="", rate="")
            self.started = time.monotonic()
            self.progress.start()
            self._refresh()
            if self.watch or self.search:
                self._reader = threading.Thread(
                    target=self.follow, args=(record.id,), name="runner-watch", daemon=True
                )
                self._reader.start()

    def follow(self, launch_id: str) -> None:
        """Read the watched metric's summaries (or, for a search, its best trial so far)
        until the launch's display ends: every `every` seconds, or ten times as long as a
        read took (a launch of a million runs)."""
        import sqlite3

        from runner import api, cli_metrics
        from runner.errors import RunnerError

        while True:
            began = time.monotonic()
            try:
                if self.watch:
                    found = api.metric_summaries(launch_id, [self.watch])
                    self.watched = cli_metrics.watched(self.watch, found)
                elif isinstance(launch := api.get(launch_id), api.Launch):
                    search = launch.search_status()
                    self.watched = clean(search.one_line()) if search is not None else ""
            except (RunnerError, sqlite3.Error):  # the launch's own report names the store's fault
                return
            if self._stop.wait(max(self.every, 10 * (time.monotonic() - began))):
                return

    def recorded(self, ids: list[str]) -> None:
        """Runs of a streamed launch, recorded now: -q prints their ids."""
        if self.quiet:
            sys.stdout.write("\n".join(ids) + "\n")
            sys.stdout.flush()

    @property
    def shows_outcomes(self) -> bool:
        """Whether `outcome` shows anything: with -q or --json and no progress bar, the
        runs' outcomes are only recorded (a million calls saved)."""
        return self.live or not (self.quiet or self.as_json)

    def outcome(self, outcome: Any) -> None:
        if self.progress is None and (
            outcome.status is _SUCCEEDED or self.first_failure_shown or outcome.status.ok
        ):
            return  # nothing to show: called for every run, so the common case is kept short
        status = outcome.status.value
        self.counts[status] = self.counts.get(status, 0) + 1
        if outcome.status.failure and not self.first_failure_shown and not self.as_json:
            self.first_failure_shown = True
            from runner.results import one_line

            line = clean(f"run {outcome.run_id[:12]} {status}: {one_line(outcome.error or '')}")
            if self.progress is not None:
                self.progress.console.print(line, style="red", markup=False)
            elif not self.quiet:
                print(line, file=sys.stderr, flush=True)
        if self.progress is not None:
            self._refresh()

    def _refresh(self) -> None:
        done = sum(self.counts.values())
        cancelled = self.counts.get("cancelled", 0)
        failed = done - self.counts.get("succeeded", 0) - self.counts.get("cached", 0) - cancelled
        elapsed = max(time.monotonic() - self.started, 1e-6)
        stopped = f"{cancelled:,} cancelled, " if cancelled else ""
        self.progress.update(
            self.task,
            completed=done,
            counts=f"{done - failed - cancelled:,} done, {failed:,} failed, {stopped}"
            f"{self.total - done:,} to go",
            rate=f"{done / elapsed:,.1f} runs/s",
        )


def _runs_left(record: LaunchRecord) -> int:
    """A search's runs to go: its planned runs but those that ended already (a resume)."""
    ended = sum(n for status, n in record.counts.items() if RunStatus(status).finished)
    return max(record.run_count - ended, 0)


def _bar(watch: Watch, *columns: Any, **options: Any) -> Any:
    """rich's Progress with, for a watched metric, a line under its bar (Watch.watched)."""
    from rich.progress import Progress
    from rich.text import Text

    class Bar(Progress):
        def get_renderables(self) -> Any:
            yield from super().get_renderables()
            if watch.watch or watch.search:
                yield Text(watch.watched, no_wrap=True, overflow="ellipsis")

    return Bar(*columns, **options)


# -- launches that outlive the command: --detach, runner cancel --------------------------------


def counts(launch: Launch) -> str:
    """'3 cancelled, 2 succeeded': a launch's runs by status."""
    return _counts(launch.record.counts)


def detached(launch: Launch) -> None:
    """After --detach: where the launch runs and how to follow it."""
    from runner import api

    record, short = launch.record, launch.id[:12]
    if not any(record.counts.get(s) for s in ("pending", "running")):
        print(f"launch {short}: nothing left to run ({counts(launch)})")
        return
    out = api.output_path(launch.home, launch.id) if launch.home else None
    print(
        f"detached: background process {record.pid}"
        + (f", its output in {out}" if out else "")
        + f"\nfollow: runner wait {short}   stop: runner cancel {short}"
    )
    sys.stdout.flush()


def cancelled(results: list[Any]) -> None:
    """What `runner cancel` did, one line per id."""
    for result in results:
        what = f"{result.kind} {result.id[:12]}"
        if result.cancelled:
            runs = "run" if result.cancelled == 1 else "runs"
            print(f"{what}: {result.cancelled:,} {runs} cancelled ({_counts(result.counts)})")
        else:
            print(f"{what} had ended ({_counts(result.counts)}); nothing to cancel")
