"""Execution backends: one small protocol, implemented on joblib (loky processes, threads, in-process)."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import sys
import warnings
from collections.abc import Generator, Iterable, Iterator, Sized
from dataclasses import dataclass, field
from typing import Any, Protocol

from runner.errors import DefinitionError
from runner.records import RunOutcome
from runner.worker import Task, execute_many, ready

# A launch that stops early (cancelled, --fail-fast, Ctrl-C) closes joblib's generator on
# purpose; joblib then warns that finished tasks went unused, which says nothing to the user.
warnings.filterwarnings(
    "ignore", message=r".*tasks have been successfully executed", category=UserWarning
)

# The thread-count variables of the BLAS libraries numpy may load.
BLAS_THREAD_VARS = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
)
_launch_only = False  # see launch_only_process


def launch_only_process() -> None:
    """Declare that this process only launches (the CLI does): it runs no workflow itself
    when its launcher is a process pool. Such a launcher then loads joblib, and numpy which
    joblib imports, with one BLAS thread here: numpy's BLAS starts its threads as it loads
    and they spin for a while, 0.045 s of CPU on 2 cores (measured), which the workers then
    lack. Workers are untouched: the variables are restored before any starts, and joblib
    sets the workers' own limits as usual. Not done for notebooks, whose process is the
    user's own and may use numpy later."""
    global _launch_only
    _launch_only = True


def _import_joblib(isolated: bool) -> None:
    if not (isolated and _launch_only) or "numpy" in sys.modules or "joblib" in sys.modules:
        return
    unset = [var for var in BLAS_THREAD_VARS if var not in os.environ]
    os.environ.update(dict.fromkeys(unset, "1"))
    try:
        import joblib  # noqa: F401  (and numpy with it, when numpy is installed)
    finally:
        for var in unset:
            del os.environ[var]


class WorkerCrash(Exception):
    """A worker process died (segfault, os._exit, the OOM killer): the pool is gone."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Launcher(Protocol):
    """Runs tasks and yields their outcomes as they finish, in any order. A launcher that
    hands runs to others (runner.dask_launcher) also has `stop(run_ids | None)`, which the
    cancel watcher calls; it yields a cancelled outcome for each run it stopped."""

    name: str
    n_jobs: int

    @property
    def isolated(self) -> bool:
        """Runs live in worker processes: a dying worker raises WorkerCrash."""
        ...

    def prepare(self, runs: int) -> None:
        """Start readying workers (processes started, runner imported) while the launch of
        `runs` runs is planned and recorded; the next `run` uses them."""
        ...

    def release(self) -> None:
        """Be done with `prepare`, when `run` will not be called (the launch failed first)."""
        ...

    def run(self, tasks: Iterable[Task], marker_dir: str | None = None) -> Iterator[RunOutcome]:
        """`tasks` may be a stream, read as workers are free (never all held at once).
        `marker_dir`: where process workers note the run they hold (see worker.execute)."""
        ...


@dataclass
class JoblibLauncher:
    """joblib's Parallel with a named backend; results stream back unordered."""

    name: str
    backend: str  # loky | threading | sequential
    n_jobs: int
    _preparing: Generator[int, None, None] | None = field(default=None, repr=False)
    _runs: int | None = field(default=None, repr=False)  # the launch's, from prepare()
    _chunks: Chunks = field(default_factory=lambda: Chunks(), repr=False)

    @property
    def isolated(self) -> bool:
        return self.backend in ("loky", "multiprocessing")

    def prepare(self, runs: int) -> None:
        # Only loky keeps its workers from one Parallel call to the next. Starting them takes
        # about as long as planning and recording 10,000 runs, so the two overlap.
        self._runs = runs
        if self.backend != "loky" or self._preparing is not None:
            return
        _import_joblib(self.isolated)
        from joblib import Parallel, delayed

        # Never more workers than runs, but two at least: what run() uses for one run (see
        # there), so that a lone run is still isolated from the launcher.
        n_jobs = max(min(self.n_jobs, runs), 2)
        self._preparing = Parallel(
            n_jobs=n_jobs, backend=self.backend, return_as="generator_unordered"
        )(delayed(ready)() for _ in range(n_jobs))

    def release(self) -> None:
        # The warm-up calls are waited for, not aborted: aborting a loky pool that is still
        # starting races in loky's manager thread. The workers stay in loky's reusable pool.
        preparing, self._preparing = self._preparing, None
        if preparing is None:
            return  # nothing prepared: joblib need not even be imported
        from joblib.externals.loky.process_executor import BrokenProcessPool

        with contextlib.suppress(BrokenProcessPool):  # run() starts a new pool then
            for _ in preparing:
                pass

    def run(self, tasks: Iterable[Task], marker_dir: str | None = None) -> Iterator[RunOutcome]:
        _import_joblib(self.isolated)
        from joblib import Parallel, delayed
        from joblib.externals.loky.process_executor import BrokenProcessPool

        # A list's size is known; a stream is the launch's runs (as many as prepare() said).
        size = len(tasks) if isinstance(tasks, Sized) else self._runs or self.n_jobs
        if not size:
            return
        self.release()  # the workers now serve this call
        n_jobs = 1 if self.backend == "sequential" else min(self.n_jobs, size)
        # Runs go to the workers in chunks, one joblib call each (see Chunks).
        options: dict[str, Any] = {"batch_size": 1, "pre_dispatch": "2*n_jobs"}
        if n_jobs == 1 and self.isolated:
            # joblib runs n_jobs=1 in the calling process; one task at a time in a worker
            # process keeps a crash or a timeout away from the launcher.
            n_jobs, options = 2, {"batch_size": 1, "pre_dispatch": 1}
        parallel = Parallel(
            n_jobs=n_jobs, backend=self.backend, return_as="generator_unordered", **options
        )
        chunks = self._chunks  # kept from call to call: a launch's rounds share its sizes
        try:
            marks = marker_dir if self.isolated else None
            call = delayed(execute_many)  # once: each delayed() call wraps the function anew
            for outcomes in parallel(call(chunk, marks) for chunk in chunks.of(tasks)):
                chunks.observe(outcomes)
                yield from outcomes
        except BrokenProcessPool as exc:
            raise WorkerCrash(_exit_codes(str(exc))) from exc


