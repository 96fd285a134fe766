"""Launches that outlive the command, against real processes: --detach, runner wait,
runner cancel (from another process, of a launch, of one run), SIGKILL, a closed terminal."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RUNNER, popen, snapshot
from tests.test_cli import BAD_INPUT


def wait_until(what: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, f"still not true after {timeout}s"
        time.sleep(0.05)


def owner(home: Path, launch_id: str) -> int:
    """The pid of the process that runs the launch, as recorded."""
    con = sqlite3.connect(home / "runner.db")
    (pid,) = con.execute("SELECT pid FROM launches WHERE id=?", (launch_id,)).fetchone()
    con.close()
    return pid


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False


def processes_of(home: Path) -> list[int]:
    """Every process but this one started with this store: launchers and their workers (not
    the resource trackers of loky and multiprocessing, which last as long as their process)."""
    found = []
    marker = f"RUNNER_HOME={home}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                ours = marker in environ.read().split(b"\0")
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                tracker = b"resource_tracker" in cmdline.read()
        except OSError:  # gone meanwhile, or not ours
            continue
        if ours and not tracker and alive(int(entry)):
            found.append(int(entry))
    return found


def launch_json(cli, launch_id: str) -> dict:
    (launch,) = json.loads(cli("status", launch_id, "--json").out)
    return launch


def statuses(launch: dict) -> list[str]:
    return [run["status"] for run in launch["runs"]]


def test_detach_prints_ids_and_leaves_a_background_process(cli, home: Path) -> None:
    detached = cli("add", "params.a=1,2,3", "--detach", "-q")
    assert detached.code == 0, detached.err
    launch_id, *run_ids = detached.out.split()
    assert len(run_ids) == 3 and detached.err == ""
    pid = owner(home, launch_id)
    waited = cli("wait", launch_id, "--json")
    assert waited.code == 0, waited.err
    launch = json.loads(waited.out)
    assert [run["id"] for run in launch["runs"]] == run_ids
    assert [run["result"] for run in launch["runs"]] == [6, 7, 8]  # add:2.0 has b=5
    wait_until(lambda: not alive(pid))
    output = (home / "detached" / f"{launch_id}.log").read_text()
    assert f"launch {launch_id}: background process {pid}" in output


def test_the_background_process_has_its_own_session_and_no_terminal(cli, home: Path) -> None:
    detached = cli("slow", "params.seconds=3", "--detach", "--json")
    assert detached.code == 0, detached.err
    launch = json.loads(detached.out)
    assert statuses(launch) == ["pending"]
    pid = owner(home, launch["id"])
    assert alive(pid)
    assert os.getsid(pid) == pid  # a session of its own: a closing terminal sends it nothing
    assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"
    assert os.readlink(f"/proc/{pid}/fd/1") == str(home / "detached" / f"{launch['id']}.log")
    assert launch_json(cli, launch["id"])["status"] == "running"  # not lost: its owner lives
    assert cli("cancel", launch["id"]).code == 0
    wait_until(lambda: not processes_of(home), timeout=10)


@pytest.mark.slow
def test_wait_passes_the_exit_code_through(cli) -> None:
    failing = cli("boom", "params.a=1,2,3", "--no-wait", "-q").out.split()[0]
    waited = cli("wait", failing[:10])
    assert waited.code == 4, waited.err
    assert "1 failed, 2 succeeded" in waited.out
    assert "failed: ValueError: a must not be 2" in waited.err  # as an attached launch shows it
    assert f"1 of 3 runs did not succeed (launch {failing})" in waited.err


DETACHED_BAD_INPUT = [
    case
    for case in BAD_INPUT
    if case.id in ("unavailable-backend", "later-sweep-point", "no-workflow")
]


@pytest.mark.parametrize(("args", "code", "message"), DETACHED_BAD_INPUT)
def test_bad_input_is_rejected_before_anything_is_detached(cli, home, args, code, message) -> None:
    assert cli("add", "-q").code == 0
    before = snapshot(home)
    result = cli(*args, "--detach")
    assert (result.code, result.out) == (code, ""), result.err
    assert message in result.err
    assert snapshot(home) == before


@pytest.mark.slow
def test_a_detached_launch_whose_workflow_breaks_fails_its_runs(cli, project: Path) -> None:
    """The code is valid when the launch is planned, broken by the time its runs start."""
    (project / "conf" / "workflow" / "fragile.yaml").write_text(
        'id: fragile\nversion: "1.0"\nentrypoint: mypkg.fragile:run\n'
    )
    module = project / "mypkg" / "fragile.py"
    module.write_text("def run(a: int = 0) -> int:\n    return a\n")
    detached = cli("fragile", "params.a=1,2", "--detach", "-q")
    module.write_text("raise ImportError('broken since the launch')\n")
    assert detached.code == 0, detached.err
    waited = cli("wait", detached.out.split()[0], "--json")
    assert waited.code == 4
    runs = json.loads(waited.out)["runs"]
    assert statuses({"runs": runs}) == ["failed", "failed"]
    assert all("broken since the launch" in run["error"] for run in runs)


def test_wait_timeout_gives_up_and_leaves_the_launch(cli, home: Path) -> None:
    launch_id = cli("slow", "params.seconds=4", "--detach", "-q").out.split()[0]
    waited = cli("wait", launch_id, "--timeout", "0.5", "--poll-interval", "0.1")
    assert waited.code == 124
    assert f"gave up waiting after 0.5s: launch {launch_id} is still running" in waited.err
    assert launch_json(cli, launch_id)["status"] == "running"
    assert "124" in cli("wait", "--help").out
    cli("cancel", launch_id)
    wait_until(lambda: not processes_of(home), timeout=10)


@pytest.mark.slow
def test_cancel_mid_sweep_keeps_what_finished_and_stops_everything(cli, home: Path) -> None:
    launch_id = cli(
        "slow", "params.seconds=0.4", "--repeat", "12", "--max-parallelism", "2", "--detach", "-q"
    ).out.split()[0]
    pid = owner(home, launch_id)
    wait_until(lambda: launch_json(cli, launch_id)["counts"].get("succeeded", 0) >= 2)
    cancelled = cli("cancel", launch_id[:10])
    assert cancelled.code == 0, cancelled.err
    assert "runs cancelled" in cancelled.out
    launch = launch_json(cli, launch_id)
    assert set(statuses(launch)) == {"succeeded", "cancelled"}
    finished = {r["id"]: r["ended"] for r in launch["runs"] if r["status"] == "succeeded"}
    assert all(r["result"] == 0.4 for r in launch["runs"] if r["status"] == "succeeded")
    # The background process and its workers are gone; it recorded nothing more.
    wait_until(lambda: not alive(pid), timeout=10)
    wait_until(lambda: not processes_of(home), timeout=10)
    assert launch_json(cli, launch_id)["runs"] == launch["runs"]
    assert cli("wait", launch_id).code == 130
    again = cli("cancel", launch_id)
    assert (again.code, again.out.strip()) == (
        0,
        f"launch {launch_id[:12]} had ended ({launch_json(cli, launch_id)['counts']['cancelled']}"
        f" cancelled, {len(finished)} succeeded); nothing to cancel",
    )
    # resume runs the cancelled runs; what had finished is not run again.
    resumed = cli("resume", launch_id, "--json")
    assert resumed.code == 0, resumed.err
    after = json.loads(resumed.out)
    assert statuses(after) == ["succeeded"] * 12
    assert {r["id"]: r["ended"] for r in after["runs"] if r["id"] in finished} == finished
    assert cli("wait", launch_id).code == 0


@pytest.mark.slow
def test_two_cancels_at_once_cancel_each_run_once(cli, project, home, elsewhere) -> None:
    launch_id = cli("slow", "params.seconds=5", "--repeat", "4", "--detach", "-q").out.split()[0]
    cancels = [popen(project, home, elsewhere, "cancel", launch_id) for _ in range(2)]
    outputs = [proc.communicate(timeout=60)[0] for proc in cancels]
    assert [proc.returncode for proc in cancels] == [0, 0]
    assert sorted("4 runs cancelled" in out for out in outputs) == [False, True]
    assert sum("nothing to cancel" in out for out in outputs) == 1
    con = sqlite3.connect(home / "runner.db")
    assert con.execute("SELECT COUNT(*) FROM cancels").fetchone() == (1,)
    con.close()
    assert statuses(launch_json(cli, launch_id)) == ["cancelled"] * 4
    wait_until(lambda: not processes_of(home), timeout=10)


@pytest.mark.slow
def test_cancel_one_run_of_a_running_launch(cli, project, home, elsewhere) -> None:
    started = time.monotonic()
    with popen(
        project, home, elsewhere, "slow", "params.seconds=60,0.5,0.5,0.5", "--max-parallelism", "2"
    ) as proc:
        assert proc.stdout is not None
        proc.stdout.readline()
        long_run = proc.stdout.readline().split()[1]  # "  run ID" of params.seconds=60
        wait_until(lambda: time.monotonic() - started > 2.5)  # it has started by now
        cancelled = cli("cancel", long_run)
        assert (cancelled.code, cancelled.out.split(":")[0]) == (0, f"run {long_run[:12]}")
        _, err = proc.communicate(timeout=60)
    assert time.monotonic() - started < 30  # the 60 s run was stopped
    assert proc.returncode == 4, err
    launch = json.loads(cli("status", "--json").out)[0]
    assert launch["cancelled"] is None  # the launch itself was not cancelled
    runs = launch_json(cli, launch["id"])["runs"]
    assert statuses({"runs": runs}) == ["cancelled", "succeeded", "succeeded", "succeeded"]
    assert runs[0]["error"] == "cancelled (runner cancel)"


GATE = """\
import time
from pathlib import Path


