"""Start-up benchmark: wall-clock time of `runner` commands against a bare `python -c pass`."""

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

REPEAT = 15
QUICK_REPEAT = 5
# The console script installed next to this interpreter: `runner` on PATH may be a
# wrapper (a pyenv shim is a bash script) whose own cost would be measured too.
RUNNER = Path(sysconfig.get_path("scripts")) / "runner"
# What the console script runs, for `python -X importtime` (there is no runner/__main__.py).
RUNNER_MAIN = "from runner.cli import main; main()"
HEAVY_MODULES = ("joblib", "textual")


@dataclass(frozen=True)
class Command:
    """A command to time, and the same work as interpreter arguments for `-X importtime`."""

    label: str
    argv: list[str]
    python_args: list[str]


@dataclass(frozen=True)
class Result:
    label: str
    seconds: list[float]
    imports: dict[str, bool]


def python(code: str) -> Command:
    label = "python -c pass" if code == "pass" else f'python -c "{code}"'
    return Command(label, [sys.executable, "-c", code], ["-c", code])


def runner(*args: str) -> Command:
    return Command(f"runner {' '.join(args)}", [str(RUNNER), *args], ["-c", RUNNER_MAIN, *args])


COMMANDS = [
    python("pass"),  # the baseline: first, so ratios are taken against it
    python("import runner"),
    runner("--help"),
    runner("status"),
    runner("list"),
]


def execute(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run argv to completion; its stderr, or an error carrying it if the command failed."""
    done = subprocess.run(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"{argv} exited with {done.returncode}:\n{done.stderr}")
    return done.stderr


def imported(importtime_log: str, module: str) -> bool:
    """Whether a `-X importtime` log shows `module` itself (not a submodule) being imported."""
    return any(
        line.startswith("import time:") and line.rsplit("|", 1)[-1].strip() == module
        for line in importtime_log.splitlines()
    )


def measure(repeat: int) -> list[Result]:
    """Time every command `repeat` times, round-robin, in an empty directory with a run store."""
    with tempfile.TemporaryDirectory(prefix="runner-bench-") as root:
        cwd = Path(root, "work")  # no conf/ here: only the built-in workflows are seen
        cwd.mkdir()
        env = {k: v for k, v in os.environ.items() if k != "RUNNER_CONFIG_DIR"}
        env["RUNNER_HOME"] = str(Path(root, "home"))
        execute([str(RUNNER), "hello", "-q"], cwd, env)  # a store for `runner status` to read

        # Also a warm-up: each command's modules are read once before any timing.
        imports = {}
        for command in COMMANDS:
            log = execute([sys.executable, "-X", "importtime", *command.python_args], cwd, env)
            imports[command.label] = {name: imported(log, name) for name in HEAVY_MODULES}

        seconds: dict[str, list[float]] = {command.label: [] for command in COMMANDS}
        for _ in range(repeat):
            for command in COMMANDS:
                start = time.perf_counter()
                execute(command.argv, cwd, env)
                seconds[command.label].append(time.perf_counter() - start)
    return [Result(c.label, seconds[c.label], imports[c.label]) for c in COMMANDS]


def table(results: list[Result], repeat: int) -> str:
    """The results as a Markdown table, under a line naming the machine."""
    baseline = statistics.median(results[0].seconds)
    lines = [
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        f" ({repeat} repetitions)",
        "",
        "| command | median ms | min ms | x baseline | imports joblib | imports textual |",
        "|---|---:|---:|---:|:---:|:---:|",
    ]
    for result in results:
        median = statistics.median(result.seconds)
        flags = " | ".join("yes" if result.imports[name] else "no" for name in HEAVY_MODULES)
        lines.append(
            f"| `{result.label}` | {median * 1000:.1f} | {min(result.seconds) * 1000:.1f}"
            f" | {median / baseline:.1f} | {flags} |"
        )
    return "\n".join(lines)


def run(quick: bool) -> str:
    """The benchmark as `bench/run.py` calls it: its report."""
    repeat = QUICK_REPEAT if quick else REPEAT
    return table(measure(repeat), repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=REPEAT, help=f"default {REPEAT}")
    repeat = parser.parse_args().repeat
    print(table(measure(repeat), repeat))


if __name__ == "__main__":
    main()
