"""Results tables as pandas DataFrames and matplotlib plots (the optional `notebook` extra)."""

from __future__ import annotations

import importlib
import json
import math
from types import ModuleType
from typing import TYPE_CHECKING, Any

from runner.errors import UsageError

if TYPE_CHECKING:
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
