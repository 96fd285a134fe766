"""Sweep benchmark: one trivial task swept by raw joblib, runner and Hydra multirun; `runner status` on a big store."""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# The console script installed next to this interpreter (see startup.py).
RUNNER = Path(sysconfig.get_path("scripts")) / "runner"
CPUS = os.cpu_count() or 1
# ru_maxrss counts kilobytes on Linux, bytes on macOS.
RSS_UNIT = 1 if sys.platform == "darwin" else 1024
STATUS_REPEAT = 5
STORE_LAUNCH_RUNS = 10_000  # runs per launch put in the store `runner status` reads

# Targets from the issue; the figures are compared with them, never asserted.
STATUS_TARGET_S = 0.5
STATUS_TARGET_RUNS = 100_000
STATUS_LAUNCH_TARGET_S = 1.0
RAW_JOBLIB_TARGET_X = 2.0
HYDRA_TARGET_X = 50.0
RSS_TARGET_MB = 300.0

# The generated project: runner's workflow and raw joblib share one module holding the task.
PROJECT = "project"
TASK_MODULE = "def inc(a: int) -> int:\n    return a + 1\n"
WORKFLOW = 'id: inc\nversion: "1.0"\nentrypoint: bench_tasks:inc\nparams:\n  a: 0\n'
RAW_JOBLIB = """\
import os
import sys

from joblib import Parallel, delayed

from bench_tasks import inc

jobs = int(sys.argv[1])
results = Parallel(n_jobs=os.cpu_count(), return_as="generator_unordered")(
    delayed(inc)(a) for a in range(jobs)
)
print(sum(results))
"""
# The Hydra app lives apart: runner's config dir must not see its conf/config.yaml.
HYDRA_APP_DIR = "hydra_app"
HYDRA_APP = """\
import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg: DictConfig) -> int:
    return cfg.a + 1


if __name__ == "__main__":
    main()
"""
JOBLIB_LAUNCHER_MODULE = "hydra_plugins.hydra_joblib_launcher.joblib_launcher"


@dataclass(frozen=True)
class Sizes:
    jobs: int  # runs per sweep for raw joblib and runner
    repeat: int
    hydra_jobs: int
    hydra_repeat: int
    store_launches: int  # launches of STORE_LAUNCH_RUNS runs in the store for `runner status`


FULL = Sizes(jobs=10_000, repeat=5, hydra_jobs=100, hydra_repeat=3, store_launches=10)
QUICK = Sizes(jobs=2_000, repeat=3, hydra_jobs=30, hydra_repeat=1, store_launches=2)


@dataclass(frozen=True)
class Done:
    """A finished process: whole-process wall time, peak RSS and what it printed."""

    seconds: float
    peak_mb: float
    stdout: str


# sweep(root, jobs, scratch): runs one sweep of `jobs` tasks, checks it, returns the process.
Sweep = Callable[[Path, int, Path], Done]


@dataclass(frozen=True)
class Tool:
    label: str
    jobs: int
    repeat: int
    sweep: Sweep
    missing: str | None = None  # why the tool cannot be measured here


@dataclass(frozen=True)
class Measured:
    tool: Tool
    runs: list[Done]

    @property
    def wall(self) -> float:
        return statistics.median(done.seconds for done in self.runs)

    @property
    def per_run_ms(self) -> float:
        return self.wall / self.tool.jobs * 1000

    @property
    def peak_mb(self) -> float:
        return max(done.peak_mb for done in self.runs)


@dataclass(frozen=True)
class Status:
    label: str
    runs: list[Done]

    @property
    def median(self) -> float:
        return statistics.median(done.seconds for done in self.runs)

    @property
    def lines(self) -> int:
        """Lines printed (the same every time)."""
        return self.runs[0].stdout.count("\n")


