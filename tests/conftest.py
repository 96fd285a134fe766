"""Shared fixtures: a copy of the test project, a private store, and the installed CLI."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runner.records import LaunchRecord

PROJECT = Path(__file__).parent / "project"
RUNNER = shutil.which("runner", path=str(Path(sys.executable).parent)) or shutil.which("runner")


def launch_record(**fields: Any) -> LaunchRecord:
    """A launch as the store keeps it, for tests that write a store directly: the fields
    given, and plain defaults for the rest."""
    defaults: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "created": time.time(),
        "workflow_id": "w",
        "workflow_version": "1.0",
        "name": None,
        "tags": [],
        "notes": None,
        "seed": 1,
        "repeat": 1,
        "labels": {},
        "annotations": {},
        "env": {},
        "launcher": "local",
        "addr": None,
        "definition": {},
        "pid": 0,
        "run_count": 0,
    }
    return LaunchRecord(**{**defaults, **fields})


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user project (its own conf/, schemas/ and an uninstalled package), copied fresh."""
    dest = tmp_path / "proj"
    shutil.copytree(PROJECT, dest, ignore=shutil.ignore_patterns("__pycache__", ".runner"))
    return dest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("RUNNER_HOME", str(path))
    return path


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working directory unrelated to the project."""
    path = tmp_path / "elsewhere" / "deeper"
    path.mkdir(parents=True)
    return path


@pytest.fixture
def cli(project: Path, home: Path, elsewhere: Path):
    """Run the installed `runner` in a subprocess, from an unrelated directory."""
    assert RUNNER, "the runner console script is not installed"

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
        full_env = {
            **os.environ,
            "RUNNER_HOME": str(home),
            "RUNNER_CONFIG_DIR": str(project / "conf"),
            **(env or {}),
        }
        done = subprocess.run(
            [RUNNER, *args],
            cwd=cwd or elsewhere,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=120,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return run


def popen(project: Path, home: Path, cwd: Path, *args: str) -> subprocess.Popen:
    """The installed `runner`, started in the background (to signal it, or read it live),
    with SIGINT at its default, as in a terminal: a test run started in the background of a
    shell without job control inherits SIGINT ignored, and a Ctrl-C would then do nothing."""
    assert RUNNER, "the runner console script is not installed"
    env = {**os.environ, "RUNNER_HOME": str(home), "RUNNER_CONFIG_DIR": str(project / "conf")}
    return subprocess.Popen(
        [RUNNER, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_sigint_default,
    )


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def snapshot(home: Path) -> tuple[list[str], list[str]]:
    """Everything the store holds: its SQL dump and the files under RUNNER_HOME."""
    db = home / "runner.db"
    dump: list[str] = []
    if db.exists():
        con = sqlite3.connect(db)
        dump = list(con.iterdump())
        con.close()
    files = sorted(str(p.relative_to(home)) for p in home.rglob("*")) if home.exists() else []
    files = [f for f in files if not f.endswith(("-wal", "-shm"))]
    return dump, files
