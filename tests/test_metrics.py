"""runner.log from inside runs, to the store and back: declared and decorated workflows,
several keys a step, steps given or counted, what is refused; the points kept when a run
fails, times out, is cancelled or loses its worker; summaries against the points; cached
runs, rerun and resume; a store of the schema before metrics."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import sqlite3
import struct
import time
import warnings
from array import array
from pathlib import Path
from typing import Any

import pytest

import runner
from runner import metrics, running
from runner.records import RunOutcome, RunStatus, Series
from runner.store import Store
from runner.store.schema import MIGRATIONS
from tests.conftest import popen
from tests.test_running import Launching, cluster
from tests.watching import wait_until, watched

__all__ = ["cluster", "watched"]  # (fixtures, used by name)


def launch(
    project: Path, home: Path, target: str, *overrides: str, **options: Any
) -> runner.Launch:
    return runner.launch(
        target, list(overrides), config_dir=project / "conf", home=home, progress=False, **options
    )


def points(run_id: str, home: Path) -> dict[str, list[tuple[int, float]]]:
    """A run's points by key: (step, value), in the order logged."""
    return {
        s.key: list(zip(s.steps, s.values, strict=True))
        for s in runner.metric_series(run_id, home=home)
    }


# What watched.flows.curve(n=3) logs before it returns, raises or waits.
CURVE = {
    "acc": [(0, 0.0), (1, 1 / 3), (2, 2 / 3)],
    "hits": [(0, 3.0)],
    "loss": [(0, 1.0), (1, 0.5), (2, 1 / 3), (10, 0.05)],
    "val": [(0, 0.25)],
}


@pytest.mark.parametrize("launcher", ["sequential", "threads", "local"])
def test_a_declared_workflow_s_metrics_reach_the_store(
    watched: Path, home: Path, launcher: str
) -> None:
    done = launch(watched, home, "curve", "params.n=3", f"launcher={launcher}")
    (run,) = done.runs
    assert run.status is RunStatus.SUCCEEDED
    assert points(run.id, home) == CURVE
    summaries = {s.key: s for s in runner.metric_summaries(done.id, home=home)}
    loss = summaries["loss"]
    assert (loss.run_id, loss.count, loss.last, loss.last_step) == (run.id, 4, 0.05, 10)
    assert (loss.min, loss.max) == (0.05, 1.0)
    assert summaries["hits"].last == 3.0 and summaries["val"].last == 0.25  # numpy scalars


def test_a_decorated_workflow_s_metrics_reach_the_store(watched: Path, home: Path) -> None:
    done = launch(watched, home, "fit", "params.epochs=3", "params.rate=0.5", "launcher=threads")
    (run,) = done.runs
    assert points(run.id, home) == {
        "acc": [(0, 0.5), (1, 0.75), (2, 0.875)],
        "loss": [(0, 0.5), (1, 0.25), (2, 0.125)],
    }
    keys = [(s.key, s.last) for s in runner.metric_summaries(run.id[:8], ["loss"], home=home)]
    assert keys == [("loss", 0.125)]


@pytest.mark.parametrize(
    ("then", "error"),
    [
        pytest.param(
            "text",
            "TypeError: runner.log: loss='0.5' is not a number (str); log numbers, one keyword each",
            id="text",
        ),
        pytest.param("bool step", "TypeError: runner.log: step=True is not an integer", id="bool"),
    ],
)
def test_what_is_not_a_number_fails_the_run_naming_the_key(
    watched: Path, home: Path, then: str, error: str
) -> None:
    done = launch(
        watched, home, "curve", "params.n=3", f"params.then={then}", "launcher=sequential"
    )
    (run,) = done.runs
    assert run.status is RunStatus.FAILED and run.error == error
    # What the run logged before is kept; nothing of the refused call is (not even `ok`).
    assert points(run.id, home) == CURVE


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="None"),
        pytest.param([1.0, 2.0], id="list"),
        pytest.param(10**400, id="huge"),
    ],
)
def test_a_value_that_is_no_float_is_refused_by_name(value: object) -> None:
    sent: list[Any] = []
    metrics.sending_to(lambda what, last=False: sent.append(what))
    metrics.enter("r" * 32, time.time(), None)
    try:
        with pytest.raises(TypeError, match=r"^runner\.log: bad=.*? (is not a number|cannot be)"):
            runner.log(good=1.0, bad=value)
    finally:
        metrics.leave()
        metrics.sending_to(None)
    assert sent == []  # the call recorded nothing, not even `good`


