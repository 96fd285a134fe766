"""Notebook benchmark: a launch's logged points into a DataFrame and a chart, as a kernel does it.

Launches of `steps(n)` (a run logging n points of one metric) are recorded first; then each
fresh process (one kernel) imports runner, gets the launch, and times `launch.metrics()` (the
points read from the store and made a DataFrame) and `launch.plot_metric(...)` with the PNG a
notebook shows (matplotlib, Agg), then both again in the same process (warm: pandas and
matplotlib imported, as after a kernel's first plot). The issue's target: a run of 100,000
points charted in under 1 s (the cold chart: importing matplotlib included).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

TASKS = textwrap.dedent(
    """
    import math

    import runner


    @runner.workflow
    def steps(n: int = 100_000, seed: int = 0) -> int:
        for step in range(n):
            runner.log(step=step, loss=math.exp(-step / (n / 5)) + 0.01 * ((step * 7919) % 13))
        return n
    """
)

# One kernel: import, then the chart and the frame twice (cold: the chart imports matplotlib,
# the frame pandas; warm: both imported, as after a kernel's first plot).
SESSION = textwrap.dedent(
    """
    import io, json, sys, time
    t0 = time.perf_counter()
    import runner
    launch = runner.get(sys.argv[1])
    found = {"import runner, get": time.perf_counter() - t0}
    for when in ("cold", "warm"):
        t0 = time.perf_counter()
        ax = launch.plot_metric("loss", by="seed")
        ax.figure.savefig(io.BytesIO(), format="png")
        t1 = time.perf_counter()
        frame = launch.metrics()
        t2 = time.perf_counter()
        found[when] = {"points": len(frame), "chart": t1 - t0, "frame": t2 - t1}
        import matplotlib.pyplot as plt
        plt.close("all")
    print(json.dumps(found))
    """
)

# (runs, points a run)
SIZES = [(1, 100_000), (10, 100_000), (20, 100_000)]


def launch(root: Path, env: dict[str, str], runs: int, points: int) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "runner", "-q", "steps", f"params.n={points}", f"repeat={runs}"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()[0]


def session(root: Path, env: dict[str, str], launch_id: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", SESSION, launch_id],
        cwd=root,
        env={**env, "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def run(quick: bool, repeat: int = 5) -> str:
    """The report: median seconds of the chart and the frame, cold and warm."""
    repeat = 3 if quick else repeat
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "conf" / "workflow").mkdir(parents=True)
        (root / "conf" / "workflow" / "steps.yaml").write_text("modules: [bench_curves]\n")
        (root / "bench_curves.py").write_text(TASKS)
        env = {k: v for k, v in os.environ.items() if k != "RUNNER_CONFIG_DIR"}
        env["RUNNER_HOME"] = str(root / "home")
        lines = [
            f"launch.metrics() and launch.plot_metric() + PNG, each launch in {repeat} fresh"
            f" processes ({os.cpu_count()} cores); median seconds",
            "",
            "| runs x points | points | import runner | chart, cold | frame, cold |"
            " chart, warm | frame, warm | chart < 1 s |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for runs, points in SIZES:
            launch_id = launch(root, env, runs, points)
            sessions = [session(root, env, launch_id) for _ in range(repeat)]

            def median(when: str, what: str, of: list[dict[str, object]] = sessions) -> float:
                return statistics.median(float(s[when][what]) for s in of)  # type: ignore[index]

            imported = statistics.median(float(s["import runner, get"]) for s in sessions)  # type: ignore[arg-type]
            times = [median(when, what) for when in ("cold", "warm") for what in ("chart", "frame")]
            total = int(sessions[0]["cold"]["points"])  # type: ignore[index]
            verdict = "PASS" if times[0] < 1.0 else "MISS"
            lines.append(
                f"| {runs} x {points:,} | {total:,} | {imported:.3f} | "
                + " | ".join(f"{t:.3f}" for t in times)
                + f" | {verdict} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes (kernels)")
    parser.add_argument("--quick", action="store_true", help="3 processes")
    args = parser.parse_args()
    print(run(args.quick, args.repeat))


if __name__ == "__main__":
    main()
