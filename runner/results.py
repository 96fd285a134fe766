"""The results table every front-end renders: runs as rows of typed columns, fixed params apart."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from runner.errors import UsageError
from runner.records import MetricSummary, RunRecord, RunRow, RunStatus

# What a column holds, so each front-end can align, format and sort it (a DataTable, HTML, a
# DataFrame dtype) without looking at the values again.
Kind = Literal["id", "status", "integer", "number", "boolean", "string", "duration", "json"]
# Where a column comes from: the run itself, its params, its result, or the metrics it logged
# (runner.log: the summary the store keeps of each key, never its points).
Group = Literal["run", "params", "result", "metrics"]
STATS = ("mean", "std", "min", "max")  # what --by-point computes per numeric result column
# A metric's columns (`metrics.loss.last`, shown as `loss.last`). The last value shows, as
# MLflow's search_runs gives it; the others when a table names them (columns, sort, where)
# or shows all its columns: one column a metric keeps a table at 80 columns readable.
METRIC_STATS = ("last", "min", "max", "count")
METRIC_SHOWN = "last"
_NUMERIC = ("integer", "number")
COUNTS = ("n", "failed", "cancelled")  # by point: how many runs (read with thousands separators)


@dataclass(frozen=True, slots=True)
class Column:
    """One column: `key` is unique and dotted (`params.model.lr`, `result.pi`, `status`)."""

    key: str
    name: str  # the header: the key without its group, unless that name is ambiguous
    group: Group
    kind: Kind
    stat: str | None = None  # by point: "mean", "std", "min" or "max" of the column `of`
    of: str | None = None  # by point: the key of the run column this statistic summarises


@dataclass(slots=True)
class Row:
    """One run (or, by point, one sweep point): its values by column key (absent = empty)."""

    values: dict[str, Any]
    run_id: str | None = None  # None for a row of a sweep point
    status: RunStatus | None = None
    launch_id: str | None = None  # whole (the `launch` column is shortened for reading)

    def get(self, key: str) -> Any:
        return self.values.get(key)


@dataclass
class ResultsTable:
    """Runs side by side: the CLI renders it with rich, the TUI with a DataTable and a
    notebook as HTML or a pandas DataFrame; none of them flattens a result again. What the
    API returns reads as HTML and text and becomes a DataFrame (runner.handles.ResultsTable)."""

    columns: list[Column]
    rows: list[Row]
    fixed: dict[str, Any] = field(default_factory=dict)  # params equal in every run, dotted
    by_point: bool = False  # rows are sweep points (repeats grouped), not runs
    runs: int = 0  # runs read, before --where
    matched: int = 0  # rows before --top
    launches: list[str] = field(default_factory=list)
    runs_matched: int | None = None  # by point with --where: the runs of the points kept
    # A search's objective column and whether the rows go descending, when they are sorted
    # by it, best first (no other sort asked for): `points` keeps them so.
    objective: tuple[str, bool] | None = None

    def column(self, name: str) -> Column:
        """The column a user names: its key, or its header when only one column has it."""
        for column in self.columns:
            if column.key == name:
                return column
        for column in self.columns:
            if column.name == name:
                return column
        found = [c for c in self.columns if c.key.partition(".")[2] == name]
        if len(found) == 1:
            return found[0]
        if found:
            keys = ", ".join(c.key for c in found)
            raise UsageError(f"column '{name}' is ambiguous: say which of {keys}")
        fixed = name.removeprefix("params.")
        if fixed in self.fixed:
            raise UsageError(
                f"column '{name}' is a param with one value in every run"
                f" ({fixed}={json.dumps(self.fixed[fixed], default=str)});"
                " --all-columns shows it as a column"
            )
        import difflib

        names = [c.key for c in self.columns] + [c.name for c in self.columns]
        names += [c.name.rpartition(" ")[0] for c in self.columns if c.stat]
        near = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        shown = ", ".join(c.key for c in self.columns)
        if any(c.group == "metrics" for c in self.columns):
            shown += f" (and each metric's {', '.join(METRIC_STATS)})"
        raise UsageError(f"no column '{name}'{hint}; the columns are: {shown}")

    def records(self, *, full_ids: bool = False) -> list[dict[str, Any]]:
        """The rows as dicts keyed by column key, exact values (for JSON and DataFrames).
        `full_ids`: the `run` and `launch` columns hold whole ids, as exports write them
        (a table shows their first 8 characters)."""
        keys = [c.key for c in self.columns]
        records = [{key: row.values.get(key) for key in keys} for row in self.rows]
        if full_ids:
            for record, row in zip(records, self.rows, strict=True):
                if "run" in record and row.run_id:
                    record["run"] = row.run_id
                if "launch" in record and row.launch_id:
                    record["launch"] = row.launch_id
        return records

    def cell(self, row: Row, column: Column) -> str:
        """A value as people read it (significant digits, durations); '' when empty. A
        param or result that is None reads `null`, as overrides write it."""
        value = row.values.get(column.key)
        if value is None and column.group in _USER and not column.stat and column.key in row.values:
            return NULL
        if column.key in COUNTS and column.group == "run" and isinstance(value, int):
            return f"{value:,}"
        return format_value(value, column.kind, exact=column.group == "params")

    def fixed_text(self) -> str:
        """The params equal in every run, as the line above a table says them: `a=1, b=null`."""
        return ", ".join(f"{key}={param_text(value)}" for key, value in self.fixed.items())

    def to_json(self, *, full_ids: bool = False) -> dict[str, Any]:
        return {
            "columns": [
                {"key": c.key, "name": c.name, "group": c.group, "kind": c.kind}
                | ({"stat": c.stat, "of": c.of} if c.stat else {})
                for c in self.columns
            ],
            "fixed": self.fixed,
            "by_point": self.by_point,
            "launches": self.launches,
            "runs": self.runs,
            "rows": self.records(full_ids=full_ids),
        }


NULL = "null"  # None, as people read it: the word overrides and YAML write
# The groups whose None is a value the user gave (a metric's None is a NaN left out: empty).
_USER = ("params", "result")


def param_text(value: Any) -> str:
    """A param's value as typed in an override: every digit, `null` for None, text as is."""
    return NULL if value is None else format_value(value, "json", exact=True)


