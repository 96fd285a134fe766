"""The SQLite store: migrations, one-transaction records, reads, id prefixes."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from runner.errors import UsageError
from runner.records import LaunchRecord, RunOutcome, RunSpec, RunStatus
from runner.store import MIGRATIONS, Store
from tests.conftest import launch_record


def make_launch(launch_id: str, n: int) -> tuple[LaunchRecord, list[RunSpec]]:
    specs = [
        RunSpec(
            id=f"{launch_id[:4]}{i:028x}",
            index=i,
            workflow_id="w",
            workflow_version="1",
            entrypoint="m:f",
            params={"i": i},
            seed=2**63 - 1 - i,
            repeat_index=0,
        )
        for i in range(n)
    ]
    record = launch_record(
        id=launch_id if n > 1 else specs[0].id,
        created=time.time(),
        workflow_id="w",
        workflow_version="1",
        name="n",
        tags=["t"],
        pid=1,
        run_count=n,
    )
    return record, specs


def test_migrations_set_user_version(tmp_path: Path) -> None:
    Store(tmp_path).close()
    con = sqlite3.connect(tmp_path / "runner.db")
    assert con.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    Store(tmp_path).close()  # opening again migrates nothing and fails nothing


def test_record_outcomes_and_read_back(tmp_path: Path) -> None:
    store = Store(tmp_path)
    record, specs = make_launch("ab" * 16, 3)
    store.record_launch(record, specs)
    assert store.launch(record.id).counts == {"pending": 3}
    now = time.time()
    store.record_outcomes(
        [
            RunOutcome(specs[0].id, RunStatus.SUCCEEDED, now, now + 1, result_json='{"x": [1, 2]}'),
            RunOutcome(specs[1].id, RunStatus.FAILED, now, now + 2, error="E: bad", traceback="tb"),
        ]
    )
    assert store.cancel_unfinished(record.id) == 1
    runs = store.runs(record.id)
    assert [r.status for r in runs] == [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED]
    assert runs[0].result == {"x": [1, 2]} and runs[0].duration == 1
    assert runs[0].seed == 2**63 - 1  # 64-bit seeds survive SQLite
    assert {r.parent_id for r in runs} == {record.id}
    assert store.launch(record.id).status == "failed"


def test_resolve_prefixes(tmp_path: Path) -> None:
    store = Store(tmp_path)
    record, specs = make_launch("cd" * 16, 2)
    store.record_launch(record, specs)
    assert store.resolve(record.id[:6]) == ("launch", record.id)
    assert store.resolve(specs[1].id) == ("run", specs[1].id)
    with pytest.raises(UsageError, match="is ambiguous"):
        store.resolve("cdcd")
    with pytest.raises(UsageError, match="no launch or run id starts with 'ee'"):
        store.resolve("ee")


def test_single_run_launch_is_one_match(tmp_path: Path) -> None:
    store = Store(tmp_path)
    record, specs = make_launch("ef" * 16, 1)
    store.record_launch(record, specs)
    assert store.resolve(specs[0].id[:8]) == ("launch", specs[0].id)
    assert store.runs(record.id)[0].parent_id is None


def test_existing_does_not_create(tmp_path: Path) -> None:
    assert Store.existing(tmp_path / "none") is None
    assert not (tmp_path / "none").exists()


def test_a_store_that_goes_away_closes_its_connection(tmp_path: Path) -> None:
    """sqlite3 connections sit in a reference cycle; the store closes its own, so the WAL is
    folded back into the database file without waiting for a cyclic collection."""
    store = Store(tmp_path)
    store.record_launch(*make_launch("ab" * 16, 3))
    connection = store._db
    assert (tmp_path / "runner.db-wal").exists()
    del store
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        connection.execute("SELECT 1")
    assert not (tmp_path / "runner.db-wal").exists()
    assert Store(tmp_path).launch("ab" * 16).run_count == 3


def test_a_version_1_store_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "runner.db")
    con.executescript(MIGRATIONS[0])
    con.execute(
        "INSERT INTO launches VALUES ('a1', 1.0, 'w', '1', NULL, '[]', NULL, 5, 1, '{}', '{}',"
        " '{}', 'local', NULL, '{}', 1, 1)"
    )
    con.execute(
        "INSERT INTO runs VALUES ('a1', 'a1', NULL, 0, 'w', '1', '{}', 5, 'succeeded', 1.0,"
        " 1.0, 2.0, '3', NULL, NULL, NULL)"
    )
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    store = Store(tmp_path)
    (run,) = store.runs("a1")
    assert (run.status, run.result, run.attempts, run.entrypoint) == (RunStatus.SUCCEEDED, 3, 0, "")
    assert store.attempts("a1") == []


def test_a_batch_with_several_attempts_keeps_the_last(tmp_path: Path) -> None:
    store = Store(tmp_path)
    record, specs = make_launch("ab" * 16, 1)
    store.record_launch(record, specs)
    run_id = specs[0].id
    store.record_outcomes(
        [
            RunOutcome(run_id, RunStatus.FAILED, 1.0, 2.0, error="E: one", attempt=1),
            RunOutcome(run_id, RunStatus.SUCCEEDED, 3.0, 4.0, result_json="5", attempt=2),
        ]
    )
    (run,) = store.runs(record.id)
    assert (run.status, run.result, run.attempts) == (RunStatus.SUCCEEDED, 5, 2)
    assert [a["status"] for a in store.attempts(run_id)] == ["failed", "succeeded"]


def test_a_cancel_records_each_unfinished_run_once(tmp_path: Path) -> None:
    """Two cancels at once, or a cancel racing the launch's own end: one final status each."""
    store = Store(tmp_path)
    record, specs = make_launch("cd" * 16, 3)
    store.record_launch(record, specs)
    store.record_outcomes([RunOutcome(specs[0].id, RunStatus.SUCCEEDED, 1.0, 2.0, "1")])
    assert store.cancel(record.id, None, "cancelled (runner cancel)") == 2
    assert store.cancel(record.id, None, "cancelled (runner cancel)") == 0  # the second one
    # The launcher's last outcomes, written after the cancel, do not overwrite it.
    store.record_outcomes(
        [
            RunOutcome(specs[1].id, RunStatus.SUCCEEDED, 1.0, 2.0, "2"),
            RunOutcome(specs[2].id, RunStatus.FAILED, 1.0, 2.0, error="E"),
        ]
    )
    runs = store.runs(record.id)
    assert [r.status for r in runs] == [RunStatus.SUCCEEDED] + [RunStatus.CANCELLED] * 2
    assert runs[1].error == "cancelled (runner cancel)" and runs[1].result is None
    assert store.launch(record.id).cancelled is not None
    assert [run_id for _, run_id in store.cancel_requests(record.id)] == [None]


