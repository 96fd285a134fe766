"""Reads of big launches (issue 14): `runner status LAUNCH -q`, `runner status LAUNCH`,
`runner logs LAUNCH` and `runner status LAUNCH --json` on a 1,000,000-run launch and on a
200-run launch whose results are 1 MB each; and what returning 1 MB of floats costs a worker.

The store is built once and kept (in the system's temp dir, or --store DIR): the big launch's
rows are inserted straight into SQLite (what a launch would record, without running a million
runs), one run in a thousand with a log; the 1 MB launch is a real launch. Each command is a
fresh `runner` process: the wall time to its first line of output, to its end, and its peak
RSS (os.wait4), medians of --repeat; and for `runner status LAUNCH`, to its last line (the
counts). Figures, never assertions: PASS/MISS against the issue's targets (first output, and
the counts of `runner status LAUNCH`, within 0.5 s).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

RUNNER = Path(sysconfig.get_path("scripts")) / "runner"
RSS_UNIT = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: kilobytes on Linux
TARGET_S = 0.5
BIG_RUNS = 1_000_000
MB_RUNS = 200
FLOATS = 131_072  # 1 MB of float64
LOGGED_EVERY = 1000  # one run in this many of the big launch wrote a log

WORKFLOW = 'id: floats\nversion: "1"\nentrypoint: bench_floats:floats\nparams:\n  i: 0\n'
TASK_MODULE = f"""\
def floats(i: int = 0) -> list:
    return [i + k / 3 for k in range({FLOATS})]
"""


def build(root: Path) -> tuple[str, str]:
    """(big launch id, 1 MB launch id), made once under root."""
    done = root / "ids.json"
    if done.exists():
        ids = json.loads(done.read_text())
        return ids["big"], ids["mb"]
    root.mkdir(parents=True, exist_ok=True)
    # In a process of its own: on Linux a child's peak RSS starts from its parent's at fork,
    # so this process must stay small for the figures of the commands it starts.
    made = subprocess.run(
        [sys.executable, __file__, "--synthesize", str(root / "home")],
        capture_output=True,
        text=True,
        check=True,
    )
    big = made.stdout.strip()
    conf = root / "project" / "conf"
    (conf / "workflow").mkdir(parents=True, exist_ok=True)
    (conf / "workflow" / "floats.yaml").write_text(WORKFLOW)
    (root / "project" / "bench_floats.py").write_text(TASK_MODULE)
    made = subprocess.run(
        [str(RUNNER), "floats", f"params.i=range(0,{MB_RUNS})", "-q", "--max-parallelism", "2"],
        env=_env(root),
        cwd=root / "project",
        capture_output=True,
        text=True,
        check=True,
    )
    mb = made.stdout.split()[0]
    done.write_text(json.dumps({"big": big, "mb": mb}))
    return big, mb


def _synthesize(home: Path, runs: int) -> str:
    """A finished launch of `runs` runs sweeping params.x, inserted straight into SQLite as
    a launch of that size records them (Store.record_block, then the outcomes): planned by
    index, each run's row keeps only what is its own (its params, workflow and parent are
    its launch's), inserted in plan order (rowids in order), then updated succeeded."""
    from runner.plan import run_ids
    from runner.records import LaunchRecord
    from runner.store import Store

    store = Store(home)
    launch_id = "b" * 24 + f"{runs:08x}"
    now = time.time()
    entrypoint, id_key = "bench_inc:inc", 1
    store.record_launch(
        LaunchRecord(
            id=launch_id,
            created=now,
            workflow_id="inc",
            workflow_version="1.0",
            name=None,
            tags=[],
            notes=None,
            seed=1,
            repeat=1,
            labels={},
            annotations={},
            env={},
            launcher="local",
            addr=None,
            definition={"launcher": {"name": "local"}, "seed": 1, "swept": {"params.x": runs}},
            pid=1,
            run_count=runs,
        ),
        None,
        {
            "params": {"x": 0},
            "axes": [[["x"], {"range": [0, runs, 1]}]],
            "repeat": 1,
            "seeds": [7],
            "ids": [id_key, runs],
            "entrypoint": entrypoint,
            "cache": False,
        },
    )
    store.close()
    runs_dir = home / "runs"
    db = sqlite3.connect(home / "runner.db")
    (last,) = db.execute("SELECT IFNULL(MAX(rowid), 0) FROM runs").fetchone()
    ids = run_ids(id_key, runs)
    rows = []
    for i in range(runs):
        run_id = next(ids)
        run_dir = None
        if i % LOGGED_EVERY == 0:
            folder = runs_dir / run_id
            folder.mkdir(parents=True)
            (folder / "log.txt").write_text(f"run {i} says hello\n")
            run_dir = str(folder)
        rows.append((last + 1 + i, run_id, launch_id, i, 7, "succeeded", now, now, now + 0.001))
        rows[-1] += (str(i + 1), run_dir, 1)
    with db:
        db.executemany(
            "INSERT INTO runs (rowid, id, launch_id, idx, seed, status, created, started, ended,"
            " result, run_dir, attempts, workflow_id, workflow_version, params)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', '')",
            rows,
        )
    db.close()
    return launch_id


