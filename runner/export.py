"""A results table written out: CSV for spreadsheets, exact JSON, Markdown, Parquet (pyarrow)."""

from __future__ import annotations

import json
from typing import IO, TYPE_CHECKING, Any

from runner.errors import UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from runner.results import ResultsTable

FORMATS = ("table", "csv", "json", "markdown", "parquet")
PARQUET_EXTRA = "pip install 'runner-launch[parquet]'"


def to_csv(table: ResultsTable, out: IO[str]) -> None:
    """One header row of dotted column keys, then exact values (JSON for lists and dicts,
    whole run and launch ids), so a spreadsheet opens it as it is and the csv module reads
    it back. An empty cell is a missing value or None, as pandas.read_csv reads both."""
    import csv

    writer = csv.writer(out, lineterminator="\n")
    keys = [column.key for column in table.columns]
    writer.writerow(keys)
    writer.writerows(
        [_csv_cell(record[key]) for key in keys] for record in table.records(full_ids=True)
    )


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return value  # csv writes repr(float): the shortest text that reads back exactly
    return json.dumps(value, default=str)


def to_json(table: ResultsTable, out: IO[str]) -> None:
    """Exact values; pretty, with one row a line: indented JSON goes through the json
    module's pure-Python encoder, five times slower on 10,000 rows than its C one."""
    data = table.to_json(full_ids=True)
    rows = data.pop("rows")
    head = json.dumps(data, indent=2, default=str)
    out.write(head[: -len("\n}")] + ',\n  "rows": [\n')
    encode = json.JSONEncoder(default=str).encode
    out.write(",\n".join("    " + encode(row) for row in rows))
    out.write("\n  ]\n}\n")


def to_markdown(table: ResultsTable, out: IO[str]) -> None:
    """A GitHub-flavoured Markdown table of the values as people read them."""
    if table.fixed:
        out.write(f"fixed: {_md(table.fixed_text())}\n\n")
    numeric = ("integer", "number", "duration")
    out.write("| " + " | ".join(_md(column.name) for column in table.columns) + " |\n")
    out.write("|" + "|".join("---:" if c.kind in numeric else "---" for c in table.columns) + "|\n")
    for row in table.rows:
        out.write("| " + " | ".join(_md(table.cell(row, c)) for c in table.columns) + " |\n")


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_parquet(table: ResultsTable, path: Path) -> None:
    """Typed Parquet columns; lists, dicts and mixed columns as JSON text."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(
            f"--format parquet needs pyarrow, which is not installed: {PARQUET_EXTRA}"
        ) from None
    records = table.records(full_ids=True)
    data: dict[str, list[Any]] = {}
    for column in table.columns:
        values = [record[column.key] for record in records]
        if column.kind == "json":
            values = [None if v is None else json.dumps(v, default=str) for v in values]
        elif column.kind == "number":
            values = [None if v is None else float(v) for v in values]
        data[column.key] = values
    pq.write_table(pa.table(data), str(path))