def format_value(value: Any, kind: str, *, exact: bool = False) -> str:
    """A value as people read it: numbers to 4 significant digits, durations in s/m/h, text
    on one line. `exact` (params: what the user typed) keeps every digit."""
    if value is None:
        return ""
    if exact and not isinstance(value, str):
        return json.dumps(value, default=str)
    if kind == "duration":
        return _duration(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if 1e4 <= abs(value) < 1e15:  # 123456, not 1.235e+05
            return f"{value:.0f}"
        return f"{value:.4g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return one_line(value)
    return json.dumps(value, default=str)


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


_LABEL = re.compile(r"[\w.]+:")  # `ValueError:` alone on its line: the message follows


def one_line(text: str) -> str:
    """Text as a table cell shows it: its first non-empty line. An error whose message starts
    on a line of its own (scikit-learn's `ValueError: \\nAll the 5 fits failed.`) keeps its
    type before that line: `ValueError: All the 5 fits failed.`"""
    lines = (line.strip() for line in text.splitlines())
    first = next((line for line in lines if line), "")
    if _LABEL.fullmatch(first):
        following = next((line for line in lines if line), "")
        return f"{first} {following}" if following else first
    return first


# -- building ---------------------------------------------------------------------------------


def rows_of(runs: Iterable[RunRecord], repeat: int = 1) -> list[RunRow]:
    """RunRows of records already read (their params and results decoded)."""
    return [
        RunRow(
            launch_id=r.launch_id,
            run_id=r.id,
            run_index=r.index,
            params=r.params,
            seed=r.seed,
            status=r.status,
            started=r.started,
            ended=r.ended,
            result=r.shown_result,
            error=r.error,
            repeat=r.index % repeat if repeat > 1 else 0,
        )
        for r in runs
    ]


def build(
    runs: Sequence[RunRow],
    *,
    decoded: bool = True,
    by_point: bool | None = None,
    stats: bool = False,
    where: Sequence[str] = (),
    sort: str | None = None,
    desc: bool = False,
    top: int | None = None,
    columns: Sequence[str] | None = None,
    all_columns: bool = False,
    vary: Iterable[str] = (),
    metrics: Iterable[MetricSummary] = (),
    objective: tuple[str, bool] | None = None,
) -> ResultsTable:
    """The table of these runs: one row per run (or per sweep point, `by_point`; the default
    when the runs have repeats), the params that vary as columns and the others in `fixed`,
    results flattened to one column per key. `where` filters runs (`error<0.01`), `sort`,
    `desc` and `top` order and cut the rows, `columns` picks and orders the columns.
    `vary`: params keys (`params.x`) shown as varying even when these runs hold one value
    (a page of a launch that swept them). `metrics`: the summaries of what these runs logged
    (any order; other runs' are ignored), as columns `metrics.KEY.last` (shown) and `.min`,
    `.max`, `.count` (shown when `columns`, `sort` or `where` names them, or `all_columns`).
    `objective`: a search's (the metric KEY its trials' runs record their value as, and
    whether bigger is better): its columns come right after the params, and with no `sort`
    the rows are sorted by it, best first (by point, by its mean), runs without one last.
    Bad column names or filters raise UsageError."""
    logged: dict[str, list[MetricSummary]] = {}
    for summary in metrics:
        logged.setdefault(summary.run_id, []).append(summary)
    metric_keys: dict[str, tuple[str, ...]] = {}  # metric -> its columns' keys
    launch_ids: dict[str, None] = {}
    flat: list[dict[str, Any]] = []
    rows: list[Row] = []
    params_keys: dict[str, None] = {}
    result_keys: dict[str, None] = {}
    any_error = any_repeat = False
    loads = json.loads
    # Repeats share their params: each distinct params text is decoded and flattened once.
    params_seen: dict[str, dict[str, Any]] = {}
    # (a RunRow's fields in order: tests and callers may hand plain tuples)
    for launch_id, run_id, _, params, seed, status, started, ended, result, error, rep in runs:
        flat_params = params_seen.get(params) if not decoded else None
        if flat_params is None:
            flat_params = {}
            _flatten(loads(params) if not decoded else params, "params", flat_params, params_keys)
            if not decoded:
                params_seen[params] = flat_params
        if not decoded:
            result = None if result is None else loads(result)
        values: dict[str, Any] = {
            "launch": launch_id[:8],
            "run": run_id[:8],
            "status": status.value,
            "repeat": rep,
            "seed": seed,
            "duration": None if started is None or ended is None else ended - started,
        }
        # Flattened once per run, here: every column below reads these dicts.
        values.update(flat_params)
        if result is not None:
            if isinstance(result, dict) and result:
                _flatten(result, "result", values, result_keys)
            else:
                values["result"] = result
                result_keys.setdefault("result")
        if error:
            values["error"] = one_line(error)
            any_error = True
        for summary in logged.get(run_id, ()) if logged else ():
            names = metric_keys.get(summary.key)
            if names is None:
                names = metric_keys[summary.key] = tuple(
                    f"metrics.{summary.key}.{stat}" for stat in METRIC_STATS
                )
            last, low, high, count = names
            values[last] = summary.last
            values[low] = summary.min
            values[high] = summary.max
            values[count] = summary.count
        any_repeat = any_repeat or rep > 0
        flat.append(values)
        rows.append(Row(values, run_id, status, launch_id))
        launch_ids[launch_id] = None

    fixed: dict[str, Any] = {}
    varying: list[str] = []
    swept = set(vary)
    for key in params_keys:
        first = flat[0].get(key, _MISSING)
        same = all(_same(v.get(key, _MISSING), first) for v in flat)
        if same and not all_columns and key not in swept:
            fixed[key.partition(".")[2]] = first
        else:
            varying.append(key)

    lead = objective[0] if objective is not None and objective[0] in metric_keys else None
    keys = (
        (["launch"] if len(launch_ids) > 1 else [])
        + ["run", "status"]
        + varying
        + list(metric_keys[lead] if lead is not None else ())
        + list(result_keys)
        + [key for metric in sorted(metric_keys) if metric != lead for key in metric_keys[metric]]
        + (["error"] if any_error else [])
        + (["repeat"] if any_repeat else [])
        + ["seed", "duration"]
    )
    cols = _columns(keys, flat)
    if metric_keys and not all_columns:
        named = [*(columns or ()), *([sort] if sort is not None else [])]
        named += [match.group(1) for text in where if (match := _WHERE.match(text))]
        cols = _named_metrics(cols, fixed, named)
    table = ResultsTable(
        columns=cols, rows=rows, fixed=fixed, runs=len(rows), launches=list(launch_ids)
    )
    if lead is not None and sort is None and objective is not None:
        sort, desc = f"metrics.{lead}.{METRIC_SHOWN}", desc or objective[1]
        table.objective = (sort, desc)
    runs_table = table

    if by_point is None:
        by_point = any_repeat
    # Filters name run columns, or by point the statistics too ('loss.mean<0.1'): a filter
    # of runs applies before the repeats are grouped, one of statistics after.
    of_points: list[str] = []
    tests = []
    for text in where:
        try:
            tests.append(parse_where(text, table))
        except UsageError:
            if not by_point:
                raise
            of_points.append(text)
    table.rows = [row for row in table.rows if all(test(row) for test in tests)]
    if by_point:
        table = points(table, stats)
        point_tests = []
        for text in of_points:
            try:
                point_tests.append(parse_where(text, table))
            except UsageError:
                parse_where(text, runs_table)  # the message about the runs' columns
                raise
        table.rows = [row for row in table.rows if all(test(row) for test in point_tests)]
        if where:
            table.runs_matched = sum(row.values["n"] for row in table.rows)
    table.matched = len(table.rows)
    if sort is not None:
        _sort(table, sort, desc)
    if top is not None:
        table.rows = table.rows[:top]
    if columns:
        table.columns = [_pick(table, name) for name in columns]
    return table


_MISSING = object()


def _named_metrics(cols: list[Column], fixed: dict[str, Any], names: list[str]) -> list[Column]:
    """The columns a table shows: each metric's last value, and its other columns that
    `names` (the columns picked, sorted by, filtered on) name. By point a name may be a
    statistic of one (`loss.min.mean`): the column it summarises shows."""
    probe = ResultsTable(columns=cols, rows=[], fixed=fixed)
    wanted: set[str] = set()
    for name in names:
        for candidate in (name, *_stem(name)):
            try:
                wanted.add(probe.column(candidate).key)
                break
            except UsageError:  # said by the table built, with the columns it has
                continue
    return [
        c
        for c in cols
        if c.group != "metrics" or c.key.endswith(f".{METRIC_SHOWN}") or c.key in wanted
    ]


def _stem(name: str) -> list[str]:
    """The column a by-point statistic's name is about: `loss.min` of `loss.min.mean` (or
    of its header, `loss.min mean`)."""
    for sep in (".", " "):
        stem, found, stat = name.rpartition(sep)
        if found and stat in STATS:
            return [stem]
    return []


def _same(a: Any, b: Any) -> bool:
    # 1, 1.0 and True are equal in Python and different params to people.
    return a is b or (type(a) is type(b) and a == b)


def _flatten(
    value: dict[str, Any], prefix: str, out: dict[str, Any], keys: dict[str, None]
) -> None:
    for key, item in value.items():
        path = f"{prefix}.{key}"
        if isinstance(item, dict) and item:
            _flatten(item, path, out, keys)
        else:
            out[path] = item
            if path not in keys:  # a test, not a call: this runs for every value of every run
                keys[path] = None


_RUN_KINDS: dict[str, Kind] = {
    "launch": "id",
    "run": "id",
    "status": "status",
    "repeat": "integer",
    "seed": "integer",
    "duration": "duration",
    "error": "string",
}


def _columns(keys: list[str], flat: list[dict[str, Any]]) -> list[Column]:
    """Typed columns named for people: a run column keeps its name, then a param; a key a
    column before it has already taken shows its group (result.samples beside samples)."""
    taken = {key for key in keys if "." not in key}
    cols = []
    for key in keys:
        group: Group = "run"
        kind: Kind | None = None
        if key.startswith("params."):
            group = "params"
        elif key == "result" or key.startswith("result.") or key == "error":
            group = "result"
        elif key.startswith("metrics."):
            group = "metrics"
            kind = "integer" if key.endswith(".count") else "number"  # (NaN is stored NULL)
        name = key.partition(".")[2] if "." in key else key
        if "." in key:
            name = key if name in taken else name
            taken.add(name)
        if kind is None and group != "params" and key != "result":
            kind = _RUN_KINDS.get(key)
        if kind is None:
            kind = _kind_of(v.get(key) for v in flat)
        cols.append(Column(key, name, group, kind))
    return cols


def _kind_of(values: Iterable[Any]) -> Kind:
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return "string"
    if kinds == {bool}:
        return "boolean"
    if kinds == {int}:
        return "integer"
    if kinds <= {int, float}:
        return "number"
    if kinds == {str}:
        return "string"
    return "json"


def points(table: ResultsTable, stats: bool = False) -> ResultsTable:
    """A table of runs grouped by sweep point (and launch): n, failures, and mean and std
    (with `stats`, min and max too) of every numeric result and metric column over the
    point's runs."""
    if table.by_point:
        return table
    varying = [column.key for column in table.columns if column.group == "params"]
    keys = (["launch"] if len(table.launches) > 1 else []) + varying
    groups: dict[Any, list[Row]] = {}
    for row in table.rows:
        # With each value's type: 1, 1.0 and True are one key to a dict, three points here.
        point: Any = tuple((type(v), v) for v in map(row.values.get, keys))
        try:
            members = groups.setdefault(point, [])
        except TypeError:  # a list or dict value: the point is named by its JSON
            point = json.dumps(point, default=str)
            members = groups.setdefault(point, [])
        members.append(row)
    numeric = [c for c in table.columns if c.group in ("result", "metrics") and c.kind in _NUMERIC]
    wanted = STATS if stats else STATS[:2]
    by_key = {c.key: c for c in table.columns}
    cols = [by_key[key] for key in keys]
    cols.append(Column("n", "n", "run", "integer"))
    # Runs that went wrong and runs cancelled are counted apart: a cancel is no failure.
    tallies = [
        (key, test)
        for key, test in (("failed", _failure), ("cancelled", _cancelled))
        if any(test(row) for row in table.rows)
    ]
    cols.extend(Column(key, key, "run", "integer") for key, _ in tallies)
    for column in numeric:
        for stat in wanted:
            cols.append(
                Column(
                    f"{column.key}.{stat}",
                    f"{column.name} {stat}",
                    column.group,
                    "number",
                    stat,
                    column.key,
                )
            )
    rows = []
    for members in groups.values():
        values: dict[str, Any] = {key: members[0].values.get(key) for key in keys}
        values["n"] = len(members)
        for key, test in tallies:
            values[key] = sum(1 for m in members if test(m))
        for column in numeric:
            numbers = [
                float(v)
                for m in members
                if isinstance(v := m.values.get(column.key), int | float)
                and not isinstance(v, bool)
            ]
            for stat in wanted:
                values[f"{column.key}.{stat}"] = _stat(stat, numbers)
        rows.append(Row(values=values, launch_id=members[0].launch_id))
    found = ResultsTable(
        columns=cols,
        rows=rows,
        fixed=table.fixed,
        by_point=True,
        matched=len(rows),
        runs=table.runs,
        launches=table.launches,
        objective=table.objective,
    )
    if table.objective is not None:  # best first, by the mean of the point's runs
        _sort(found, *table.objective)
    return found


def _failure(row: Row) -> bool:
    return row.status is not None and row.status.failure


def _cancelled(row: Row) -> bool:
    return row.status is RunStatus.CANCELLED


def _stat(stat: str, numbers: list[float]) -> float | None:
    # Not the statistics module: its stdev computes in exact fractions, 30 us a call, which
    # was most of a by-point table of 10,000 runs. fsum keeps the sums exact enough.
    if not numbers:
        return None
    if stat in ("mean", "std"):
        lowest = min(numbers)
        if lowest == max(numbers):  # equal values: their mean is that value, exactly, std 0
            return lowest if stat == "mean" else (0.0 if len(numbers) > 1 else None)
    if stat == "mean":
        return math.fsum(numbers) / len(numbers)
    if stat == "std":
        if len(numbers) < 2:
            return None
        mean = math.fsum(numbers) / len(numbers)
        return math.sqrt(math.fsum((x - mean) ** 2 for x in numbers) / (len(numbers) - 1))
    return min(numbers) if stat == "min" else max(numbers)


def _pick(table: ResultsTable, name: str) -> Column:
    """A column by name; by point, a result column's name means its mean."""
    if table.by_point and not any(name in (c.key, c.name) for c in table.columns):
        means = [c for c in table.columns if c.stat == "mean" and name in (c.of, c.name[:-5])]
        if len(means) == 1:
            return means[0]
    return table.column(name)


def _sort(table: ResultsTable, name: str, desc: bool) -> None:
    key = _pick(table, name).key
    present = [row for row in table.rows if row.values.get(key) is not None]
    empty = [row for row in table.rows if row.values.get(key) is None]
    # Numbers before text, so a column of mixed values still sorts; empty cells stay last.
    present.sort(key=lambda row: _order(row.values[key]), reverse=desc)
    table.rows = present + empty


def _order(value: Any) -> tuple[int, Any]:
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, json.dumps(value, sort_keys=True, default=str))


