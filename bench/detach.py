"""Detach and cancel benchmark: how long `--detach` takes once the runs are recorded, and how long a cancel takes to stop a launch."""

import argparse
import os
import sqlite3
import statistics
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path

RUNNER = Path(sysconfig.get_path("scripts")) / "runner"

# Targets from the issue; the figures are compared with them, never asserted.
DETACH_TARGET_S = 0.3  # from the runs being recorded to `runner ... --detach` having exited
CANCEL_TARGET_S = 1.0  # from `runner cancel` starting to the launch's process being gone

TASKS = """\
import time


def inc(a: int) -> int:
    return a + 1


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds
"""
WORKFLOWS = {
    "inc": 'id: inc\nversion: "1.0"\nentrypoint: bench_tasks:inc\nparams:\n  a: 0\n',
    "nap": 'id: nap\nversion: "1.0"\nentrypoint: bench_tasks:nap\nparams:\n  seconds: 30\n',
}


def project(root: Path) -> dict[str, str]:
    """A project with the two workflows; the environment that points runner at it."""
    (root / "conf" / "workflow").mkdir(parents=True)
    for name, text in WORKFLOWS.items():
        (root / "conf" / "workflow" / f"{name}.yaml").write_text(text)
    (root / "bench_tasks.py").write_text(TASKS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}
    return {**env, "RUNNER_HOME": str(root / "home"), "RUNNER_CONFIG_DIR": str(root / "conf")}


def runner(args: list[str], root: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(RUNNER), *args], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode not in (0, 130):
        raise RuntimeError(f"runner {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout


def launches(db: sqlite3.Connection) -> int:
    return db.execute("SELECT COUNT(*) FROM launches").fetchone()[0]


def detach_once(root: Path, env: dict[str, str], runs: int) -> float:
    """Seconds from the launch's runs being visible in the store (one transaction records the
    launch and its runs; polled every millisecond) to the command having exited."""
    db = sqlite3.connect(Path(env["RUNNER_HOME"]) / "runner.db", isolation_level=None)
    before = launches(db)
    argv = [str(RUNNER), "inc", f"params.a=range({runs})", "--detach", "-q"]
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, cwd=root, env=env, stdout=out, stderr=subprocess.DEVNULL)
        while launches(db) == before:
            time.sleep(0.001)
        recorded = time.perf_counter()
        proc.wait()
        exited = time.perf_counter()
        out.seek(0)
        launch_id = out.readline().decode().strip()
    db.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} exited {proc.returncode}")
    runner(["wait", launch_id, "-q"], root, env)  # the next round starts on an idle machine
    return exited - recorded


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False


def cancel_once(root: Path, env: dict[str, str]) -> tuple[float, float]:
    """(seconds `runner cancel` took, seconds until the detached process was gone) for a
    launch whose two runs are running (30 s each) and two more pending."""
    out = runner(["nap", "--repeat", "4", "--max-parallelism", "2", "--detach", "-q"], root, env)
    launch_id = out.split()[0]
    db = sqlite3.connect(Path(env["RUNNER_HOME"]) / "runner.db")
    (pid,) = db.execute("SELECT pid FROM launches WHERE id=?", (launch_id,)).fetchone()
    db.close()
    time.sleep(2.0)  # its workers have started and hold two runs
    start = time.perf_counter()
    runner(["cancel", launch_id], root, env)
    answered = time.perf_counter() - start
    while alive(pid):
        time.sleep(0.005)
    return answered, time.perf_counter() - start


def row(label: str, values: list[float], target: float) -> str:
    median, worst = statistics.median(values), max(values)
    verdict = "PASS" if worst <= target else "MISS"
    return f"| {label} | {median:.3f} | {worst:.3f} | {target:g} | {verdict} |"


def run(quick: bool) -> str:
    repeat = 3 if quick else 7
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = project(root)
        runner(["inc", "-q"], root, env)  # the store exists: polling starts at once
        small = [detach_once(root, env, 1) for _ in range(repeat)]
        big = [detach_once(root, env, 10_000) for _ in range(repeat)]
        cancels = [cancel_once(root, env) for _ in range(repeat)]
    lines = [
        f"{repeat} rounds each, {os.cpu_count()} cores",
        "",
        "| measure | median s | max s | target s | |",
        "|---|---|---|---|---|",
        row("--detach, 1 run: runs recorded -> command exited", small, DETACH_TARGET_S),
        row("--detach, 10,000 runs: runs recorded -> command exited", big, DETACH_TARGET_S),
        row("runner cancel: command took", [c[0] for c in cancels], CANCEL_TARGET_S),
        row(
            "runner cancel: start -> launch process gone", [c[1] for c in cancels], CANCEL_TARGET_S
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    print(run(parser.parse_args().quick))


if __name__ == "__main__":
    main()
