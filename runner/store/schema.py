"""A run store's SQLite file: its schema (MIGRATIONS), opening and migrating it, telling a
damaged or foreign file, and the write transaction the other parts use."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from runner.errors import StoreError, StoreUnusable
from runner.records import IndexPlan, Provenance, RunStatus

DB_NAME = "runner.db"

# Each entry moves the schema one version up; PRAGMA user_version says how far a store is.
# Add new entries at the end; never edit one that has shipped.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE launches (
        id TEXT PRIMARY KEY,
        created REAL NOT NULL,
        workflow_id TEXT NOT NULL,
        workflow_version TEXT NOT NULL,
        name TEXT,
        tags TEXT NOT NULL,
        notes TEXT,
        seed INTEGER NOT NULL,
        repeat INTEGER NOT NULL,
        labels TEXT NOT NULL,
        annotations TEXT NOT NULL,
        env TEXT NOT NULL,
        launcher TEXT NOT NULL,
        addr TEXT,
        definition TEXT NOT NULL,
        pid INTEGER NOT NULL,
        run_count INTEGER NOT NULL
    );
    CREATE INDEX launches_created ON launches(created);
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        launch_id TEXT NOT NULL REFERENCES launches(id),
        parent_id TEXT,
        idx INTEGER NOT NULL,
        workflow_id TEXT NOT NULL,
        workflow_version TEXT NOT NULL,
        params TEXT NOT NULL,
        seed INTEGER NOT NULL,
        status TEXT NOT NULL,
        created REAL NOT NULL,
        started REAL,
        ended REAL,
        result TEXT,
        error TEXT,
        traceback TEXT,
        run_dir TEXT
    );
    CREATE INDEX runs_launch ON runs(launch_id, idx);
    CREATE INDEX runs_launch_status ON runs(launch_id, status);
    """,
    # 2: the execution engine: resume needs each run's entrypoint and the project root; a
    # reused pid must not pass for a live launcher; attempts and the cache are recorded.
    """
    ALTER TABLE launches ADD COLUMN project_root TEXT NOT NULL DEFAULT '';
    ALTER TABLE launches ADD COLUMN pid_start TEXT NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN entrypoint TEXT NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN cache_key TEXT;
    ALTER TABLE runs ADD COLUMN cached_from TEXT;
    CREATE INDEX runs_cache ON runs(cache_key) WHERE cache_key IS NOT NULL;
    CREATE TABLE attempts (
        run_id TEXT NOT NULL REFERENCES runs(id),
        attempt INTEGER NOT NULL,
        status TEXT NOT NULL,
        started REAL NOT NULL,
        ended REAL NOT NULL,
        error TEXT,
        traceback TEXT,
        PRIMARY KEY (run_id, attempt)
    );
    """,
    # 3: `runner register`: a workflow's declaration and source, kept as a version.
    """
    CREATE TABLE snapshots (
        workflow_id TEXT NOT NULL,
        version TEXT NOT NULL,
        declaration TEXT NOT NULL,
        archive BLOB NOT NULL,
        created REAL NOT NULL,
        PRIMARY KEY (workflow_id, version)
    );
    """,
    # 4: every finished run rewrote an entry of this index too, a third of the cost of
    # recording its outcome; counting a launch's statuses reads the rows through runs_launch.
    """
    DROP INDEX runs_launch_status;
    """,
    # 5: `runner cancel` from any process: a request the launching process polls for (run_id
    # NULL: the whole launch). The canceller records the runs cancelled in the same
    # transaction; the launcher only stops their work.
    """
    CREATE TABLE cancels (
        id INTEGER PRIMARY KEY,
        launch_id TEXT NOT NULL REFERENCES launches(id),
        run_id TEXT,
        requested REAL NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX cancels_launch ON cancels(launch_id, id);
    """,
    # 6: a million runs, and runs on a cluster. `plan`: a launch swept over params set at
    # their paths keeps its base params and its axes once (JSON); its runs' params column is
    # then '' and a run's params follow from its index. `result_ref`: a big result kept in a
    # file of its own (the path, relative to the store's home), not as JSON in the row.
    # `host` and `worker`: where a run ran (a Dask worker's address; empty for local runs).
    """
    ALTER TABLE launches ADD COLUMN plan TEXT;
    ALTER TABLE runs ADD COLUMN result_ref TEXT;
    ALTER TABLE runs ADD COLUMN host TEXT;
    ALTER TABLE runs ADD COLUMN worker TEXT;
    """,
    # 7: the host of the process that runs a launch (its pid is only meaningful there), so
    # `runner status LAUNCH` can say "running in pid N on HOST".
    """
    ALTER TABLE launches ADD COLUMN host TEXT NOT NULL DEFAULT '';
    """,
    # 8: where a launch's runs came from (records.Provenance as JSON), once per launch: the
    # hash of the code each workflow runs, git commit and dirty tree, Python and package
    # versions. A run's is its launch's (NULL: recorded before).
    """
    ALTER TABLE launches ADD COLUMN provenance TEXT;
    """,
    # 9: runs you can watch. `pid`: the process a running run runs in (a Dask worker's
    # address is `worker`). `metrics`: one row per run and key logged with runner.log, the
    # summary every table reads (count, last, min, max: NaN is left out of min and max);
    # `started` is the start of the execution that logged it (a run executed again, by a
    # retry or `resume`, logs afresh). `metric_chunks`: the points, as packed arrays (int64
    # steps, float64 values and times), one row per key each time a worker sent them.
    """
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    CREATE TABLE metrics (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        started REAL NOT NULL,
        count INTEGER NOT NULL,
        last REAL,
        last_step INTEGER NOT NULL,
        last_seq INTEGER NOT NULL DEFAULT -1,
        min REAL,
        max REAL,
        updated REAL NOT NULL,
        UNIQUE (run_id, key)
    );
    CREATE TABLE metric_chunks (
        metric INTEGER NOT NULL REFERENCES metrics(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        steps BLOB NOT NULL,
        vals BLOB NOT NULL,
        times BLOB NOT NULL,
        PRIMARY KEY (metric, seq)
    ) WITHOUT ROWID;
    """,
]

