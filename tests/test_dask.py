"""The Dask launcher against a real cluster: a `dask scheduler` and two `dask worker`
processes on 127.0.0.1, started for this module. The workers run from a folder of their
own, without the test project on their path: its code reaches them only as runner ships it."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runner.launchers import Launcher, make_launcher
from tests.conftest import popen
from tests.test_launchers import LauncherContract

pytestmark = pytest.mark.slow

DASK = str(Path(sys.executable).parent / "dask")

# Workflows of a package of their own (dasky), written into each test's project copy.
FLOWS = '''
import os, time

def spin(seconds: float) -> float:
    """Pure Python until `seconds` pass: a cancel interrupts it."""
    end = time.time() + seconds
    while time.time() < end:
        time.sleep(0.02)
    return seconds

def hold(path: str, seconds: float) -> str:
    """The first attempt notes its process and spins (to be killed); a later one returns."""
    if not os.path.exists(path):
        with open(path + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(path + ".tmp", path)
        spin(seconds)
    return "done"

def die() -> None:
    os._exit(3)

def uses_helper(x: int) -> int:
    import helper  # a module beside the package, at the project root

    return helper.double(x)
'''
WORKFLOWS = {"spin": "spin", "hold": "hold", "die": "die", "uses_helper": "uses_helper"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(what: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, f"still not true after {timeout}s"
        time.sleep(0.05)


class Cluster:
    """A scheduler and its workers, each a subprocess of this test run."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        # Nothing of the test project or of runner's checkout on the workers' path.
        self.env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RUNNER_ADDR")}
        # One retry of a task whose worker died, then KilledWorker: quick to reach in a test.
        self.env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] = "1"
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []

    def _start(self, *args: str) -> subprocess.Popen:
        self.folder.mkdir(parents=True, exist_ok=True)
        return subprocess.Popen(
            [DASK, *args],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start_scheduler(self) -> None:
        self.scheduler = self._start(
            "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"
        )

    def start_worker(self) -> None:
        self.workers.append(
            self._start(
                "worker",
                self.address,
                *("--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"),
                # One process a worker: a test that kills it starts another (replace_dead).
                "--no-nanny",
            )
        )

    def replace_dead(self) -> None:
        """A new worker for each one a test killed, as a nanny would start."""
        dead = [worker for worker in self.workers if worker.poll() is not None]
        for worker in dead:
            self.workers.remove(worker)
            self.start_worker()
        self.wait_for_workers(len(self.workers))

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(count, timeout=60)

    def run(self, function: Callable[..., object]) -> dict:
        """`function` called in every worker: worker address -> what it returned."""
        from distributed import Client

        with Client(self.address, timeout=10, set_as_default=False) as client:
            return client.run(function)

    def processing(self) -> int:
        from distributed import Client

        with Client(self.address, timeout=10, set_as_default=False) as client:
            return sum(len(keys) for keys in client.processing().values())

    def stop_scheduler(self) -> None:
        assert self.scheduler is not None
        self.scheduler.kill()
        self.scheduler.wait()

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process is not None and process.poll() is None:
                process.kill()  # single processes (no nannies): nothing is left behind
        for process in [*self.workers, self.scheduler]:
            if process is not None:
                process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("dask-cluster"))
    try:
        running.start_scheduler()
        running.start_worker()
        running.start_worker()
        running.wait_for_workers(2)
        yield running
    finally:
        running.stop()


@pytest.fixture
def dasky(project: Path) -> Path:
    """The test project with the dasky package and its workflows."""
    (project / "dasky").mkdir()
    (project / "dasky" / "__init__.py").write_text("")
    (project / "dasky" / "flows.py").write_text(FLOWS)
    (project / "helper.py").write_text("def double(x):\n    return 2 * x\n")
    for name, function in WORKFLOWS.items():
        (project / "conf" / "workflow" / f"{name}.yaml").write_text(
            f'id: {name}\nversion: "1.0"\nentrypoint: dasky.flows:{function}\n'
        )
    return project


def launch_json(cli, launch_id: str) -> dict:
    (launch,) = json.loads(cli("status", launch_id, "--json").out)
    return launch


def statuses(launch: dict) -> list[str]:
    return [run["status"] for run in launch["runs"]]


def running() -> Callable[[], list[str]]:
    """A function for client.run: the runs a worker's threads hold. Made here, nested, so
    that cloudpickle sends it by value (the workers cannot import the tests)."""

    def runs() -> list[str]:
        from runner import dask_launcher

        return list(dask_launcher._threads)

    return runs


