"""Metrics benchmark (issue 23): what runner.log costs a run, how fast points reach the store
and are read back, and how soon a run shows `running`.

    python bench/metrics.py               # medians of 5
    python bench/metrics.py --quick       # medians of 3 (as bench/run.py --quick)

1. `runner.log` in a worker-like setting: this process enters a run whose points go to a
   points file in a worker folder, as a loky worker's do (metrics.enter with a worker folder
   and no launch in this process), and logs N points: one key a call, three keys a call, a
   step given; us a call and a point, the sends included (an os.write every 8,192 points).
2. A run logging 100,000 points against the same run not logging, through a real launch
   (runner.launch, the local processes, workers warm; the launch's wall, pairs interleaved):
   each step does WORK_OPS rounds of `x = math.sin(x) * 0.5 + math.sqrt(x * x + 1.0)`
   (timed alone below, a few microseconds), then logs `loss=x`.
3. Ingest, several runs at once: (a) end to end, a launch of RUNS runs on the two workers,
   each logging POINTS points (two keys a call) as fast as it can: points / the launch's
   wall, which ends when the last point is in the store; (b) the store's side alone:
   Store.record_points of what such runs send (sends of 8,192 points), and of small sends
   (10 points, as a run logging now and then sends every 0.1 s), timed in this process.
4. Reads: runner.metric_series of one run's 100,000 points (the run of 2.), and
   runner.metric_summaries of a launch of 10,000 runs that each logged two keys (that
   launch's wall against the same launch not logging, too: short runs that log).
5. Running: seconds from a run's start (its `started`) until another connection to the
   store reads it `running`, on the local processes and on threads.

Figures, never assertions: PASS/MISS against the issue's targets (log < 5 us a point,
logging 100,000 points < 1.5x, ingest >= 200,000 points/s, running within 1 s).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

LOG_TARGET_US = 5.0
RATIO_TARGET = 1.5
INGEST_TARGET = 200_000
RUNNING_TARGET_S = 1.0
LOG_POINTS = 300_000
STEPS = 100_000
WORK_OPS = 25
RUNS = 4
POINTS = 500_000  # a run's, in RUNS runs at once
SUMMARY_RUNS = 10_000

FLOWS = f"""
import math, os, time

import runner


def steps(n: int = {STEPS}, log: bool = True) -> float:
    x = acc = 0.0
    for i in range(n):
        x = i * 1e-5
        for _ in range({WORK_OPS}):
            x = math.sin(x) * 0.5 + math.sqrt(x * x + 1.0)
        acc += x
        if log:
            runner.log(loss=x)
    return acc


