"""Reading a run store: what a launch's execution reads back (pending runs, cancel
requests, cached results), and what the front-ends show (launches, runs, counts, results
rows, id prefixes)."""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from runner.errors import UsageError
from runner.records import (
    IndexPlan,
    LaunchRecord,
    MetricSummary,
    RunOutcome,
    RunRecord,
    RunRow,
    RunStatus,
    Series,
)
from runner.store.processes import launcher_alive
from runner.store.rows import Rows
from runner.store.schema import LAUNCH_COLUMNS, RUN_COLUMNS, UNFINISHED

PAGE = 1000  # rows a streaming read fetches at a time: its memory, whatever the launch
# The statuses runner records a run with (not `lost`, which is only shown): counted one by
# one, a comparison a run each; a launch with a run of another status is counted through
# runs_launch.
_RECORDED = tuple(status.value for status in RunStatus if status is not RunStatus.LOST)
# A launch's runs' metric summaries, a cached run's its source's (under its own id).
_SUMMARIES = (
    "SELECT r.idx, r.id, m.key, m.count, m.last, m.last_step, m.min, m.max, m.updated"
    " FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.launch_id = ?1{keys}"
    " UNION ALL"
    " SELECT r.idx, r.id, m.key, m.count, m.last, m.last_step, m.min, m.max, m.updated"
    " FROM runs r JOIN metrics m ON m.run_id = r.cached_from"
    " WHERE r.launch_id = ?1 AND r.cached_from IS NOT NULL{keys}"
    " ORDER BY 1, 3"
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


class Reads(Rows):
    """The reads of a Store."""

    # -- for execution ---------------------------------------------------------------------

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
        if row is None:
            return 0, ""
        pid, pid_start = row
        return pid, pid_start

    def pending(self, launch_id: str, page: int = 1000) -> Iterator[RunRecord]:
        """The runs of the launch still pending, as stored (never shown lost), in plan order,
        read a page at a time: runs finishing meanwhile are skipped, never read twice."""
        select = f"SELECT {RUN_COLUMNS} FROM runs"
        for rows in self._pages(select, launch_id, page, 3, "status='pending'"):
            yield from (self._run(row) for row in rows)

    def every_run(self, launch_id: str, page: int = 1000) -> Iterator[RunRecord]:
        """The launch's recorded runs in plan order, read a page at a time."""
        for rows in self._pages(f"SELECT {RUN_COLUMNS} FROM runs", launch_id, page, 3):
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
            (launch_id, *UNFINISHED),
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

    def snapshot(self, workflow_id: str, version: str) -> tuple[dict[str, Any], bytes] | None:
        row = self._db.execute(
            "SELECT declaration, archive FROM snapshots WHERE workflow_id=? AND version=?",
            (workflow_id, version),
        ).fetchone()
        if row is None:
            return None
        declaration, archive = row
        return json.loads(declaration), bytes(archive)

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

    # -- for the front-ends ----------------------------------------------------------------

    def launches(
        self, limit: int | None = 20, *, workflow_id: str | None = None
    ) -> list[LaunchRecord]:
        """Most recent first; those of one workflow when it is given."""
        where = " WHERE workflow_id = ?" if workflow_id is not None else ""
        sql = f"SELECT {LAUNCH_COLUMNS}, {_CANCELLED} FROM launches{where} ORDER BY created DESC, rowid DESC"
        args = (workflow_id,) if workflow_id is not None else ()
        rows = self._db.execute(sql + (f" LIMIT {int(limit)}" if limit else ""), args).fetchall()
        launches = [self._launch(row) for row in rows]
        self.fill_counts(launches)
        return launches

    def launch(self, launch_id: str, *, counts: bool = True) -> LaunchRecord | None:
        """A launch; `counts=False` leaves its counts empty (they read every run of the
        launch: 0.27 s for a million runs), for a read that does not show them."""
        row = self._db.execute(
            f"SELECT {LAUNCH_COLUMNS}, {_CANCELLED} FROM launches WHERE id=?", (launch_id,)
        ).fetchone()
        if row is None:
            return None
        launch = self._launch(row)
        if counts:
            self.fill_counts([launch])
        return launch

    def runs(self, launch_id: str) -> list[RunRecord]:
        rows = self._db.execute(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE launch_id=? ORDER BY idx", (launch_id,)
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
                if status in UNFINISHED:
                    if alive is None:
                        alive = launcher_alive(*self.owner(launch_id))
                    status = status if alive else RunStatus.LOST.value
                yield run_id, status, run_dir

    def first_run(self, launch_id: str) -> RunRecord | None:
        """The launch's first run in plan order (one row read)."""
        row = self._db.execute(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE launch_id=? ORDER BY idx LIMIT 1",
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

    def table_rows(self, launch: LaunchRecord, limit: int | None = None) -> list[RunRow]:
        """A launch's runs as the results table reads them, in plan order (the first `limit`
        only, when given): only the columns it shows, params and result left as JSON for it
        to decode once. A big result's JSON is its summary: its file is never read here."""
        rows = self._db.execute(
            "SELECT launch_id, id, idx, params, seed, status, started, ended, result, error"
            " FROM runs WHERE launch_id=? ORDER BY idx LIMIT ?",
            (launch.id, -1 if limit is None else int(limit)),
        ).fetchall()
        statuses = {status.value: status for status in RunStatus}
        repeat = max(launch.repeat, 1)
        params_of = self._params_text
        runs = [
            RunRow(
                launch_id,
                run_id,
                index,
                params_of(launch_id, index, params),
                seed,
                statuses[status],
                started,
                ended,
                result,
                error,
                index % repeat,
            )
            for launch_id, run_id, index, params, seed, status, started, ended, result, error in rows
        ]
        # Unfinished runs of a launcher that is gone are lost, as in rows._marked_lost.
        unfinished = (RunStatus.PENDING, RunStatus.RUNNING)
        if any(run.status in unfinished for run in runs) and not launcher_alive(
            launch.pid, launch.pid_start
        ):
            lost = RunStatus.LOST
            runs = [run._replace(status=lost) if run.status in unfinished else run for run in runs]
        return runs

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
            # (a run of a launch planned by index has its launch's workflow: see rows._run)
            where.append(
                "(workflow_id = ? OR workflow_id = '' AND launch_id IN"
                " (SELECT id FROM launches WHERE workflow_id = ?))"
            )
            args.extend([workflow_id, workflow_id])
        wanted = set(statuses)
        stored = wanted | set(UNFINISHED) if RunStatus.LOST.value in wanted else wanted
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
        sql = f"SELECT {RUN_COLUMNS} FROM runs"
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
        row = self._db.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id=?", (run_id,)).fetchone()
        return None if row is None else self._marked_lost([self._run(row)])[0]

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
                if status in UNFINISHED and not launcher_alive(launch.pid, launch.pid_start):
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

    # -- metrics (runner.log) ----------------------------------------------------------------

    def has_metrics(self) -> bool:
        """Whether any run in the store logged a metric (most stores: none, and no read of a
        launch's runs need look for them)."""
        return self._db.execute("SELECT EXISTS (SELECT 1 FROM metrics)").fetchone()[0] == 1

    def metric_summaries(
        self,
        *,
        launch_id: str | None = None,
        run_ids: Sequence[str] = (),
        keys: Sequence[str] = (),
    ) -> list[MetricSummary]:
        """The summaries of a launch's runs' metrics (in run order, then by key), or of these
        runs'; `keys`: only those. A cached run shows its source's, under its own id."""
        if not self.has_metrics():
            return []
        where = f" AND m.key IN ({', '.join('?' * len(keys))})" if keys else ""
        if launch_id is not None:
            rows = self._db.execute(_SUMMARIES.format(keys=where), (launch_id, *keys, *keys))
            return [MetricSummary(*row[1:]) for row in rows]
        found: list[MetricSummary] = []
        for run_id in run_ids:
            source = self._source(run_id)
            rows = self._db.execute(
                "SELECT ?, m.key, m.count, m.last, m.last_step, m.min, m.max, m.updated"
                f" FROM metrics m WHERE m.run_id = ?{where} ORDER BY m.key",
                (run_id, source, *keys),
            )
            found.extend(MetricSummary(*row) for row in rows)
        return found

    def metric_series(self, run_id: str, keys: Sequence[str] = ()) -> list[Series]:
        """A run's points of each metric (of `keys` only, if given), in the order logged; a
        cached run's are its source's."""
        source = self._source(run_id)
        where = f" AND key IN ({', '.join('?' * len(keys))})" if keys else ""
        metrics = self._db.execute(
            f"SELECT id, key FROM metrics WHERE run_id = ?{where} ORDER BY key",
            (source, *keys),
        ).fetchall()
        found = []
        for metric, key in metrics:
            steps, values, times = array("q"), array("d"), array("d")
            for s, v, t in self._db.execute(
                "SELECT steps, vals, times FROM metric_chunks WHERE metric = ? ORDER BY seq",
                (metric,),
            ):
                steps.frombytes(s)
                values.frombytes(v)
                times.frombytes(t)
            found.append(Series(run_id, key, steps, values, times))
        return found

    def _source(self, run_id: str) -> str:
        """The run whose metrics a run shows: its own, or a cached run's source's."""
        row = self._db.execute("SELECT cached_from FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row[0] if row and row[0] else run_id
