"""Runs seen `running` from another connection to the store while they run, on every
launcher: with their start and where they run (the pid; a Dask run's host and worker), then
finished. Short runs of a big launch are still written once: never `running`."""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runner
from runner.records import LaunchRecord, RunRecord, RunStatus
from runner.store import Store
from tests.watching import wait_until, watched

__all__ = ["watched"]  # (a fixture, used by name)


class Launching:
    """runner.launch in a thread of its own; the test reads the store meanwhile."""

    def __init__(self, *args: Any, **options: Any) -> None:
        self.launch_id: str | None = None
        self.launch: runner.Launch | None = None
        self.error: BaseException | None = None

        def created(record: LaunchRecord, specs: Any) -> None:
            self.launch_id = record.id

        def main() -> None:
            try:
                self.launch = runner.launch(*args, on_created=created, **options)
            except BaseException as exc:  # (raised again by join)
                self.error = exc

        self.thread = threading.Thread(target=main)
        self.thread.start()

    def join(self) -> runner.Launch:
        self.thread.join(timeout=120)
        assert not self.thread.is_alive(), "the launch did not end"
        if self.error is not None:
            raise self.error
        assert self.launch is not None
        return self.launch


def the_run(store: Store, launch_id: str | None) -> RunRecord | None:
    if launch_id is None:
        return None
    runs = store.runs(launch_id)
    return runs[0] if runs else None


def started_note(gate: Path) -> tuple[int, float]:
    """The pid and start the run noted beside its gate (watched.flows.hold)."""
    pid, start = Path(f"{gate}.started").read_text().split()
    return int(pid), float(start)


@pytest.mark.parametrize(
    ("launcher", "own_process"),
    [
        pytest.param("local", False, id="local-processes"),
        pytest.param("threads", True, id="threads"),
        pytest.param("sequential", True, id="sequential"),
    ],
)
def test_a_run_is_seen_running_with_its_start_and_pid(
    watched: Path, home: Path, tmp_path: Path, launcher: str, own_process: bool
) -> None:
    gate = tmp_path / "gate"
    launching = Launching(
        "hold",
        [f"params.gate={gate}", f"launcher={launcher}"],
        config_dir=watched / "conf",
        home=home,
    )
    try:
        wait_until(lambda: Path(f"{gate}.started").exists())
        pid, start = started_note(gate)
        store = Store(home)  # a connection of its own, as another process has
        wait_until(
            lambda: (run := the_run(store, launching.launch_id)) and run.status.value == "running"
        )
        run = the_run(store, launching.launch_id)
        assert run is not None and not gate.exists()  # the run still waits for its gate
        assert run.pid == pid and (pid == os.getpid()) is own_process
        assert run.started is not None and run.started <= start and run.ended is None
        assert (run.host, run.worker) == (None, None)
        launch = store.launch(launching.launch_id)
        assert launch is not None and launch.counts == {"running": 1}
        store.close()
    finally:
        gate.touch()
    (run,) = launching.join().runs
    assert run.status is RunStatus.SUCCEEDED and run.result == pid and run.pid == pid
    assert run.started is not None and run.started <= start


def test_short_runs_of_a_big_launch_are_never_written_running(watched: Path, home: Path) -> None:
    """2,100 runs of a millisecond (a streamed launch: its runs written once, finished) on
    the local processes, a second and more of them: a trigger counts every row written or
    updated as running; none is."""
    Store(home).close()
    db = sqlite3.connect(home / "runner.db")
    db.executescript(
        """
        CREATE TABLE seen_running (run_id TEXT);
        CREATE TRIGGER running_update AFTER UPDATE OF status ON runs
            WHEN NEW.status = 'running' BEGIN INSERT INTO seen_running VALUES (NEW.id); END;
        CREATE TRIGGER running_insert AFTER INSERT ON runs
            WHEN NEW.status = 'running' BEGIN INSERT INTO seen_running VALUES (NEW.id); END;
        """
    )
    db.close()
    launch = runner.launch(
        "instant",
        ["params.i=range(2100)", "params.pause=0.001"],
        config_dir=watched / "conf",
        home=home,
        progress=False,
    )
    assert launch.count() == {"succeeded": 2100}
    db = sqlite3.connect(home / "runner.db")
    assert db.execute("SELECT count(*) FROM seen_running").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM runs WHERE pid IS NOT NULL").fetchone() == (0,)
    db.close()


@pytest.mark.slow
def test_a_detached_run_is_seen_running_by_another_process(
    watched: Path, home: Path, tmp_path: Path
) -> None:
    """The launch runs in a background process of its own; this one reads the store."""
    gate = tmp_path / "gate"
    launch = runner.launch(
        "hold", [f"params.gate={gate}"], config_dir=watched / "conf", home=home, detach=True
    )
    try:
        wait_until(lambda: Path(f"{gate}.started").exists())
        pid, start = started_note(gate)
        store = Store(home)
        wait_until(lambda: (run := the_run(store, launch.id)) and run.status.value == "running")
        run = the_run(store, launch.id)
        assert run is not None and not gate.exists()
        assert run.pid == pid and run.started is not None and run.started <= start
        owner = store.launch(launch.id)
        assert owner is not None and owner.counts == {"running": 1}
        assert pid not in (owner.pid, os.getpid())  # a worker of the background process
        store.close()
    finally:
        gate.touch()
    assert launch.wait(timeout=60).runs[0].status is RunStatus.SUCCEEDED


# -- Dask: a real scheduler and workers, as tests/test_dask.py starts them ---------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.test_dask import Cluster

    running = Cluster(tmp_path_factory.mktemp("dask-cluster"))
    try:
        running.start_scheduler()
        running.start_worker()
        running.wait_for_workers(1)
        yield running
    finally:
        running.stop()


@pytest.mark.slow
def test_a_dask_run_is_seen_running_with_its_host_and_worker(
    cluster: Any, watched: Path, home: Path, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    launching = Launching(
        "hold",
        [f"params.gate={gate}"],
        config_dir=watched / "conf",
        home=home,
        addr=cluster.address,
    )
    try:
        wait_until(lambda: Path(f"{gate}.started").exists())
        pid, _ = started_note(gate)
        store = Store(home)
        wait_until(
            lambda: (run := the_run(store, launching.launch_id)) and run.status.value == "running"
        )
        run = the_run(store, launching.launch_id)
        assert run is not None and not gate.exists()
        assert run.host == socket.gethostname() and run.started is not None
        assert run.worker in cluster.run(os.getpid)  # the worker's address
        assert cluster.run(os.getpid)[run.worker] == pid
        store.close()
    finally:
        gate.touch()
    (run,) = launching.join().runs
    assert run.status is RunStatus.SUCCEEDED and run.result == pid
