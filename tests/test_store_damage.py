"""A run store runner cannot use is named with exit 3, never "internal error", and left as
it is; `runner store check` says what is wrong with it."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from runner.store import MIGRATIONS, Store
from tests.test_store import make_launch

LAUNCH = "abcd" + "0" * 28
RUN = "abcd" + "0" * 27 + "1"


@pytest.fixture(scope="module")
def good_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of one launch of 3 runs, written by this runner (copied for each case)."""
    home = tmp_path_factory.mktemp("good")
    store = Store(home)
    store.record_launch(*make_launch(LAUNCH, 3))
    store.close()
    return home


def _sql(statement: str) -> Callable[[Path], None]:
    def damage(db: Path) -> None:
        con = sqlite3.connect(db)
        con.execute(statement)
        con.commit()
        con.close()

    return damage


def _empty(db: Path) -> None:
    db.write_bytes(b"")
    os.utime(db, (1e9, 1e9))  # long ago: not a store some other process is creating


def _directory(db: Path) -> None:
    db.unlink()
    db.mkdir()


def _foreign(db: Path) -> None:
    db.write_bytes(b"name,value\n" * 2000)


def _corrupt_pages(db: Path) -> None:
    con = sqlite3.connect(db)
    (root,) = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'runs'").fetchone()
    (size,) = con.execute("PRAGMA page_size").fetchone()
    con.close()
    data = bytearray(db.read_bytes())
    data[(root - 1) * size : root * size] = b"\xff" * size
    db.write_bytes(bytes(data))


# (damage, what the message says, a command besides status and store check)
CASES = [
    pytest.param(
        _sql(f"PRAGMA user_version = {len(MIGRATIONS) + 1}"),
        f"has schema version {len(MIGRATIONS) + 1}, newer than this runner knows",
        ["resume", LAUNCH],
        id="newer-schema",
    ),
    pytest.param(_sql("DROP TABLE attempts"), "has no table attempts", ["add"], id="no-table"),
    pytest.param(_foreign, "is not an SQLite database", ["logs", RUN], id="not-a-database"),
    pytest.param(_empty, "is empty (0 bytes)", ["wait", LAUNCH], id="empty-file"),
    pytest.param(_directory, "is a directory", ["cancel", LAUNCH], id="directory"),
    pytest.param(_corrupt_pages, "is damaged: database disk image is malformed", [], id="pages"),
]


def _files(home: Path) -> dict[str, bytes | None]:
    """Every file under the store as bytes (its SQL dump cannot be read from a damaged one)."""
    return {
        str(p.relative_to(home)): None if p.is_dir() else p.read_bytes()
        for p in sorted(home.rglob("*"))
        if not p.name.endswith(("-wal", "-shm"))
    }


@pytest.mark.parametrize(("damage", "message", "command"), CASES)
def test_a_damaged_store_is_named_and_left_alone(
    damage: Callable[[Path], None],
    message: str,
    command: list[str],
    good_store: Path,
    home: Path,
    cli,
) -> None:
    shutil.copytree(good_store, home)
    damage(home / "runner.db")
    before = _files(home)
    for args in (["status"], command):
        if not args:
            continue
        done = cli(*args)
        assert done.code == 3, (args, done.err)
        assert message in done.err and str(home / "runner.db") in done.err, done.err
        assert "Traceback" not in done.err and "internal error" not in done.err
        assert len(done.err.splitlines()) <= 2 and len(done.err) < 400 and done.out == ""
    check = cli("store", "check", "--json")
    assert check.code == 3 and check.err == ""
    found = json.loads(check.out)
    assert found["usable"] is False and found["problems"]
    assert _files(home) == before


def test_corrupt_pages_stop_every_command(good_store: Path, home: Path, cli) -> None:
    shutil.copytree(good_store, home)
    _corrupt_pages(home / "runner.db")
    before = _files(home)
    for args in (["logs", RUN], ["resume", LAUNCH], ["wait", LAUNCH], ["add"]):
        done = cli(*args)
        assert done.code == 3 and "database disk image is malformed" in done.err, (args, done.err)
    shown = cli("store", "check")
    assert shown.code == 3 and "UNUSABLE" in shown.out and str(home) in shown.out
    assert _files(home) == before


def test_store_check_of_a_sound_store(good_store: Path, home: Path, cli) -> None:
    from tests.conftest import snapshot

    assert cli("store", "check").out.startswith("no run store at")
    shutil.copytree(good_store, home)
    before = snapshot(home)
    done = cli("store", "check", "--json")
    assert done.code == 0, done.err
    found = json.loads(done.out)
    assert found["integrity"] == ["ok"] and found["schema_version"] == len(MIGRATIONS)
    assert found["launches"] == 1 and found["runs"] == {"pending": 3} and found["usable"]
    shown = cli("store", "check")
    assert "launches   1" in shown.out and "runs       3 (3 pending)" in shown.out
    assert snapshot(home) == before


def test_a_home_that_cannot_hold_a_store(home: Path, cli) -> None:
    home.parent.mkdir(parents=True, exist_ok=True)
    home.write_text("a file where RUNNER_HOME points")
    done = cli("add", "-q")
    assert done.code == 3 and f"{home / 'runner.db'} cannot be" in done.err, done.err
    assert "internal error" not in done.err and home.read_text().startswith("a file")