class TestDask(LauncherContract):
    """The launcher contract every launcher meets, on the module's cluster."""

    config = {"name": "dask", "backend": "dask", "n_jobs": None}

    @pytest.fixture
    def launcher(self, cluster: Cluster) -> Iterator[Launcher]:
        launcher = make_launcher({**self.config, "address": cluster.address}, max_parallelism=2)
        yield launcher
        launcher.release()


def test_a_sweep_through_addr_matches_a_local_launch(cluster: Cluster, cli) -> None:
    args = ("draw", "params.n=2,3", "--repeat", "2", "--seed", "7", "--json")
    remote = cli(*args, "--addr", cluster.address)
    assert remote.code == 0, remote.err
    local = cli(*args)
    assert local.code == 0, local.err
    on_cluster, here = json.loads(remote.out), json.loads(local.out)
    assert on_cluster["launcher"] == "dask" and on_cluster["addr"] == cluster.address
    # The project's local launcher (n_jobs: 2, its cores) gave way to the dask one whole.
    assert on_cluster["definition"]["launcher"] == {
        "name": "dask",
        "backend": "dask",
        "address": None,
        "copy": "auto",
        "n_jobs": None,
        "connect_timeout": 5,
    }
    assert [r["seed"] for r in on_cluster["runs"]] == [r["seed"] for r in here["runs"]]
    assert [r["result"] for r in on_cluster["runs"]] == [r["result"] for r in here["runs"]]
    workers = {r["worker"] for r in on_cluster["runs"]}
    assert workers <= set(cluster.run(os.getpid)) and all(workers)
    assert {r["host"] for r in on_cluster["runs"]} == {socket.gethostname()}
    assert {r["worker"] for r in here["runs"]} == {None}

    shown = cli("status", on_cluster["runs"][0]["id"])
    assert f"ran on    {socket.gethostname()} (Dask worker tcp://127.0.0.1:" in shown.out
    launch = cli("status", on_cluster["id"])
    assert f"  cluster: {cluster.address} (launcher dask)" in launch.out


def test_failures_and_logs_come_back_through_runner_addr(cluster: Cluster, cli) -> None:
    done = cli("boom", "params.a=1,2", "--json", env={"RUNNER_ADDR": cluster.address})
    assert done.code == 4, done.err
    ok, failed = json.loads(done.out)["runs"]
    assert (ok["status"], ok["result"]) == ("succeeded", 1)
    assert failed["status"] == "failed" and failed["error"] == "ValueError: a must not be 2"
    assert "Traceback" in failed["traceback"]
    assert cli("logs", ok["id"]).out.strip() == "a is 1"


def test_the_api_launches_onto_the_cluster(cluster: Cluster, project: Path, home: Path) -> None:
    import runner

    options = {"sweep": {"a": [1, 2, 3]}, "config_dir": project / "conf", "home": home}
    launch = runner.launch("add:1.0", addr=cluster.address, max_parallelism=1, **options)
    assert launch.ok and launch.results == [2, 3, 4]
    assert all(run.worker and run.worker.startswith("tcp://127.0.0.1:") for run in launch.runs)
    assert launch.runs[0].host == socket.gethostname()
    # --max-parallelism 1: one run in flight on the cluster at a time.
    runs = sorted(launch.runs, key=lambda run: run.started or 0)
    assert all(
        (later.started or 0) >= (earlier.ended or 0) for earlier, later in itertools.pairwise(runs)
    )


def test_code_not_on_the_workers_is_shipped(cluster: Cluster, dasky: Path, cli) -> None:
    def importable() -> tuple[bool, bool]:
        import importlib.util

        return importlib.util.find_spec("dasky") is not None, (
            importlib.util.find_spec("helper") is not None
        )

    assert set(cluster.run(importable).values()) == {(False, False)}
    # auto ships the workflow's package alone: the module beside it is missing, by name.
    auto = cli("uses_helper", "params.x=4", "--addr", cluster.address, "--json")
    assert auto.code == 4, auto.err
    (run,) = json.loads(auto.out)["runs"]
    assert run["error"].startswith("ModuleNotFoundError: No module named 'helper' (on the Dask")
    assert "install it there" in run["error"]
    # all ships the project root.
    every = cli("uses_helper", "params.x=4", "--addr", cluster.address, "--copy", "all", "--json")
    assert every.code == 0, every.err
    assert json.loads(every.out)["runs"][0]["result"] == 8


def test_registered_and_changed_code_each_run_their_own_version(
    cluster: Cluster, cli, project: Path
) -> None:
    version = cli("register", "add:1.0", "-q").out.strip()
    flows = project / "mypkg" / "flows.py"
    flows.write_text(flows.read_text().replace("return a + b", "return a + b + 1000"))
    # The same long-lived workers import each version from its own shipped zip.
    for target, result in ((f"add:{version}", 2), ("add:1.0", 1002), (f"add:{version}", 2)):
        done = cli(target, "params.a=1", "--addr", cluster.address, "--json")
        assert done.code == 0, done.err
        assert json.loads(done.out)["runs"][0]["result"] == result


