"""Search benchmark (issue 24): what runner's search controller costs a trial, against
Optuna alone and Hydra's Optuna sweeper, and how busy an asynchronous search keeps workers.

    python bench/search.py                        # medians of 3
    python bench/search.py --quick                # one of each (as bench/run.py --quick)
    python bench/search.py --hydra-python /tmp/hydra-optuna/bin/python

Hydra's Optuna sweeper pins `optuna<3` (hydra-optuna-sweeper 1.3.0: Optuna 2.10), so it runs
from a virtual environment of its own, never this one:

    python -m venv /tmp/hydra-optuna
    /tmp/hydra-optuna/bin/pip install hydra-optuna-sweeper 'hydra-core<1.4'

(`--hydra-python`, or HYDRA_OPTUNA_PYTHON; /tmp/hydra-optuna/bin/python when it exists.
hydra-core 1.4's release candidates refuse the sweeper's config, hence `<1.4`.) Without it,
Hydra's rows say so.

1. Controller overhead, in this process: `runner.launch` of a trivial objective `quad(x, y,
   opt)` (two intervals and a choice) with `search=tpe search.n_trials=1000` on the
   sequential launcher. Every call into the controller is timed: `Search.batches` (ask a
   trial, record its runs) and `Search.on_outcome` (its value, its `objective` metric,
   tell), and within them Optuna's `Study.ask` and `Study.tell`, and the store's
   `record_runs`. The controller's own part is the total less Optuna's ask and tell. Then
   Optuna alone: an in-memory study, the same sampler and distributions, ask and tell 1,000
   times, the same objective. `search=random` beside it.
2. End to end against Hydra: `runner quad search=tpe search.n_trials=N launcher=sequential
   -q` and Hydra's `app.py -m hydra/sweeper=optuna hydra.sweeper.n_trials=N` (its basic
   launcher, its default n_jobs=2: batches of two), whole processes, at N=1,000 and N=1: a
   trial costs (wall(1000) - wall(1)) / 999, start-up apart; Optuna 2.10's TPE alone in
   Hydra's environment, to tell the sweeper's own part from its sampler's.
3. Utilisation: `search=random search.max_concurrent=4` over `params.seconds=interval(0.1,
   2)` (the sampler draws each trial's duration), on 4 threads and on 4 loky workers: the
   workers' busy time (each run's ended - started) over 4 x the span from the first trial's
   start to the last one's end, and over 4 x the launch's whole wall. Beside it, from the
   same durations in trial order: Hydra's batch-synchronous model (ask 4, wait for all 4,
   repeat) and an ideal asynchronous one (each trial to the first free worker, nothing lost
   between trials).

Figures, never assertions: PASS/MISS against the issue's targets (controller's own part
< 5 ms a trial with TPE at 1,000 trials; busy >= 90% of the wall).
"""

from __future__ import annotations

import argparse
import heapq
import os
import platform
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RUNNER = Path(sysconfig.get_path("scripts")) / "runner"
OWN_TARGET_MS = 5.0
BUSY_TARGET = 0.90
TRIALS = 1000
WORKERS = 4
UTILISATION_TRIALS = 60
HYDRA_DEFAULT = Path("/tmp/hydra-optuna/bin/python")

FLOWS = """
import time


def quad(x: float = 0.5, y: float = 0.5, opt: str = "a") -> float:
    return (x - 0.3) ** 2 + (y - 0.6) ** 2 + (0.1 if opt == "b" else 0.0)


def sleepy(seconds: float = 1.0) -> float:
    time.sleep(seconds)
    return seconds
"""
SPACE = ("params.x=interval(0, 1)", "params.y=interval(0, 1)", "params.opt=a,b")

HYDRA_APP = """
import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path=None, config_name=None)
def main(cfg: DictConfig) -> float:
    return (cfg.x - 0.3) ** 2 + (cfg.y - 0.6) ** 2 + (0.1 if cfg.opt == "b" else 0.0)


if __name__ == "__main__":
    main()
"""
HYDRA_SPACE = ("+x=interval(0, 1)", "+y=interval(0, 1)", "+opt=choice(a, b)")