class Chunks:
    """Runs sent to the workers together, one joblib call per chunk: a chunk of short runs
    pays joblib's per-call cost and a task's pickling once (its runs travel as plain tuples,
    sharing their params and strings), and a million runs cost the launcher a few thousand
    calls. A chunk lasts about CHUNK_SECONDS: chunks start with one run and grow (at most 4x
    from one to the next) as the runs' durations are seen, so long runs still go one at a
    time and spread over the workers. A worker that dies takes its chunk's unreported runs
    with it: the engine runs them again (crash isolation goes by the worker's marker, which
    names the one run it was executing)."""

    SECONDS = 0.05
    MOST = 1024

    def __init__(self) -> None:
        self.size = 1
        self.mean: float | None = None  # seconds a run, over what finished so far

    def of(self, tasks: Iterable[Task]) -> Iterator[list[tuple[Any, ...]]]:
        source = iter(tasks)
        while chunk := [tuple(task) for task in itertools.islice(source, self.size)]:
            yield chunk

    def observe(self, outcomes: list[RunOutcome]) -> None:
        seconds = sum(o.ended - o.started for o in outcomes) / len(outcomes) if outcomes else 0
        self.mean = seconds if self.mean is None else 0.8 * self.mean + 0.2 * seconds
        wanted = int(self.SECONDS / max(self.mean, 1e-6))
        self.size = max(1, min(wanted, self.size * 4, self.MOST))


def _exit_codes(message: str) -> str:
    """loky names the dead workers' exit codes in its message: keep just those."""
    found = re.search(r"exit codes of the workers are (\{.*?\})", message)
    return f"worker died (exit codes {found.group(1)})" if found else "worker died"


BACKENDS = ("loky", "threading", "sequential", "dask")


def make_launcher(
    config: dict[str, Any], max_parallelism: int | None, addr: str | None = None
) -> Launcher:
    """The launcher a run definition's `launcher` config, --max-parallelism and --addr ask
    for. A Dask launcher connects to its scheduler here, so that an unreachable one stops
    the launch before anything is recorded."""
    backend = config.get("backend", "loky")
    if backend == "dask":
        return _dask_launcher(config, max_parallelism, addr)
    if backend not in BACKENDS:
        raise DefinitionError(
            f"launcher '{config.get('name')}': backend '{backend}' is not available here;"
            f" backends: {', '.join(BACKENDS)}"
        )
    n_jobs = max_parallelism or config.get("n_jobs") or os.cpu_count() or 1
    return JoblibLauncher(name=str(config.get("name", backend)), backend=backend, n_jobs=n_jobs)


def _dask_launcher(
    config: dict[str, Any], max_parallelism: int | None, addr: str | None
) -> Launcher:
    name = config.get("name", "dask")
    address = config.get("address") or addr
    if not address:
        raise DefinitionError(
            f"launcher '{name}' needs the address of a Dask scheduler:"
            " --addr tcp://HOST:8786, RUNNER_ADDR, or launcher.address=..."
        )
    copy = config.get("copy") or "auto"
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        raise DefinitionError(
            f"launcher '{name}' needs dask.distributed, which is not installed here;"
            " install it with: pip install 'runner-launch[dask]'"
        )
    from runner.dask_launcher import CONNECT_TIMEOUT, COPY_MODES, DaskLauncher

    if copy not in COPY_MODES:
        raise DefinitionError(
            f"launcher '{name}': copy '{copy}' is not one of: {', '.join(COPY_MODES)}"
        )
    launcher = DaskLauncher(
        name=str(name),
        address=str(address),
        n_jobs=max_parallelism or config.get("n_jobs") or 0,
        copy=copy,
        connect_timeout=float(config.get("connect_timeout") or CONNECT_TIMEOUT),
    )
    launcher.connect()
    return launcher
