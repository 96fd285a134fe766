"""The SQLite store of launches and runs, under RUNNER_HOME (default ./.runner/)."""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runner.errors import StoreError, StoreUnusable, UsageError
from runner.records import (
    _UNLOADED,
    Done,
    IndexPlan,
    LaunchRecord,
    Provenance,
    RunBlock,
    RunOutcome,
    RunRecord,
    RunSpec,
    RunStatus,
    succeeded,
    to_json,
)

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
]

# The tables the last migration leaves; a store without one of them is damaged.
TABLES = ("launches", "runs", "attempts", "snapshots", "cancels")
# A new store is created empty and given its first page at once (the switch to WAL), so an
# empty file this much older than now is not one being created: it is reported.
_CREATION_SECONDS = 5.0

_LAUNCH_COLUMNS = (
    "id, created, workflow_id, workflow_version, name, tags, notes, seed, repeat, labels,"
    " annotations, env, launcher, addr, definition, pid, run_count, project_root, pid_start,"
    " host, provenance"
)
_RUN_COLUMNS = (
    "id, launch_id, parent_id, idx, workflow_id, workflow_version, params, seed, status,"
    " created, started, ended, result, error, traceback, run_dir, entrypoint, attempts,"
    " cached_from, result_ref, host, worker"
)
PAGE = 1000  # rows a streaming read fetches at a time: its memory, whatever the launch
_UNFINISHED = (RunStatus.PENDING.value, RunStatus.RUNNING.value)
# The statuses runner records a run with (not `running`, nor `lost`, which is only shown):
# counted one by one, a comparison a run each; a launch with a run of another status (an
# older runner's `running`) is counted through runs_launch.
_RECORDED = tuple(
    status.value for status in RunStatus if status not in (RunStatus.RUNNING, RunStatus.LOST)
)
# The rowids of a launch's first and last runs in plan order (two lookups in runs_launch).
_ENDS = (
    "SELECT (SELECT rowid FROM runs WHERE launch_id=?1 ORDER BY idx LIMIT 1),"
    " (SELECT rowid FROM runs WHERE launch_id=?1 ORDER BY idx DESC LIMIT 1)"
)
# A launch's runs in a range of rowids, read in table order (`+launch_id`: not through
# runs_launch): how many, and how many of each status (a count each: GROUP BY would sort
# every run, which takes longer than reading them).
_IN_RANGE = (
    "SELECT COUNT(*), "
    + ", ".join(f"COUNT(*) FILTER (WHERE status='{status}')" for status in _RECORDED)
    + " FROM runs WHERE rowid BETWEEN ? AND ? AND +launch_id=?"
)
# When the whole launch was cancelled (runner cancel, Ctrl-C), read with every launch.
_CANCELLED = (
    "(SELECT MIN(requested) FROM cancels WHERE cancels.launch_id = launches.id"
    " AND cancels.run_id IS NULL)"
)


