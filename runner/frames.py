"""Results tables and metrics as pandas DataFrames and matplotlib plots (the optional
`notebook` extra), made from the plain values they are given: nothing here reads the store."""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from runner.errors import UsageError

if TYPE_CHECKING:
    from runner.records import Series
    from runner.results import Column, ResultsTable

EXTRA = "pip install 'runner-launch[notebook]'"

# The pandas dtype of each kind of column; others stay object (JSON values, ids).
_DTYPES = {"integer": "Int64", "number": "float64", "boolean": "boolean", "duration": "float64"}


def require(module: str, what: str) -> ModuleType:
    """Import an optional library, or say which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ModuleNotFoundError(
            f"{what} needs {module.partition('.')[0]}, which is not installed: {EXTRA}",
            name=module,
        ) from None


def to_dataframe(table: ResultsTable) -> Any:
    """One DataFrame row per table row, one column per table column (keyed `params.x`,
    `result.y`, `status`, as MLflow's search_runs names them), typed by the column kinds."""
    pd = require("pandas", "to_dataframe()")
    frame = pd.DataFrame.from_records(table.records(), columns=[c.key for c in table.columns])
    for column in table.columns:
        dtype = _DTYPES.get(column.kind)
        if dtype is not None:
            frame[column.key] = frame[column.key].astype(dtype)
        elif column.kind == "status":
            frame[column.key] = frame[column.key].map(lambda s: None if s is None else str(s))
    if not table.by_point:
        # The full run id (the table's `run` column is shortened for reading), for runner.get.
        frame.index = pd.Index([row.run_id for row in table.rows], name="run")
        frame = frame.drop(columns=["run"], errors="ignore")
    return frame


def plot(table: ResultsTable, x: str, y: str, by: str | None = None, ax: Any = None) -> Any:
    """y against x: the mean over the runs at each x with a band of one standard deviation,
    one line per value of `by` if given. Whatever else varies between those runs (repeats,
    other params) is averaged over, and the title says what it was; returns the Axes."""
    require("matplotlib", "plot()")
    import matplotlib.pyplot as plt

    x_column, y_column = table.column(x), table.column(y)
    by_column = table.column(by) if by is not None else None
    if by_column is not None and by_column.key == x_column.key:
        raise UsageError(f"by={by!r} is the x axis itself: choose another column to split by")
    frame = to_dataframe(table).reset_index()
    frame = frame[frame[y_column.key].notna()]
    # Lists and mappings (a param `[1, 2]`) are grouped by their JSON: pandas cannot hash them.
    keys = frame.apply(lambda column: column.map(_hashable))
    if ax is None:
        _, ax = plt.subplots()
    groups = (
        [(None, frame)]
        if by_column is None
        else [
            (value, frame.loc[rows.index])
            for value, rows in keys.groupby(by_column.key, sort=True, dropna=False)
        ]
    )
    xs_all: list[Any] = []
    for value, part in groups:
        grouped = part.groupby(x_column.key)[y_column.key].agg(["mean", "std"])
        grouped["std"] = grouped["std"].fillna(0.0)
        xs = grouped.index.to_numpy()
        xs_all.extend(xs)
        label = (
            f"mean of {y_column.name}" if by_column is None else f"{by_column.name}={_shown(value)}"
        )
        (line,) = ax.plot(xs, grouped["mean"], marker="o", label=label)
        ax.fill_between(
            xs,
            grouped["mean"] - grouped["std"],
            grouped["mean"] + grouped["std"],
            alpha=0.25,
            color=line.get_color(),
            label="\u00b1 1 std" if by_column is None else None,
        )
    numeric = x_column.kind in ("integer", "number") and len(set(xs_all)) > 1
    if numeric and min(xs_all) > 0 and max(xs_all) / min(xs_all) >= 100:  # orders of magnitude
        ax.set_xscale("log")
    ax.set_xlabel(x_column.name)
    ax.set_ylabel(y_column.name)
    split = "" if by_column is None else f", one line per {by_column.name}"
    ax.set_title(
        f"{y_column.name} by {x_column.name}{split}\n{_averaged(table, keys, x_column, by_column)}"
    )
    ax.legend(title=by_column.name if by_column is not None else None)
    return ax


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, list | dict) else value