# -- --where ----------------------------------------------------------------------------------

_WHERE = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(<=|>=|==|!=|=|<|>)\s*(.*?)\s*$")
_OPERATORS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "=": lambda a, b: a == b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def parse_where(text: str, table: ResultsTable) -> Any:
    """`COLUMN OP VALUE` (OP: < <= > >= = == !=) as a test of a row; nothing is evaluated.
    VALUE is a number when it reads as one, else text (quotes optional); `none` is empty."""
    match = _WHERE.match(text)
    if match is None or not match.group(3):
        raise UsageError(
            f"--where '{text}': expected COLUMN OP VALUE with OP one of < <= > >= = != "
            "(for example --where 'error<0.01' or --where status=failed)"
        )
    name, op, raw = match.groups()
    if raw[0] in "<>=!":
        raise UsageError(f"--where '{text}': '{op}{raw[0]}' is not an operator (< <= > >= = !=)")
    key = table.column(name).key
    compare = _OPERATORS[op]
    if raw[:1] in "'\"" and raw[-1:] == raw[:1] and len(raw) > 1:
        value: Any = raw[1:-1]
    elif raw.lower() in ("none", "null"):
        value = None
    else:
        try:
            value = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                value = raw
    if value is None:
        if op not in ("=", "==", "!="):
            raise UsageError(f"--where '{text}': an empty value only compares with = or !=")
        return lambda row: (row.values.get(key) is None) == (op != "!=")
    number = isinstance(value, int | float)
    column = table.column(name)
    if op in ("<", "<=", ">", ">=") and number and column.kind not in (*_NUMERIC, "duration"):
        other = f"result.{column.key}"  # a result key named like a run column (error)
        hint = f" (did you mean '{other}'?)" if any(c.key == other for c in table.columns) else ""
        raise UsageError(
            f"--where '{text}': column '{column.key}' holds {column.kind} values, not numbers"
            + hint
        )

    def test(row: Row) -> bool:
        cell = row.values.get(key)
        if cell is None:
            return op == "!="
        if number and isinstance(cell, int | float) and not isinstance(cell, bool):
            return bool(compare(cell, value))
        if isinstance(cell, str) or not number:
            text_cell = cell if isinstance(cell, str) else format_value(cell, "json")
            return bool(compare(text_cell, str(value)))
        return op == "!="

    return test
