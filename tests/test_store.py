"""The SQLite store: migrations, one-transaction records, reads, id prefixes."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from runner.errors import UsageError
from runner.records import LaunchRecord, RunOutcome, RunSpec, RunStatus
from runner.store import MIGRATIONS, Store


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
    record = LaunchRecord(
        id=launch_id if n > 1 else specs[0].id,
        created=time.time(),
        workflow_id="w",
        workflow_version="1",
        name="n",
        tags=["t"],
        notes=None,
        seed=1,
        repeat=1,
        labels={},
        annotations={},
        env={},
        launcher="local",
        addr=None,
        definition={},
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