def _averaged(table: ResultsTable, frame: Any, x: Column, by: Column | None) -> str:
    """What each point is the mean over: 'mean over 3 seed repeats and kernel', or 'one run
    per point' when nothing is. `frame`: the table's values, lists and mappings as JSON."""
    kept = [x.key] + ([by.key] if by is not None else [])
    params = [c for c in table.columns if c.group == "params"]
    # A param counts when it varies among the runs of one point: not one that follows x.
    points = frame.groupby(kept, dropna=False)
    what = [
        c.name
        for c in params
        if c.key not in kept and points[c.key].nunique(dropna=False).max() > 1
    ]
    if params:
        per_point = frame.groupby([c.key for c in params], dropna=False).size()
    else:
        per_point = frame.groupby(lambda _: 0).size()
    most, least = (int(per_point.max()), int(per_point.min())) if len(per_point) else (0, 0)
    if most > 1:
        repeats = f"{most} seed repeats" if most == least else f"up to {most} seed repeats"
        what.insert(0, repeats)
    if not what:
        return "one run per point"
    listed = what[0] if len(what) == 1 else ", ".join(what[:-1]) + " and " + what[-1]
    return f"mean over {listed}"


def _shown(value: Any) -> str:
    """A value of the `by` column as a legend names it: text (and lists and mappings, already
    JSON) as is, others as JSON."""
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    return json.dumps(value, default=str)


# Past this many points in all, each curve longer than THINNED_TO points is thinned to about
# that many (1,000 parts' lowest and highest: two a pixel column of a default figure, which
# looks the same). Below it nothing is thinned. Measured with the PNG a notebook shows: one
# noisy curve of 100,000 points draws in 0.18 s whole; 10 of them take 0.7-0.85 s whole,
# 0.13-0.23 s thinned to 2,000 each (thinned to 20,000, no faster than whole: matplotlib's own
# path simplification does as well there). bench/curves.py times it end to end.
DRAWN = 200_000
THINNED_TO = 2_000
# At most this many distinct values of a numeric `by` get a legend; more get a colour bar.
LEGEND_VALUES = 10


def metrics_frame(
    series: Sequence[Series], values: Mapping[str, Mapping[str, Any]], params: Sequence[Column]
) -> Any:
    """A long DataFrame of points, one row each: `run` (its id), the `params` columns (run id
    -> its row's values by column key, in `values`), `metric`, `step`, `value`, `time` (Unix
    seconds), in the order of `series` (a run's keys, each in the order logged). `run` and
    `metric` are categorical; the arrays are concatenated once, never a Python object a point."""
    pd = require("pandas", "metrics()")
    import numpy as np

    runs = list(dict.fromkeys(s.run_id for s in series))
    keys = sorted({s.key for s in series})
    run_code = {run: n for n, run in enumerate(runs)}
    key_code = {key: n for n, key in enumerate(keys)}
    lengths = np.fromiter((len(s.steps) for s in series), dtype=np.int64, count=len(series))
    by_run = np.repeat(np.array([run_code[s.run_id] for s in series], dtype=np.int64), lengths)
    by_key = np.repeat(np.array([key_code[s.key] for s in series], dtype=np.int64), lengths)
    frame: dict[str, Any] = {"run": pd.Categorical.from_codes(by_run, categories=runs)}
    for column in params:
        per_run = pd.Series(
            [values.get(run, {}).get(column.key) for run in runs],
            dtype=_DTYPES.get(column.kind, object),
        )
        frame[column.key] = per_run.take(by_run).reset_index(drop=True)
    frame["metric"] = pd.Categorical.from_codes(by_key, categories=keys)
    frame["step"] = _joined(np, [s.steps for s in series], np.int64)
    frame["value"] = _joined(np, [s.values for s in series], np.float64)
    frame["time"] = _joined(np, [s.times for s in series], np.float64)
    return pd.DataFrame(frame)


def _joined(np: Any, arrays: Sequence[Any], dtype: Any) -> Any:
    """Packed arrays (array.array) end to end, as one numpy array (each read in place)."""
    if not arrays:
        return np.empty(0, dtype=dtype)
    return np.concatenate([np.frombuffer(a, dtype=dtype) for a in arrays])


