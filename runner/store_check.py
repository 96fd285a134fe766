"""`runner store check`: what state a run store is in, read without changing it."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runner.store import DB_NAME, MIGRATIONS, default_home, file_problem, missing_tables

SHOWN_PROBLEMS = 20  # of integrity_check's findings; a badly damaged file has thousands


@dataclass
class StoreCheck:
    path: str
    exists: bool
    schema_version: int | None = None
    known_version: int = len(MIGRATIONS)
    integrity: list[str] = field(default_factory=list)  # ["ok"] when SQLite finds nothing
    launches: int | None = None
    runs: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "usable": self.usable}


def check(home: Path | str | None = None) -> StoreCheck:
    """The store's schema version, SQLite's integrity_check, and its launches and runs by
    status. Opened read-only: a check never creates, migrates or repairs a store."""
    path = (Path(home) if home is not None else default_home()) / DB_NAME
    found = StoreCheck(str(path), exists=path.exists())
    if not found.exists:
        return found
    problem = file_problem(path)
    if problem:
        found.problems.append(f"the file {problem}")
        return found
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
    except sqlite3.Error as exc:
        found.problems.append(f"cannot be opened: {exc}")
        return found
    try:
        _inspect(db, found)
    except sqlite3.DatabaseError as exc:
        found.problems.append(f"{_what(exc)}: {exc}")
    finally:
        db.close()
    return found


def _inspect(db: sqlite3.Connection, found: StoreCheck) -> None:
    (found.schema_version,) = db.execute("PRAGMA user_version").fetchone()
    found.integrity = [
        row[0] for row in db.execute(f"PRAGMA integrity_check({SHOWN_PROBLEMS})").fetchall()
    ]
    if found.integrity != ["ok"]:
        found.problems.append("SQLite's integrity check found damaged pages or indexes")
    if found.schema_version > len(MIGRATIONS):
        found.problems.append(
            f"schema version {found.schema_version} is newer than this runner knows"
            f" ({len(MIGRATIONS)}): upgrade runner to use it"
        )
        return
    missing = missing_tables(db) if found.schema_version == len(MIGRATIONS) else []
    if missing:
        found.problems.append(f"tables missing: {', '.join(missing)}")
    if "launches" in missing or "runs" in missing or found.schema_version == 0:
        return
    (found.launches,) = db.execute("SELECT COUNT(*) FROM launches").fetchone()
    rows = db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status ORDER BY status")
    found.runs = dict(rows.fetchall())


def _what(exc: sqlite3.DatabaseError) -> str:
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith("SQLITE_NOTADB"):
        return "not an SQLite database"
    if name.startswith("SQLITE_CORRUPT"):
        return "damaged"
    return "cannot be read"


def report(found: StoreCheck) -> str:
    """The check as a person reads it."""
    if not found.exists:
        return f"no run store at {found.path} (nothing recorded there yet)"
    rows = [("store", found.path)]
    if found.schema_version is not None:
        known = f"this runner knows {found.known_version}"
        rows.append(("schema", f"version {found.schema_version} ({known})"))
    if found.integrity:
        rows.append(("integrity", "ok" if found.integrity == ["ok"] else ""))
        rows.extend(("", line) for line in found.integrity if found.integrity != ["ok"])
    if found.launches is not None:
        rows.append(("launches", str(found.launches)))
        runs = ", ".join(f"{n:,} {status}" for status, n in found.runs.items()) or "none"
        rows.append(("runs", f"{sum(found.runs.values())} ({runs})"))
    rows.extend(("problem", problem) for problem in found.problems)
    lines = [f"{key:<9}  {value}".rstrip() for key, value in rows]
    lines.append("usable" if found.usable else "UNUSABLE: runner refuses to read or write it")
    return "\n".join(lines)