def test_outside_a_run_log_warns_once_and_records_nothing(
    monkeypatch: pytest.MonkeyPatch, watched: Path, home: Path
) -> None:
    monkeypatch.setattr(metrics, "_warned", False)
    with pytest.warns(RuntimeWarning, match="runner.log called outside a run") as warned:
        runner.log(loss=1.0)
        runner.log(step=3, loss=2.0)
    assert len(warned) == 1
    # Nothing was kept for later: the next run in this thread logs its own points only.
    done = launch(watched, home, "fit", "params.epochs=1", "launcher=sequential")
    assert points(done.runs[0].id, home) == {"acc": [(0, 0.5)], "loss": [(0, 0.5)]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runner.log(loss=3.0)  # (warned once: silent now)


def test_a_run_interrupted_leaves_nothing_behind_for_the_next(watched: Path, home: Path) -> None:
    """Ctrl-C in a run of the sequential launcher (in this thread): what it logged is kept,
    and the next launch's run logs its own points, not into the interrupted run's."""
    with pytest.raises(runner.Interrupted):
        launch(watched, home, "curve", "params.n=3", "params.then=interrupt", "launcher=sequential")
    (interrupted,) = Store(home).launches()
    (run,) = Store(home).runs(interrupted.id)
    assert run.status is RunStatus.CANCELLED
    assert points(run.id, home) == CURVE  # (logged just before: sent as the run ended)
    done = launch(watched, home, "fit", "params.epochs=1", "launcher=sequential")
    assert points(done.runs[0].id, home) == {"acc": [(0, 0.5)], "loss": [(0, 0.5)]}


def test_steps_not_given_count_on_from_the_last_given_across_sends() -> None:
    """Steps are numbered as the calls are sent (the same keys each call, or not): a key's
    counter goes on from its last step, given or counted, from one send to the next."""
    sent: list[Any] = []
    points = metrics.Points("r" * 32, 1.0, lambda what, last=False: sent.append(what))
    for step, values in [(None, {"a": 1.0}), (5, {"a": 2.0}), (None, {"a": 3.0})]:
        points.calls.append((step, 0.0, values))
    points.flush()
    for step, values in [(None, {"a": 4.0, "b": 1.0}), (None, {"b": 2.0}), (2, {"a": 5.0})]:
        points.calls.append((step, 0.0, values))
    points.flush()
    points.calls.append((None, 0.0, {"b": 3.0, "a": 6.0}))  # (a send of one call)
    points.flush(last=True)
    steps: dict[str, list[int]] = {}
    values: dict[str, list[float]] = {}
    for _, _, _, chunks in sent:
        for key, s, v, _ in chunks:
            steps.setdefault(key, []).extend(array("q", s))
            values.setdefault(key, []).extend(array("d", v))
    assert steps == {"a": [0, 5, 6, 7, 2, 3], "b": [0, 1, 2]}
    assert values == {"a": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "b": [1.0, 2.0, 3.0]}
    assert [number for _, _, number, _ in sent] == [0, 1, 2]


def test_a_thread_left_logging_by_a_run_does_not_log_into_the_next(
    watched: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run (in this process: sequential) leaves a thread logging behind; the next run here
    logs nothing, and none of the thread's points are counted as its."""
    monkeypatch.setattr(metrics, "_warned", True)  # (the thread's calls once the run ended)
    stop = tmp_path / "stop"
    try:
        first = launch(watched, home, "leaky", f"params.stop={stop}", "launcher=sequential")
        assert "tick" in points(first.runs[0].id, home)
        second = launch(watched, home, "instant", "params.pause=0.2", "launcher=sequential")
        assert points(second.runs[0].id, home) == {}
    finally:
        stop.touch()


@pytest.mark.parametrize("launcher", ["local", "sequential"])
def test_a_process_forked_by_a_run_records_nothing(
    watched: Path, home: Path, launcher: str
) -> None:
    """A child forked during a run (multiprocessing's default on Linux) shares nothing of
    the run's metrics: what it logs is recorded nowhere, and the run's own points are."""
    done = launch(watched, home, "forks", f"launcher={launcher}")
    (run,) = done.runs
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert points(run.id, home) == {"parent": [(0, 1.0)]}


# -- points kept however the run ends -----------------------------------------------------------


@pytest.mark.parametrize("launcher", ["sequential", "local"])
def test_points_logged_before_a_crash_are_kept(watched: Path, home: Path, launcher: str) -> None:
    done = launch(watched, home, "curve", "params.n=3", "params.then=raise", f"launcher={launcher}")
    (run,) = done.runs
    assert run.status is RunStatus.FAILED and run.error == "ValueError: after logging"
    assert points(run.id, home) == CURVE


def test_points_logged_before_a_timeout_are_kept(watched: Path, home: Path) -> None:
    done = launch(watched, home, "curve", "params.n=3", "params.then=sleep", timeout=0.5)
    (run,) = done.runs
    assert run.status is RunStatus.TIMED_OUT
    assert points(run.id, home) == CURVE


def test_points_logged_before_a_cancel_are_kept(watched: Path, home: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"  # never opened: the run waits until it is cancelled
    launching = Launching(
        "curve",
        ["params.n=3", "params.then=wait", f"params.gate={gate}"],
        config_dir=watched / "conf",
        home=home,
    )
    wait_until(lambda: Path(f"{gate}.logged").exists())
    time.sleep(0.3)  # sent on by then (every 0.1 s), and never written by the run again
    (run_id,) = [run.id for run in Store(home).runs(launching.launch_id or "")]
    runner.cancel([run_id], home=home)
    (run,) = launching.join().runs
    assert run.status is RunStatus.CANCELLED
    assert points(run.id, home) == CURVE


def test_points_logged_before_the_worker_is_killed_are_kept(
    watched: Path, home: Path, tmp_path: Path
) -> None:
    """The first execution logs, notes its pid and waits: it is killed (SIGKILL). The run
    is run again alone (crash isolation): that execution logs nothing and returns, so what
    the run shows is what the killed execution logged."""
    first = tmp_path / "first"
    launching = Launching(
        "curve",
        ["params.n=3", "params.then=sleep", f"params.first={first}", "params.again=0"],
        config_dir=watched / "conf",
        home=home,
    )
    wait_until(first.exists)
    time.sleep(0.3)
    pid = int(first.read_text().split()[0])
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    (run,) = launching.join().runs
    assert run.status is RunStatus.SUCCEEDED and run.result == -1  # the second execution
    assert points(run.id, home) == CURVE


# -- summaries against the points -------------------------------------------------------------


def summary_of(series: Series) -> tuple[int, float | None, int, float | None, float | None]:
    finite = [v for v in series.values if not math.isnan(v)]
    last = series.values[-1]
    return (
        len(series.values),
        None if math.isnan(last) else last,
        series.steps[-1],
        min(finite) if finite else None,
        max(finite) if finite else None,
    )


def test_summaries_are_those_of_the_points(watched: Path, home: Path) -> None:
    """20,000 points of each of two keys (several sends of 8,192), one of them logged only
    from a thread the run started, NaN among the other's values; on the local processes."""
    done = launch(watched, home, "many", "params.n=20000", repeat=2)
    assert done.ok
    summaries = runner.metric_summaries(done.id, home=home)
    assert [(s.run_id, s.key) for s in summaries] == [
        (run.id, key) for run in done.runs for key in ("x", "y")
    ]
    for summary in summaries:
        (series,) = runner.metric_series(summary.run_id, [summary.key], home=home)
        assert len(series.values) == len(series.times) == 20000
        assert list(series.steps) == list(range(20000))
        assert (summary.count, summary.last, summary.last_step, summary.min, summary.max) == (
            summary_of(series)
        )
    ((*_, values, _),) = runner.metric_series(done.runs[0].id, ["x"], home=home)
    assert sum(map(math.isnan, values)) == len(range(3, 20000, 7))


def test_the_recorder_keeps_a_bounded_number_of_series_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long run sends three times while thirty short runs send once each, the recorder
    keeping the ids of four series (and those of one write) at most: the long run's sends
    still make one series of three points (a later send finds its series in the store, it
    does not start it afresh)."""
    monkeypatch.setattr(running, "SERIES_KEPT", 4)
    store = Store(tmp_path)
    watch = running.Running(store, str(tmp_path / "workers"), isolated=False)
    long_run, short_runs = "f" * 32, [f"{r:032x}" for r in range(30)]

    def send(run_id: str, number: int) -> None:
        one = (array("q", [number]), array("d", [number / 2]), array("d", [1.0]))
        watch.inbox.put((run_id, 1.0, number, [("loss", *(c.tobytes() for c in one))]))

    for number in range(3):
        send(long_run, number)
        for run_id in short_runs[number * 10 : number * 10 + 10]:
            send(run_id, 0)
        watch.record_points()
        assert len(watch.series) <= 4 + 11
    watch.close()
    (found,) = store.metric_summaries(run_ids=[long_run])
    assert (found.count, found.last, found.last_step, found.min, found.max) == (3, 1.0, 2, 0.0, 1.0)
    assert [list(s.steps) for s in store.metric_series(long_run)] == [[0, 1, 2]]
    assert [s.count for s in store.metric_summaries(run_ids=short_runs)] == [1] * 30


def test_a_worker_keeps_no_file_open_of_the_launches_that_ended(tmp_path: Path) -> None:
    """A loky worker outlives launches (a notebook's): the points file of a launch whose
    folder went with it is closed when the worker writes for the next launch."""

    def open_points_files() -> list[str]:
        found = []
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # (the listing's own, closed by now)
                found.append(os.readlink(f"/proc/self/fd/{fd}"))
        return [path for path in found if metrics.POINTS_SUFFIX in path]

    before = open_points_files()
    sent = ("a" * 32, 1.0, 0, [("loss", b"", b"", b"")])
    for n in range(3):
        folder = tmp_path / f"launch-{n}"
        folder.mkdir()
        metrics.file_channel(str(folder))(sent)
        shutil.rmtree(folder)  # the launch ended
    assert len(open_points_files()) <= len(before) + 1  # the last launch's, at most


def test_points_received_twice_are_recorded_once(tmp_path: Path) -> None:
    store = Store(tmp_path)
    one = (array("q", [0, 1]), array("d", [2.0, 1.0]), array("d", [1.0, 1.0]))
    sent = ("a" * 32, 1.0, 0, [("loss", *(c.tobytes() for c in one))])
    series: dict[Any, Any] = {}
    assert store.record_points([sent, sent], series) == 2
    assert store.record_points([sent], series) == 0
    (found,) = store.metric_summaries(run_ids=["a" * 32])
    assert (found.count, found.last, found.min, found.max) == (2, 1.0, 1.0, 2.0)


def test_a_damaged_points_file_is_skipped_and_the_others_are_read(tmp_path: Path) -> None:
    good = metrics.file_channel(str(tmp_path))
    sent = ("a" * 32, 1.0, 0, [("loss", b"", b"", b"")])
    good(sent)
    damaged = tmp_path / f"1-abcd{metrics.POINTS_SUFFIX}"
    damaged.write_bytes(struct.pack("<I", 5) + b"\xff\xfe\x00\x01\x02")
    files = metrics.Files(str(tmp_path))
    assert files.take() == [sent]
    good(sent)
    assert files.take() == [sent] and files.take() == []


# -- cached runs, rerun, resume ----------------------------------------------------------------


def test_a_cached_run_shows_its_source_s_metrics_and_a_rerun_logs_its_own(
    watched: Path, home: Path
) -> None:
    first = launch(watched, home, "fit", "params.epochs=2", "launcher=threads", seed=3, cache=True)
    again = launch(watched, home, "fit", "params.epochs=2", "launcher=threads", seed=3, cache=True)
    (source,), (cached,) = first.runs, again.runs
    assert cached.status is RunStatus.CACHED and cached.cached_from == source.id
    shown = runner.metric_summaries(again.id, home=home)
    assert [s.run_id for s in shown] == [cached.id, cached.id]
    assert [s._replace(run_id="") for s in shown] == [
        s._replace(run_id="") for s in runner.metric_summaries(source.id, home=home)
    ]
    assert points(cached.id, home) == points(source.id, home)

    rerun = runner.rerun(source.id, home=home)
    (repeat,) = rerun.runs
    assert repeat.id != source.id and repeat.status is RunStatus.SUCCEEDED
    own = runner.metric_summaries(repeat.id, home=home)
    assert [(s.run_id, s.key, s.count) for s in own] == [
        (repeat.id, "acc", 2),
        (repeat.id, "loss", 2),
    ]
    assert own[0].updated > shown[0].updated
    assert points(repeat.id, home) == points(source.id, home)


@pytest.mark.slow
def test_resume_after_the_launching_process_is_killed_replaces_the_lost_runs_metrics(
    watched: Path, home: Path, tmp_path: Path
) -> None:
    """The launching process (sequential: its runs run in it) is killed while its run waits,
    after logging; resume runs it again, and what that execution logs replaces it."""
    first = tmp_path / "first"
    process = popen(
        watched,
        home,
        tmp_path,
        "curve",
        "params.n=3",
        "params.then=sleep",
        f"params.first={first}",
        "launcher=sequential",
        "-q",
    )
    try:
        wait_until(first.exists)
        store = Store(home)
        (launch_row,) = store.launches()
        run_id = store.runs(launch_row.id)[0].id
        wait_until(lambda: points(run_id, home) == CURVE and store.run(run_id).pid == process.pid)
    finally:
        process.kill()
        process.communicate()
    # Written running, its launching process gone: it shows lost.
    assert Store(home).run(run_id).status is RunStatus.LOST
    assert Store(home).launch(launch_row.id).counts == {"lost": 1}
    resumed = runner.resume(launch_row.id, home=home, progress=False)
    (run,) = resumed.runs
    assert run.status is RunStatus.SUCCEEDED and run.result == -1
    assert points(run.id, home) == {"again": [(0, 0.0), (1, 1.0), (2, 2.0)]}
    (summary,) = runner.metric_summaries(run.id, home=home)
    assert (summary.key, summary.count, summary.last) == ("again", 3, 2.0)


# -- the store of the schema before metrics ------------------------------------------------------


def test_a_store_of_schema_8_is_migrated_and_reads_as_before(tmp_path: Path) -> None:
    home = tmp_path / "old"
    home.mkdir()
    db = sqlite3.connect(home / "runner.db")
    for migration in MIGRATIONS[:8]:
        db.executescript(migration)
    db.execute("PRAGMA user_version = 8")
    db.execute(
        "INSERT INTO launches (id, created, workflow_id, workflow_version, tags, seed, repeat,"
        " labels, annotations, env, launcher, definition, pid, run_count)"
        " VALUES ('ab', 1.0, 'w', '1', '[]', 1, 1, '{}', '{}', '{}', 'local', '{}', 1, 2)"
    )
    db.executemany(
        "INSERT INTO runs (id, launch_id, idx, workflow_id, workflow_version, params, seed,"
        " status, created, started, ended, result, attempts)"
        " VALUES (?, 'ab', ?, 'w', '1', '{}', 1, ?, 1.0, 2.0, ?, ?, 1)",
        [("a1" * 16, 0, "succeeded", 3.0, "7"), ("a2" * 16, 1, "failed", 4.0, None)],
    )
    db.commit()
    db.close()
    store = Store(home)
    assert store._db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    launch = store.launch("ab")
    assert launch is not None and launch.counts == {"succeeded": 1, "failed": 1}
    ok, failed = store.runs("ab")
    assert (ok.status, ok.result, ok.started, ok.ended, ok.pid) == (
        RunStatus.SUCCEEDED,
        7,
        2.0,
        3.0,
        None,
    )
    assert failed.status is RunStatus.FAILED and failed.pid is None
    assert not store.has_metrics() and store.metric_summaries(launch_id="ab") == []
    assert runner.metric_summaries("ab", home=home) == []
    assert runner.metric_series("a1" * 16, home=home) == []


# -- on a Dask cluster: points as events, the last with the outcome ------------------------------


@pytest.mark.slow
def test_metrics_from_a_dask_worker_and_a_cancel_that_leaves_nothing_behind(
    cluster: Any, watched: Path, home: Path, tmp_path: Path
) -> None:
    """The cluster's one worker has one thread: a run cancelled there (an exception raised in
    that thread) must leave nothing to the next run the thread runs."""
    done = launch(watched, home, "curve", "params.n=3", addr=cluster.address)
    assert points(done.runs[0].id, home) == CURVE
    gate = tmp_path / "gate"
    launching = Launching(
        "curve",
        ["params.n=3", "params.then=wait", f"params.gate={gate}"],
        config_dir=watched / "conf",
        home=home,
        addr=cluster.address,
    )
    wait_until(lambda: Path(f"{gate}.logged").exists())
    time.sleep(0.3)
    (run_id,) = [run.id for run in Store(home).runs(launching.launch_id or "")]
    runner.cancel([run_id], home=home)
    (cancelled,) = launching.join().runs
    assert cancelled.status is RunStatus.CANCELLED
    assert points(cancelled.id, home) == CURVE
    after = launch(watched, home, "fit", "params.epochs=2", addr=cluster.address)
    assert points(after.runs[0].id, home) == {
        "acc": [(0, 0.5), (1, 0.75)],
        "loss": [(0, 0.5), (1, 0.25)],
    }
    # The scheduler keeps no event of the launches once they are done (it would keep each
    # topic's last 1,000 events, points and all, for as long as it runs).
    from distributed import Client

    with Client(cluster.address, timeout=10, set_as_default=False) as client:
        events = client.get_events()
    assert {topic: found for topic, found in events.items() if topic.startswith("runner-")} == {}


@pytest.mark.parametrize("launcher", ["sequential", "threads", "local"])
def test_a_run_s_points_are_in_the_store_before_anyone_learns_it_ended(
    watched: Path, home: Path, launcher: str
) -> None:
    """A reader told a run ended (on_outcome, as a search's controller is; or a status read)
    finds every point it logged: the points are written before the outcome."""
    seen: dict[str, dict[str, list[tuple[int, float]]]] = {}

    def on_outcome(outcome: RunOutcome) -> None:
        seen[outcome.run_id] = points(outcome.run_id, home)

    done = launch(
        watched, home, "curve", "params.n=3,4", f"launcher={launcher}", on_outcome=on_outcome
    )
    assert len(seen) == 2
    for run in done.runs:
        assert seen[run.id] == points(run.id, home)
        assert len(seen[run.id]["loss"]) == run.params["n"] + 1