def run(path: str) -> str:
    while not Path(path).exists():
        time.sleep(0.05)
    return "through"
"""

LAUNCHING_PROCESS = """\
import sys
import threading

import runner


def go():
    launch = runner.launch(
        "gate", [f"params.path={sys.argv[2]}"], repeat=4, max_parallelism=2,
        config_dir=sys.argv[1], on_created=lambda record, specs: print(record.id, flush=True),
    )
    print("returned", launch.cancelled, launch.record.counts, flush=True)


thread = threading.Thread(target=go)
thread.start()
thread.join()
print("still here", flush=True)
sys.stdin.readline()
"""


@pytest.mark.slow
def test_cancel_a_launch_of_another_process_that_lives_on(cli, project, home, elsewhere) -> None:
    """A notebook kernel or the TUI launching in a thread: only the launch stops; it can be
    resumed elsewhere while that process lives on."""
    (project / "conf" / "workflow" / "gate.yaml").write_text(
        'id: gate\nversion: "1.0"\nentrypoint: mypkg.gate:run\n'
    )
    (project / "mypkg" / "gate.py").write_text(GATE)
    gate = elsewhere / "open"
    script = elsewhere / "kernel.py"
    script.write_text(LAUNCHING_PROCESS)
    env = {**os.environ, "RUNNER_HOME": str(home)}
    with subprocess.Popen(
        [sys.executable, str(script), str(project / "conf"), str(gate)],
        cwd=elsewhere,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as kernel:
        assert kernel.stdout is not None and kernel.stdin is not None
        # Its runs never end by themselves: if the cancel did not stop them, the reads below
        # would wait forever.
        watchdog = threading.Timer(60, kernel.kill)
        watchdog.start()
        launch_id = kernel.stdout.readline().strip()
        time.sleep(2.0)  # two runs are running (waiting at the gate), two pending
        assert cli("cancel", launch_id).code == 0
        assert kernel.stdout.readline() == "returned True {'cancelled': 4}\n"
        assert kernel.stdout.readline() == "still here\n"
        assert kernel.poll() is None
        assert processes_of(home) == [kernel.pid]  # its workers are gone, it is not
        assert cli("wait", launch_id).code == 130
        gate.touch()
        resumed = cli("resume", launch_id, "--json")
        assert resumed.code == 0, resumed.err
        assert json.loads(resumed.out)["runs"][0]["result"] == "through"
        kernel.stdin.close()
        assert kernel.wait(30) == 0, kernel.stderr.read() if kernel.stderr else ""
        watchdog.cancel()
    assert statuses(launch_json(cli, launch_id)) == ["succeeded"] * 4


@pytest.mark.slow
def test_sigkill_of_the_background_process_then_status_and_resume(cli, home: Path) -> None:
    args = ("slow", "params.seconds=0.3", "--repeat", "12", "--max-parallelism", "2")
    launch_id = cli(*args, "--seed", "4", "--detach", "-q").out.split()[0]
    wait_until(lambda: launch_json(cli, launch_id)["counts"].get("succeeded", 0) >= 2)
    os.kill(owner(home, launch_id), signal.SIGKILL)
    wait_until(lambda: "lost" in statuses(launch_json(cli, launch_id)), timeout=10)
    before = launch_json(cli, launch_id)
    assert set(statuses(before)) <= {"succeeded", "lost"}
    assert cli("wait", launch_id).code == 4  # its runs will never end: no wait for them
    resumed = cli("resume", launch_id, "--json")
    assert resumed.code == 0, resumed.err
    after = json.loads(resumed.out)
    assert statuses(after) == ["succeeded"] * 12
    assert [r["seed"] for r in after["runs"]] == [r["seed"] for r in before["runs"]]


@pytest.mark.slow
def test_cancel_of_a_lost_launch_records_its_unfinished_runs(cli, home: Path) -> None:
    launch_id = cli("slow", "params.seconds=30", "--repeat", "3", "--detach", "-q").out.split()[0]
    os.kill(owner(home, launch_id), signal.SIGKILL)
    wait_until(lambda: set(statuses(launch_json(cli, launch_id))) == {"lost"}, timeout=10)
    assert "3 runs cancelled" in cli("cancel", launch_id).out
    assert statuses(launch_json(cli, launch_id)) == ["cancelled"] * 3


@pytest.mark.slow
def test_the_launch_goes_on_when_its_terminal_closes(project, home, elsewhere, cli) -> None:
    """The launching shell's session ends (a closed terminal: SIGHUP to all of it)."""
    assert RUNNER
    shell = subprocess.Popen(
        [
            "bash",
            "-c",
            f"'{RUNNER}' slow params.seconds=0.5 --repeat 4 --detach -q; exec sleep 60",
        ],
        cwd=elsewhere,
        env={**os.environ, "RUNNER_HOME": str(home), "RUNNER_CONFIG_DIR": str(project / "conf")},
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert shell.stdout is not None
    launch_id = shell.stdout.readline().strip()
    os.killpg(shell.pid, signal.SIGHUP)
    shell.wait(10)
    shell.stdout.close()
    waited = cli("wait", launch_id, "--json")
    assert waited.code == 0, waited.err
    assert statuses(json.loads(waited.out)) == ["succeeded"] * 4


@pytest.mark.slow
def test_the_python_api_detaches_waits_and_cancels(project: Path, home: Path) -> None:
    import runner

    conf = project / "conf"
    launch = runner.launch("add", ["params.a=1,2"], config_dir=conf, detach=True)
    assert launch.record.pid != os.getpid()  # a background process of its own owns it
    done = launch.wait(poll_interval=0.05)
    assert (done.results, done.ok, done.cancelled) == ([6, 7], True, False)
    again = runner.rerun(done.runs[0].id, home=home, wait=False)  # as the TUI does
    assert again.wait(poll_interval=0.05).results == [6]

    slow = runner.launch("slow", ["params.seconds=30"], repeat=2, config_dir=conf, detach=True)
    with pytest.raises(runner.WaitTimeout, match="it goes on"):
        runner.wait(slow.id, timeout=0.1, poll_interval=0.05)
    seen: list[str] = []
    (result,) = runner.cancel([slow.id[:8]])
    assert (result.kind, result.id, result.cancelled) == ("launch", slow.id, 2)
    ended = runner.wait(slow.id, on_outcome=lambda outcome: seen.append(outcome.status.value))
    assert ended.cancelled and seen == ["cancelled", "cancelled"]
    assert slow.cancel().cancelled == 0  # it had ended: nothing changes
    wait_until(lambda: not alive(slow.record.pid), timeout=10)


@pytest.mark.slow
def test_an_attached_launch_cancelled_from_elsewhere_exits_130(
    cli, project, home, elsewhere
) -> None:
    with popen(project, home, elsewhere, "slow", "params.seconds=30", "--repeat", "3") as proc:
        assert proc.stdout is not None
        launch_id = proc.stdout.readline().split()[1].rstrip(":")  # "launch ID: 3 runs of"
        time.sleep(1.0)
        assert cli("cancel", launch_id).code == 0
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert f"error: launch {launch_id} was cancelled (3 cancelled)" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_status_and_logs_follow_a_detached_launch(cli) -> None:
    run_id = cli("hello", "params.name=follow", "--detach", "-q").out.strip()
    assert launch_json(cli, run_id)["status"] in ("running", "succeeded")
    followed = cli("logs", run_id, "-f")
    assert (followed.code, followed.out) == (0, "Hello, follow.\n")
    assert launch_json(cli, run_id)["status"] == "succeeded"


@pytest.mark.parametrize("command", [["add", "--detach", "-q"], ["cancel", "--json"]])
@pytest.mark.slow
def test_detach_and_cancel_leave_joblib_to_the_background(project, home, command) -> None:
    """The detaching process starts no workers, so it never pays for importing joblib."""
    launched = subprocess.run(
        [sys.executable, "-c", LIGHT.format(argv=["add", "--detach", "-q"])],
        capture_output=True,
        text=True,
        env={**os.environ, "RUNNER_CONFIG_DIR": str(project / "conf")},
        check=True,
    )
    launch_id = launched.stdout.split()[0]
    argv = command if command[0] != "cancel" else [*command, launch_id]
    done = subprocess.run(
        [sys.executable, "-c", LIGHT.format(argv=argv)],
        capture_output=True,
        text=True,
        env={**os.environ, "RUNNER_CONFIG_DIR": str(project / "conf")},
        check=True,
    )
    assert done.stdout.split()[-1] == "False", done.stderr
    wait_until(lambda: not processes_of(home), timeout=20)


LIGHT = """\
import sys
from runner.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print('joblib' in sys.modules)
"""