def plot_metric(
    ax: Any,
    series: Sequence[Series],
    key: str,
    *,
    by: Column | None = None,
    values: Mapping[str, Any] | None = None,
) -> Any:
    """One curve per run (`series`: one metric's), value against step. With `by`, each run's
    colour says its value of that column (`values`: run id -> value, for every run of the
    launch, so that colours stay put while runs start): a legend of the values, or for more
    than LEGEND_VALUES numbers a colour bar; without, a colour per run. Returns the Axes."""
    require("matplotlib", "plot_metric()")
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    values = values or {}
    drawn = sum(len(s.steps) for s in series)
    most = THINNED_TO if drawn > DRAWN else None
    colour, legend, bar = _palette(by, values, [s.run_id for s in series])
    first: dict[str, Any] = {}  # run id -> its first line
    thin = False
    for s in series:
        steps = np.frombuffer(s.steps, dtype=np.int64)
        points = np.frombuffer(s.values, dtype=np.float64)
        if most is not None and len(points) > most:
            steps, points = thinned(steps, points, most)
            thin = True
        (line,) = ax.plot(steps, points, color=colour(s.run_id))
        first.setdefault(s.run_id, line)
    if bar is not None:
        ax.figure.colorbar(bar, ax=ax, label=by.name if by is not None else None)
    elif legend:
        ax.legend(
            [first[run] for run, _ in legend],
            [label for _, label in legend],
            title=by.name if by is not None else None,
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step")
    ax.set_ylabel(key)
    runs = len({s.run_id for s in series})
    what = f"{key}: {runs} run{'' if runs == 1 else 's'}" if runs else f"{key}: no points yet"
    if by is not None:
        what += f", coloured by {by.name}"
    if thin:
        what += f"\n(curves past {most:,} points thinned: each part's lowest and highest kept)"
    ax.set_title(what)
    return ax


def thinned(steps: Any, values: Any, most: int) -> tuple[Any, Any]:
    """About `most` of a curve's points: its first and last, and the lowest and the highest
    of each of most/2 parts of equal length, in order, so that spikes stay drawn (NaN points
    are neither). Numpy arrays in, numpy arrays out."""
    import numpy as np

    n = len(values)
    if n <= most:
        return steps, values
    size = -(-n // max(most // 2, 1))  # points a part
    whole = n - n % size
    parts = values[:whole].reshape(-1, size)
    starts = np.arange(len(parts)) * size
    nan = np.isnan(parts)
    kept = [
        np.array([0, n - 1]),
        starts + np.where(nan, np.inf, parts).argmin(axis=1),
        starts + np.where(nan, -np.inf, parts).argmax(axis=1),
    ]
    if whole < n:  # the last, shorter part
        tail = values[whole:]
        if not np.isnan(tail).all():
            kept.append(whole + np.array([np.nanargmin(tail), np.nanargmax(tail)]))
    index = np.unique(np.concatenate(kept))
    return steps[index], values[index]


def _palette(
    by: Column | None, values: Mapping[str, Any], runs: Sequence[str]
) -> tuple[Callable[[str], Any], list[tuple[str, str]], Any]:
    """(a run's colour; the legend: (run, label) for one run of each value among `runs`, numbers
    by value first, then the others by text; a ScalarMappable for a colour bar, or None).
    Numbers take a colour map over every run's value: evenly spaced by rank when the legend
    names them, else by value (logarithmic when they span two orders of magnitude or more)
    with a colour bar. Other values take the colour cycle in order of first run."""
    import matplotlib as mpl
    import numpy as np

    drawn = list(dict.fromkeys(runs))
    if by is None:
        legend = [(run, run[:8]) for run in drawn] if len(drawn) <= LEGEND_VALUES else []
        return lambda run: f"C{drawn.index(run) % 10}", legend, None
    every: dict[str, Any] = {run: values.get(run) for run in [*values, *drawn]}
    legend = []
    seen: set[Any] = set()
    for run in sorted(drawn, key=lambda run: _order(every[run])):
        if _hashable(every[run]) not in seen:
            seen.add(_hashable(every[run]))
            legend.append((run, f"{by.name}={_shown(every[run])}"))
    numbers = [v for v in every.values() if isinstance(v, int | float) and not isinstance(v, bool)]
    distinct = sorted(set(numbers))
    if len(numbers) == len(every) and len(distinct) > 1:
        low, high = distinct[0], distinct[-1]
        log = low > 0 and high / low >= 100
        norm = mpl.colors.LogNorm(low, high) if log else mpl.colors.Normalize(low, high)
        # viridis without its palest yellows, which a white background swallows
        cmap = mpl.colors.ListedColormap(mpl.colormaps["viridis"](np.linspace(0, 0.86, 220)))
        if len(distinct) > LEGEND_VALUES:
            bar = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
            return lambda run: cmap(norm(every[run])), [], bar
        # Few values, each named in the legend: spread evenly along the map, told apart
        rank = {value: n / (len(distinct) - 1) for n, value in enumerate(distinct)}
        return lambda run: cmap(rank[every[run]]), legend, None
    order = list(dict.fromkeys(_hashable(v) for v in every.values()))
    return lambda run: f"C{order.index(_hashable(every[run])) % 10}", legend, None


def _order(value: Any) -> tuple[int, Any]:
    """Legend order: numbers by value, then the others by their text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return 0, value
    return 1, _shown(value)


def figure_png(figure: Any) -> bytes:
    """A matplotlib Figure as PNG bytes (Agg: no GUI, safe in a thread of its own)."""
    import io

    out = io.BytesIO()
    figure.savefig(out, format="png", bbox_inches="tight")
    return out.getvalue()
