"""A million runs: lazy plans, runs recorded as they run, constant memory, resume of a launch
stopped before it recorded every run. Small sizes stand in for big ones where the limits
(runs kept, runs recorded per batch) are lowered; the big cases are marked slow."""

from __future__ import annotations

import gc
import json
import os
import signal
import sqlite3
import subprocess
import time
import tracemalloc
from pathlib import Path

import pytest

import runner
from runner import execution, plan
from runner.records import RunSpec
from tests.conftest import RUNNER


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Launches past 10 runs are planned lazily and stream their records 7 at a time."""
    monkeypatch.setattr(plan, "KEPT_SPECS", 10)
    monkeypatch.setattr(plan, "ID_BLOCK", 16)
    monkeypatch.setattr(execution, "RECORD_EVERY", 7)


def _rows(home: Path, launch_id: str) -> list[tuple]:
    with sqlite3.connect(home / "runner.db") as db:
        return db.execute(
            "SELECT idx, id, params, seed, status, result FROM runs WHERE launch_id=? ORDER BY idx",
            (launch_id,),
        ).fetchall()


def _launch(project: Path, home: Path, *overrides: str, **options):
    return runner.launch(
        "add",
        [*overrides, "launcher=sequential"],
        config_dir=project / "conf",
        home=home,
        progress=False,
        **options,
    )


def test_a_streamed_launch_records_every_run_once_as_a_kept_one_does(
    project: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = _launch(project, home, "params.a=range(0,20)", "params.b=1,2", repeat=2, seed=5)
    monkeypatch.setattr(plan, "KEPT_SPECS", 10)
    monkeypatch.setattr(execution, "RECORD_EVERY", 7)
    recorded: list[list[str]] = []
    streamed = runner.launch(
        "add",
        ["params.a=range(0,20)", "params.b=1,2", "launcher=sequential"],
        config_dir=project / "conf",
        home=home,
        progress=False,
        repeat=2,
        seed=5,
        on_recorded=lambda ids: recorded.append(list(ids)),
    )
    assert streamed.ok and streamed.record.run_count == 80
    assert [len(batch) for batch in recorded] == [7] * 11 + [3]
    rows = _rows(home, streamed.id)
    assert [row[0] for row in rows] == list(range(80))
    assert [row[1] for row in rows] == [i for batch in recorded for i in batch]
    assert len({row[1] for row in rows}) == 80
    # Params are kept once for the launch, not per run, and read back the same.
    assert {row[2] for row in rows} == {""}
    same = [(r.params, r.seed, r.result, r.index) for r in kept.runs]
    assert [(r.params, r.seed, r.result, r.index) for r in streamed.runs] == same
    assert [r.result for r in streamed.runs][:4] == [1, 1, 2, 2]  # a=0: b=1 (x2), b=2 (x2)


def test_seeds_and_params_follow_the_index_for_any_number_of_axes(
    project: Path, home: Path, small_limits: None
) -> None:
    done = _launch(project, home, "params.a=3,1,2", "params.b=range(10,14)", repeat=3, seed=9)
    preview = runner.compose(
        "add", ["params.a=3,1,2", "params.b=range(10,14)"], config_dir=project / "conf",
        repeat=3, seed=9,
    )  # fmt: skip
    assert len(preview.specs) == 36
    expected = [(s.params, s.seed, s.repeat_index) for s in preview.specs]
    runs = done.runs
    assert [(r.params, r.seed, r.index % 3) for r in runs] == expected
    assert [r.result for r in runs] == [s.params["a"] + s.params["b"] for s in preview.specs]
    assert runner.table(done).rows[5].values["params.b"] == 11


def test_ids_are_the_same_each_time_a_lazy_plan_is_read(project: Path, small_limits: None) -> None:
    preview = runner.compose("add", ["params.a=range(0,50)"], config_dir=project / "conf")
    first = [spec.id for spec in preview.specs]
    assert [spec.id for spec in preview.specs] == first
    assert preview.specs[17].id == first[17] and preview.specs[-1].id == first[-1]
    assert [spec.id for spec in preview.specs[40:43]] == first[40:43]
    assert len(set(first)) == 50 and all(len(i) == 32 for i in first)


def test_a_launch_stopped_before_recording_every_run_is_lost_then_resumed(
    project: Path, home: Path, small_limits: None
) -> None:
    done = _launch(project, home, "params.a=range(0,30)", seed=3)
    before = _rows(home, done.id)
    # As if its launcher was killed after recording 12 runs (8 of them finished).
    with sqlite3.connect(home / "runner.db") as db:
        db.execute("DELETE FROM runs WHERE launch_id=? AND idx>=12", (done.id,))
        db.execute(
            "UPDATE runs SET status='pending', result=NULL WHERE launch_id=? AND idx>=8", (done.id,)
        )
        db.execute("UPDATE launches SET pid=999999999, pid_start='' WHERE id=?", (done.id,))
    lost = runner.get(done.id, home=home)
    assert lost.record.counts == {"succeeded": 8, "lost": 22}
    assert lost.status() == "lost"
    resumed = runner.resume(done.id, home=home, progress=False)
    assert resumed.record.counts == {"succeeded": 30}
    after = _rows(home, done.id)
    assert [row[:4] for row in after] == [row[:4] for row in before]  # same ids, params, seeds
    assert [json.loads(row[5]) for row in after] == [a + 5 for a in range(30)]  # add:2.0, b=5


def test_a_cancelled_or_failed_fast_streamed_launch_counts_every_run(
    project: Path, home: Path, small_limits: None
) -> None:
    stopped = runner.launch(
        "boom", ["params.a=range(0,40)", "launcher=sequential"], config_dir=project / "conf",
        home=home, progress=False, fail_fast=True,
    )  # fmt: skip
    counts = stopped.record.counts
    assert counts == {"succeeded": 2, "failed": 1, "cancelled": 37}
    assert len(_rows(home, stopped.id)) == 40  # the runs never started are recorded too


@pytest.mark.slow  # tracemalloc slows the million values' parsing down
def test_runner_show_of_a_million_point_sweep_reads_only_what_it_shows(project: Path) -> None:
    tracemalloc.start()
    try:
        preview = runner.compose("add", ["params.a=range(0,1000000)"], config_dir=project / "conf")
        first = preview.specs[:3]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(preview.specs) == 1_000_000
    assert [spec.params["a"] for spec in first] == [0, 1, 2]
    # The axis's million values are held (about 40 MB); a million planned runs would be ten
    # times that.
    assert peak < 120 * 2**20, f"peak {peak / 2**20:.0f} MB"


def test_a_streamed_launch_cancelled_midway_counts_every_run_once(
    project: Path, home: Path, small_limits: None
) -> None:
    """Runs recorded after the cancel (the launch records them as they are about to run) are
    recorded cancelled too: nothing is left pending, nothing shows lost."""
    launched: list[str] = []
    seen = 0

    def outcome(_outcome) -> None:
        nonlocal seen
        seen += 1
        if seen == 10:
            runner.cancel(launched, home=home)

    done = runner.launch(
        "nap", ["params.seconds=0.01,0.02", "launcher=sequential"], config_dir=project / "conf",
        home=home, progress=False, repeat=100, on_outcome=outcome,
        on_created=lambda record, specs: launched.append(record.id),
    )  # fmt: skip
    assert done.cancelled
    counts = done.record.counts
    assert set(counts) == {"succeeded", "cancelled"} and sum(counts.values()) == 200
    rows = _rows(home, done.id)
    assert {row[4] for row in rows} <= {"succeeded", "cancelled"}
    assert counts["succeeded"] == sum(row[4] == "succeeded" for row in rows)


def test_a_streamed_launch_writes_each_run_once(
    project: Path, home: Path, small_limits: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its runs' rows are written finished, a block at a time, in plan order: never pending
    first and again once they finish."""
    from runner.store import Store

    written: list[int] = []
    monkeypatch.setattr(
        Store, "record_done", lambda self, parts: written.extend(len(d) for _, d in parts)
    )
    done = _launch(project, home, "params.a=range(0,40)", seed=2)
    assert done.record.counts == {"succeeded": 40} and written == []
    assert [row[4] for row in _rows(home, done.id)] == ["succeeded"] * 40


