"""Run every benchmark in bench/ and print its report: `python bench/run.py [--quick]`."""

import argparse
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

# The script's directory is on sys.path already, unless Python runs with -P / PYTHONSAFEPATH.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import curves
import detach
import kernel
import metrics
import search
import startup
import sweep
import table

HERE = Path(__file__).resolve().parent


def dask(quick: bool) -> str:
    """bench/dask.py in a process of its own: imported here, its name would shadow dask's."""
    args = [sys.executable, str(HERE / "dask.py"), *(["--quick"] if quick else [])]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()


# (name, run): run(quick) measures and returns the report to print.
BENCHMARKS: list[tuple[str, Callable[[bool], str]]] = [
    ("startup", startup.run),
    ("sweep", sweep.run),
    ("detach", detach.run),
    ("table", table.run),
    ("kernel", kernel.run),
    ("curves", curves.run),
    ("dask", dask),
    ("metrics", metrics.run),
    ("search", search.run),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    quick = parser.parse_args().quick
    for name, run in BENCHMARKS:
        print(f"## {name}\n\n{run(quick)}\n", flush=True)


if __name__ == "__main__":
    main()
