"""Results-table benchmark: `runner compare` and `runner status LAUNCH` on a 10,000-run launch."""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# The console script installed next to this interpreter (see startup.py).
RUNNER = Path(sysconfig.get_path("scripts")) / "runner"
CPUS = os.cpu_count() or 1
TARGET_S = 1.0  # from the issue: answered within 1 s on a 10,000-run launch

# A workflow whose result is a nested dict with a list, like a training run's metrics.
TASK_MODULE = """\
def metrics(a: int, b: float = 0.5, epochs: int = 10, seed: int = 0) -> dict:
    loss = (a % 97) / 97 + b / (seed % 13 + 1)
    return {
        "loss": loss,
        "acc": {"train": 1 - loss / 3, "test": 1 - loss / 2, "top5": 1 - loss / 9},
        "curve": [loss * 3, loss * 2, loss],
        "steps": a * epochs,
    }
"""
WORKFLOW = (
    'id: metrics\nversion: "1.0"\nentrypoint: bench_tasks:metrics\n'
    "params:\n  a: 0\n  b: 0.5\n  epochs: 10\n"
)


@dataclass(frozen=True)
class Sizes:
    repeat: int  # timings per command
    runs: int  # runs in each launch


FULL = Sizes(repeat=7, runs=10_000)
QUICK = Sizes(repeat=3, runs=2_000)


def env(root: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}
    return {
        **clean,
        "RUNNER_HOME": str(root / "home"),
        "RUNNER_CONFIG_DIR": str(root / "conf"),
        "COLUMNS": "100",
    }


def launch(root: Path, *overrides: str) -> str:
    """A launch of the metrics workflow; its id."""
    argv = [str(RUNNER), "metrics", *overrides, "-q", "--seed", "1"]
    done = subprocess.run(argv, cwd=root, env=env(root), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{argv} exited with {done.returncode}:\n{done.stderr}")
    return done.stdout.split()[0]


def timed(root: Path, argv: list[str], repeat: int) -> tuple[list[float], str]:
    """Wall seconds of each of `repeat` runs of argv (a fresh process each), and its stdout."""
    seconds = []
    out = ""
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=root, env=env(root), capture_output=True, text=True)
        seconds.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"{argv} exited with {done.returncode}:\n{done.stderr}")
        out = done.stdout
    return seconds, out


def in_process(root: Path, ident: str, repeat: int) -> list[float]:
    """runner.table(LAUNCH) alone, in this process: reading and flattening, no rendering."""
    code = (
        "import sys, time, runner\n"
        f"for _ in range({repeat}):\n"
        "    start = time.perf_counter()\n"
        f"    table = runner.table({ident!r})\n"
        "    print(time.perf_counter() - start, len(table.rows))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env(root), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return [float(line.split()[0]) for line in done.stdout.splitlines()]


def measure(sizes: Sizes) -> str:
    with tempfile.TemporaryDirectory(prefix="runner-bench-table-") as name:
        root = Path(name)
        (root / "conf" / "workflow").mkdir(parents=True)
        (root / "conf" / "workflow" / "metrics.yaml").write_text(WORKFLOW)
        (root / "bench_tasks.py").write_text(TASK_MODULE)
        points = sizes.runs // 4
        by_point = launch(root, f"params.a=range({points})", "params.b=0.5", "--repeat", "4")
        by_run = launch(root, f"params.a=range({sizes.runs})")
        runner = str(RUNNER)
        out = str(root / "out")
        commands = [
            (f"`runner status LAUNCH` ({points:,} points x 4 repeats)", [runner, "status", by_point]),
            ("`runner compare LAUNCH` (by point, mean ± std)", [runner, "compare", by_point]),
            ("`runner compare LAUNCH --stats --format csv -o F`", [runner, "compare", by_point, "--stats", "--format", "csv", "-o", out]),
            (f"`runner status LAUNCH` ({sizes.runs:,} runs, no repeats)", [runner, "status", by_run]),
            ("`runner compare LAUNCH --sort loss --top 20`", [runner, "compare", by_run, "--sort", "loss", "--top", "20"]),
            ("`runner compare LAUNCH --where 'loss<0.5' --format json`", [runner, "compare", by_run, "--where", "loss<0.5", "--format", "json"]),
            ("`runner compare LAUNCH --format csv -o F`", [runner, "compare", by_run, "--format", "csv", "-o", out]),
        ]  # fmt: skip
        rows = []
        for label, argv in commands:
            seconds, _ = timed(root, argv, sizes.repeat)
            rows.append((label, seconds))
        api = in_process(root, by_run, sizes.repeat)
    lines = [
        f"Machine: {platform.platform()}, {CPUS} CPUs, Python {platform.python_version()}"
        f" ({sizes.repeat} repetitions; each command a fresh process, stdout a pipe,"
        " COLUMNS=100).",
        "",
        f"Launches: {sizes.runs:,} runs of a workflow returning a nested dict (4 numbers,"
        " a nested dict of 3, a list); one sweeps 1 param x 4 repeats, one 1 param.",
        "",
        "| command | median s | min s | target |",
        "|---|---:|---:|:---:|",
    ]
    for label, seconds in rows:
        median = statistics.median(seconds)
        verdict = "PASS" if median < TARGET_S else "MISS"
        lines.append(f"| {label} | {median:.3f} | {min(seconds):.3f} | {verdict} < {TARGET_S} s |")
    lines.append(
        f"| `runner.table(LAUNCH)` in process ({sizes.runs:,} runs: read, decode, flatten)"
        f" | {statistics.median(api):.3f} | {min(api):.3f} | |"
    )
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
