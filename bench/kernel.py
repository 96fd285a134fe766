"""Notebook benchmark: the first and the second `runner.launch` of 10 trivial runs in one process."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

TASKS = "def inc(a: int) -> int:\n    return a + 1\n"
WORKFLOW = 'id: inc\nversion: "1.0"\nentrypoint: bench_tasks:inc\nparams:\n  a: 0\n'

# One process, as one Jupyter kernel: import runner, then launch 10 runs (loky, all cores)
# several times in a row, timing each call as a notebook cell would see it.
SESSION = textwrap.dedent(
    """
    import json, sys, time
    t0 = time.perf_counter()
    import runner
    imported = time.perf_counter() - t0
    times = []
    for _ in range(int(sys.argv[1])):
        t0 = time.perf_counter()
        launch = runner.launch("inc", sweep={"a": list(range(10))}, progress=False)
        times.append(time.perf_counter() - t0)
        assert launch.ok and launch.results == list(range(1, 11))
    print(json.dumps({"import": imported, "launches": times}))
    """
)


def session(root: Path, launches: int) -> dict[str, object]:
    env = {
        **os.environ,
        "RUNNER_HOME": str(root / "home"),
        "RUNNER_CONFIG_DIR": str(root / "conf"),
        "PYTHONPATH": str(root),
    }
    done = subprocess.run(
        [sys.executable, "-c", SESSION, str(launches)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def run(quick: bool, repeat: int = 5, launches: int = 3) -> str:
    """The report: median, min and max seconds of each call, over fresh processes."""
    repeat = 3 if quick else repeat
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "conf" / "workflow").mkdir(parents=True)
        (root / "conf" / "workflow" / "inc.yaml").write_text(WORKFLOW)
        (root / "bench_tasks.py").write_text(TASKS)
        sessions = [session(root, launches) for _ in range(repeat)]
    lines = [
        f"runner.launch of 10 trivial runs (loky, {os.cpu_count()} cores),"
        f" {launches} launches in each of {repeat} fresh processes; seconds",
        "",
        "| call | median | min | max |",
        "|---|---:|---:|---:|",
    ]
    rows = [("import runner", [float(s["import"]) for s in sessions])]  # type: ignore[arg-type]
    names = ["first launch", "second launch", "third launch"]
    for i in range(launches):
        label = names[i] if i < len(names) else f"launch {i + 1}"
        rows.append((label, [float(s["launches"][i]) for s in sessions]))  # type: ignore[index]
    for label, times in rows:
        lines.append(
            f"| {label} | {statistics.median(times):.3f} | {min(times):.3f} | {max(times):.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes (kernels)")
    parser.add_argument("--launches", type=int, default=3, help="launches in each process")
    parser.add_argument("--quick", action="store_true", help="3 processes")
    args = parser.parse_args()
    print(run(args.quick, args.repeat, args.launches))


if __name__ == "__main__":
    main()
