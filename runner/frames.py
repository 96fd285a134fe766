"""Results tables as pandas DataFrames and matplotlib plots (the optional `notebook` extra)."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.results import ResultsTable

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


def plot(table: ResultsTable, x: str, y: str, ax: Any = None) -> Any:
    """y against x, the mean over the runs at each x with a band of one standard
    deviation (repeats); returns the matplotlib Axes."""
    require("matplotlib", "plot()")
    import matplotlib.pyplot as plt

    x_column, y_column = table.column(x), table.column(y)
    frame = to_dataframe(table).reset_index()
    frame = frame[frame[y_column.key].notna()]
    grouped = frame.groupby(x_column.key)[y_column.key].agg(["mean", "std", "count"])
    grouped["std"] = grouped["std"].fillna(0.0)
    if ax is None:
        _, ax = plt.subplots()
    xs = grouped.index.to_numpy()
    ax.plot(xs, grouped["mean"], marker="o", label=f"mean of {y_column.name}")
    ax.fill_between(
        xs,
        grouped["mean"] - grouped["std"],
        grouped["mean"] + grouped["std"],
        alpha=0.25,
        label="\u00b1 1 std",
    )
    numeric = x_column.kind in ("integer", "number") and len(xs) > 1 and xs.min() > 0
    if numeric and xs.max() / xs.min() >= 100:  # a sweep over orders of magnitude
        ax.set_xscale("log")
    ax.set_xlabel(x_column.name)
    ax.set_ylabel(y_column.name)
    most = int(grouped["count"].max()) if len(grouped) else 0
    ax.set_title(f"{y_column.name} by {x_column.name} ({most} runs per point)")
    ax.legend()
    return ax