def test_a_run_cancel_is_a_request_for_that_run(tmp_path: Path) -> None:
    store = Store(tmp_path)
    record, specs = make_launch("ef" * 16, 2)
    store.record_launch(record, specs)
    assert store.cancel(record.id, specs[1].id, "why") == 1
    ((first, run_id),) = store.cancel_requests(record.id)
    assert run_id == specs[1].id
    assert store.cancel_requests(record.id, first) == []
    assert store.launch(record.id).cancelled is None  # the launch as a whole goes on
    store.reopen(record.id, [specs[1].id], 1, "")  # resume: the run is pending again
    assert store.cancel_requests(record.id) == []
    assert [r.status for r in store.runs(record.id)] == [RunStatus.PENDING] * 2


def test_a_version_4_store_gains_cancels_and_reads_as_before(tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "runner.db")
    for migration in MIGRATIONS[:4]:
        con.executescript(migration)
    con.execute(
        "INSERT INTO launches (id, created, workflow_id, workflow_version, tags, seed, repeat,"
        " labels, annotations, env, launcher, definition, pid, run_count)"
        " VALUES ('a4', 1.0, 'w', '1', '[]', 5, 1, '{}', '{}', '{}', 'local', '{}', 1, 1)"
    )
    con.execute("PRAGMA user_version = 4")
    con.commit()
    con.close()
    store = Store(tmp_path)
    launch = store.launch("a4")
    assert launch is not None and launch.cancelled is None
    assert store.cancel_requests("a4") == []


# -- counts by status: read from the launch's range of rowids, exact whatever the runs' order


def _done(store: Store, specs: list[RunSpec], status: RunStatus, attempt: int = 1) -> None:
    now = time.time()
    store.record_outcomes(
        [RunOutcome(s.id, status, now, now + 1, result_json="1", attempt=attempt) for s in specs]
    )


def _truth(store: Store, launch_id: str) -> dict[str, int]:
    """The stored statuses counted through runs_launch, as fill_counts did before."""
    return dict(
        store._db.execute(
            "SELECT status, COUNT(*) FROM runs WHERE launch_id=? GROUP BY status", (launch_id,)
        ).fetchall()
    )


def test_counts_of_a_launch_cancelled_midway_then_resumed(tmp_path: Path) -> None:
    store = Store(tmp_path)
    record, specs = make_launch("a1" * 16, 10)
    store.record_launch(record, specs)
    _done(store, specs[:3], RunStatus.SUCCEEDED)
    _done(store, specs[3:4], RunStatus.FAILED)
    assert store.launch(record.id).counts == {"succeeded": 3, "failed": 1, "pending": 6}
    # From another process, as `runner cancel` does; a run finishing after it stays cancelled.
    assert Store(tmp_path).cancel(record.id, None, "cancelled by user") == 6
    _done(store, specs[4:5], RunStatus.SUCCEEDED)
    cancelled = store.launch(record.id)
    assert cancelled.counts == {"succeeded": 3, "failed": 1, "cancelled": 6}
    store.reopen(record.id, None, 1, "")  # runner resume: what did not succeed runs again
    assert store.launch(record.id).counts == {"succeeded": 3, "pending": 7}
    _done(store, specs[3:5], RunStatus.SUCCEEDED, attempt=2)  # a retried run: its last attempt
    _done(store, specs[5:], RunStatus.TIMED_OUT)
    assert store.launch(record.id).counts == {"succeeded": 5, "timed_out": 5}