def test_a_dead_worker_in_a_streamed_launch_fails_only_its_run(
    project: Path, home: Path, small_limits: None
) -> None:
    """The runs beside the crash, held with their block until it is recorded, are run again
    and written once, after their block's rows exist."""
    done = runner.launch(
        "crash", ["params.a=range(0,30)"], config_dir=project / "conf", home=home,
        progress=False, max_parallelism=2,
    )  # fmt: skip
    rows = _rows(home, done.id)
    assert [row[0] for row in rows] == list(range(30))
    assert [row[4] for row in rows] == ["succeeded"] * 3 + ["failed"] + ["succeeded"] * 26
    assert [json.loads(row[5]) for row in rows if row[4] == "succeeded"] == [
        a for a in range(30) if a != 3
    ]


@pytest.mark.slow
def test_a_streamed_launch_of_long_runs_records_them_while_they_run(
    project: Path, home: Path, small_limits: None
) -> None:
    """Its runs are held until they finish only so long: runs that last 4 s can be looked up
    as running (status `running`, issue 23) within a second or two of starting."""
    import threading

    launched: list[str] = []
    background = threading.Thread(
        target=runner.launch,
        args=("nap", ["params.seconds=4", "launcher=threads"]),
        kwargs={
            "config_dir": project / "conf", "home": home, "progress": False, "repeat": 12,
            "max_parallelism": 12, "on_created": lambda record, _: launched.append(record.id),
        },
    )  # fmt: skip
    started = time.monotonic()
    background.start()
    try:
        while not launched and time.monotonic() - started < 10:
            time.sleep(0.05)
        time.sleep(2.5)
        rows = _rows(home, launched[0])
        running = time.monotonic() - started < 4
        assert running and len(rows) == 12 and {row[4] for row in rows} == {"running"}
        assert runner.get(rows[0][1], home=home).status.value == "running"
    finally:
        background.join()
    assert [row[4] for row in _rows(home, launched[0])] == ["succeeded"] * 12