# The tables the last migration leaves; a store without one of them is damaged.
TABLES = ("launches", "runs", "attempts", "snapshots", "cancels", "metrics", "metric_chunks")
# A new store is created empty and given its first page at once (the switch to WAL), so an
# empty file this much older than now is not one being created: it is reported.
_CREATION_SECONDS = 5.0

LAUNCH_COLUMNS = (
    "id, created, workflow_id, workflow_version, name, tags, notes, seed, repeat, labels,"
    " annotations, env, launcher, addr, definition, pid, run_count, project_root, pid_start,"
    " host, provenance"
)
RUN_COLUMNS = (
    "id, launch_id, parent_id, idx, workflow_id, workflow_version, params, seed, status,"
    " created, started, ended, result, error, traceback, run_dir, entrypoint, attempts,"
    " cached_from, result_ref, host, worker, pid"
)
# The runs not finished, as stored.
UNFINISHED = (RunStatus.PENDING.value, RunStatus.RUNNING.value)


def damaged(exc: BaseException, path: Path) -> StoreUnusable | None:
    """The error to report for SQLite finding a file damaged or foreign, else None (a lock, a
    full disk and the like stay what they are)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return None
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith("SQLITE_NOTADB"):
        return StoreUnusable(f"the run store {path} is not an SQLite database", hint=MOVE_AWAY)
    if name.startswith("SQLITE_CORRUPT"):
        return StoreUnusable(
            f"the run store {path} is damaged: {exc}",
            hint=f"runner store check tells what is wrong; {MOVE_AWAY}",
        )
    return None


MOVE_AWAY = "move it away to start a new store there (RUNNER_HOME picks another)"


def file_problem(path: Path) -> str | None:
    """What keeps runner from opening this store file, before SQLite is asked to (which
    would create a missing or empty one as a fresh store): None when nothing does."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    if path.is_dir():
        return "is a directory, not a database file"
    if not os.access(path, os.R_OK | os.W_OK):
        return "cannot be read and written (permission denied)"
    while info.st_size == 0:
        if time.time() > info.st_mtime + _CREATION_SECONDS:
            return "is empty (0 bytes), not a run store"
        time.sleep(0.05)  # maybe another process is creating it right now
        info = path.stat()
    return None


def default_home() -> Path:
    return Path(os.environ.get("RUNNER_HOME") or ".runner")


def missing_tables(db: sqlite3.Connection) -> list[str]:
    found = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return [table for table in TABLES if table not in found]