def _stat(pid: int) -> tuple[str, str]:
    """(state, start time in clock ticks since boot) of a process; ('', '') where /proc is not."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return fields[0].decode(), fields[19].decode()
    except (OSError, IndexError):
        return "", ""


def this_host() -> str:
    """The machine's name: an owner's pid (always a process on the machine that writes it)
    is recorded with it."""
    import socket

    return socket.gethostname()


def process_start(pid: int) -> str:
    """When a process started (Linux: clock ticks since boot); '' where it cannot be told."""
    return _stat(pid)[1]


def launcher_alive(pid: int, pid_start: str) -> bool:
    """Whether the process that launched is still running (and is not a reuse of its pid, nor
    a zombie: a detached launcher killed while nobody reaps it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state, start = _stat(pid)
    return state not in ("Z", "X") and (not pid_start or start == pid_start)


def damaged(exc: BaseException, path: Path) -> StoreUnusable | None:
    """The error to report for SQLite finding a file damaged or foreign, else None (a lock, a
    full disk and the like stay what they are)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return None
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith("SQLITE_NOTADB"):
        return StoreUnusable(f"the run store {path} is not an SQLite database", hint=_MOVE_AWAY)
    if name.startswith("SQLITE_CORRUPT"):
        return StoreUnusable(
            f"the run store {path} is damaged: {exc}",
            hint=f"runner store check tells what is wrong; {_MOVE_AWAY}",
        )
    return None


_MOVE_AWAY = "move it away to start a new store there (RUNNER_HOME picks another)"


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


class Store:
    """Launches and runs in one SQLite file (WAL, so readers never block the launcher)."""

    def __init__(self, home: Path | str | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.path = self.home / DB_NAME
        # A launch records its runs from the thread joblib dispatches them in while its
        # outcomes are written from another: one transaction at a time on the connection.
        self._lock = threading.RLock()
        # launch id -> what makes its runs' params from their indexes (None: stored whole)
        self._plans: dict[str, IndexPlan | None] = {}
        self._planned: dict[str, bool] = {}  # launch id -> whether it has a plan
        self._shares: dict[str, tuple[str | None, str, str, str]] = {}  # see _shared
        # (launch id, workflow id, version) -> (the launch's provenance, the workflow's code)
        self._origins: dict[tuple[str, str, str], tuple[Provenance | None, str | None]] = {}
        problem = file_problem(self.path)
        if problem:
            raise StoreUnusable(f"the run store {self.path} {problem}", hint=_MOVE_AWAY)
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
    def existing(cls, home: Path | str | None = None) -> Store | None:
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

    # -- writing ---------------------------------------------------------------------------

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
                    hint=_MOVE_AWAY,
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
                hint=_MOVE_AWAY,
            )

    def record_launch(
        self,
        launch: LaunchRecord,
        specs: Iterable[RunSpec] | None = None,
        plan: dict[str, Any] | None = None,
    ) -> None:
        """The launch, and its runs as pending (`specs`, read as they come), in one
        transaction. `plan`: what makes its runs' params from their indexes (plan.by_index);
        its runs are then recorded with `record_runs`, as they are about to run."""
        with self._transaction() as db:
            db.execute(
                f"INSERT INTO launches ({_LAUNCH_COLUMNS}, plan) VALUES ({', '.join('?' * 22)})",
                (
                    launch.id,
                    launch.created,
                    launch.workflow_id,
                    launch.workflow_version,
                    launch.name,
                    json.dumps(launch.tags),
                    launch.notes,
                    launch.seed,
                    launch.repeat,
                    json.dumps(launch.labels),
                    json.dumps(launch.annotations),
                    json.dumps(launch.env),
                    launch.launcher,
                    launch.addr,
                    json.dumps(launch.definition),
                    launch.pid,
                    launch.run_count,
                    launch.project_root,
                    launch.pid_start,
                    launch.host or this_host(),
                    None if launch.provenance is None else to_json(launch.provenance.to_json()),
                    None if plan is None else to_json(plan),
                ),
            )
            if specs is not None:
                self._insert_runs(db, launch, specs, plan is not None)

    def record_runs(self, launch: LaunchRecord, specs: Iterable[RunSpec]) -> int:
        """Runs of a recorded launch, as pending, in one transaction; returns the rowid of
        the first (the others follow it in order: `record_outcomes` finds them by it)."""
        planned = self._planned.get(launch.id)
        if planned is None:
            row = self._db.execute(
                "SELECT plan IS NOT NULL FROM launches WHERE id=?", (launch.id,)
            ).fetchone()
            planned = self._planned[launch.id] = bool(row and row[0])
        with self._transaction() as db:
            return self._insert_runs(db, launch, specs, planned)

    def record_block(
        self, launch: LaunchRecord, block: RunBlock, done: Sequence[Done | None] = ()
    ) -> int:
        """A block of runs of a launch planned by index (stored with its plan), in one
        transaction; returns the rowid of the first, as record_runs does. `done`: what each
        of its runs did, if anything yet (engine.Recorder records a block once its runs
        are done): a run is written once, finished, rather than pending and again when it
        finishes. Rows are written straight from the block's columns, with no Python code
        per run, when every run succeeded (or none is done)."""
        if block.template.cache:  # each run's cache key is made from its params
            return self.record_runs(launch, block.specs())
        with self._transaction() as db:
            last, status, ended, error = self._insert_start(db, launch)
            first = last + 1
            common = (block.ids, itertools.repeat(launch.id), itertools.count(block.start))
            if status == RunStatus.PENDING.value and done and set(map(type, done)) == {tuple}:
                # (a run finished after the launch was cancelled is cancelled, as any row
                # recorded then: the cancel was written first)
                started, ended_at, results = zip(*done, strict=True)
                db.executemany(
                    "INSERT INTO runs (rowid, id, launch_id, idx, seed, status, created,"
                    " started, ended, result, attempts, workflow_id, workflow_version, params)"
                    " VALUES (?, ?, ?, ?, ?, 'succeeded', ?, ?, ?, ?, 1, '', '', '')",
                    zip(
                        itertools.count(first),
                        *common,
                        block.seeds,
                        itertools.repeat(launch.created),
                        started,
                        ended_at,
                        results,
                    ),
                )
                return first
            db.executemany(
                "INSERT INTO runs (rowid, id, launch_id, idx, seed, status, created, ended,"
                " error, workflow_id, workflow_version, params)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', '')",
                zip(
                    itertools.count(first),
                    *common,
                    block.seeds,
                    itertools.repeat(status),
                    itertools.repeat(launch.created),
                    itertools.repeat(ended),
                    itertools.repeat(error),
                ),
            )
            if status == RunStatus.PENDING.value and any(d is not None for d in done):
                finished = [
                    (run_id, first + n, d)
                    for n, (run_id, d) in enumerate(zip(block.ids, done, strict=True))
                    if d is not None
                ]
                self._write_finished(db, finished, 1)
            return first

    def _insert_start(
        self, db: sqlite3.Connection, launch: LaunchRecord
    ) -> tuple[int, str, float | None, str | None]:
        """(the last rowid, and the status, ended and error of runs recorded now)."""
        (last,) = db.execute("SELECT IFNULL(MAX(rowid), 0) FROM runs").fetchone()
        # Runs recorded after their launch was cancelled (a streamed launch records them as
        # they are about to run) are recorded cancelled, for the same reason: the cancel and
        # this insert are two write transactions, so one of them sees the other.
        cancel = db.execute(
            "SELECT requested, reason FROM cancels WHERE launch_id=? AND run_id IS NULL"
            " ORDER BY id LIMIT 1",
            (launch.id,),
        ).fetchone()
        if cancel:
            return int(last), "cancelled", cancel[0], cancel[1]
        return int(last), "pending", None, None

    def _insert_runs(
        self, db: sqlite3.Connection, launch: LaunchRecord, specs: Iterable[RunSpec], by_index: bool
    ) -> int:
        last, status, ended, error = self._insert_start(db, launch)
        parent = launch.id if launch.has_parent else None
        created, launch_id = launch.created, launch.id
        if by_index:
            # A run of a launch planned by index keeps only what is its own: its params
            # (''), workflow, entrypoint and parent are its launch's (see _run). Half the
            # bytes of a full row, and a third less time to insert.
            db.executemany(
                "INSERT INTO runs (rowid, id, launch_id, idx, seed, status, created, cache_key,"
                " ended, error, workflow_id, workflow_version, params)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', '')",
                (
                    (
                        last + 1 + n,
                        s.id,
                        launch_id,
                        s.index,
                        s.seed,
                        status,
                        created,
                        s.cache_key if s.cache else None,
                        ended,
                        error,
                    )
                    for n, s in enumerate(specs)
                ),
            )
            return int(last + 1)
        # Only the columns a pending run has; the others start NULL or at their default.
        db.executemany(
            "INSERT INTO runs (rowid, id, launch_id, parent_id, idx, workflow_id,"
            " workflow_version, params, seed, status, created, entrypoint, cache_key, ended,"
            " error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    last + 1 + n,
                    s.id,
                    launch_id,
                    parent,
                    s.index,
                    s.workflow_id,
                    s.workflow_version,
                    to_json(s.params),
                    s.seed,
                    status,
                    created,
                    s.entrypoint,
                    s.cache_key if s.cache else None,
                    ended,
                    error,
                )
                for n, s in enumerate(specs)
            ),
        )
        return int(last + 1)

    def record_outcomes(self, outcomes: Iterable[RunOutcome]) -> None:
        """Finished attempts, in one transaction: each run's latest state and its attempt."""
        outcomes = list(outcomes)
        if outcomes:
            with self._transaction() as db:
                self._write_outcomes(db, outcomes, {})

    def record_done(
        self, parts: Iterable[tuple[tuple[Sequence[str], Sequence[int], int], Sequence[Done]]]
    ) -> None:
        """What the runs of batches did (engine.Recorder), in one transaction: each part is
        ((its run ids, their rowids or 0, the attempt), what each run did)."""
        with self._transaction() as db:
            for (run_ids, rows, attempt), done in parts:
                finished = zip(run_ids, rows, done, strict=True)
                self._write_finished(db, finished, attempt)

    def _write_finished(
        self, db: sqlite3.Connection, finished: Iterable[tuple[str, int, Done]], attempt: int
    ) -> None:
        """(run id, rowid or 0, what it did) of runs whose rows exist. A first attempt that
        succeeded and left no files (most runs) is one short write, by rowid when known;
        anything else is written as a RunOutcome."""
        by_row: list[tuple[Any, ...]] = []
        by_id: list[tuple[Any, ...]] = []
        outcomes: list[RunOutcome] = []
        rows: dict[str, int] = {}
        for run_id, row, d in finished:
            if not isinstance(d, tuple) or attempt > 1:
                # (after an earlier attempt of its run: written in order, with it)
                outcomes.append(succeeded(run_id, d, attempt) if isinstance(d, tuple) else d)
                rows[run_id] = row
            elif row:
                by_row.append((*d, 1, row))
            else:
                by_id.append((*d, 1, run_id))
        self._write_succeeded(db, by_row, by_id)
        if outcomes:
            self._write_outcomes(db, outcomes, rows)

    @staticmethod
    def _write_succeeded(
        db: sqlite3.Connection, by_row: list[tuple[Any, ...]], by_id: list[tuple[Any, ...]]
    ) -> None:
        # (started, ended, result, attempts, rowid or id). A run cancelled meanwhile
        # (`runner cancel`, from any process) keeps that status: every run ends with one
        # final status, whichever was written first.
        if by_row:
            db.executemany(
                "UPDATE runs SET status='succeeded', started=?, ended=?, result=?, attempts=?"
                " WHERE rowid=? AND status != 'cancelled'",
                by_row,
            )
        if by_id:
            db.executemany(
                "UPDATE runs SET status='succeeded', started=?, ended=?, result=?, attempts=?"
                " WHERE id=? AND status != 'cancelled'",
                by_id,
            )

    def _write_outcomes(
        self, db: sqlite3.Connection, outcomes: list[RunOutcome], rows: dict[str, int]
    ) -> None:
        """`rows`: run id -> rowid, for the runs whose rowid the caller knows (0: unknown)."""
        # A batch may hold several attempts of one run: its row takes the last one.
        latest = {o.run_id: o for o in outcomes}.values()
        # A plain success (no folder, not on a cluster, so no result file either) takes the
        # shorter write.
        plain = [
            o
            for o in latest
            if o.status is RunStatus.SUCCEEDED and o.run_dir is None and o.host is None
        ]
        other = [
            o
            for o in latest
            if not (o.status is RunStatus.SUCCEEDED and o.run_dir is None and o.host is None)
        ]
        self._write_succeeded(
            db,
            [
                (o.started, o.ended, o.result_json, o.attempt, rows[o.run_id])
                for o in plain
                if rows.get(o.run_id)
            ],
            [
                (o.started, o.ended, o.result_json, o.attempt, o.run_id)
                for o in plain
                if not rows.get(o.run_id)
            ],
        )
        db.executemany(
            "UPDATE runs SET status=?, started=?, ended=?, result=?, error=?, traceback=?,"
            " run_dir=?, attempts=?, cached_from=?, result_ref=?, host=?, worker=?"
            " WHERE id=? AND status != 'cancelled'",
            (
                (
                    o.status.value,
                    o.started,
                    o.ended,
                    o.result_json,
                    o.error,
                    o.traceback,
                    o.run_dir,
                    o.attempt,
                    o.cached_from,
                    self._ref(o.result_ref),
                    o.host,
                    o.worker,
                    o.run_id,
                )
                for o in other
            ),
        )
        # The runs row is the record of a run's last attempt; attempts holds the history of
        # runs that took more than one (each failed attempt, and the last of a retried run).
        db.executemany(
            "INSERT OR REPLACE INTO attempts"
            " (run_id, attempt, status, started, ended, error, traceback)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (o.run_id, o.attempt, o.status.value, o.started, o.ended, o.error, o.traceback)
                for o in outcomes
                if o.attempt > 1 or not o.status.ok
            ),
        )

    def _ref(self, path: str | None) -> str | None:
        """A result file's path as the store keeps it: relative to its home when under it
        (the worker gives it whole; a cached run reuses the stored one)."""
        if not path or not os.path.isabs(path):
            return path
        home = os.path.join(os.path.realpath(self.home), "")
        real = os.path.realpath(path)
        return real[len(home) :] if real.startswith(home) else path

    def cancel_unfinished(self, launch_id: str, reason: str = "interrupted") -> int:
        """Runs of the launch that never finished become cancelled; returns how many."""
        with self._transaction() as db:
            cur = db.execute(
                "UPDATE runs SET status=?, ended=?, error=? WHERE launch_id=? AND status IN (?, ?)",
                (RunStatus.CANCELLED.value, time.time(), reason, launch_id, *_UNFINISHED),
            )
            return cur.rowcount

    def cancel(self, launch_id: str, run_id: str | None, reason: str) -> int:
        """Record the launch's unfinished runs (or the one run) cancelled and, if there were
        any, the request its launching process polls for to stop their work; returns how many
        runs were cancelled. One transaction: two cancels at once cancel each run once."""
        now = time.time()
        with self._transaction() as db:
            if run_id is None:
                cur = db.execute(
                    "UPDATE runs SET status=?, ended=?, error=? WHERE launch_id=?"
                    " AND status IN (?, ?)",
                    (RunStatus.CANCELLED.value, now, reason, launch_id, *_UNFINISHED),
                )
            else:
                cur = db.execute(
                    "UPDATE runs SET status=?, ended=?, error=? WHERE id=? AND status IN (?, ?)",
                    (RunStatus.CANCELLED.value, now, reason, run_id, *_UNFINISHED),
                )
            cancelled = cur.rowcount
            if run_id is None:
                # Runs of a streamed launch not recorded yet: its whole-launch cancel (below)
                # makes readers count them cancelled (see fill_counts).
                cancelled += self._unrecorded(db, launch_id)
            if cancelled:
                db.execute(
                    "INSERT INTO cancels (launch_id, run_id, requested, reason) VALUES (?, ?, ?, ?)",
                    (launch_id, run_id, now, reason),
                )
            return cancelled

    @staticmethod
    def _unrecorded(db: sqlite3.Connection, launch_id: str) -> int:
        row = db.execute(
            "SELECT run_count - (SELECT COUNT(*) FROM runs WHERE launch_id=launches.id)"
            " FROM launches WHERE id=?",
            (launch_id,),
        ).fetchone()
        return max(int(row[0]), 0) if row else 0

    def cancel_requests(self, launch_id: str, after: int = 0) -> list[tuple[int, str | None]]:
        """(request id, run id or None for the whole launch) of the requests after `after`."""
        return self._db.execute(
            "SELECT id, run_id FROM cancels WHERE launch_id=? AND id>? ORDER BY id",
            (launch_id, after),
        ).fetchall()

    def owner(self, launch_id: str) -> tuple[int, str]:
        """(pid, start time) of the process that runs the launch."""
        row = self._db.execute(
            "SELECT pid, pid_start FROM launches WHERE id=?", (launch_id,)
        ).fetchone()
        return (row[0], row[1]) if row else (0, "")

    def set_owner(self, launch_id: str, pid: int, pid_start: str) -> None:
        """The process that runs the launch now (a detached launch's background process)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE launches SET pid=?, pid_start=?, host=? WHERE id=?",
                (pid, pid_start, this_host(), launch_id),
            )

    def pending(self, launch_id: str, page: int = 1000) -> Iterator[RunRecord]:
        """The runs of the launch still pending, as stored (never shown lost), in plan order,
        read a page at a time: runs finishing meanwhile are skipped, never read twice."""
        select = f"SELECT {_RUN_COLUMNS} FROM runs"
        for rows in self._pages(select, launch_id, page, 3, "status='pending'"):
            yield from (self._run(row) for row in rows)

    def every_run(self, launch_id: str, page: int = 1000) -> Iterator[RunRecord]:
        """The launch's recorded runs in plan order, read a page at a time."""
        for rows in self._pages(f"SELECT {_RUN_COLUMNS} FROM runs", launch_id, page, 3):
            yield from self._marked_lost([self._run(row) for row in rows])

    def count_pending(self, launch_id: str) -> int:
        return int(
            self._db.execute(
                "SELECT COUNT(*) FROM runs WHERE launch_id=? AND status=?",
                (launch_id, RunStatus.PENDING.value),
            ).fetchone()[0]
        )

    def count_runs(self, launch_id: str) -> int:
        """The runs recorded for the launch (a streamed launch records them as they run)."""
        return int(
            self._db.execute(
                "SELECT COUNT(*) FROM runs WHERE launch_id=?", (launch_id,)
            ).fetchone()[0]
        )

    def index_plan(self, launch_id: str) -> IndexPlan | None:
        """What makes the launch's runs from their indexes, if it was planned so."""
        return self._plan(launch_id)

    def finished(self, launch_id: str, seen: set[str]) -> list[RunOutcome]:
        """The launch's finished runs not in `seen`, as outcomes (what `runner wait` reports)."""
        rows = self._db.execute(
            "SELECT id, status, started, ended, error, attempts FROM runs WHERE launch_id=?"
            " AND status NOT IN (?, ?)",
            (launch_id, *_UNFINISHED),
        )
        return [
            RunOutcome(
                run_id=run_id,
                status=RunStatus(status),
                started=started or ended or 0.0,
                ended=ended or 0.0,
                error=error,
                attempt=attempts,
            )
            for run_id, status, started, ended, error, attempts in rows
            if run_id not in seen
        ]

    def cached_results(self, keys: Iterable[str]) -> dict[str, tuple[str, str | None, str | None]]:
        """cache key -> (run id, result as JSON, result file or None) of the newest succeeded
        run with that key. A cached run shares the file of the run it reuses."""
        found: dict[str, tuple[str, str | None, str | None]] = {}
        keys = list(dict.fromkeys(keys))
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = self._db.execute(
                "SELECT cache_key, id, result, result_ref FROM runs WHERE cache_key IN"
                f" ({', '.join('?' * len(chunk))}) AND status='succeeded' ORDER BY ended",
                chunk,
            )
            for key, run_id, result, ref in rows:
                found[key] = (run_id, result, ref)
        return found

    def reopen(
        self, launch_id: str, run_ids: Iterable[str] | None, pid: int, pid_start: str
    ) -> None:
        """Resume: the launch belongs to this process now; these runs (None: every run that
        did not succeed) are pending again, and earlier cancel requests are done with."""
        with self._transaction() as db:
            db.execute("DELETE FROM cancels WHERE launch_id=?", (launch_id,))
            db.execute(
                "UPDATE launches SET pid=?, pid_start=?, host=? WHERE id=?",
                (pid, pid_start, this_host(), launch_id),
            )
            if run_ids is not None:
                db.executemany(
                    "UPDATE runs SET status=?, error=NULL, traceback=NULL, host=NULL, worker=NULL"
                    " WHERE id=?",
                    ((RunStatus.PENDING.value, run_id) for run_id in run_ids),
                )
                return
            db.execute(
                "UPDATE runs SET status=?, error=NULL, traceback=NULL, host=NULL, worker=NULL"
                " WHERE launch_id=? AND status NOT IN (?, ?)",
                (
                    RunStatus.PENDING.value,
                    launch_id,
                    RunStatus.SUCCEEDED.value,
                    RunStatus.CACHED.value,
                ),
            )

    def save_snapshot(
        self, workflow_id: str, version: str, declaration: dict[str, Any], archive: bytes
    ) -> bool:
        """Keep a registered version; False when identical content was registered before."""
        with self._transaction() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO snapshots VALUES (?, ?, ?, ?, ?)",
                (workflow_id, version, json.dumps(declaration), archive, time.time()),
            )
            return cur.rowcount == 1

    def snapshot(self, workflow_id: str, version: str) -> tuple[dict[str, Any], bytes] | None:
        row = self._db.execute(
            "SELECT declaration, archive FROM snapshots WHERE workflow_id=? AND version=?",
            (workflow_id, version),
        ).fetchone()
        return None if row is None else (json.loads(row[0]), bytes(row[1]))

    def snapshots(self) -> list[tuple[str, str, float]]:
        """(workflow id, version, when registered) of every registered version."""
        return list(
            self._db.execute(
                "SELECT workflow_id, version, created FROM snapshots ORDER BY workflow_id, created"
            )
        )

    def attempts(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT attempt, status, started, ended, error FROM attempts WHERE run_id=?"
            " ORDER BY attempt",
            (run_id,),
        )
        keys = ("attempt", "status", "started", "ended", "error")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    # -- reading ---------------------------------------------------------------------------

    def launches(
        self, limit: int | None = 20, *, workflow_id: str | None = None
    ) -> list[LaunchRecord]:
        """Most recent first; those of one workflow when it is given."""
        where = " WHERE workflow_id = ?" if workflow_id is not None else ""
        sql = f"SELECT {_LAUNCH_COLUMNS}, {_CANCELLED} FROM launches{where} ORDER BY created DESC, rowid DESC"
        args = (workflow_id,) if workflow_id is not None else ()
        rows = self._db.execute(sql + (f" LIMIT {int(limit)}" if limit else ""), args).fetchall()
        launches = [self._launch(row) for row in rows]
        self.fill_counts(launches)
        return launches

    def launch(self, launch_id: str, *, counts: bool = True) -> LaunchRecord | None:
        """A launch; `counts=False` leaves its counts empty (they read every run of the
        launch: 0.27 s for a million runs), for a read that does not show them."""
        row = self._db.execute(
            f"SELECT {_LAUNCH_COLUMNS}, {_CANCELLED} FROM launches WHERE id=?", (launch_id,)
        ).fetchone()
        if row is None:
            return None
        launch = self._launch(row)
        if counts:
            self.fill_counts([launch])
        return launch

    def runs(self, launch_id: str) -> list[RunRecord]:
        rows = self._db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE launch_id=? ORDER BY idx", (launch_id,)
        ).fetchall()
        return self._marked_lost([self._run(row) for row in rows])

    def run_ids(self, launch_id: str, page: int = PAGE) -> Iterator[str]:
        """A launch's run ids in plan order, streamed: nothing else is read or decoded."""
        for rows in self._pages("SELECT id, idx FROM runs", launch_id, page, 1):
            for row in rows:
                yield row[0]

    def logged_runs(self, launch_id: str, page: int = PAGE) -> Iterator[tuple[str, str, str]]:
        """(run id, status as shown, folder) of a launch's runs that have a folder (those
        that wrote a log or files), in plan order, streamed."""
        alive: bool | None = None
        query = "SELECT id, idx, status, run_dir FROM runs"
        # The first page is small: when few runs have a folder, a page of them is a scan of
        # much of the launch, and the first log should print at once.
        for rows in self._pages(query, launch_id, page, 1, "run_dir IS NOT NULL", first=8):
            for run_id, _, status, run_dir in rows:
                if status in _UNFINISHED:
                    if alive is None:
                        alive = launcher_alive(*self.owner(launch_id))
                    status = status if alive else RunStatus.LOST.value
                yield run_id, status, run_dir

    def first_run(self, launch_id: str) -> RunRecord | None:
        """The launch's first run in plan order (one row read)."""
        row = self._db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE launch_id=? ORDER BY idx LIMIT 1",
            (launch_id,),
        ).fetchone()
        return None if row is None else self._marked_lost([self._run(row)])[0]

    def _pages(
        self,
        select: str,
        launch_id: str,
        page: int,
        idx_at: int,
        where: str = "",
        first: int | None = None,
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of `select` for a launch, `page` at a time in plan order: each page
        starts past the last index seen (keyset paging), so no cursor stays open between
        pages (the store can be written meanwhile) and no page re-reads the ones before."""
        extra = f" AND {where}" if where else ""
        sql = f"{select} WHERE launch_id=? AND idx>?{extra} ORDER BY idx LIMIT ?"
        last, size = -1, first or page
        while True:
            rows = self._db.execute(sql, (launch_id, last, size)).fetchall()
            if rows:
                yield rows
            if len(rows) < size:
                return
            last, size = rows[-1][idx_at], page

    def table_rows(self, launch: LaunchRecord, limit: int | None = None) -> list[tuple[Any, ...]]:
        """A launch's runs as the results table reads them (results.RunRow), in plan order
        (the first `limit` only, when given): only the columns it shows, params and result
        left as JSON for it to decode once. A big result's JSON is its summary: its file is
        never read here."""
        rows = self._db.execute(
            "SELECT launch_id, id, idx, params, seed, status, started, ended, result, error"
            " FROM runs WHERE launch_id=? ORDER BY idx LIMIT ?",
            (launch.id, -1 if limit is None else int(limit)),
        ).fetchall()
        statuses = {status.value: status for status in RunStatus}
        # Unfinished runs of a launcher that is gone are lost, as in _marked_lost.
        if any(row[5] in _UNFINISHED for row in rows) and not launcher_alive(
            launch.pid, launch.pid_start
        ):
            for value in _UNFINISHED:
                statuses[value] = RunStatus.LOST
        repeat = max(launch.repeat, 1)
        params = self._params_text
        return [
            (
                row[0],
                row[1],
                row[2],
                params(row[0], row[2], row[3]),
                row[4],
                statuses[row[5]],
                *row[6:],
                row[2] % repeat,
            )
            for row in rows
        ]

    def find_runs(
        self,
        *,
        launch_id: str | None = None,
        workflow_id: str | None = None,
        statuses: Iterable[str] = (),
        tag: str | None = None,
        since: float | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[RunRecord]:
        """Runs that match every filter given: a launch's in plan order (a page of them with
        limit and offset), others most recent first. `since`: created, started or ended at
        or after that time. `lost` is a status as readers show it (unfinished, launcher
        gone), so it selects unfinished runs and keeps those found lost."""
        where: list[str] = []
        args: list[Any] = []
        if launch_id is not None:
            where.append("launch_id = ?")
            args.append(launch_id)
        if workflow_id is not None:
            # (a run of a launch planned by index has its launch's workflow: see _run)
            where.append(
                "(workflow_id = ? OR workflow_id = '' AND launch_id IN"
                " (SELECT id FROM launches WHERE workflow_id = ?))"
            )
            args.extend([workflow_id, workflow_id])
        wanted = set(statuses)
        stored = wanted | set(_UNFINISHED) if RunStatus.LOST.value in wanted else wanted
        stored.discard(RunStatus.LOST.value)
        if stored:
            where.append(f"status IN ({', '.join('?' * len(stored))})")
            args.extend(sorted(stored))
        if tag is not None:
            where.append(
                "launch_id IN (SELECT launches.id FROM launches, json_each(launches.tags)"
                " WHERE json_each.value = ?)"
            )
            args.append(tag)
        if since is not None:
            where.append("(created >= ? OR started >= ? OR ended >= ?)")
            args.extend([since, since, since])
        sql = f"SELECT {_RUN_COLUMNS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY idx" if launch_id is not None else " ORDER BY created DESC, idx DESC"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            args.extend([-1 if limit is None else int(limit), int(offset)])
        rows = self._db.execute(sql, args).fetchall()
        runs = [self._run(row) for row in rows]
        by_launch: dict[str, list[RunRecord]] = {}
        for run in runs:
            by_launch.setdefault(run.launch_id, []).append(run)
        for group in by_launch.values():
            self._marked_lost(group)
        if wanted:
            runs = [run for run in runs if run.status.value in wanted]
        return runs

    def run(self, run_id: str) -> RunRecord | None:
        row = self._db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id=?", (run_id,)).fetchone()
        return None if row is None else self._marked_lost([self._run(row)])[0]

    def _marked_lost(self, runs: list[RunRecord]) -> list[RunRecord]:
        """Unfinished runs whose launcher is gone are shown as lost (never written so)."""
        unfinished = [r for r in runs if not r.status.finished]
        if unfinished:
            launch = self._db.execute(
                "SELECT pid, pid_start FROM launches WHERE id=?", (unfinished[0].launch_id,)
            ).fetchone()
            if launch and not launcher_alive(*launch):
                for run in unfinished:
                    run.status = RunStatus.LOST
        return runs

    def resolve(self, prefix: str) -> tuple[str, str]:
        """('launch' | 'run', full id) for an id or a unique prefix of one, like git."""
        prefix = prefix.strip().lower()
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            raise UsageError(f"'{prefix}' is not a run or launch id (ids are hexadecimal)")
        # A range of the primary key, not LIKE (case-insensitive, so it cannot use the
        # index: a scan of every run, 0.2 s in a store of a million).
        bounds = (prefix, prefix + "g")  # ids are lowercase hex: every one that starts so
        launches = [
            r[0]
            for r in self._db.execute(
                "SELECT id FROM launches WHERE id >= ? AND id < ? LIMIT 3", bounds
            )
        ]
        runs = [
            r[0]
            for r in self._db.execute(
                "SELECT id FROM runs WHERE id >= ? AND id < ? LIMIT 3", bounds
            )
        ]
        # A single-run launch shares its id with its run: that is one match, the launch.
        matches = [("launch", i) for i in launches] + [
            ("run", i) for i in runs if i not in launches
        ]
        if not matches:
            raise UsageError(f"no launch or run id starts with '{prefix}' in {self.path}")
        if len(matches) > 1:
            shown = ", ".join(f"{kind} {ident[:12]}" for kind, ident in matches[:3])
            raise UsageError(f"id prefix '{prefix}' is ambiguous: it matches {shown}...")
        return matches[0]

    def fill_counts(self, launches: list[LaunchRecord]) -> None:
        """Each launch's runs by status, unfinished ones of a launcher that is gone counted
        lost."""
        for launch in launches:
            launch.counts = {}
            for status, count in self._counted(launch).items():
                if status in _UNFINISHED and not launcher_alive(launch.pid, launch.pid_start):
                    status = RunStatus.LOST.value
                launch.counts[status] = launch.counts.get(status, 0) + count
        for launch in launches:
            # A launch whose runs follow from their indexes records them as they are about to
            # run: the ones not recorded yet are pending (lost, when the launcher is gone;
            # cancelled, when the launch was).
            missing = launch.run_count - sum(launch.counts.values())
            if missing > 0:
                if launch.cancelled is not None:
                    status = RunStatus.CANCELLED.value
                elif launcher_alive(launch.pid, launch.pid_start):
                    status = RunStatus.PENDING.value
                else:
                    status = RunStatus.LOST.value
                launch.counts[status] = launch.counts.get(status, 0) + missing

    def _counted(self, launch: LaunchRecord) -> dict[str, int]:
        """A launch's recorded runs by stored status, read in one transaction (one state of
        the store). Its runs are inserted in plan order, so they mostly fill the range of
        rowids from its first run's to its last's: that range is read in table order (0.27 s
        for a million runs, where reading them through runs_launch, a lookup a run and a sort
        to group them, took 0.72 s), and counted so if every run recorded is in it."""
        db, launch_id = self._db, launch.id
        with self._lock:
            db.execute("BEGIN")
            try:
                first, last = db.execute(_ENDS, (launch_id,)).fetchone()
                if first is None:
                    return {}
                low, high = min(first, last), max(first, last)
                # Runs of launches recorded at the same time share the range: it is read only
                # while it is mostly this launch's.
                if high - low < 2 * launch.run_count:
                    total, *each = db.execute(_IN_RANGE, (low, high, launch_id)).fetchone()
                    # A launch records each of its runs once (at most run_count): finding that
                    # many in the range, it need not count them through runs_launch.
                    if total != launch.run_count:
                        (recorded,) = db.execute(
                            "SELECT COUNT(*) FROM runs WHERE launch_id=?", (launch_id,)
                        ).fetchone()
                        total = total if total == recorded else -1
                    if total == sum(each):  # (no run has a status of another kind)
                        return {status: n for status, n in zip(_RECORDED, each, strict=True) if n}
                return dict(
                    db.execute(
                        "SELECT status, COUNT(*) FROM runs WHERE launch_id=? GROUP BY status",
                        (launch_id,),
                    ).fetchall()
                )
            finally:
                db.execute("COMMIT")

    @staticmethod
    def _launch(row: tuple[Any, ...]) -> LaunchRecord:
        return LaunchRecord(
            id=row[0],
            created=row[1],
            workflow_id=row[2],
            workflow_version=row[3],
            name=row[4],
            tags=json.loads(row[5]),
            notes=row[6],
            seed=row[7],
            repeat=row[8],
            labels=json.loads(row[9]),
            annotations=json.loads(row[10]),
            env=json.loads(row[11]),
            launcher=row[12],
            addr=row[13],
            definition=json.loads(row[14]),
            pid=row[15],
            run_count=row[16],
            project_root=row[17],
            pid_start=row[18],
            host=row[19],
            provenance=None if row[20] is None else Provenance.from_json(json.loads(row[20])),
            cancelled=row[21],
        )

    def _plan(self, launch_id: str) -> IndexPlan | None:
        """What makes the launch's runs' params from their indexes (read once per store)."""
        if launch_id not in self._plans:
            found = self._db.execute(
                "SELECT plan FROM launches WHERE id=?", (launch_id,)
            ).fetchone()
            self._plans[launch_id] = (
                IndexPlan.from_json(json.loads(found[0])) if found and found[0] else None
            )
        return self._plans[launch_id]

    def _params_text(self, launch_id: str, index: int, text: str) -> str:
        """A run's params as JSON: stored whole, or made from its launch's plan ('')."""
        if text:
            return text
        plan = self._plan(launch_id)
        if plan is None:
            raise StoreUnusable(
                f"the run store {self.path}: run {index} of launch {launch_id} has no params"
                " and its launch no plan to make them from",
                hint="runner store check tells what is wrong",
            )
        return to_json(plan.params_of(index))

    def _params(self, launch_id: str, index: int, text: str) -> dict[str, Any]:
        if text:
            return dict(json.loads(text))
        return json.loads(self._params_text(launch_id, index, text))

    def _shared(self, launch_id: str) -> tuple[str | None, str, str, str]:
        """(parent id, workflow id, version, entrypoint) of the runs of a launch planned by
        index, which their rows leave empty (see _insert_runs)."""
        shared = self._shares.get(launch_id)
        if shared is None:
            found = self._db.execute(
                "SELECT workflow_id, workflow_version, run_count FROM launches WHERE id=?",
                (launch_id,),
            ).fetchone()
            plan = self._plan(launch_id)
            if found is None or plan is None:
                raise StoreUnusable(
                    f"the run store {self.path}: runs of launch {launch_id} have no workflow"
                    " and their launch no plan to take it from",
                    hint="runner store check tells what is wrong",
                )
            workflow_id, version, run_count = found
            parent = launch_id if run_count > 1 else None
            shared = self._shares[launch_id] = (parent, workflow_id, version, plan.entrypoint)
        return shared

    def _run(self, row: tuple[Any, ...]) -> RunRecord:
        """A runs row (_RUN_COLUMNS) as a record; a big result stays in its file until asked
        for, its summary at hand."""
        ref = row[19]
        result = None if row[12] is None else json.loads(row[12])
        parent, workflow_id, version, entrypoint = (
            self._shared(row[1]) if not row[4] else (row[2], row[4], row[5], row[16])
        )
        origin = self._origins.get((row[1], workflow_id, version)) or self._origin(
            row[1], workflow_id, version
        )
        return RunRecord(
            id=row[0],
            launch_id=row[1],
            parent_id=parent,
            index=row[3],
            workflow_id=workflow_id,
            workflow_version=version,
            params=self._params(row[1], row[3], row[6]),
            seed=row[7],
            status=RunStatus(row[8]),
            created=row[9],
            started=row[10],
            ended=row[11],
            result=_UNLOADED if ref else result,
            error=row[13],
            traceback=row[14],
            run_dir=row[15],
            entrypoint=entrypoint,
            attempts=row[17],
            cached_from=row[18],
            result_ref=ref,
            summary=result if ref else None,
            home=str(self.home),
            host=row[20],
            worker=row[21],
            code=origin[1],
            provenance=origin[0],
        )

    def _origin(
        self, launch_id: str, workflow_id: str, version: str
    ) -> tuple[Provenance | None, str | None]:
        """(the launch's provenance, the code hash of the workflow's runs), read once per
        launch: one lookup a run."""
        found = self._db.execute(
            "SELECT provenance FROM launches WHERE id=?", (launch_id,)
        ).fetchone()
        provenance = Provenance.from_json(json.loads(found[0])) if found and found[0] else None
        code = provenance.code_of(workflow_id, version) if provenance else None
        self._origins[launch_id, workflow_id, version] = (provenance, code)
        return provenance, code