def test_runner_show_prints_the_first_rows_and_the_count(cli) -> None:
    shown = cli("show", "add", "params.a=range(0,1000000)")
    assert shown.code == 0, shown.err
    assert "1,000,000 planned runs" in shown.out
    assert "999999" not in shown.out  # only the first rows


@pytest.mark.slow
def test_runs_alive_in_a_launch_stay_bounded(project: Path, home: Path) -> None:
    """A 50,000-run launch never holds more than a few batches of planned runs."""
    counts: list[int] = []
    seen = 0

    def sample(outcome) -> None:
        nonlocal seen
        seen += 1
        if seen % 5_000 == 0:
            counts.append(sum(1 for o in gc.get_objects() if type(o) is RunSpec))

    done = runner.launch(
        "add", ["params.a=range(0,50000)"], config_dir=project / "conf", home=home,
        progress=False, on_outcome=sample,
    )  # fmt: skip
    assert done.ok and done.record.run_count == 50_000
    assert len(counts) == 10
    assert max(counts) <= 3 * execution.RECORD_EVERY, counts


@pytest.mark.slow
def test_kill_then_resume_at_100k_runs_leaves_every_result_once(
    project: Path, home: Path, elsewhere: Path
) -> None:
    env = {**os.environ, "RUNNER_HOME": str(home), "RUNNER_CONFIG_DIR": str(project / "conf")}
    assert RUNNER
    printed = elsewhere / "ids.txt"
    with (
        open(printed, "w") as out,
        subprocess.Popen(
            [RUNNER, "add", "params.a=range(0,100000)", "-q", "--seed", "4"],
            cwd=elsewhere, env=env, stdout=out, stderr=subprocess.DEVNULL,
            start_new_session=True,
        ) as proc,
    ):  # fmt: skip
        deadline = time.monotonic() + 120
        while not printed.read_text().endswith("\n") and time.monotonic() < deadline:
            time.sleep(0.05)
        launch_id = printed.read_text().split("\n")[0]
        finished = 0
        while finished < 20_000 and time.monotonic() < deadline:
            time.sleep(0.2)
            with sqlite3.connect(home / "runner.db") as db:
                (finished,) = db.execute(
                    "SELECT COUNT(*) FROM runs WHERE launch_id=? AND status='succeeded'",
                    (launch_id,),
                ).fetchone()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert finished >= 20_000
    with sqlite3.connect(home / "runner.db") as db:
        (recorded,) = db.execute(
            "SELECT COUNT(*) FROM runs WHERE launch_id=?", (launch_id,)
        ).fetchone()
    assert recorded < 100_000  # recorded as they ran: resume records and runs the rest
    lost = runner.get(launch_id, home=home)
    assert lost.record.counts.get("lost", 0) > 0
    assert sum(lost.record.counts.values()) == 100_000
    resumed = subprocess.run(
        [RUNNER, "resume", launch_id, "-q"], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    rows = _rows(home, launch_id)
    assert [row[0] for row in rows] == list(range(100_000))
    assert len({row[1] for row in rows}) == 100_000
    assert {row[4] for row in rows} == {"succeeded"}
    assert [int(row[5]) for row in rows] == [a + 5 for a in range(100_000)]  # add:2.0, b=5
    assert {row[3] for row in rows} == {4}