# Optuna's sampler alone, ask and tell, the same space and objective: run by this interpreter
# (Optuna 5) and by Hydra's (Optuna 2.10, whose float distribution is UniformDistribution).
OPTUNA_ALONE = """
import sys, time
import optuna
from optuna import distributions as d

optuna.logging.set_verbosity(optuna.logging.WARNING)
sampler_name, trials = sys.argv[1], int(sys.argv[2])
floating = getattr(d, "FloatDistribution", None) or d.UniformDistribution
space = {
    "x": floating(0.0, 1.0),
    "y": floating(0.0, 1.0),
    "opt": d.CategoricalDistribution(("a", "b")),
}
sampler = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}
study = optuna.create_study(sampler=sampler[sampler_name](seed=1))
times = []
for _ in range(trials):
    started = time.perf_counter()
    trial = study.ask(space)
    p = trial.params
    value = (p["x"] - 0.3) ** 2 + (p["y"] - 0.6) ** 2 + (0.1 if p["opt"] == "b" else 0.0)
    study.tell(trial, value)
    times.append(time.perf_counter() - started)
last = times[-100:]
print(optuna.__version__, sum(times) / len(times) * 1e3, sum(last) / len(last) * 1e3)
"""


def median(values: list[float]) -> float:
    return statistics.median(values)


def project(root: Path) -> Path:
    conf = root / "conf" / "workflow"
    conf.mkdir(parents=True)
    (root / "bench_search_flows.py").write_text(FLOWS)
    for name in ("quad", "sleepy"):
        (conf / f"{name}.yaml").write_text(
            f'id: {name}\nversion: "1"\nentrypoint: bench_search_flows:{name}\n'
        )
    (root / "optuna_alone.py").write_text(OPTUNA_ALONE)
    sys.path.insert(0, str(root))
    return root / "conf"


# -- 1. the controller, timed from inside a launch ---------------------------------------------


