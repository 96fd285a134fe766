"""Writing a run store: a launch and its runs (whole, streamed or a block at a time), what
its runs did, cancels and who owns a launch, resuming, registered snapshots."""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

from runner.records import (
    Done,
    LaunchRecord,
    RunBlock,
    RunOutcome,
    RunSpec,
    RunStatus,
    low_high,
    succeeded,
    to_json,
    unpack_points,
)
from runner.store.processes import this_host
from runner.store.schema import LAUNCH_COLUMNS, UNFINISHED, Database


class Writes(Database):
    """The writes of a Store, each in one transaction."""

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
                f"INSERT INTO launches ({LAUNCH_COLUMNS}, plan) VALUES ({', '.join('?' * 22)})",
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
            requested, reason = cancel
            return int(last), "cancelled", requested, reason
        return int(last), "pending", None, None

    def _insert_runs(
        self, db: sqlite3.Connection, launch: LaunchRecord, specs: Iterable[RunSpec], by_index: bool
    ) -> int:
        last, status, ended, error = self._insert_start(db, launch)
        parent = launch.id if launch.has_parent else None
        created, launch_id = launch.created, launch.id
        if by_index:
            # A run of a launch planned by index keeps only what is its own: its params
            # (''), workflow, entrypoint and parent are its launch's (see rows._run). Half the
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
                " WHERE rowid=? AND status NOT IN ('cancelled', 'pruned')",
                by_row,
            )
        if by_id:
            db.executemany(
                "UPDATE runs SET status='succeeded', started=?, ended=?, result=?, attempts=?"
                " WHERE id=? AND status NOT IN ('cancelled', 'pruned')",
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
            " WHERE id=? AND status NOT IN ('cancelled', 'pruned')",
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

    def record_running(
        self, running: Iterable[tuple[str, float, int | None, str | None, str | None]]
    ) -> list[str]:
        """Runs seen executing: (run id, since when, pid, host, Dask worker). A run is marked
        running only while its row says it has not ended since (a retry runs again after its
        failed attempt; an outcome written meanwhile is never overwritten). Returns the ids
        of the runs marked (a streamed launch's runs have no row until their block is
        recorded: the caller tries those again)."""
        marked = []
        with self._transaction() as db:
            for run_id, since, pid, host, worker in running:
                cur = db.execute(
                    "UPDATE runs SET status='running', started=?, pid=?, host=?, worker=?"
                    " WHERE id=? AND status IN ('pending', 'failed', 'timed_out')"
                    " AND (ended IS NULL OR ended < ?)",
                    (since, pid, host, worker, run_id, since),
                )
                if cur.rowcount:
                    marked.append(run_id)
        return marked

    def record_points(
        self,
        sent: Iterable[tuple[str, float, int, list[tuple[str, bytes, bytes, bytes]]]],
        series: dict[tuple[str, str], list[Any]],
    ) -> int:
        """Points runs logged (runner.metrics: (run id, start of its execution, the number
        of the send, [(key, steps, values, times) as packed arrays])), in one transaction: a
        chunk row per key and send, and the key's summary (its last value: the latest
        send's). `series`, kept by the caller from call to call: (run id, key) -> [metric
        id, start of the execution]. A run's execution that logs for the first time replaces
        what an earlier one logged. Returns how many points."""
        now = time.time()
        count = 0
        with self._transaction() as db:
            for run_id, started, seq, chunks in sent:
                known = None  # key -> metric id of the run's series in the store, once read
                for key, steps, values, times in chunks:
                    s, v, _ = unpack_points(steps, values, b"")
                    if not v:
                        continue
                    low, high = low_high(v)
                    found = series.get((run_id, key))
                    if found is None or found[1] != started:
                        if known is None:
                            known = self._execution_series(db, run_id, started)
                        metric = known.get(key)
                        if metric is None:  # a new series: its first send's summary with it
                            metric = known[key] = (
                                db.execute(
                                    "INSERT INTO metrics (run_id, key, started, count, last,"
                                    " last_step, last_seq, min, max, updated)"
                                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                    (
                                        run_id,
                                        key,
                                        started,
                                        len(v),
                                        v[-1],
                                        s[-1],
                                        seq,
                                        low,
                                        high,
                                        now,
                                    ),
                                ).lastrowid
                                or 0
                            )
                            series[run_id, key] = [metric, started]
                            db.execute(
                                "INSERT INTO metric_chunks (metric, seq, steps, vals, times)"
                                " VALUES (?, ?, ?, ?, ?)",
                                (metric, seq, steps, values, times),
                            )
                            count += len(v)
                            continue
                        found = series[run_id, key] = [metric, started]
                    metric = found[0]
                    # (a send received twice, as a Dask event may be, is recorded once)
                    if not db.execute(
                        "INSERT OR IGNORE INTO metric_chunks (metric, seq, steps, vals, times)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (metric, seq, steps, values, times),
                    ).rowcount:
                        continue
                    db.execute(
                        "UPDATE metrics SET count=count+?1, updated=?6,"
                        " last=CASE WHEN ?8 < last_seq THEN last ELSE ?2 END,"
                        " last_step=CASE WHEN ?8 < last_seq THEN last_step ELSE ?3 END,"
                        " last_seq=max(last_seq, ?8),"
                        " min=CASE WHEN ?4 IS NULL THEN min ELSE min(coalesce(min, ?4), ?4) END,"
                        " max=CASE WHEN ?5 IS NULL THEN max ELSE max(coalesce(max, ?5), ?5) END"
                        " WHERE id=?7",
                        (len(v), v[-1], s[-1], low, high, now, metric, seq),
                    )
                    count += len(v)
        return count

    @staticmethod
    def _execution_series(db: sqlite3.Connection, run_id: str, started: float) -> dict[str, int]:
        """key -> id of each series of the run logged by its execution that started then
        (one lookup a run); the series an earlier execution of the run logged are dropped."""
        rows = db.execute(
            "SELECT id, key, started FROM metrics WHERE run_id=?", (run_id,)
        ).fetchall()
        stale = [(metric,) for metric, _, at in rows if at != started]
        if stale:
            db.executemany("DELETE FROM metric_chunks WHERE metric=?", stale)
            db.executemany("DELETE FROM metrics WHERE id=?", stale)
        return {key: metric for metric, key, at in rows if at == started}

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
                (RunStatus.CANCELLED.value, time.time(), reason, launch_id, *UNFINISHED),
            )
            return cur.rowcount

    def cancel(
        self,
        launch_id: str,
        run_id: str | None,
        reason: str,
        status: RunStatus = RunStatus.CANCELLED,
    ) -> int:
        """Record the launch's unfinished runs (or the one run) cancelled and, if there were
        any, the request its launching process polls for to stop their work; returns how many
        runs were cancelled. One transaction: two cancels at once cancel each run once.
        `status`: PRUNED for a run a search's pruner stops (its worker is stopped the same)."""
        now = time.time()
        with self._transaction() as db:
            if run_id is None:
                cur = db.execute(
                    "UPDATE runs SET status=?, ended=?, error=? WHERE launch_id=?"
                    " AND status IN (?, ?)",
                    (RunStatus.CANCELLED.value, now, reason, launch_id, *UNFINISHED),
                )
            else:
                cur = db.execute(
                    "UPDATE runs SET status=?, ended=?, error=? WHERE id=? AND status IN (?, ?)",
                    (status.value, now, reason, run_id, *UNFINISHED),
                )
            cancelled = cur.rowcount
            if run_id is None:
                # Runs of a streamed launch not recorded yet: its whole-launch cancel (below)
                # makes readers count them cancelled (see reads.fill_counts).
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

    def stop_search(self, launch_id: str, reason: str) -> None:
        """A search that stopped asking (too many trials failed): it has the trials it
        recorded, no more (none is left pending, or lost once its process is gone), and its
        definition says why (`search_stopped`)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE launches SET run_count=(SELECT COUNT(*) FROM runs WHERE launch_id=?1),"
                " definition=json_set(definition, '$.search_stopped', ?2) WHERE id=?1",
                (launch_id, reason),
            )

    def set_owner(self, launch_id: str, pid: int, pid_start: str) -> None:
        """The process that runs the launch now (a detached launch's background process)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE launches SET pid=?, pid_start=?, host=? WHERE id=?",
                (pid, pid_start, this_host(), launch_id),
            )

    def reopen(
        self,
        launch_id: str,
        run_ids: Iterable[str] | None,
        pid: int,
        pid_start: str,
        *,
        failures_stay: bool = False,
    ) -> None:
        """Resume: the launch belongs to this process now; these runs (None: every run that
        did not succeed) are pending again, and earlier cancel requests are done with.
        `failures_stay`: runs that failed or timed out keep their ends (a search's failed
        trials are trials it finished; those killed, cancelled or never run go again)."""
        with self._transaction() as db:
            db.execute("DELETE FROM cancels WHERE launch_id=?", (launch_id,))
            db.execute(
                "UPDATE launches SET pid=?, pid_start=?, host=? WHERE id=?",
                (pid, pid_start, this_host(), launch_id),
            )
            if run_ids is not None:
                db.executemany(
                    "UPDATE runs SET status=?, error=NULL, traceback=NULL, host=NULL, worker=NULL, pid=NULL"
                    " WHERE id=?",
                    ((RunStatus.PENDING.value, run_id) for run_id in run_ids),
                )
                return
            kept = [RunStatus.SUCCEEDED, RunStatus.CACHED, RunStatus.PRUNED]  # (pruned: meant)
            if failures_stay:
                kept += [RunStatus.FAILED, RunStatus.TIMED_OUT]
            db.execute(
                "UPDATE runs SET status=?, error=NULL, traceback=NULL, host=NULL, worker=NULL,"
                f" pid=NULL WHERE launch_id=? AND status NOT IN ({', '.join('?' * len(kept))})",
                (RunStatus.PENDING.value, launch_id, *(status.value for status in kept)),
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
