"""Metric columns in the results table: `runner compare` on a 10,000-run launch whose runs
logged 3 metrics each, against the same launch logging nothing (issue 23: under 1 s)."""

import argparse
import math
import os
import platform
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from array import array
from dataclasses import dataclass
from pathlib import Path

# The console script installed next to this interpreter (see startup.py).
RUNNER = Path(sysconfig.get_path("scripts")) / "runner"
CPUS = os.cpu_count() or 1
TARGET_S = 1.0  # from the issue: `runner compare` with metric columns on 10,000 runs
KEYS = ("acc", "loss", "lr")  # the metrics each run logs


@dataclass(frozen=True)
class Sizes:
    repeat: int  # timings per command
    runs: int  # runs in each launch (4 repeats of runs / 4 points)
    steps: int  # points each run logs of each key


FULL = Sizes(repeat=7, runs=10_000, steps=50)
QUICK = Sizes(repeat=3, runs=2_000, steps=20)


def record(home: Path, sizes: Sizes, *, logged: bool) -> str:
    """A finished launch of `sizes.runs` runs (params a = index // 4, repeat 4), recorded
    straight through the Store API as a launch records it; `logged`: each run's points of
    KEYS too (as the launching process writes them: a send of all of a run's points). Its id."""
    import json
    import uuid

    from runner.records import LaunchRecord, RunOutcome, RunSpec, RunStatus
    from runner.store import Store

    launch_id = uuid.uuid4().hex
    store = Store(home)
    specs = [
        RunSpec(
            id=uuid.uuid4().hex,
            index=i,
            workflow_id="train",
            workflow_version="1.0",
            entrypoint="tasks:train",
            params={"a": i // 4, "b": 0.5},
            seed=i % 4,
            repeat_index=i % 4,
        )
        for i in range(sizes.runs)
    ]
    now = time.time()
    fields = dict.fromkeys(("name", "notes", "addr"))
    store.record_launch(
        LaunchRecord(
            id=launch_id,
            created=now,
            workflow_id="train",
            workflow_version="1.0",
            tags=[],
            seed=1,
            repeat=4,
            labels={},
            annotations={},
            env={},
            launcher="local",
            definition={"swept": {"params.a": sizes.runs // 4}},
            pid=0,
            run_count=sizes.runs,
            **fields,
        ),
        specs,
    )
    outcomes = []
    for spec in specs:
        loss = (spec.index % 97) / 97 + 0.5 / (spec.seed + 1)
        result = {"loss": loss, "acc": {"train": 1 - loss / 3, "test": 1 - loss / 2}}
        outcomes.append(
            RunOutcome(spec.id, RunStatus.SUCCEEDED, now, now + 1, result_json=json.dumps(result))
        )
    store.record_outcomes(outcomes)
    if logged:
        series: dict = {}
        steps = array("q", range(sizes.steps)).tobytes()
        times = array("d", [now] * sizes.steps).tobytes()
        for start in range(0, len(specs), 500):
            sent = []
            for spec in specs[start : start + 500]:
                base = (spec.index % 97) / 97
                curves = {
                    "loss": [base + math.exp(-s / 10) + 0.01 * (s % 3) for s in range(sizes.steps)],
                    "acc": [1 - base / (s + 1) for s in range(sizes.steps)],
                    "lr": [0.1 * 0.9**s for s in range(sizes.steps)],
                }
                chunks = [(key, steps, array("d", curves[key]).tobytes(), times) for key in KEYS]
                sent.append((spec.id, now, 0, chunks))
            store.record_points(sent, series)
    store.close()
    return launch_id


def env(home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}
    return {**clean, "RUNNER_HOME": str(home), "COLUMNS": "80"}


def timed(home: Path, argv: list[str], repeat: int) -> list[float]:
    """Wall seconds of each of `repeat` runs of argv, a fresh process each."""
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=home, env=env(home), capture_output=True, text=True)
        seconds.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"{argv} exited with {done.returncode}:\n{done.stderr}")
    return seconds


def in_process(home: Path, ident: str, options: str, repeat: int) -> list[float]:
    """runner.table(LAUNCH, OPTIONS) alone, in one process: read, decode, flatten (the
    summaries too), no rendering; a first call warms the imports up."""
    code = (
        "import time, runner\n"
        f"runner.table({ident!r}, {options})\n"
        f"for _ in range({repeat}):\n"
        "    start = time.perf_counter()\n"
        f"    table = runner.table({ident!r}, {options})\n"
        "    print(time.perf_counter() - start, len(table.rows), len(table.columns))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=home, env=env(home), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return [float(line.split()[0]) for line in done.stdout.splitlines()]


def measure(sizes: Sizes) -> str:
    with tempfile.TemporaryDirectory(prefix="runner-bench-metrics-table-") as name:
        home = Path(name)
        started = time.perf_counter()
        plain = record(home, sizes, logged=False)
        logged = record(home, sizes, logged=True)
        built = time.perf_counter() - started
        runner = str(RUNNER)
        out = str(home / "out")
        commands = [
            ("`runner compare LAUNCH --by-run`", ["--by-run"], True),
            (f"`runner compare LAUNCH` (by point: {sizes.runs // 4:,} points x 4 repeats, mean ± std)", [], True),
            ("`runner compare LAUNCH --by-run --columns a,loss.min --sort loss.min`", ["--by-run", "--columns", "a,loss.min", "--sort", "loss.min"], False),
            ("`runner compare LAUNCH --by-run --where 'loss.min<0.5' --format json`", ["--by-run", "--where", "loss.min<0.5", "--format", "json"], False),
            ("`runner compare LAUNCH --by-run --all-columns --format csv -o F`", ["--by-run", "--all-columns", "--format", "csv", "-o", out], True),
        ]  # fmt: skip
        rows = []
        for label, options, both in commands:
            with_metrics = timed(home, [runner, "compare", logged, *options], sizes.repeat)
            without = (
                timed(home, [runner, "compare", plain, *options], sizes.repeat) if both else []
            )
            rows.append((label, with_metrics, without))
        api = [
            (
                f"`runner.table(LAUNCH, {options})` in one process",
                in_process(home, logged, options, sizes.repeat),
                in_process(home, plain, options, sizes.repeat),
            )
            for options in ("by_point=False", "by_point=True")
        ]
    lines = [
        f"Machine: {platform.platform()}, {CPUS} CPUs, Python {platform.python_version()}"
        f" ({sizes.repeat} repetitions; each command a fresh process, stdout a pipe,"
        " COLUMNS=80).",
        "",
        f"Two launches of {sizes.runs:,} runs ({sizes.runs // 4:,} points x 4 repeats, a dict"
        f" result), recorded through the Store API in {built:.1f} s: one whose runs logged"
        f" {len(KEYS)} metrics of {sizes.steps} steps each ({sizes.runs * len(KEYS):,}"
        " summaries), one that logged nothing (the table as it was before metrics).",
        "",
        "| command | with metrics: median s | min s | without: median s | target |",
        "|---|---:|---:|---:|:---:|",
    ]
    for label, seconds, without in rows + api:
        median = statistics.median(seconds)
        base = f"{statistics.median(without):.3f}" if without else "-"
        verdict = f"{'PASS' if median < TARGET_S else 'MISS'} < {TARGET_S} s"
        lines.append(f"| {label} | {median:.3f} | {min(seconds):.3f} | {base} | {verdict} |")
    return "\n".join(lines)


def run(quick: bool) -> str:
    """The benchmark as `bench/run.py` calls it: its report."""
    return measure(QUICK if quick else FULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller launches, fewer repetitions")
    print(run(parser.parse_args().quick))


if __name__ == "__main__":
    main()