def test_detach_and_wait(cluster: Cluster, dasky: Path, cli) -> None:
    args = ("spin", "params.seconds=0.2", "--repeat", "3", "--addr", cluster.address)
    launched = cli(*args, "--detach", "-q")
    assert launched.code == 0, launched.err
    launch_id = launched.out.split()[0]
    waited = cli("wait", launch_id, "--json")
    assert waited.code == 0, waited.err
    assert statuses(launch_json(cli, launch_id)) == ["succeeded"] * 3


def test_cancel_reaches_runs_on_the_workers(cluster: Cluster, dasky: Path, cli) -> None:
    args = ("spin", "params.seconds=60", "--repeat", "3", "--max-parallelism", "2")
    launched = cli(*args, "--addr", cluster.address, "--detach", "-q")
    assert launched.code == 0, launched.err
    launch_id = launched.out.split()[0]
    wait_until(lambda: sum(len(r) for r in cluster.run(running()).values()) == 2)
    assert cli("cancel", launch_id).code == 0
    assert cli("wait", launch_id).code == 130
    assert statuses(launch_json(cli, launch_id)) == ["cancelled"] * 3
    # The calls in the workers' threads were interrupted, not left spinning for a minute.
    wait_until(lambda: not any(cluster.run(running()).values()), timeout=15)
    wait_until(lambda: cluster.processing() == 0, timeout=15)


def test_a_killed_worker_s_run_is_rerun_elsewhere(
    cluster: Cluster, dasky: Path, home: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "first.pid"
    proc = popen(
        dasky,
        home,
        tmp_path,
        "hold",
        f"params.path={marker}",
        "params.seconds=60",
        "--addr",
        cluster.address,
        "--json",
    )
    try:
        wait_until(marker.exists)
        killed = int(marker.read_text())
        address_of = {pid: address for address, pid in cluster.run(os.getpid).items()}
        os.kill(killed, signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        cluster.replace_dead()
    assert proc.returncode == 0, err
    (run,) = json.loads(out)["runs"]
    assert (run["status"], run["result"]) == ("succeeded", "done")
    assert run["worker"] != address_of[killed]  # it ran again, on the other worker


def test_a_run_that_kills_its_workers_fails_with_killed_worker(
    cluster: Cluster, dasky: Path, cli
) -> None:
    try:
        done = cli("die", "--addr", cluster.address, "--json")
    finally:
        cluster.replace_dead()
    assert done.code == 4, done.err
    (run,) = json.loads(done.out)["runs"]
    assert run["status"] == "failed"
    assert run["error"].startswith("KilledWorker: the Dask workers running it died 2 times")
    assert cluster.address in run["error"]


def test_an_unreachable_scheduler_exits_5_and_records_nothing(cli, home: Path) -> None:
    nowhere = f"tcp://127.0.0.1:{free_port()}"
    done = cli("add", "params.a=1", "--addr", nowhere)
    assert done.code == 5
    assert done.err.startswith(f"error: cannot reach the Dask scheduler at {nowhere}: ")
    assert json.loads(cli("status", "--json").out) == []


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param(lambda address: ["launcher=dask", f"launcher.address={address}"], id="group"),
        pytest.param(lambda address: [f"-addr={address}"], id="accio"),
    ],
)
def test_other_spellings_of_the_address(cli, cluster: Cluster, spelling) -> None:
    done = cli("add:1.0", "params.a=1", *spelling(cluster.address), "--json")
    assert done.code == 0, done.err
    (run,) = json.loads(done.out)["runs"]
    assert run["result"] == 2 and run["worker"].startswith("tcp://127.0.0.1:")


def test_launcher_options_refuse_what_cannot_work(cli, cluster: Cluster) -> None:
    threads = cli("add", "launcher=threads", "--addr", cluster.address)
    assert threads.code == 2
    assert "launcher 'threads' runs them on this machine" in threads.err
    no_address = cli("add", "launcher=dask")
    assert no_address.code == 2
    assert "launcher 'dask' needs the address of a Dask scheduler" in no_address.err


