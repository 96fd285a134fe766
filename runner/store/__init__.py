"""The SQLite store of launches and runs, under RUNNER_HOME (default ./.runner/).

`Store` is one object to its callers, made of parts a reader can take one at a time:
`schema` (the file, its migrations, opening it, a damaged file told), `writes`, `reads`,
`rows` (decoding rows into records) and `processes` (which process runs a launch)."""

from __future__ import annotations

from runner.store.processes import launcher_alive, process_start, this_host
from runner.store.reads import Reads
from runner.store.schema import (
    DB_NAME,
    MIGRATIONS,
    TABLES,
    damaged,
    default_home,
    file_problem,
    missing_tables,
)
from runner.store.writes import Writes

__all__ = [
    "DB_NAME",
    "MIGRATIONS",
    "TABLES",
    "Store",
    "damaged",
    "default_home",
    "file_problem",
    "launcher_alive",
    "missing_tables",
    "process_start",
    "this_host",
]


class Store(Writes, Reads):
    """Launches and runs in one SQLite file (WAL, so readers never block the launcher)."""