@contextmanager
def patched(owner: Any, name: str, wrapper: Callable[[Callable[..., Any]], Any]) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, wrapper(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


def timing(clock: dict[str, float], key: str) -> Callable[[Callable[..., Any]], Any]:
    def wrap(call: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                clock[key] += time.perf_counter() - started

        return timed

    return wrap


def timing_generator(clock: dict[str, float], key: str) -> Callable[[Callable[..., Any]], Any]:
    """Each step of a generator method timed (Search.batches asks as it is read)."""

    def wrap(method: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            source = method(*args, **kwargs)
            while True:
                started = time.perf_counter()
                try:
                    item = next(source)
                except StopIteration:
                    return
                finally:
                    clock[key] += time.perf_counter() - started
                yield item

        return timed

    return wrap


def controller(conf: Path, home: Path, sampler: str, trials: int, seed: int) -> dict[str, float]:
    """ms a trial: the controller's parts, timed inside one launch; and the launch's wall."""
    import optuna

    import runner
    from runner.search import Search
    from runner.store import Store

    clock = dict.fromkeys(("asking", "telling", "ask", "tell", "record"), 0.0)
    with (
        patched(Search, "batches", timing_generator(clock, "asking")),
        patched(Search, "on_outcome", timing(clock, "telling")),
        patched(optuna.study.Study, "ask", timing(clock, "ask")),
        patched(optuna.study.Study, "tell", timing(clock, "tell")),
        patched(Store, "record_runs", timing(clock, "record")),
    ):
        started = time.perf_counter()
        launch = runner.launch(
            "quad",
            [f"search={sampler}", f"search.n_trials={trials}", *SPACE, "launcher=sequential"],
            config_dir=conf,
            home=home,
            progress=False,
            seed=seed,
        )
        wall = time.perf_counter() - started
    assert launch.ok and launch.record.counts == {"succeeded": trials}, launch.record.counts
    per = {key: value / trials * 1e3 for key, value in clock.items()}
    per["total"] = per["asking"] + per["telling"]
    per["optuna"] = per["ask"] + per["tell"]
    per["own"] = per["total"] - per["optuna"]
    per["wall"] = wall / trials * 1e3
    return per


def optuna_alone(python: str, script: Path, sampler: str, trials: int) -> tuple[str, float, float]:
    """(Optuna's version, ms a trial over all trials, over the last 100) of ask and tell."""
    out = subprocess.run(
        [python, str(script), sampler, str(trials)], capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0], float(out[1]), float(out[2])


# -- 2. end to end: runner's CLI against Hydra's Optuna sweeper ---------------------------------


def wall_of(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{argv} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds


def runner_cli(root: Path, trials: int, n: int) -> float:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")},
        "RUNNER_HOME": str(root / f"home-cli-{trials}-{n}"),
        "RUNNER_CONFIG_DIR": str(root / "conf"),
    }
    argv = [str(RUNNER), "quad", "search=tpe", f"search.n_trials={trials}", *SPACE]
    return wall_of([*argv, "launcher=sequential", "-q", "--seed", "1"], root, env)


def hydra_cli(python: str, root: Path, trials: int, n: int) -> float:
    app = root / "hydra_app"
    app.mkdir(exist_ok=True)
    (app / "app.py").write_text(HYDRA_APP)
    argv = [
        python,
        "app.py",
        "-m",
        "hydra/sweeper=optuna",
        f"hydra.sweeper.n_trials={trials}",
        "hydra.sweeper.sampler.seed=1",
        *HYDRA_SPACE,
        f"hydra.sweep.dir={root / f'hydra-{trials}-{n}'}",
    ]
    return wall_of(argv, app, {k: v for k, v in os.environ.items() if k != "PYTHONPATH"})


def hydra_missing(python: str | None) -> str | None:
    if not python or not Path(python).exists():
        return "no environment with hydra-optuna-sweeper (see the docstring: --hydra-python)"
    probe = subprocess.run(
        [python, "-c", "import hydra_plugins.hydra_optuna_sweeper"], capture_output=True
    )
    return None if probe.returncode == 0 else f"{python} cannot import hydra_optuna_sweeper"


# -- 3. utilisation ------------------------------------------------------------------------------


def utilisation(conf: Path, home: Path, launcher: str, trials: int, seed: int) -> dict[str, float]:
    """Busy fractions of WORKERS workers: measured, and simulated from the same durations."""
    import runner

    started = time.perf_counter()
    launch = runner.launch(
        "sleepy",
        [
            "search=random",
            f"search.n_trials={trials}",
            f"search.max_concurrent={WORKERS}",
            "params.seconds=interval(0.1, 2)",
            f"launcher={launcher}",
        ],
        config_dir=conf,
        home=home,
        progress=False,
        seed=seed,
        max_parallelism=WORKERS,
    )
    wall = time.perf_counter() - started
    runs = sorted(launch.runs, key=lambda run: run.index)
    assert launch.ok and len(runs) == trials
    durations = [run.ended - run.started for run in runs]
    busy = sum(durations)
    span = max(run.ended for run in runs) - min(run.started for run in runs)
    batches = [max(durations[i : i + WORKERS]) for i in range(0, trials, WORKERS)]
    return {
        "span": busy / (WORKERS * span),
        "wall": busy / (WORKERS * wall),
        "batch": busy / (WORKERS * sum(batches)),
        "ideal": busy / (WORKERS * ideal_makespan(durations)),
        "seconds": span,
    }


def ideal_makespan(durations: list[float]) -> float:
    """Trials in order, each to the first free worker, nothing lost between them."""
    free = [0.0] * WORKERS
    for duration in durations:
        heapq.heappush(free, heapq.heappop(free) + duration)
    return max(free)


# -- the report ---------------------------------------------------------------------------------


def mark(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def run(quick: bool = False, repeat: int | None = None, hydra_python: str | None = None) -> str:
    """Measure everything; the report, Markdown (bench/run.py prints it)."""
    repeat = repeat or (1 if quick else 3)
    hydra_python = (
        hydra_python
        or os.environ.get("HYDRA_OPTUNA_PYTHON")
        or (str(HYDRA_DEFAULT) if HYDRA_DEFAULT.exists() else None)
    )
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from sweep import compile_runner

    compile_runner()
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="runner-search-") as tmp:
        root = Path(tmp) / "project"
        conf = project(root)
        script = root / "optuna_alone.py"

        # 1. the controller
        rows: dict[str, list[dict[str, float]]] = {"tpe": [], "random": []}
        alone: dict[str, list[tuple[str, float, float]]] = {"tpe": [], "random": []}
        for n in range(repeat):
            for sampler in ("tpe", "random"):
                home = Path(tmp) / f"home-{sampler}-{n}"
                rows[sampler].append(controller(conf, home, sampler, TRIALS, seed=n + 1))
                alone[sampler].append(optuna_alone(sys.executable, script, sampler, TRIALS))
        lines += [
            f"Controller, ms a trial at {TRIALS:,} trials ({platform.system()} "
            f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()},"
            f" Optuna {alone['tpe'][0][0]}; medians of {repeat}; `python bench/search.py`):",
            "",
            "| sampler | controller total | of which Optuna ask+tell | controller's own "
            "| of which record_runs | Optuna alone (all / last 100) | launch wall a trial | "
            f"own < {OWN_TARGET_MS:g} ms |",
            "|---|---:|---:|---:|---:|---:|---:|:---:|",
        ]
        for sampler in ("tpe", "random"):
            got = {key: median([r[key] for r in rows[sampler]]) for key in rows[sampler][0]}
            all_ms = median([a[1] for a in alone[sampler]])
            last_ms = median([a[2] for a in alone[sampler]])
            lines.append(
                f"| {sampler} | {got['total']:.2f} | {got['optuna']:.2f} | {got['own']:.2f} | "
                f"{got['record']:.2f} | {all_ms:.2f} / {last_ms:.2f} | {got['wall']:.2f} | "
                f"{mark(got['own'] < OWN_TARGET_MS)} |"
            )

        # 2. end to end
        lines += [
            "",
            f"End to end, whole processes, TPE, {TRIALS:,} trials (medians of {repeat}):",
            "",
        ]
        ours_big = median([runner_cli(root, TRIALS, n) for n in range(repeat)])
        ours_one = median([runner_cli(root, 1, n) for n in range(repeat)])
        ours = (ours_big - ours_one) / (TRIALS - 1) * 1e3
        ours_alone = median([a[1] for a in alone["tpe"]])
        table = [
            "| tool | wall, 1 trial s | wall, 1,000 trials s | ms a trial | sampler alone ms "
            "| ms a trial less the sampler |",
            "|---|---:|---:|---:|---:|---:|",
            f"| `runner quad search=tpe ... launcher=sequential` | {ours_one:.2f} | "
            f"{ours_big:.2f} | {ours:.1f} | {ours_alone:.2f} (Optuna {alone['tpe'][0][0]}) | "
            f"{ours - ours_alone:.1f} |",
        ]
        missing = hydra_missing(hydra_python)
        if missing or hydra_python is None:
            table.append(f"| Hydra's Optuna sweeper | - | - | - | {missing} | - |")
        else:
            theirs_big = median([hydra_cli(hydra_python, root, TRIALS, n) for n in range(repeat)])
            theirs_one = median([hydra_cli(hydra_python, root, 1, n) for n in range(repeat)])
            theirs_alone = [
                optuna_alone(hydra_python, script, "tpe", TRIALS) for _ in range(repeat)
            ]
            theirs = (theirs_big - theirs_one) / (TRIALS - 1) * 1e3
            their_sampler = median([a[1] for a in theirs_alone])
            table.append(
                f"| Hydra's Optuna sweeper (basic launcher, n_jobs=2) | {theirs_one:.2f} | "
                f"{theirs_big:.2f} | {theirs:.1f} | {their_sampler:.2f} (Optuna "
                f"{theirs_alone[0][0]}) | {theirs - their_sampler:.1f} |"
            )
        lines += table

        # 3. utilisation
        trials = 24 if quick else UTILISATION_TRIALS
        lines += [
            "",
            f"Utilisation: {trials} trials of 0.1-2 s (drawn by the sampler), max_concurrent="
            f"{WORKERS} on {WORKERS} workers; busy time over {WORKERS} x the time (medians of"
            f" {repeat}):",
            "",
            "| launcher | span s | busy / span | busy / launch wall | batch-synchronous "
            f"(same durations) | ideal asynchronous | busy >= {BUSY_TARGET:.0%} |",
            "|---|---:|---:|---:|---:|---:|:---:|",
        ]
        for launcher in ("threads", "local"):
            got_runs = [
                utilisation(conf, Path(tmp) / f"home-{launcher}-{n}", launcher, trials, n + 1)
                for n in range(repeat)
            ]
            got = {key: median([r[key] for r in got_runs]) for key in got_runs[0]}
            lines.append(
                f"| {launcher} | {got['seconds']:.1f} | {got['span']:.1%} | {got['wall']:.1%} | "
                f"{got['batch']:.1%} | {got['ideal']:.1%} | {mark(got['span'] >= BUSY_TARGET)} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one measurement of each")
    parser.add_argument("--repeat", type=int, default=3, help="measurements of each (median)")
    parser.add_argument(
        "--hydra-python", help="the python of an environment with hydra-optuna-sweeper"
    )
    args = parser.parse_args()
    print(run(args.quick, None if args.quick else args.repeat, args.hydra_python))


if __name__ == "__main__":
    main()