def execute(argv: list[str], cwd: Path, env: dict[str, str]) -> Done:
    """Run argv to completion, reading its stdout through a pipe; an error if it failed."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        with subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err) as proc:
            assert proc.stdout is not None
            stdout = proc.stdout.read().decode()
            # wait4 rather than wait: it also returns the child's resource usage.
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            stderr = err.read().decode(errors="replace")
            raise RuntimeError(f"{argv} exited with {proc.returncode}:\n{stderr}")
    return Done(seconds, usage.ru_maxrss * RSS_UNIT / 2**20, stdout)


def check(ok: bool, what: str, done: Done) -> None:
    if not ok:
        raise RuntimeError(f"{what}; it printed:\n{done.stdout[:2000]}")


def compile_runner() -> None:
    """Compile runner's modules to bytecode, as installing its wheel does (pip compiles what
    it installs; an editable install compiles on first import, unless PYTHONDONTWRITEBYTECODE
    is set, as it is on the machines these figures come from, where every launch would then
    compile runner again: 50 ms in the launcher, 20 ms in each worker). Raw joblib's modules
    are compiled already, in site-packages."""
    import compileall

    import runner

    compileall.compile_dir(Path(runner.__file__).parent, quiet=1)


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}


def runner_env(root: Path, home: Path) -> dict[str, str]:
    return {
        **clean_env(),
        "RUNNER_HOME": str(home),
        "RUNNER_CONFIG_DIR": str(root / PROJECT / "conf"),
    }


def write_projects(root: Path) -> None:
    """The runner project (workflow, task module, raw joblib script) and the Hydra app."""
    project = root / PROJECT
    (project / "conf" / "workflow").mkdir(parents=True)
    (project / "conf" / "workflow" / "inc.yaml").write_text(WORKFLOW)
    (project / "bench_tasks.py").write_text(TASK_MODULE)
    (project / "raw_joblib.py").write_text(RAW_JOBLIB)
    app = root / HYDRA_APP_DIR
    (app / "conf").mkdir(parents=True)
    (app / "conf" / "config.yaml").write_text("a: 0\n")
    (app / "app.py").write_text(HYDRA_APP)


def raw_joblib(root: Path, jobs: int, scratch: Path) -> Done:
    done = execute([sys.executable, "raw_joblib.py", str(jobs)], root / PROJECT, clean_env())
    expected = jobs * (jobs + 1) // 2
    check(done.stdout.strip() == str(expected), f"raw joblib did not print {expected}", done)
    return done


def runner_launch(root: Path, jobs: int, home: Path, seed: int) -> Done:
    """`runner inc 'params.a=range(jobs)' -q`: checked to print the launch id and one per run."""
    argv = [str(RUNNER), "inc", f"params.a=range({jobs})", "-q", "--seed", str(seed)]
    done = execute(argv, root / PROJECT, runner_env(root, home))
    printed = len(done.stdout.split())
    check(printed == jobs + 1, f"runner printed {printed} ids, not {jobs + 1}", done)
    return done


def runner(root: Path, jobs: int, scratch: Path) -> Done:
    return runner_launch(root, jobs, scratch / "home", seed=1)  # a fresh, empty store


def hydra(*launcher: str) -> Sweep:
    """A Hydra multirun of the app with the given launcher overrides, checked for its job dirs."""

    def sweep(root: Path, jobs: int, scratch: Path) -> Done:
        argv = [
            sys.executable,
            "app.py",
            "-m",
            f"a=range({jobs})",
            *launcher,
            f"hydra.run.dir={scratch / 'run'}",
            f"hydra.sweep.dir={scratch / 'sweep'}",
        ]
        done = execute(argv, root / HYDRA_APP_DIR, clean_env())
        made = sum(1 for path in (scratch / "sweep").iterdir() if path.name.isdigit())
        check(made == jobs, f"Hydra made {made} job dirs, not {jobs}", done)
        return done

    return sweep


def joblib_launcher_missing() -> str | None:
    """Why hydra-joblib-launcher cannot be used by this interpreter, or None if it can."""
    probe = subprocess.run(
        [sys.executable, "-c", f"import {JOBLIB_LAUNCHER_MODULE}"], capture_output=True, text=True
    )
    if probe.returncode == 0:
        return None
    last = (probe.stderr.strip().splitlines() or ["no error output"])[-1]
    return (
        f"not measured: hydra-joblib-launcher cannot be imported ({last});"
        " `pip install -e '.[bench]'`"
    )


def tools(sizes: Sizes) -> list[Tool]:
    """Raw joblib first: the baseline the runner row is compared with."""
    return [
        Tool(
            f"raw joblib: `Parallel(n_jobs={CPUS}, return_as='generator_unordered')`",
            sizes.jobs,
            sizes.repeat,
            raw_joblib,
        ),
        Tool("`runner inc 'params.a=range(N)' -q --seed 1`", sizes.jobs, sizes.repeat, runner),
        Tool("Hydra multirun, basic launcher", sizes.hydra_jobs, sizes.hydra_repeat, hydra()),
        Tool(
            f"Hydra multirun, joblib launcher (`n_jobs={CPUS}`)",
            sizes.hydra_jobs,
            sizes.hydra_repeat,
            hydra("hydra/launcher=joblib", f"hydra.launcher.n_jobs={CPUS}"),
            joblib_launcher_missing(),
        ),
    ]


def measure_sweeps(root: Path, sizes: Sizes) -> list[Measured]:
    """Each usable tool `repeat` times, round-robin, after a two-job warm-up sweep each."""
    every = tools(sizes)
    usable = [tool for tool in every if tool.missing is None]
    for tool in usable:
        tool.sweep(root, 2, Path(tempfile.mkdtemp(prefix="warm-up-", dir=root)))
    runs: dict[str, list[Done]] = {tool.label: [] for tool in every}
    for rep in range(max(tool.repeat for tool in usable)):
        for tool in usable:
            if rep < tool.repeat:
                scratch = Path(tempfile.mkdtemp(prefix="sweep-", dir=root))
                runs[tool.label].append(tool.sweep(root, tool.jobs, scratch))
    return [Measured(tool, runs[tool.label]) for tool in every]


def measure_status(root: Path, sizes: Sizes) -> tuple[list[Done], list[Status]]:
    """Fill one store with launches of STORE_LAUNCH_RUNS runs, then time `runner status`."""
    home = root / "store"
    build = [
        runner_launch(root, STORE_LAUNCH_RUNS, home, seed) for seed in range(sizes.store_launches)
    ]
    launch = build[-1].stdout.split()[0]  # -q prints the launch id first
    commands = {
        "`runner status`": ["status"],
        "`runner status LAUNCH -q`": ["status", launch, "-q"],
        "`runner status LAUNCH`": ["status", launch],
    }
    env = runner_env(root, home)
    runs: dict[str, list[Done]] = {label: [] for label in commands}
    for rep in range(STATUS_REPEAT + 1):  # the first round is a warm-up
        for label, args in commands.items():
            done = execute([str(RUNNER), *args], root / PROJECT, env)
            if rep:
                runs[label].append(done)
    ids = len(runs["`runner status LAUNCH -q`"][0].stdout.split())
    check(
        ids == STORE_LAUNCH_RUNS + 1,
        f"`runner status LAUNCH -q` printed {ids} ids, not {STORE_LAUNCH_RUNS + 1}",
        runs["`runner status LAUNCH -q`"][0],
    )
    return build, [Status(label, runs[label]) for label in commands]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def sweep_table(measured: list[Measured]) -> str:
    baseline, ours = measured[:2]
    lines = [
        "| tool | jobs | reps | median wall s | per-run overhead ms | comparison | peak RSS MB |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for row in measured:
        tool = row.tool
        if tool.missing is not None:
            lines.append(f"| {tool.label} | {tool.jobs:,} | 0 | - | - | {tool.missing} | - |")
            continue
        if row is baseline:
            comparison = "baseline"
        elif row is ours:
            comparison = f"{ours.wall / baseline.wall:.2f}x raw joblib wall"
        else:
            comparison = f"runner is {row.per_run_ms / ours.per_run_ms:.0f}x faster per run"
        lines.append(
            f"| {tool.label} | {tool.jobs:,} | {len(row.runs)} | {row.wall:.2f}"
            f" | {row.per_run_ms:.3g} | {comparison} | {row.peak_mb:.0f} |"
        )
    return "\n".join(lines)


def status_table(build: list[Done], statuses: list[Status]) -> str:
    store = len(build) * STORE_LAUNCH_RUNS
    lines = [
        f"Store: {len(build)} launches of {STORE_LAUNCH_RUNS:,} runs ({store:,} runs);"
        f" LAUNCH is the last, a {STORE_LAUNCH_RUNS:,}-run launch. Each launch's wall:"
        f" first {build[0].seconds:.2f} s (empty store), last {build[-1].seconds:.2f} s.",
        "",
        "| command | runs in store | median s | min s | stdout lines | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for status in statuses:
        lines.append(
            f"| {status.label} | {store:,} | {status.median:.3f}"
            f" | {min(done.seconds for done in status.runs):.3f}"
            f" | {status.lines:,}"
            f" | {max(done.peak_mb for done in status.runs):.0f} |"
        )
    return "\n".join(lines)


def targets_table(measured: list[Measured], build: list[Done], statuses: list[Status]) -> str:
    baseline, ours, _, hydra_joblib = measured
    store = len(build) * STORE_LAUNCH_RUNS
    status, status_quiet, status_rendered = statuses
    rows = [
        (
            f"`runner status` < {STATUS_TARGET_S} s on {STATUS_TARGET_RUNS:,} runs",
            f"{status.median:.3f} s on {store:,} runs",
            verdict(status.median < STATUS_TARGET_S),
        ),
    ]
    for launch in (status_quiet, status_rendered):
        rows.append(
            (
                f"{launch.label} < {STATUS_LAUNCH_TARGET_S} s for {STORE_LAUNCH_RUNS:,} runs",
                f"{launch.median:.3f} s",
                verdict(launch.median < STATUS_LAUNCH_TARGET_S),
            )
        )
    ratio = ours.wall / baseline.wall
    rows.append(
        (
            f"runner within {RAW_JOBLIB_TARGET_X:.0f}x of raw joblib wall ({ours.tool.jobs:,} runs)",
            f"{ratio:.2f}x",
            verdict(ratio <= RAW_JOBLIB_TARGET_X),
        )
    )
    label = f"runner >= {HYDRA_TARGET_X:.0f}x faster per run than Hydra + joblib launcher"
    if hydra_joblib.tool.missing is None:
        faster = hydra_joblib.per_run_ms / ours.per_run_ms
        rows.append((label, f"{faster:.0f}x", verdict(faster >= HYDRA_TARGET_X)))
    else:
        rows.append((label, "not measured (hydra-joblib-launcher unavailable)", "n/a"))
    rows.append(
        (
            f"runner peak RSS < {RSS_TARGET_MB:.0f} MB",
            f"{ours.peak_mb:.0f} MB",
            verdict(ours.peak_mb < RSS_TARGET_MB),
        )
    )
    lines = ["| target | figure | result |", "|---|---|:---:|"]
    lines += [f"| {target} | {figure} | {result} |" for target, figure, result in rows]
    return "\n".join(lines)


def report(
    sizes: Sizes, measured: list[Measured], build: list[Done], statuses: list[Status]
) -> str:
    """The Markdown report, under a line naming the machine."""
    return "\n".join(
        [
            f"Machine: {platform.platform()}, {CPUS} CPUs, Python {platform.python_version()}"
            f" ({sizes.repeat} repetitions; Hydra {sizes.hydra_repeat}; status {STATUS_REPEAT})",
            "",
            f"Task: `inc(a) = a + 1`, N = {sizes.jobs:,} for raw joblib and runner,"
            f" M = {sizes.hydra_jobs:,} for Hydra. Wall: the whole process, spawn to exit, one"
            " subprocess per sweep, tools interleaved round-robin; runner gets an empty"
            " RUNNER_HOME each time. Per-run overhead: median wall / jobs. Peak RSS: ru_maxrss"
            " that os.wait4 returns for the launched process, the largest single process among"
            " it and the descendants it reaped (loky workers once joined), not their sum; for"
            " runner an upper bound on the launching process's own peak.",
            "",
            sweep_table(measured),
            "",
            "`runner status` (stdout read through a pipe, so no terminal; `-q` prints ids only):",
            "",
            status_table(build, statuses),
            "",
            "Targets (figures, not assertions):",
            "",
            targets_table(measured, build, statuses),
        ]
    )


def measure(sizes: Sizes) -> str:
    with tempfile.TemporaryDirectory(prefix="runner-bench-sweep-") as name:
        root = Path(name)
        write_projects(root)
        measured = measure_sweeps(root, sizes)
        build, statuses = measure_status(root, sizes)
    return report(sizes, measured, build, statuses)


def run(quick: bool) -> str:
    """The benchmark as `bench/run.py` calls it: its report."""
    compile_runner()
    return measure(QUICK if quick else FULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sweeps, fewer repetitions")
    print(run(parser.parse_args().quick))


if __name__ == "__main__":
    main()