def test_counts_of_a_launch_whose_launcher_is_gone_are_lost(tmp_path: Path) -> None:
    store = Store(tmp_path)
    record, specs = make_launch("a2" * 16, 6)
    record.pid = 2**22 + 1  # above Linux's largest pid: no such process
    store.record_launch(record, specs)
    _done(store, specs[:2], RunStatus.SUCCEEDED)
    _done(store, specs[2:3], RunStatus.CACHED)
    assert store.launch(record.id).counts == {"succeeded": 2, "cached": 1, "lost": 3}


@pytest.mark.parametrize(
    "alive", [pytest.param(True, id="running"), pytest.param(False, id="lost")]
)
def test_counts_of_a_streamed_launch_partly_recorded(tmp_path: Path, alive: bool) -> None:
    """Runs a streamed launch has not recorded yet count as pending (lost when its launcher is
    gone), then cancelled once the launch is, as are those it records after the cancel."""
    store = Store(tmp_path)
    record, specs = make_launch("a3" * 16, 12)
    record.pid = 1 if alive else 2**22 + 1
    store.record_launch(record, None)
    store.record_runs(record, specs[:5])
    _done(store, specs[:2], RunStatus.SUCCEEDED)
    unfinished = "pending" if alive else "lost"
    assert store.launch(record.id).counts == {"succeeded": 2, unfinished: 10}
    assert store.cancel(record.id, None, "cancelled by user") == 10
    assert store.launch(record.id).counts == {"succeeded": 2, "cancelled": 10}
    store.record_runs(record, specs[5:8])
    assert store.launch(record.id).counts == {"succeeded": 2, "cancelled": 10}
    assert _truth(store, record.id) == {"succeeded": 2, "cancelled": 6}


def test_counts_of_launches_recorded_at_the_same_time(tmp_path: Path) -> None:
    """Their runs share a range of rowids: each launch counts its own."""
    store = Store(tmp_path)
    first, first_specs = make_launch("a4" * 16, 40)
    second, second_specs = make_launch("a5" * 16, 40)
    store.record_launch(first, None)
    store.record_launch(second, None)
    for start in range(0, 40, 8):
        store.record_runs(first, first_specs[start : start + 8])
        store.record_runs(second, second_specs[start : start + 8])
    _done(store, first_specs[::3], RunStatus.FAILED)
    _done(store, second_specs[:7], RunStatus.SUCCEEDED)
    assert store.launch(first.id).counts == {"failed": 14, "pending": 26}
    assert store.launch(second.id).counts == {"succeeded": 7, "pending": 33}
    listed = {launch.id: launch.counts for launch in store.launches()}
    assert listed == {first.id: {"failed": 14, "pending": 26}, second.id: _truth(store, second.id)}


@pytest.mark.parametrize(
    "order",
    [
        pytest.param([3, 2, 1, 0], id="reversed"),
        pytest.param([1, 0, 3, 2], id="first-and-last-run-not-at-the-ends"),
        pytest.param([0, 2, 1, 3], id="in-range"),
    ],
)
def test_counts_whatever_the_order_runs_were_recorded_in(tmp_path: Path, order: list[int]) -> None:
    store = Store(tmp_path)
    record, specs = make_launch("a6" * 16, 4)
    store.record_launch(record, None)
    for index in order:  # one run a transaction, in this order of their indexes
        store.record_runs(record, [specs[index]])
    _done(store, specs[1:2], RunStatus.FAILED)
    _done(store, specs[2:3], RunStatus.SUCCEEDED)
    assert store.launch(record.id).counts == {"pending": 2, "failed": 1, "succeeded": 1}


def test_counts_of_a_status_no_runner_writes_today(tmp_path: Path) -> None:
    """A status outside the ones counted one by one (a newer runner's) is still counted."""
    store = Store(tmp_path)
    record, specs = make_launch("a7" * 16, 5)
    store.record_launch(record, specs)
    store._db.execute("UPDATE runs SET status='paused' WHERE id=?", (specs[0].id,))
    store._db.execute("UPDATE runs SET status='running' WHERE id=?", (specs[1].id,))
    assert store.launch(record.id).counts == {"paused": 1, "running": 1, "pending": 3}
