"""Fault injection against a real `runner` process: dead workers, timeouts, retries,
interrupts, SIGKILL then resume, concurrent launches, caching, logs."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import popen


def launched(cli, *args: str) -> tuple[int, dict]:
    result = cli(*args, "--json")
    assert result.out, result.err
    return result.code, json.loads(result.out)


def statuses(launch: dict) -> list[str]:
    return [run["status"] for run in launch["runs"]]


def test_a_dead_worker_fails_only_its_run(cli) -> None:
    code, launch = launched(cli, "crash", "params.a=range(8)")
    assert code == 4
    assert statuses(launch) == ["succeeded"] * 3 + ["failed"] + ["succeeded"] * 4
    assert launch["runs"][3]["error"] == "worker died (exit codes {EXIT(7)})"
    assert [r["result"] for r in launch["runs"] if r["status"] == "succeeded"] == [
        0,
        1,
        2,
        4,
        5,
        6,
        7,
    ]


def test_timeout_stops_the_run_and_frees_its_worker(cli) -> None:
    started = time.monotonic()
    code, launch = launched(cli, "slow", "params.seconds=0.1,30,0.2", "--timeout", "1")
    assert time.monotonic() - started < 20
    assert code == 4
    assert statuses(launch) == ["succeeded", "timed_out", "succeeded"]
    assert launch["runs"][1]["error"] == "timed out after 1s"


@pytest.mark.slow  # quick suite under 5 minutes; CI runs it
def test_a_run_that_ignores_its_timeout_loses_its_worker(cli) -> None:
    code, launch = launched(cli, "stubborn", "params.seconds=30,0.1", "--timeout", "1")
    assert code == 4
    assert statuses(launch) == ["timed_out", "succeeded"]
    assert "its worker would not stop and was ended" in launch["runs"][0]["error"]


def test_retries_rerun_with_the_same_seed_and_record_every_attempt(
    cli, home: Path, tmp_path
) -> None:
    marker = tmp_path / "count"
    code, launch = launched(
        cli, "flaky", f"params.marker={marker}", "--retries", "3", "--seed", "8"
    )
    assert code == 0
    (run,) = launch["runs"]
    assert (run["status"], run["attempts"], run["result"]) == ("succeeded", 3, 8)
    con = sqlite3.connect(home / "runner.db")
    rows = con.execute(
        "SELECT attempt, status, error FROM attempts WHERE run_id=? ORDER BY attempt", (run["id"],)
    ).fetchall()
    assert rows == [
        (1, "failed", "RuntimeError: attempt 1 fails"),
        (2, "failed", "RuntimeError: attempt 2 fails"),
        (3, "succeeded", None),
    ]


def test_retries_run_out(cli, tmp_path) -> None:
    code, launch = launched(cli, "flaky", f"params.marker={tmp_path / 'c'}", "--retries", "1")
    assert code == 4
    assert (launch["runs"][0]["status"], launch["runs"][0]["attempts"]) == ("failed", 2)


def test_fail_fast_starts_nothing_after_a_failure(cli) -> None:
    code, launch = launched(
        cli, "boom", "params.a=2,1,1,1,1,1,1,1,1,1", "--fail-fast", "--max-parallelism", "1"
    )
    assert code == 4
    assert statuses(launch)[0] == "failed"
    assert "cancelled" in statuses(launch)
    cancelled = [r for r in launch["runs"] if r["status"] == "cancelled"]
    assert cancelled[0]["error"].startswith("not run: --fail-fast stopped the launch after run")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.slow
def test_interrupt_cancels_and_keeps_what_finished(cli, project, home, elsewhere, sig) -> None:
    with popen(
        project, home, elsewhere, "slow", "params.seconds=0.3", "--repeat", "20", "-q"
    ) as proc:
        assert proc.stdout is not None
        launch_id = proc.stdout.readline().strip()
        time.sleep(2.0)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert f"unfinished runs of launch {launch_id} recorded as cancelled" in err
    (launch,) = json.loads(cli("status", launch_id, "--json").out)
    done = statuses(launch)
    assert set(done) == {"succeeded", "cancelled"}
    assert all(r["result"] == 0.3 for r in launch["runs"] if r["status"] == "succeeded")


@pytest.mark.slow  # quick suite under 5 minutes; CI runs it
def test_sigkill_then_status_shows_lost_and_resume_finishes(cli, project, home, elsewhere) -> None:
    with popen(
        project,
        home,
        elsewhere,
        "slow",
        "params.seconds=0.3",
        "--repeat",
        "12",
        "--seed",
        "4",
        "-q",
    ) as proc:
        assert proc.stdout is not None
        launch_id = proc.stdout.readline().strip()
        time.sleep(1.5)
        proc.kill()
        proc.wait(30)
    (before,) = json.loads(cli("status", launch_id, "--json").out)
    assert "lost" in statuses(before)
    assert set(statuses(before)) <= {"succeeded", "lost"}
    finished = {r["id"]: r["ended"] for r in before["runs"] if r["status"] == "succeeded"}
    assert "lost" in cli("status").out

    code, after = launched(cli, "resume", launch_id[:10])
    assert code == 0
    assert after["id"] == launch_id and statuses(after) == ["succeeded"] * 12
    assert [r["seed"] for r in after["runs"]] == [r["seed"] for r in before["runs"]]
    # What had finished was not run again.
    assert {r["id"]: r["ended"] for r in after["runs"] if r["id"] in finished} == finished
    assert launched(cli, "resume", launch_id)[1]["counts"] == {"succeeded": 12}


def test_rerun_reproduces_a_run(cli) -> None:
    _, first = launched(cli, "draw", "params.n=4")
    _, again = launched(cli, "rerun", first["runs"][0]["id"][:8])
    assert again["id"] != first["id"]
    assert again["runs"][0]["seed"] == first["runs"][0]["seed"]
    assert again["runs"][0]["result"] == first["runs"][0]["result"]
    assert again["annotations"]["rerun_of"] == first["runs"][0]["id"]


def test_two_concurrent_launches_on_one_store(project, home, elsewhere, cli) -> None:
    procs = [
        popen(project, home, elsewhere, "add", f"params.a=range({n},{n + 40})", "--json")
        for n in (0, 100)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        launch = json.loads(out)
        assert statuses(launch) == ["succeeded"] * 40
    recorded = json.loads(cli("status", "--json").out)
    assert sorted(launch["counts"]["succeeded"] for launch in recorded) == [40, 40]


@pytest.mark.slow  # quick suite under 5 minutes; CI runs it
def test_cache_hit_miss_and_overwrite(cli) -> None:
    _, first = launched(cli, "draw", "params.n=1,2", "--seed", "3", "--cache")
    assert statuses(first) == ["succeeded", "succeeded"]
    _, hit = launched(cli, "draw", "params.n=1,2,3", "--seed", "3", "--cache")
    assert statuses(hit) == ["cached", "cached", "succeeded"]
    assert [r["cached_from"] for r in hit["runs"][:2]] == [r["id"] for r in first["runs"]]
    assert [r["result"] for r in hit["runs"][:2]] == [r["result"] for r in first["runs"]]
    _, other_seed = launched(cli, "draw", "params.n=1", "--seed", "4", "--cache")
    assert statuses(other_seed) == ["succeeded"]
    _, forced = launched(cli, "draw", "params.n=1", "--seed", "3", "--cache", "--overwrite-cache")
    assert statuses(forced) == ["succeeded"]
    _, uncached = launched(cli, "draw", "params.n=1", "--seed", "3")
    assert statuses(uncached) == ["succeeded"]


@pytest.mark.slow
def test_logs_print_and_follow(cli, project, home, elsewhere) -> None:
    _, launch = launched(cli, "boom", "params.a=5")
    logs = cli("logs", launch["runs"][0]["id"])
    assert (logs.code, logs.out) == (0, "a is 5\n")
    with popen(project, home, elsewhere, "hello", "params.name=follow", "-q") as proc:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        followed = cli("logs", run_id, "-f")
        proc.wait(60)
    assert followed.code == 0
    assert followed.out == "Hello, follow.\n"
    quiet = cli("logs", launched(cli, "add")[1]["runs"][0]["id"])
    assert quiet.code == 0 and "has no log" in quiet.err


def test_a_failed_write_of_outcomes_is_raised(tmp_path: Path) -> None:
    """A batch the store cannot take is not dropped silently: the launcher sees the error."""
    from runner.engine import Recorder
    from runner.errors import StoreError
    from runner.worker import Batch, Shared

    class FullDisk:
        def record_done(self, parts: list) -> None:
            raise StoreError("cannot write the run store: database or disk is full")

    shared = Shared("m:f", {}, str(tmp_path / ""), (), {}, None, False, 0)
    batch = Batch(shared, ["r1"], [0], [()], [0])
    recorder = Recorder(FullDisk())  # type: ignore[arg-type]
    recorder.add(batch, [(1.0, 2.0, "1")])
    with pytest.raises(StoreError, match="disk is full"):
        recorder.flush()
