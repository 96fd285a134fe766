"""The CLI's view of running runs and of metrics: `runner status` while runs run (how long,
where), `runner metrics` (table, CSV, JSON, its errors), the metrics block of `runner status
RUN`, and a watched metric on a launch's live line. Views are tested on a store written
directly; one real launch (threads, in this process) logs while it sleeps."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
import textwrap
import threading
import time
from array import array
from pathlib import Path
from typing import Any

import pytest

import runner
from runner import api, cli_metrics, render
from runner.records import MetricSummary, RunStatus
from runner.store import Store, process_start, this_host
from tests.test_output import cli_out, columns80, run_ids, stored  # noqa: F401 (columns80: a fixture)

ME = os.getpid()


def running_launch(home: Path, n: int = 2, swept: dict[str, int] | None = None) -> str:
    """A launch of `n` runs (params x = 0..n-1) owned by this (live) process, all pending."""
    launch_id = stored(
        home,
        [{"params": {"x": i, "y": "fixed"}, "status": "pending"} for i in range(n)],
        pid=ME,
        pid_start=process_start(ME),
        host=this_host(),
        swept=swept if swept is not None else {"params.x": n},
    )
    with sqlite3.connect(home / "runner.db") as db:  # not started yet
        db.execute("UPDATE runs SET started=NULL, ended=NULL WHERE launch_id=?", (launch_id,))
    db.close()
    return launch_id


def log(home: Path, run_id: str, **series: list[float]) -> None:
    """Points of a run, recorded as the launching process records them (steps 0, 1, ...)."""
    now = time.time()
    chunks = [
        (
            key,
            array("q", range(len(values))).tobytes(),
            array("d", values).tobytes(),
            array("d", [now + i for i in range(len(values))]).tobytes(),
        )
        for key, values in series.items()
    ]
    store = Store(home)
    store.record_points([(run_id, now, 0, chunks)], {})
    store.close()


# -- 1. running runs: for how long, and where --------------------------------------------------


@pytest.mark.usefixtures("columns80")
def test_status_shows_running_runs_with_how_long_and_where(home: Path, capsys) -> None:
    launch_id = running_launch(home, 3)
    local, dask, _ = run_ids(home, launch_id)
    started = time.time() - 12.2
    store = Store(home)
    store.record_running(
        [
            (local, started, 4242, None, None),
            (dask, started, None, "node-7", "tcp://10.0.0.7:40001"),
        ]
    )
    store.close()

    _, out, _ = cli_out(capsys, "status")  # the launches, one line each
    assert "2 running" in out and "1 pending" in out

    _, out, _ = cli_out(capsys, "status", launch_id[:12])
    lines = out.splitlines()
    at = lines.index("running now (2):")
    assert re.fullmatch(rf"  {local[:8]}  for 1\ds  in pid 4242 on {this_host()}", lines[at + 1])
    assert re.fullmatch(
        rf"  {dask[:8]}  for 1\ds  on node-7 \(Dask worker tcp://10.0.0.7:40001\)", lines[at + 2]
    )
    assert max(len(line) for line in lines) <= 80

    _, out, _ = cli_out(capsys, "status", local)
    assert re.search(r"^status    running for 1\ds \(since \d{4}-\d\d-\d\d [\d:]{8}\)$", out, re.M)
    assert f"runs in   pid 4242 on {this_host()}\n" in out
    assert "Dask" not in out and "duration" not in out  # a local run is no Dask run
    _, out, _ = cli_out(capsys, "status", dask)
    assert "runs on   node-7 (Dask worker tcp://10.0.0.7:40001)\n" in out

    _, out, _ = cli_out(capsys, "status", launch_id[:12], "--json")
    runs = {run["id"]: run for run in json.loads(out)[0]["runs"]}
    assert {k: runs[local][k] for k in ("status", "started", "pid", "host", "worker")} == {
        "status": "running",
        "started": started,
        "pid": 4242,
        "host": None,
        "worker": None,
    }
    assert (runs[dask]["pid"], runs[dask]["host"], runs[dask]["worker"]) == (
        None,
        "node-7",
        "tcp://10.0.0.7:40001",
    )
    _, out, _ = cli_out(capsys, "status", local, "--json")
    assert json.loads(out)[0]["pid"] == 4242

    (launch,) = runner.status([launch_id], home=home)
    assert launch.status() == "running"
    assert launch.record.counts == {"running": 2, "pending": 1}
    first = launch.runs[0]
    assert (first.status, first.started, first.pid) == (RunStatus.RUNNING, started, 4242)


@pytest.mark.usefixtures("columns80")
def test_a_finished_local_run_names_its_process_not_a_dask_worker(home: Path, capsys) -> None:
    launch_id = running_launch(home, 2)
    local, dask = run_ids(home, launch_id)
    store = Store(home)
    store.record_running([(local, time.time() - 1, 4242, None, None)])
    store.close()
    (launch,) = runner.status([launch_id], home=home)
    assert launch.status() == "running"
    with sqlite3.connect(home / "runner.db") as db:  # they end (status and end; pid, host stay)
        db.execute("UPDATE runs SET status='succeeded', ended=? WHERE id=?", (time.time(), local))
        db.execute(
            "UPDATE runs SET status='succeeded', host='node-7', worker='tcp://10.0.0.7:1'"
            " WHERE id=?",
            (dask,),
        )
    db.close()
    _, out, _ = cli_out(capsys, "status", local)
    assert f"ran in    pid 4242 on {this_host()}\n" in out
    assert "Dask" not in out and "status    succeeded\n" in out
    _, out, _ = cli_out(capsys, "status", dask)
    assert "ran on    node-7 (Dask worker tcp://10.0.0.7:1)\n" in out  # as test_dask reads it


# -- 2. runner metrics ---------------------------------------------------------------------


@pytest.mark.usefixtures("columns80")
def test_metrics_of_a_launch_table_csv_and_json(home: Path, capsys) -> None:
    launch_id = running_launch(home, 3)
    first, second, silent = run_ids(home, launch_id)
    log(home, first, loss=[1.0, 0.5, 0.25], acc=[0.1, 0.2, 0.3])
    log(home, second, loss=[2.0, float("nan"), 1.5])

    code, out, err = cli_out(capsys, "metrics", launch_id[:8])
    assert code == 0 and err == ""
    assert out.splitlines()[0].split() == [
        *("run", "x", "metric", "count", "last", "min", "max", "step", "curve")
    ]
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [row[:3] for row in rows] == [[first[:8], "0", "acc"], [first[:8], "0", "loss"],
                                         [second[:8], "1", "loss"]]  # fmt: skip
    assert rows[1][3:8] == ["3", "0.25", "0.25", "1", "2"] and rows[1][8] == "█▃▁"
    assert rows[2][3:8] == ["3", "1.5", "1.5", "2", "2"]  # NaN: a gap, left out of min/max

    code, out, _ = cli_out(capsys, "metrics", launch_id, "--format", "csv")
    points = list(csv.DictReader(io.StringIO(out)))
    assert list(points[0]) == ["run", "key", "step", "value", "time"]
    got = [(p["run"], p["key"], int(p["step"]), float(p["value"])) for p in points]
    expected = [
        *((first, "acc", i, v) for i, v in enumerate([0.1, 0.2, 0.3])),
        *((first, "loss", i, v) for i, v in enumerate([1.0, 0.5, 0.25])),
        *((second, "loss", i, v) for i, v in enumerate([2.0, float("nan"), 1.5])),
    ]
    assert [g[:3] for g in got] == [e[:3] for e in expected]
    assert [repr(g[3]) for g in got] == [repr(e[3]) for e in expected]

    code, out, _ = cli_out(capsys, "metrics", launch_id, "--key", "loss", "--format", "json")
    loaded = json.loads(out)  # strict JSON: NaN is null
    assert [(p["run"], p["step"], p["value"]) for p in loaded] == [
        (first, 0, 1.0),
        (first, 1, 0.5),
        (first, 2, 0.25),
        (second, 0, 2.0),
        (second, 1, None),
        (second, 2, 1.5),
    ]
    assert all(isinstance(p["time"], float) and p["key"] == "loss" for p in loaded)

    code, out, err = cli_out(capsys, "metrics", silent[:10])
    assert (code, out) == (0, "")
    assert err == (
        f"run {silent[:12]} has logged no metrics yet (runner.log(loss=...) in a workflow"
        " records them)\n"
    )
    code, out, _ = cli_out(capsys, "metrics", silent, "--format", "csv")
    assert (code, out) == (0, "run,key,step,value,time\n")
    code, out, _ = cli_out(capsys, "metrics", silent, "--format", "json")
    assert (code, json.loads(out)) == (0, [])


def test_csv_quotes_a_key_that_needs_it(home: Path, capsys) -> None:
    launch_id = running_launch(home, 2)
    run_id = run_ids(home, launch_id)[0]
    key = 'val/"top,5"'
    log(home, run_id, **{key: [0.5, float("inf")]})
    code, out, _ = cli_out(capsys, "metrics", run_id, "--format", "csv")
    rows = [(p["key"], p["value"]) for p in csv.DictReader(io.StringIO(out))]
    assert code == 0 and rows == [(key, "0.5"), (key, "inf")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["abc"], "error: no launch or run id starts with 'abc'", id="unknown-id"),
        pytest.param(
            ["RUN", "--key", "los"],
            "error: run RUN never logged 'los': it logged acc, loss; did you mean loss?",
            id="unknown-key",
        ),
        pytest.param(
            ["LAUNCH", "--key", "loss,speed"],
            "error: launch LAUNCH never logged 'speed': it logged acc, loss",
            id="one-of-two-keys",
        ),
    ],
)
def test_metrics_errors_exit_1_and_say_why(home: Path, capsys, args, message) -> None:
    launch_id = running_launch(home, 2)
    run_id = run_ids(home, launch_id)[0]
    log(home, run_id, loss=[1.0], acc=[0.5])
    args = [{"RUN": run_id, "LAUNCH": launch_id}.get(arg, arg) for arg in args]
    code, out, err = cli_out(capsys, "metrics", *args)
    message = message.replace("RUN", run_id[:12]).replace("LAUNCH", launch_id[:12])
    assert (code, out) == (1, "") and err.startswith(message), err


@pytest.mark.usefixtures("columns80")
def test_a_long_curve_is_strided_to_its_width(home: Path, capsys) -> None:
    launch_id = running_launch(home, 2)
    run_id = run_ids(home, launch_id)[0]
    log(home, run_id, loss=[float(i % 100) for i in range(100_000)], x=[-1e308, 1e308])
    code, out, _ = cli_out(capsys, "metrics", run_id)
    lines = out.splitlines()
    assert code == 0 and max(len(line) for line in lines) <= 80
    loss = next(line for line in lines if line.startswith("loss"))
    drawn = loss.split()[-1]
    assert len(drawn) == cli_metrics.CURVE_MOST or len(loss) == 80
    assert drawn[-1] == "█"  # the last point (99) of the last share: the top
    assert lines[-1].startswith("curves: a character a point, or past ")
    assert next(line for line in lines if line.startswith("x ")).split()[-1] == "▁█"


def test_curve_draws_gaps_and_flat_series() -> None:
    assert cli_metrics.curve([1.0, float("nan"), 3.0, float("inf")], 10) == "▁ █ "
    assert cli_metrics.curve([-5.0, -4.0, -3.0], 10) == "▁▄█"  # no reverse video
    assert cli_metrics.curve([2.0, 2.0], 10) == "▄▄"
    assert cli_metrics.curve(list(range(10)), 5) == "▁▃▄▆█"  # 1, 3, 5, 7, 9: each fifth's last
    assert cli_metrics.curve([], 5) == ""


# -- 3. runner status RUN: the metrics block ---------------------------------------------------


@pytest.mark.usefixtures("columns80")
def test_status_run_shows_each_metrics_last_value_and_curve(home: Path, capsys) -> None:
    launch_id = running_launch(home, 2)
    run_id = run_ids(home, launch_id)[0]
    keys = {f"metric_{i:02d}": [float(i), float(i + 1)] for i in range(14)}
    log(home, run_id, loss=[3.0, 2.0, 1.0], **keys)
    _, out, _ = cli_out(capsys, "status", run_id)
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("metrics"))
    assert lines[at].split() == ["metrics", "loss", "1", "█▄▁", "3", "points"]
    assert lines[at + 1].split() == ["metric_00", "1", "▁█", "2", "points"]
    assert lines[at + cli_metrics.SHOWN_METRICS].strip() == (
        f"... and 3 more (runner metrics {run_id[:12]})"
    )
    assert max(len(line) for line in lines) <= 80
    other = run_ids(home, launch_id)[1]
    _, out, _ = cli_out(capsys, "status", other)  # nothing logged: no block
    assert "metrics" not in out


# -- 4. the watched metric on the live line ---------------------------------------------------


def test_watched_says_the_lowest_and_highest_last_values() -> None:
    def summary(run: str, last: float | None, step: int = 4) -> MetricSummary:
        return MetricSummary(run * 32, "loss", step + 1, last, step, last, last, 0.0)

    assert cli_metrics.watched("loss", []) == "loss: not logged yet"
    assert cli_metrics.watched("loss", [summary("a", 0.5)]) == "loss 0.5 (step 4, 5 points)"
    assert cli_metrics.watched(
        "loss", [summary("a", 0.5), summary("b", 0.25), summary("c", None)]
    ) == ("loss (last, 3 runs): lowest 0.25 (bbbbbbbb), highest 0.5 (aaaaaaaa)")


def test_the_live_line_shows_a_watched_metric(home: Path, capsys) -> None:
    launch_id = running_launch(home, 2)
    first, second = run_ids(home, launch_id)
    log(home, first, loss=[1.0, 0.5])
    log(home, second, loss=[0.8, 0.4, 0.2])
    record = Store(home).launch(launch_id)
    assert record is not None

    # As runner wait follows a launch made earlier (its ids printed then).
    plain = render.Watch(quiet=False, as_json=False, run_ids=False)
    plain.live = True  # as on a terminal
    with plain:
        plain.created(record, [object()] * 2)  # type: ignore[list-item]
        assert len(list(plain.progress.get_renderables())) == 1  # the bar alone, as before

    watch = render.Watch(quiet=False, as_json=False, run_ids=False, watch="loss", every=0.01)
    watch.live = True
    with watch:
        watch.created(record, [object()] * 2)  # type: ignore[list-item]
        deadline = time.monotonic() + 10
        while not watch.watched and time.monotonic() < deadline:
            time.sleep(0.01)
        *_, line = watch.progress.get_renderables()
        assert line.plain == (
            f"loss (last, 2 runs): lowest 0.2 ({second[:8]}), highest 0.5 ({first[:8]})"
        )
        log(home, first, loss=[0.1])  # a new execution's points replace the old
        deadline = time.monotonic() + 10
        while "lowest 0.1 " not in watch.watched and time.monotonic() < deadline:
            time.sleep(0.01)
        assert watch.watched.startswith("loss (last, 2 runs): lowest 0.1 ")
    assert watch._reader is not None and not watch._reader.is_alive()


def test_watch_and_detach_refused_together(home: Path, capsys) -> None:
    code, _, err = cli_out(capsys, "run", "--detach", "--watch", "loss", "add")
    assert code == 1
    assert "follow a detached launch with runner wait ID --watch loss" in err


def test_wait_takes_watch(home: Path, capsys) -> None:
    launch_id = stored(home, [{"params": {"x": 1}}, {"params": {"x": 2}}])
    code, out, _ = cli_out(capsys, "wait", launch_id[:8], "--watch", "loss")
    assert code == 0 and "2 succeeded" in out


# -- a real launch: a run seen running while it sleeps, and what it logged ---------------------

FLOWS = textwrap.dedent(
    """
    import time
    from pathlib import Path

    import runner


    @runner.workflow
    def nap(gate: str, lr: float = 0.1) -> float:
        runner.log(loss=1.0)
        runner.log(loss=0.5, acc=0.25)
        deadline = time.monotonic() + 60
        while not Path(gate).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        runner.log(step=10, loss=0.25)
        return 0.25
    """
)


@pytest.mark.usefixtures("columns80")
def test_a_sleeping_run_is_seen_running_and_its_points_read_back(
    home: Path, tmp_path: Path, capsys
) -> None:
    flows = tmp_path / "watched_flows.py"
    flows.write_text(FLOWS)
    gate = tmp_path / "gate"
    root, found = api.workflows_in(flows)
    workflow = api.pick_workflow(flows, found, "nap")
    done: list[Any] = []
    launching = threading.Thread(
        target=lambda: done.append(
            api.launch(
                workflow=workflow,
                root=root,
                overrides=["launcher=threads"],
                inputs={"gate": str(gate)},
                inputs_label="test",
                progress=False,
            )
        )
    )
    launching.start()
    try:
        deadline = time.monotonic() + 30
        shown = ""
        while time.monotonic() < deadline:
            ids = [r.id for r in runner.runs(status="running", home=home)]
            if ids and runner.metric_summaries(ids[0], ["acc"], home=home):
                _, shown, _ = cli_out(capsys, "status", ids[0])
                break
            time.sleep(0.05)
        assert re.search(r"^status    running for \d+s \(since ", shown, re.M), shown
        assert f"runs in   pid {ME}" in shown  # the threads launcher: this process
        assert re.search(r"^metrics   acc   0\.25  ▄   1 point$", shown, re.M), shown
        assert re.search(r"^          loss   0\.5  █▁  2 points$", shown, re.M), shown
    finally:
        gate.write_text("")
        launching.join(60)
    (launch,) = done
    run_id = launch.first_run().id
    code, out, _ = cli_out(capsys, "metrics", run_id, "--format", "csv")
    points = [
        (p["key"], int(p["step"]), float(p["value"])) for p in csv.DictReader(io.StringIO(out))
    ]
    assert points == [("acc", 0, 0.25), ("loss", 0, 1.0), ("loss", 1, 0.5), ("loss", 10, 0.25)]
    code, out, _ = cli_out(capsys, "metrics", run_id, "--format", "json")
    assert code == 0 and [(p["key"], p["step"], p["value"]) for p in json.loads(out)] == points
    _, out, _ = cli_out(capsys, "metrics", run_id)
    assert [line.rstrip() for line in out.splitlines()[1:]] == [
        "acc         1  0.25  0.25  0.25     0  ▄",
        "loss        3  0.25  0.25     1    10  █▃▁",
    ]


LIVE_WITH_IN_PROCESS_RUNS = textwrap.dedent(
    """
    import io, sys, time
    from runner import render, worker
    from runner.records import RunOutcome, RunStatus
    from tests.conftest import launch_record

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    shown = sys.stdout = Terminal()
    watch = render.Watch(quiet=False, as_json=False, run_ids=False)
    with watch:
        watch.created(launch_record(run_count=2), ["a", "b"])
        worker._install()  # what the threads and sequential launchers do, in this process
        for n in range(2):
            watch.outcome(RunOutcome(f"{n:032x}", RunStatus.SUCCEEDED, 0.0, 1.0))
            time.sleep(0.2)  # the bar refreshes meanwhile
    sys.stdout = sys.__stdout__
    print("ended;", "2 done, 0 failed, 0 to go" in shown.getvalue())
    """
)


def test_the_live_bar_lives_with_runs_in_this_process() -> None:
    """The threads and sequential launchers route this process's stdout to the runs' logs:
    the live bar kept writing through that stand-in into rich's own, which printed it through
    the bar again, and an attached launch on a terminal never ended (a subprocess: it spun)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", LIVE_WITH_IN_PROCESS_RUNS],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stdout) == (0, "ended; True\n"), done.stderr