def flood(points: int = {POINTS}) -> int:
    for i in range(points // 2):
        runner.log(loss=i * 0.5, acc=i * 0.25)
    return points


def few(i: int = 0, log: bool = True) -> int:
    if log:
        runner.log(loss=i * 0.5, acc=i * 0.25)
    return i


def hold(gate: str) -> int:
    while not os.path.exists(gate):
        time.sleep(0.005)
    return 0
"""


def median(values: list[float]) -> float:
    return statistics.median(values)


def project(root: Path) -> Path:
    conf = root / "conf" / "workflow"
    conf.mkdir(parents=True)
    (root / "bench_metric_flows.py").write_text(FLOWS)
    for name in ("steps", "flood", "few", "hold"):
        (conf / f"{name}.yaml").write_text(
            f'id: {name}\nversion: "1"\nentrypoint: bench_metric_flows:{name}\n'
        )
    sys.path.insert(0, str(root))
    return root / "conf"


# -- 1. runner.log ----------------------------------------------------------------------------


def log_cost(repeat: int) -> list[tuple[str, float, float]]:
    """(what, us a call, us a point), medians."""
    import runner
    from runner import metrics

    cases: list[tuple[str, Callable[[int], None], int]] = [
        ("`runner.log(loss=x)`", lambda i: runner.log(loss=i * 0.5), 1),
        ("`runner.log(loss=x, acc=y, lr=z)`", lambda i: runner.log(loss=0.5, acc=0.25, lr=1e-3), 3),
        ("`runner.log(step=i, loss=x)`", lambda i: runner.log(step=i, loss=i * 0.5), 1),
    ]
    rows = []
    for name, call, keys in cases:
        times = []
        for r in range(-1, repeat):  # (the first, a warm-up, is not counted)
            with tempfile.TemporaryDirectory() as worker_dir:
                metrics.enter(f"{r + 1:032x}", time.time(), worker_dir)
                calls = LOG_POINTS // keys
                started = time.perf_counter()
                for i in range(calls):
                    call(i)
                metrics.leave()  # (the last send, as the run ends)
                if r >= 0:
                    times.append((time.perf_counter() - started) / calls * 1e6)
        per_call = median(times)
        rows.append((name, per_call, per_call / keys))
    return rows


# -- 2. a run logging 100,000 points against the same run not logging -------------------------


def work_per_step() -> float:
    """us of the arithmetic alone, a step (as `steps` does it, without logging)."""
    n = 50_000
    started = time.perf_counter()
    acc = 0.0
    for i in range(n):
        x = i * 1e-5
        for _ in range(WORK_OPS):
            x = math.sin(x) * 0.5 + math.sqrt(x * x + 1.0)
        acc += x
    return (time.perf_counter() - started) / n * 1e6


def timed_launch(
    conf: Path, home: Path, target: str, *overrides: str, **options: Any
) -> tuple[float, Any]:
    import runner

    started = time.perf_counter()
    launch = runner.launch(
        target, list(overrides), config_dir=conf, home=home, progress=False, **options
    )
    seconds = time.perf_counter() - started
    assert launch.ok, launch.runs[0].error
    return seconds, launch


def logging_run(conf: Path, home: Path, repeat: int) -> tuple[float, float, str]:
    """(median wall without logging, with, the id of a run that logged STEPS points)."""
    timed_launch(conf, home, "steps", "params.n=1000")  # workers started and warm
    quiet, logging, run_id = [], [], ""
    for _ in range(repeat):
        quiet.append(timed_launch(conf, home, "steps", "params.log=false")[0])
        seconds, launch = timed_launch(conf, home, "steps", "params.log=true")
        logging.append(seconds)
        run_id = launch.runs[0].id
    return median(quiet), median(logging), run_id


# -- 3. ingest ----------------------------------------------------------------------------------


def ingest_end_to_end(conf: Path, home: Path, repeat: int) -> float:
    """Points a second: RUNS runs of POINTS points each, in one launch on two workers."""
    rates = []
    for _ in range(repeat):
        seconds, _ = timed_launch(conf, home, "flood", repeat=RUNS)
        rates.append(RUNS * POINTS / seconds)
    return median(rates)


def sends(runs: int, points: int, size: int) -> list[Any]:
    """What `runs` runs logging `points` points of two keys send, in sends of `size` points."""
    found = []
    for r in range(runs):
        run_id = f"{r:032x}"
        for number, start in enumerate(range(0, points // 2, size // 2)):
            steps = array("q", range(start, start + size // 2)).tobytes()
            values = array("d", (s * 0.5 for s in range(start, start + size // 2))).tobytes()
            times = array("d", [time.time()] * (size // 2)).tobytes()
            chunks = [("loss", steps, values, times), ("acc", steps, values, times)]
            found.append((run_id, 1.0, number, chunks))
    return found


def ingest_store(repeat: int, size: int, points: int) -> float:
    """Points a second through Store.record_points alone, sends of `size` points, in
    batches as the recorder takes them (every 0.2 s: here, 50 sends at a time)."""
    from runner.store import Store

    batch = sends(RUNS, points, size)
    rates = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as home:
            store = Store(home)
            series: dict[Any, Any] = {}
            started = time.perf_counter()
            for at in range(0, len(batch), 50):
                store.record_points(batch[at : at + 50], series)
            rates.append(RUNS * points / (time.perf_counter() - started))
            store.close()
    return median(rates)


# -- 4. reads -----------------------------------------------------------------------------------


def read_series(home: Path, run_id: str, repeat: int) -> float:
    import runner

    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        (series,) = runner.metric_series(run_id, home=home)
        times.append(time.perf_counter() - started)
        assert len(series.values) == STEPS
    return median(times)


def read_summaries(conf: Path, home: Path, repeat: int) -> tuple[float, float, float]:
    """(the wall of a launch of SUMMARY_RUNS runs logging, of the same not logging, median
    seconds of runner.metric_summaries of the first)."""
    import runner

    quiet, _ = timed_launch(
        conf, home, "few", f"params.i=range({SUMMARY_RUNS})", "params.log=false"
    )
    seconds, launch = timed_launch(conf, home, "few", f"params.i=range({SUMMARY_RUNS})")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        found = runner.metric_summaries(launch.id, home=home)
        times.append(time.perf_counter() - started)
        assert len(found) == 2 * SUMMARY_RUNS, len(found)
    return seconds, quiet, median(times)


# -- 5. running -----------------------------------------------------------------------------------


def running_latency(conf: Path, home: Path, launcher: str, repeat: int) -> float:
    """Seconds from a run's start until another connection reads it running."""
    import runner
    from runner.store import Store

    store = Store(home)
    found = []
    for r in range(repeat):
        gate = Path(home) / f"gate-{launcher}-{r}"
        ids: list[str] = []

        def launch(gate: Path = gate, ids: list[str] = ids) -> None:
            runner.launch(
                "hold",
                [f"params.gate={gate}", f"launcher={launcher}"],
                config_dir=conf,
                home=home,
                on_created=lambda record, specs: ids.append(record.id),
            )

        thread = threading.Thread(target=launch)
        thread.start()
        while True:
            runs = store.runs(ids[0]) if ids else []
            if runs and runs[0].status.value == "running":
                found.append(time.time() - (runs[0].started or 0.0))
                break
            time.sleep(0.01)
        gate.touch()
        thread.join()
    store.close()
    return median(found)


def mark(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def run(quick: bool = False, repeat: int | None = None) -> str:
    """Measure everything; the report, a Markdown table (bench/run.py prints it)."""
    repeat = repeat or (3 if quick else 5)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from sweep import compile_runner

    compile_runner()
    with tempfile.TemporaryDirectory(prefix="runner-metrics-") as tmp:
        conf = project(Path(tmp) / "project")
        home = Path(tmp) / "home"
        log_rows = log_cost(repeat)
        work = work_per_step()
        quiet, logging, run_id = logging_run(conf, home, repeat)
        end_to_end = ingest_end_to_end(conf, home, max(1, repeat // 2))
        big_sends = ingest_store(repeat, 8192, 200_000)
        small_sends = ingest_store(repeat, 10, 20_000)
        series_s = read_series(home, run_id, repeat)
        summary_launch_s, quiet_launch_s, summaries_s = read_summaries(
            conf, Path(tmp) / "home-10k", repeat
        )
        latency = {name: running_latency(conf, home, name, repeat) for name in ("local", "threads")}

    lines = [
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python"
        f" {platform.python_version()}, load average {os.getloadavg()[0]:.1f}; medians of {repeat}",
        "",
        "| measure | figure | target |",
        "|---|---:|---|",
    ]
    for name, per_call, per_point in log_rows:
        lines.append(
            f"| {name}, a call / a point | {per_call:.2f} us / {per_point:.2f} us |"
            f" < {LOG_TARGET_US:g} us a point: {mark(per_point < LOG_TARGET_US)} |"
        )
    ratio = logging / quiet
    lines += [
        f"| arithmetic of one step alone ({WORK_OPS} rounds of sin, sqrt) | {work:.2f} us | |",
        f"| a run of {STEPS:,} steps, not logging (launch wall) | {quiet:.3f} s | |",
        f"| the same run logging {STEPS:,} points | {logging:.3f} s ({ratio:.2f}x) |"
        f" < {RATIO_TARGET}x: {mark(ratio < RATIO_TARGET)} |",
        f"| ingest end to end: {RUNS} runs of {POINTS:,} points, 2 workers |"
        f" {end_to_end:,.0f} points/s | >= {INGEST_TARGET:,}/s: {mark(end_to_end >= INGEST_TARGET)} |",
        f"| ingest, the store alone: sends of 8,192 points | {big_sends:,.0f} points/s |"
        f" >= {INGEST_TARGET:,}/s: {mark(big_sends >= INGEST_TARGET)} |",
        f"| ingest, the store alone: sends of 10 points | {small_sends:,.0f} points/s | |",
        f"| `runner.metric_series` of a run's {STEPS:,} points | {series_s * 1000:.1f} ms | |",
        f"| a launch of {SUMMARY_RUNS:,} short runs logging 2 points each (wall) |"
        f" {summary_launch_s:.2f} s (not logging: {quiet_launch_s:.2f} s) | |",
        f"| `runner.metric_summaries` of that launch ({2 * SUMMARY_RUNS:,} summaries) |"
        f" {summaries_s * 1000:.0f} ms | |",
    ]
    for name, seconds in latency.items():
        lines.append(
            f"| a run seen `running` after its start, {name} | {seconds:.2f} s |"
            f" within {RUNNING_TARGET_S:g} s: {mark(seconds < RUNNING_TARGET_S)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="repeats of each measure")
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    args = parser.parse_args()
    print(run(args.quick, None if args.quick else args.repeat))


if __name__ == "__main__":
    main()