def _env(root: Path) -> dict[str, str]:
    return {
        **os.environ,
        "RUNNER_HOME": str(root / "home"),
        "RUNNER_CONFIG_DIR": str(root / "project" / "conf"),
        "PYTHONPATH": str(root / "project"),
    }


def timed(args: list[str], root: Path, *, by_line: bool = False) -> tuple[float, ...]:
    """(seconds to the first line, to the last line, to the end, peak RSS in MB, bytes
    written). The last line's time is taken with `by_line` only (reading a long output line
    by line would cost this process more than the command); else it is the end's."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(RUNNER), *args], env=_env(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    first_at = last_at = time.perf_counter() - start
    size = len(first)
    if by_line:
        while line := proc.stdout.readline():
            last_at = time.perf_counter() - start
            size += len(line)
    while chunk := proc.stdout.read(1 << 16):
        size += len(chunk)
    proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    end = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if not first:  # nothing on stdout (runner logs of runs that printed nothing)
        first_at = end
    return first_at, last_at if by_line else end, end, usage.ru_maxrss * RSS_UNIT / 1e6, size


def worker_cost(repeat: int) -> tuple[float, float, float]:
    """Median seconds for a worker to turn 1 MB of floats into what the store keeps: JSON in
    the row (before), pickled into the run's folder with a summary (now); and pickle alone."""
    import io
    import pickle

    from runner.records import to_json
    from runner.worker import encode_result

    value = [random.random() for _ in range(FLOATS)]
    folder = tempfile.mkdtemp()
    json_times, ref_times, pickle_times = [], [], []
    for _ in range(repeat):
        start = time.perf_counter()
        to_json(value)
        json_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        encode_result(value, folder, io.StringIO())
        ref_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        pickle_times.append(time.perf_counter() - start)
    return tuple(statistics.median(t) for t in (json_times, ref_times, pickle_times))  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--store",
        type=Path,
        # -3: its launch's runs recorded as a launch records them (planned by index).
        default=Path(tempfile.gettempdir()) / "runner-bench-reads-3",
    )
    parser.add_argument("--synthesize", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.synthesize:
        print(_synthesize(options.synthesize, BIG_RUNS))
        return
    print(f"building (once) under {options.store} ...", file=sys.stderr)
    big, mb = build(options.store)
    print(
        f"{platform.python_implementation()} {platform.python_version()},"
        f" {os.cpu_count()} cores, {platform.system()}; medians of {options.repeat}\n"
    )
    # `runner status LAUNCH` ends with the launch's counts (issue 14: its first page and its
    # counts within 0.5 s): its target is on that last line; the others' on their first.
    print(
        "| launch | command | first line | last line | total | peak RSS | output | target 0.5 s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for name, launch in ((f"{BIG_RUNS:,} runs", big), (f"{MB_RUNS} runs of 1 MB", mb)):
        for command in (
            ["status", launch, "-q"],
            ["status", launch],
            ["logs", launch],
            ["status", launch, "--json"],
        ):
            counts = command == ["status", launch]
            figures = [timed(command, options.store, by_line=counts) for _ in range(options.repeat)]
            first, last, total, rss, size = (
                statistics.median(f[i] for f in figures) for i in range(5)
            )
            verdict = "PASS" if (last if counts else first) <= TARGET_S else "MISS"
            shown = " ".join("LAUNCH" if arg == launch else arg for arg in command)
            print(
                f"| {name} | `runner {shown}` | {first:.2f} s | {last:.2f} s | {total:.2f} s"
                f" | {rss:.0f} MB | {size / 1e6:.1f} MB | {verdict} ({'last' if counts else 'first'}) |"
            )
    as_json, by_ref, pickled = worker_cost(max(options.repeat, 5))
    print(f"\nA worker returning 1 MB of floats ({FLOATS:,}): medians")
    print("| stored as | worker time |\n|---|---:|")
    print(f"| JSON in the row (before) | {as_json * 1e3:.1f} ms |")
    print(f"| pickle in the run's folder + summary (now) | {by_ref * 1e3:.1f} ms |")
    print(f"| pickle.dumps alone | {pickled * 1e3:.1f} ms |")


if __name__ == "__main__":
    main()
