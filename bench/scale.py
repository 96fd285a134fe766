"""Scaling benchmark: runner against raw joblib from 10,000 to 1,000,000 runs, with the launching
process's peak memory, and a sweep over a 1,000-key config.

    python bench/scale.py                  # 10k, 100k, 300k, 1M (medians of 3, 1 for 1M)
    python bench/scale.py --quick          # 10k and 100k, medians of 3
    python bench/scale.py --sizes 10000 --repeat 5 --plot scale.png

Each size runs raw joblib and runner in turn (paired), so the machine's load hits both; the
table gives their medians and the ratio. runner's modules are compiled to bytecode first, as
installing it does (see sweep.compile_runner). Peak RSS is the launching process's own (wait4's
ru_maxrss of that process: the workers are its grandchildren, so they never count).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

from sweep import (
    PROJECT,
    RUNNER,
    Done,
    check,
    compile_runner,
    execute,
    raw_joblib,
    runner_env,
    write_projects,
)

SIZES = (10_000, 100_000, 300_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
WIDE_KEYS = 1_000  # keys of the wide config
WIDE_RUNS = 100_000
# Targets from the issue; compared, never asserted.
RSS_TARGET_MB = 150.0
RATIO_TARGET_1M = 3.0
RATIO_TARGET_10K = 1.5

WIDE_WORKFLOW = 'id: wide\nversion: "1.0"\nentrypoint: bench_tasks:wide\nparams:\n  a: 0\n'
WIDE_TASK = "\n\ndef wide(a: int, **rest: int) -> int:\n    return a + len(rest)\n"


def write_wide(root: Path) -> None:
    """A workflow whose params have WIDE_KEYS keys, one of them swept."""
    project = root / PROJECT
    keys = "".join(f"  k{i}: {i}\n" for i in range(WIDE_KEYS - 1))
    (project / "conf" / "workflow" / "wide.yaml").write_text(WIDE_WORKFLOW + keys)
    with open(project / "bench_tasks.py", "a") as tasks:
        tasks.write(WIDE_TASK)


def launch(root: Path, home: Path, workflow: str, jobs: int) -> Done:
    argv = [str(RUNNER), workflow, f"params.a=range({jobs})", "-q", "--seed", "1"]
    done = execute(argv, root / PROJECT, runner_env(root, home))
    printed = done.stdout.count("\n")
    check(printed == jobs + 1, f"runner printed {printed} lines, not {jobs + 1}", done)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k only")
    parser.add_argument("--sizes", type=int, nargs="*", help="run counts to measure")
    parser.add_argument("--repeat", type=int, default=3, help="paired repeats per size")
    parser.add_argument("--no-wide", action="store_true", help="skip the 1,000-key sweep")
    parser.add_argument("--plot", type=Path, help="also draw peak RSS and ratio to this PNG")
    args = parser.parse_args()
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    compile_runner()

    rows = []
    with tempfile.TemporaryDirectory(prefix="runner-scale-") as tmp:
        root = Path(tmp)
        write_projects(root)
        write_wide(root)
        for jobs in sizes:
            repeat = 1 if jobs >= 1_000_000 else args.repeat
            raw: list[Done] = []
            ours: list[Done] = []
            for i in range(repeat):
                raw.append(raw_joblib(root, jobs, root))
                home = root / f"home-{jobs}-{i}"
                ours.append(launch(root, home, "inc", jobs))
            rows.append(("inc", jobs, raw, ours))
            print(f"  {jobs:>9,} runs measured", file=sys.stderr)
        if not args.no_wide:
            home = root / "home-wide"
            rows.append(
                ("wide (1,000 keys)", WIDE_RUNS, [], [launch(root, home, "wide", WIDE_RUNS)])
            )

    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print("\n| workflow | runs | raw joblib | runner | ratio | launcher peak RSS |")
    print("|---|---:|---:|---:|---:|---:|")
    for workflow, jobs, raw, ours in rows:
        raw_s = statistics.median(d.seconds for d in raw) if raw else None
        our_s = statistics.median(d.seconds for d in ours)
        peak = max(d.peak_mb for d in ours)
        ratio = f"{our_s / raw_s:.2f}x" if raw_s else "-"
        raw_text = f"{raw_s:.2f} s" if raw_s else "-"
        print(f"| {workflow} | {jobs:,} | {raw_text} | {our_s:.2f} s | {ratio} | {peak:.0f} MB |")
    print(
        f"\ntargets: 10k within {RATIO_TARGET_10K}x, 1M within {RATIO_TARGET_1M}x,"
        f" launcher peak RSS under {RSS_TARGET_MB:.0f} MB at every size"
    )
    if args.plot:
        plot(rows, args.plot)


def plot(rows: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inc = [(jobs, raw, ours) for workflow, jobs, raw, ours in rows if workflow == "inc"]
    xs = [jobs for jobs, _, _ in inc]
    fig, (rss, ratio) = plt.subplots(1, 2, figsize=(9, 3.5))
    rss.plot(xs, [max(d.peak_mb for d in ours) for _, _, ours in inc], marker="o")
    rss.axhline(RSS_TARGET_MB, color="grey", linestyle="--", label="target")
    rss.set(xscale="log", xlabel="runs", ylabel="launcher peak RSS (MB)", ylim=(0, None))
    rss.legend()
    ratios = [
        statistics.median(d.seconds for d in ours) / statistics.median(d.seconds for d in raw)
        for _, raw, ours in inc
    ]
    ratio.plot(xs, ratios, marker="o")
    ratio.set(xscale="log", xlabel="runs", ylabel="runner / raw joblib (wall)", ylim=(0, None))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