class Database:
    """A store's SQLite file opened (WAL, so readers never block the launcher), its schema
    brought up to date; what its writes and reads share."""

    def __init__(self, home: Path | str | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.path = self.home / DB_NAME
        # A launch records its runs from the thread joblib dispatches them in while its
        # outcomes are written from another: one transaction at a time on the connection.
        self._lock = threading.RLock()
        # launch id -> what makes its runs' params from their indexes (None: stored whole)
        self._plans: dict[str, IndexPlan | None] = {}
        self._planned: dict[str, bool] = {}  # launch id -> whether it has a plan
        self._shares: dict[str, tuple[str | None, str, str, str]] = {}  # see rows._shared
        # (launch id, workflow id, version) -> (the launch's provenance, the workflow's code)
        self._origins: dict[tuple[str, str, str], tuple[Provenance | None, str | None]] = {}
        problem = file_problem(self.path)
        if problem:
            raise StoreUnusable(f"the run store {self.path} {problem}", hint=MOVE_AWAY)
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            # A Launch reads its runs lazily, maybe from another thread than the one that ran it.
            self._db = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            # A connection and its statement cache refer to each other, so without a close
            # it lasts until a cyclic collection (at worst the process's end, where the CLI
            # skips them). It is closed when this Store goes, or at exit.
            self._closer = weakref.finalize(self, self._db.close)
            self._check_version()
            self._wal()
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except OSError as exc:  # RUNNER_HOME names a file, a place one cannot write...
            raise StoreUnusable(
                f"the run store {self.path} cannot be created: {exc.strerror}",
                hint="RUNNER_HOME names the folder that holds it",
            ) from None
        except sqlite3.Error as exc:
            unusable = damaged(exc, self.path)
            if unusable:
                raise unusable from None
            if "unable to open" in str(exc):
                raise StoreUnusable(f"the run store {self.path} cannot be opened: {exc}") from None
            raise StoreError(f"cannot open the run store at {self.path}: {exc}") from exc

    def _wal(self) -> None:
        """Switch a new store to WAL. The switch takes an exclusive lock without waiting on
        the busy timeout, so a second process creating the same store retries it."""
        deadline = time.monotonic() + 30.0
        while True:
            try:
                if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    @classmethod
    def existing(cls, home: Path | str | None = None) -> Self | None:
        """The store if one was ever created here; reading commands never create one."""
        home = Path(home) if home is not None else default_home()
        return cls(home) if (home / DB_NAME).exists() else None

    def close(self) -> None:
        self._closer()

    def data_version(self) -> int:
        """Changes when another connection commits to the store (SQLite's data_version):
        a reader that keeps one Store can tell at no cost whether anything was written."""
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def run_dir(self, run_id: str) -> Path:
        return self.home / "runs" / run_id

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            unusable = damaged(exc, self.path)
            if unusable:
                raise unusable from None
            raise StoreError(f"cannot write the run store at {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        """Apply the missing migrations, each in its own write transaction. The version is read
        inside the transaction, so two processes opening a new store never both migrate it."""
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version == len(MIGRATIONS):
            self._check_tables(version)
            return
        while version < len(MIGRATIONS):
            try:
                with self._transaction() as db:
                    (version,) = db.execute("PRAGMA user_version").fetchone()
                    if version >= len(MIGRATIONS):
                        return
                    for statement in MIGRATIONS[version].split(";"):
                        if statement.strip():
                            db.execute(statement)
                    version += 1
                    db.execute(f"PRAGMA user_version = {version}")
            except StoreError as exc:
                if "locked" in str(exc.__cause__):
                    raise
                # The tables of an older version are not what the next migration expects.
                raise StoreUnusable(
                    f"the run store {self.path} cannot be brought from schema version"
                    f" {version} to {version + 1}: {exc.__cause__}",
                    hint=MOVE_AWAY,
                ) from None

    def _check_version(self) -> None:
        """Refuse a store written by a newer runner before anything reads or writes it:
        reading could misread it, writing could damage it."""
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version > len(MIGRATIONS):
            raise StoreUnusable(
                f"the run store {self.path} has schema version {version}, newer than this"
                f" runner knows ({len(MIGRATIONS)})",
                hint="upgrade runner (pip install -U runner-launch) to use this store",
            )

    def _check_tables(self, version: int) -> None:
        missing = missing_tables(self._db)
        if missing:
            raise StoreUnusable(
                f"the run store {self.path} has no table {', '.join(missing)}"
                f" (schema version {version})",
                hint=MOVE_AWAY,
            )
