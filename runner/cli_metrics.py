"""Metrics as the CLI shows them (runner.log): `runner metrics` (a table of summaries with
sparklines, or every point as CSV or JSON), the metrics block of `runner status RUN`, and
the watched metric on a launch's live line. Tables read summaries; points are read only for
the curves a table shows, or for CSV and JSON, which give them all."""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from runner.errors import UsageError
from runner.printable import clean
from runner.results import format_value, param_text

if TYPE_CHECKING:
    from rich.console import Console

    from runner.api import Launch
    from runner.records import MetricSummary, RunRecord, Series

SHOWN_ROWS = 50  # rows of a launch's table before "... N more"
SHOWN_METRICS = 12  # metrics in `runner status RUN` before "... and N more"
CURVE_MOST = 40  # characters of a curve, at most
CURVE_LEAST = 8  # ... and at least: past the terminal's width, other columns give way
# A launch's points are read in one call up to this many (by its summaries' counts), else a
# run at a time: the memory of one run's points, whatever the launch.
ONE_READ = 1_000_000
COLUMNS = ("run", "key", "step", "value", "time")  # the long format of csv and json


# -- curves ----------------------------------------------------------------------------------


def curve(values: Sequence[float], width: int) -> str:
    """A sparkline of `values` in at most `width` characters (the sparklines package). A longer
    series is strided: each character is the last point of an equal share of the points (so
    the curve ends on the last value, which the tables print beside it). NaN and infinities
    are gaps. The values are scaled to [0, 1] first: sparklines draws negative values in
    reverse video and mixed signs on two lines, and a range past the largest float overflows."""
    from sparklines import sparklines

    if width <= 0 or not values:
        return ""
    n = len(values)
    picked = values if n <= width else [values[(i + 1) * n // width - 1] for i in range(width)]
    finite = [v for v in picked if math.isfinite(v)]
    if not finite:
        return " " * len(picked)
    low, high = min(finite), max(finite)
    span = high / 2 - low / 2  # halves: high - low may overflow
    scaled: list[float | None] = [
        None if not math.isfinite(v) else ((v / 2 - low / 2) / span if span else 0.0)
        for v in picked
    ]
    return sparklines(scaled)[0]


def curve_width(room: int, shown: Sequence[MetricSummary]) -> int:
    """How wide the curves of these metrics are drawn: the room left beside the other columns,
    within [CURVE_LEAST, CURVE_MOST], and no wider than the longest series needs."""
    longest = max((s.count for s in shown), default=0)
    return max(1, min(longest, max(CURVE_LEAST, min(CURVE_MOST, room))))


# -- what a run or launch logged ---------------------------------------------------------------


def target(ident: str) -> tuple[str, str, Launch | None, RunRecord | None]:
    """(kind 'run'|'launch', full id, the launch, the run) that an id or prefix names; a
    one-run launch is its run."""
    from runner import api

    (found,) = api.status([ident], counts=False)
    if isinstance(found, api.Launch):
        if found.record.run_count == 1:
            run = found.first_run()
            return "run", found.id, found, run
        return "launch", found.id, found, None
    return "run", found.id, None, found


def summaries(kind: str, full: str, keys: Sequence[str]) -> list[MetricSummary]:
    """The summaries of what `full` logged (of `keys` only, when given). A key it never logged
    is a UsageError naming the keys it has; nothing logged at all is an empty list."""
    from runner import api

    found = api.metric_summaries(full, keys)
    missing = [key for key in dict.fromkeys(keys) if key not in {s.key for s in found}]
    if not missing:
        return found
    logged = sorted({s.key for s in api.metric_summaries(full)})
    if not logged:
        return []
    what = f"{kind} {full[:12]}"
    near = [m for key in missing for m in difflib.get_close_matches(key, logged, n=1)]
    hint = f"; did you mean {', '.join(dict.fromkeys(near))}?" if near else ""
    raise UsageError(
        f"{what} never logged {', '.join(repr(k) for k in missing)}: it logged"
        f" {', '.join(logged)}{hint}"
    )


def nothing_logged(kind: str, full: str, run: RunRecord | None) -> str:
    yet = " yet" if run is not None and not run.status.finished else ""
    return (
        f"{kind} {full[:12]} has logged no metrics{yet}"
        " (runner.log(loss=...) in a workflow records them)"
    )


def show(ident: str, keys: Sequence[str], fmt: str, console: Callable[[], Console]) -> None:
    """`runner metrics IDENT [--key K] [--format table|csv|json]`: nothing logged is said on
    stderr (CSV still gets its header, JSON an empty list)."""
    kind, full, launch, run = target(ident)
    found = summaries(kind, full, keys)
    if not found:
        print(nothing_logged(kind, full, run), file=sys.stderr)
    if fmt == "csv":
        write_csv(points(full, found, keys), sys.stdout)
    elif fmt == "json":
        write_json(points(full, found, keys), sys.stdout)
    elif found:
        table(console(), found, launch if kind == "launch" else None)


# -- every point, long format ----------------------------------------------------------------


def points(full: str, found: Sequence[MetricSummary], keys: Sequence[str]) -> Iterator[Series]:
    """Every point of what `full` logged (the keys of `found`), a run's series at a time."""
    from runner import api

    if not found:
        return
    wanted = list(dict.fromkeys(keys))
    if sum(s.count for s in found) <= ONE_READ:
        yield from api.metric_series(full, wanted)
        return
    for run_id in dict.fromkeys(s.run_id for s in found):
        yield from api.metric_series(run_id, wanted)


def write_csv(series: Iterable[Series], out: Any) -> None:
    """One line a point: run, key, step, value, time (seconds since the epoch). Values keep
    every digit (nan and inf as Python writes them). The run and key are quoted by the csv
    module once a series; its numbers need no quoting (3x faster than a writer a point)."""
    head = io.StringIO()
    writer = csv.writer(head, lineterminator="\n")
    writer.writerow(COLUMNS)
    out.write(head.getvalue())
    for run_id, key, steps, values, times in series:
        head.seek(0)
        head.truncate()
        writer.writerow((run_id, key, ""))
        prefix = head.getvalue()[:-1]  # "run,key," (the empty third field ends it)
        out.writelines(
            f"{prefix}{step},{value!r},{when!r}\n"
            for step, value, when in zip(steps, values, times, strict=True)
        )
    out.flush()


def write_json(series: Iterable[Series], out: Any) -> None:
    """A list of points, one object a line ({"run", "key", "step", "value", "time"}), written
    as read. NaN and infinities are null: JSON has no such numbers (jq and browsers refuse
    Python's NaN)."""
    out.write("[")
    first = True
    for run_id, key, steps, values, times in series:
        head = f'\n  {{"run": {json.dumps(run_id)}, "key": {json.dumps(key)}, "step": '
        lines = (
            f'{head}{step}, "value": {_number(value)}, "time": {_number(when)}}}'
            for step, value, when in zip(steps, values, times, strict=True)
        )
        for line in lines:
            out.write(line if first else "," + line)
            first = False
    out.write("]\n" if first else "\n]\n")
    out.flush()


def _number(value: float) -> str:
    return repr(value) if math.isfinite(value) else "null"


# -- the table -------------------------------------------------------------------------------


def table(console: Console, found: Sequence[MetricSummary], launch: Launch | None) -> None:
    """One row per run (for a launch) and metric: count, last, min, max, last step, and the
    curve. The first SHOWN_ROWS rows of a launch; points are read for their curves only."""
    from rich.table import Table
    from rich.text import Text

    from runner import api

    rows = list(found[:SHOWN_ROWS]) if launch is not None else list(found)
    columns: list[tuple[str, list[str]]] = []
    if launch is not None:
        ids = list(dict.fromkeys(s.run_id for s in rows))
        params = {
            run.id: run.params
            for run in api.status(ids, home=launch.home, counts=False)
            if not isinstance(run, api.Launch)
        }
        columns.append(("run", [s.run_id[:8] for s in rows]))
        for path in varying(launch):
            cells = [param_text(param_at(params.get(s.run_id), path)) for s in rows]
            columns.append((path, [clean(cell) for cell in cells]))
    columns += [
        ("metric", [clean(s.key) for s in rows]),
        ("count", [f"{s.count:,}" for s in rows]),
        ("last", [_value(s.last) for s in rows]),
        ("min", [_value(s.min) for s in rows]),
        ("max", [_value(s.max) for s in rows]),
        ("step", [str(s.last_step) for s in rows]),
    ]
    used = sum(max(len(name), *(len(c) for c in cells)) + 2 for name, cells in columns)
    width = curve_width(console.width - used, rows)
    curves = _curves(rows, width)
    grid = Table(box=None, header_style="bold", pad_edge=False)
    for name, _ in columns:
        numeric = name in ("count", "last", "min", "max", "step")
        narrow = name not in ("run", "count", "step")  # a cut id or count reads as another
        grid.add_column(
            name,
            justify="right" if numeric else "left",
            no_wrap=True,
            overflow="ellipsis" if narrow else "fold",
        )
    grid.add_column("curve", no_wrap=True, min_width=width)
    for i in range(len(rows)):
        grid.add_row(*(Text(cells[i]) for _, cells in columns), Text(curves[i]))
    console.print(grid)
    if len(found) > len(rows):
        console.print(
            Text(
                f"... {len(found) - len(rows):,} more rows (--key KEY to narrow; --format csv"
                " for every point)"
            )
        )
    if any(s.count > width for s in rows):  # (strided)
        console.print(
            Text(f"curves: a character a point, or past {width} points the last of each 1/{width}")
        )


def _curves(rows: Sequence[MetricSummary], width: int) -> list[str]:
    """The curve of each row, the points read a run at a time (the keys it shows)."""
    from runner import api

    keys: dict[str, list[str]] = {}
    for s in rows:
        keys.setdefault(s.run_id, []).append(s.key)
    drawn: dict[tuple[str, str], str] = {}
    for run_id, wanted in keys.items():
        for series in api.metric_series(run_id, wanted):
            drawn[run_id, series.key] = curve(series.values, width)
    return [drawn.get((s.run_id, s.key), "") for s in rows]


def _value(value: float | None) -> str:
    return "nan" if value is None else format_value(value, "number")


def varying(launch: Launch) -> list[str]:
    """The params a launch swept (their paths under params), from its definition: read
    without its runs."""
    swept = launch.record.definition.get("swept") or {}
    return [key.removeprefix("params.") for key in swept if key.startswith("params.")]


def param_at(params: Any, path: str) -> Any:
    """The value at a dotted path of a run's params (None when absent)."""
    for part in path.split("."):
        if not isinstance(params, dict) or part not in params:
            return None
        params = params[part]
    return params


# -- runner status RUN -----------------------------------------------------------------------


def status_rows(run: RunRecord, width: int) -> list[tuple[str, str]]:
    """The `metrics` rows of a run's view: each metric's last value, its curve and how many
    points, in `width` columns (the rows' values start past their keys)."""
    from runner import api

    found = api.metric_summaries(run.id, home=run.home)
    if not found:
        return []
    shown = found[:SHOWN_METRICS]
    key_width = min(max(len(clean(s.key)) for s in shown), 20)
    lasts = [_value(s.last) for s in shown]
    counts = [f"{s.count:,} point{'s' * (s.count != 1)}" for s in shown]
    last_width = max(map(len, lasts))
    used = key_width + 2 + last_width + 2 + 2 + max(map(len, counts))
    drawn_width = curve_width(width - used, shown)
    series = {
        one.key: one.values
        for one in api.metric_series(run.id, [s.key for s in shown], home=run.home)
    }
    rows: list[tuple[str, str]] = []
    for s, last, count in zip(shown, lasts, counts, strict=True):
        key = clean(s.key)
        key = key if len(key) <= key_width else key[: key_width - 1] + "…"
        drawn = curve(series.get(s.key, ()), drawn_width)
        rows.append(
            (
                "metrics" if not rows else "",
                f"{key:<{key_width}}  {last:>{last_width}}  {drawn:<{drawn_width}}  {count}",
            )
        )
    if len(found) > len(shown):
        rows.append(
            ("", f"... and {len(found) - len(shown):,} more (runner metrics {run.id[:12]})")
        )
    return rows


# -- the live line: runner wait --watch KEY, runner ... --watch KEY ----------------------------


def watched(key: str, found: Sequence[MetricSummary]) -> str:
    """What the live line says of a watched metric: for one run, its last value and step; for
    several, the lowest and the highest of their last values and which runs logged them.
    Both ends: runner cannot know whether lower is better (a loss) or higher (an accuracy),
    and the best run so far is the one a person tuning a model looks for."""
    shown = clean(key)
    if not found:
        return f"{shown}: not logged yet"
    if len({s.run_id for s in found}) == 1:
        last = found[-1]
        points = f"{last.count:,} point{'s' * (last.count != 1)}"
        return f"{shown} {_value(last.last)} (step {last.last_step}, {points})"
    numbers = [(s.last, s) for s in found if s.last is not None]
    if not numbers:
        return f"{shown}: nan in every run ({len(found):,} runs)"
    _, low = min(numbers, key=lambda pair: pair[0])
    _, high = max(numbers, key=lambda pair: pair[0])
    return (
        f"{shown} (last, {len(found):,} runs): lowest {_value(low.last)} ({low.run_id[:8]}),"
        f" highest {_value(high.last)} ({high.run_id[:8]})"
    )


def elapsed(since: float, now: float | None = None) -> str:
    """How long since `since`, as people read it: 12s, 4m05s, 2h10m."""
    seconds = max((time.time() if now is None else now) - since, 0.0)
    if seconds < 60:
        return f"{int(seconds)}s"
    return format_value(seconds, "duration")