def test_the_launching_process_killed_then_resume(
    cluster: Cluster, dasky: Path, cli, home: Path
) -> None:
    args = ("spin", "params.seconds=1", "--repeat", "4", "--max-parallelism", "1")
    launch_id = cli(*args, "--addr", cluster.address, "--detach", "-q").out.split()[0]
    wait_until(lambda: launch_json(cli, launch_id)["counts"].get("succeeded", 0) >= 1)
    import sqlite3

    con = sqlite3.connect(home / "runner.db")
    (pid,) = con.execute("SELECT pid FROM launches WHERE id=?", (launch_id,)).fetchone()
    con.close()
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: "lost" in statuses(launch_json(cli, launch_id)), timeout=10)
    before = launch_json(cli, launch_id)
    assert set(statuses(before)) == {"succeeded", "lost"}
    resumed = cli("resume", launch_id, "--json")
    assert resumed.code == 0, resumed.err
    after = json.loads(resumed.out)
    assert statuses(after) == ["succeeded"] * 4
    assert [r["seed"] for r in after["runs"]] == [r["seed"] for r in before["runs"]]


def test_the_scheduler_stopped_mid_launch_then_resume(
    dasky: Path, cli, home: Path, tmp_path: Path
) -> None:
    own = Cluster(tmp_path / "own-cluster")
    try:
        own.start_scheduler()
        own.start_worker()
        own.wait_for_workers(1)
        args = ("spin", "params.seconds=0.5", "--repeat", "10", "--max-parallelism", "1")
        launch_id = cli(*args, "--addr", own.address, "--detach", "-q").out.split()[0]
        wait_until(lambda: launch_json(cli, launch_id)["counts"].get("succeeded", 0) >= 2)
        own.stop_scheduler()
        assert cli("wait", launch_id).code == 4
        stopped = launch_json(cli, launch_id)
        done = [r for r in stopped["runs"] if r["status"] == "succeeded"]
        unfinished = [r for r in stopped["runs"] if r["status"] != "succeeded"]
        assert len(done) >= 2 and unfinished
        assert {r["status"] for r in unfinished} == {"failed"}
        assert all(
            f"the Dask scheduler at {own.address} was lost" in r["error"] for r in unfinished
        )
        # A scheduler back at the same address, and a worker: resume completes the launch.
        for worker in own.workers:
            worker.kill()
            worker.wait()
        own.workers.clear()
        own.start_scheduler()
        own.start_worker()
        own.wait_for_workers(1)
        resumed = cli("resume", launch_id, "--json")
        assert resumed.code == 0, resumed.err
        after = json.loads(resumed.out)
        assert statuses(after) == ["succeeded"] * 10
        kept = {r["id"]: r["ended"] for r in done}
        assert all(r["ended"] == kept[r["id"]] for r in after["runs"] if r["id"] in kept)
    finally:
        own.stop()


def test_a_run_on_another_host_sends_its_files_back(project: Path, tmp_path: Path) -> None:
    from runner.dask_launcher import _write_back, run_here
    from runner.worker import Task

    run_dir = tmp_path / "home" / "runs" / "r1"
    task = Task(
        run_id="r1",
        entrypoint="mypkg.flows:boom",
        params={"a": 1},
        seed=0,
        run_dir=str(run_dir),
        sys_path=(str(project),),
    )
    outcome, files = run_here(task, "tcp://w:1", same_host=False, scratch=str(tmp_path))
    assert outcome.result == 1 and outcome.worker == "tcp://w:1" and outcome.run_dir is None
    assert files == {"log.txt": b"a is 1\n"}
    assert not run_dir.exists()  # nothing written here by the worker
    assert _write_back(str(run_dir), files) == str(run_dir)
    assert (run_dir / "log.txt").read_text() == "a is 1\n"


def test_runner_cluster_serves_until_ctrl_c(cli, project: Path, home: Path, tmp_path: Path) -> None:
    proc = popen(project, home, tmp_path, "cluster", "--workers", "1", "--port", "0")
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("Dask scheduler at tcp://127.0.0.1:"), proc.stderr
        address = first.split()[3]
        done = cli("add:1.0", "params.a=1", "--addr", address, "--json")
        assert done.code == 0, done.err
        assert json.loads(done.out)["runs"][0]["result"] == 2
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_a_big_result_on_another_host_comes_back_as_its_file(tmp_path: Path) -> None:
    from runner.dask_launcher import run_here
    from runner.worker import Task

    (tmp_path / "bigmod.py").write_text("def big():\n    return list(range(100_000))\n")
    run_dir = tmp_path / "home" / "runs" / "r2"
    task = Task("r2", "bigmod:big", {}, 0, str(run_dir), sys_path=(str(tmp_path),))
    outcome, files = run_here(task, "tcp://w:1", same_host=False, scratch=str(tmp_path))
    assert outcome.result_ref == "result.pickle" and files is not None
    assert set(files) == {"result.pickle"} and not run_dir.exists()
