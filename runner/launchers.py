"""Execution backends: one small protocol, implemented on joblib (loky processes, threads, in-process)."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import warnings
from collections.abc import Generator, Iterable, Iterator, Sized
from dataclasses import dataclass, field
from typing import Any, Protocol

from runner.errors import DefinitionError
from runner.records import RunOutcome
from runner.worker import Batch, Done, Task, execute_batch, ready

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


# Workers a launch started before its launcher was known (start_early_workers), until its
# launcher takes them over (JoblibLauncher.prepare) or they are waited for.
_early: Generator[int, None, None] | None = None
EARLY_WORKERS = 2  # what any local launch starts at least (see JoblibLauncher.prepare)


def start_early_workers() -> None:
    """Start two loky workers now, for a launch about to be composed whose launcher is
    likely the default one (the CLI asks, when no option or override names another): a
    worker takes as long to start as composing and checking the launch, so the two
    overlap. JoblibLauncher.prepare takes them over, and starts more if it needs more;
    any other launcher lets them be (they were only started early)."""
    global _early
    if _early is not None:
        return
    _import_joblib(True)
    from joblib import Parallel, delayed

    _early = Parallel(n_jobs=EARLY_WORKERS, backend="loky", return_as="generator_unordered")(
        delayed(ready)() for _ in range(EARLY_WORKERS)
    )


def _take_early_workers() -> Generator[int, None, None] | None:
    global _early
    early, _early = _early, None
    return early


def stop_waiting_for_early_workers() -> None:
    """Wait for early workers no launcher took (the launch failed first, or ran elsewhere)."""
    _wait_for(_take_early_workers())


def end_workers() -> None:
    """End loky's idle workers now, without waiting for them to shut down (40 ms at exit):
    for a process that launched for the last time (the CLI, its launch recorded). Notebooks
    keep theirs for the next launch."""
    if "joblib" not in sys.modules:
        return
    from joblib.externals.loky import reusable_executor

    executor = getattr(reusable_executor, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=False, kill_workers=True)


def _wait_for(preparing: Generator[int, None, None] | None) -> None:
    """The warm-up calls are waited for, not aborted: aborting a loky pool that is still
    starting races in loky's manager thread. The workers stay in loky's reusable pool."""
    if preparing is None:
        return  # nothing prepared: joblib need not even be imported
    from joblib.externals.loky.process_executor import BrokenProcessPool

    with contextlib.suppress(BrokenProcessPool):  # run() starts a new pool then
        for _ in preparing:
            pass


class WorkerCrash(Exception):
    """A worker process died (segfault, os._exit, the OOM killer): the pool is gone."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Launcher(Protocol):
    """Runs tasks and yields their outcomes as they finish, in any order. A launcher that
    hands runs to others (runner.dask_launcher) also has `stop(run_ids | None)`, which the
    cancel watcher calls; it yields a cancelled outcome for each run it stopped. One that
    sends runs in batches (JoblibLauncher) also has `run_batches`, which the engine uses."""

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
    # A search's: a batch is taken from the source only when a worker is free, and after
    # what finished was handed on (so a trial is asked once the ones before are told).
    on_demand: bool = False

    @property
    def isolated(self) -> bool:
        return self.backend in ("loky", "multiprocessing")

    def prepare(self, runs: int) -> None:
        # Only loky keeps its workers from one Parallel call to the next. Starting them takes
        # about as long as planning and recording 10,000 runs, so the two overlap.
        self._runs = runs
        early = _take_early_workers()
        if self.backend != "loky" or self._preparing is not None:
            _wait_for(early)
            return
        # Never more workers than runs, but two at least: what run() uses for one run (see
        # there), so that a lone run is still isolated from the launcher.
        n_jobs = max(min(self.n_jobs, runs), EARLY_WORKERS)
        if early is not None and n_jobs == EARLY_WORKERS:
            self._preparing = early  # started before the launch was even composed
            return
        _wait_for(early)  # then loky resizes its pool for the new call
        _import_joblib(self.isolated)
        from joblib import Parallel, delayed

        self._preparing = Parallel(
            n_jobs=n_jobs, backend=self.backend, return_as="generator_unordered"
        )(delayed(ready)() for _ in range(n_jobs))

    def release(self) -> None:
        preparing, self._preparing = self._preparing, None
        _wait_for(preparing)

    def run(self, tasks: Iterable[Task], marker_dir: str | None = None) -> Iterator[RunOutcome]:
        # A stream is read as workers are free, as the protocol says: never held whole.
        size = len(tasks) if isinstance(tasks, Sized) else None
        for part, done in self.run_batches(map(Batch.of, tasks), marker_dir, size):
            yield from part.outcomes(done)

    def run_batches(
        self, batches: Iterable[Batch], marker_dir: str | None = None, size: int | None = None
    ) -> Iterator[tuple[Batch, list[Done]]]:
        """Each part of the batches (Chunks cuts them) with what its runs did, as parts
        finish. `size`: how many runs there are, if known; else as many as prepare() said."""
        _import_joblib(self.isolated)
        from joblib import Parallel, delayed
        from joblib.externals.loky.process_executor import BrokenProcessPool

        size = size if size is not None else self._runs or self.n_jobs
        if not size:
            return
        self.release()  # the workers now serve this call
        if self.on_demand:
            yield from self._on_demand(batches, marker_dir)
            return
        n_jobs = 1 if self.backend == "sequential" else min(self.n_jobs, size)
        # One joblib call per part: joblib's own batching would only group calls again.
        # Parts are handed out 6 per worker ahead: with 2 ahead, workers sat idle whenever
        # the launcher held the GIL to plan or record (100,000 runs: 3.6 s against 2.8 s).
        options: dict[str, Any] = {"batch_size": 1, "pre_dispatch": "6*n_jobs"}
        if n_jobs == 1 and self.isolated:
            # joblib runs n_jobs=1 in the calling process; one task at a time in a worker
            # process keeps a crash or a timeout away from the launcher.
            n_jobs, options = 2, {"batch_size": 1, "pre_dispatch": 1}
        parallel = Parallel(
            n_jobs=n_jobs, backend=self.backend, return_as="generator_unordered", **options
        )
        chunks = self._chunks  # kept from call to call: a launch's rounds share its sizes
        sent: dict[int, Batch] = {}  # parts given to joblib, by number, until they come back

        def calls() -> Iterator[Any]:
            # Read by joblib as workers are free, possibly from one of its own threads.
            call = delayed(execute_batch)  # once: each delayed() call wraps the function anew
            for number, part in enumerate(chunks.of(batches)):
                sent[number] = part
                yield call(part.wire(number), marker_dir)

        try:
            for number, done in parallel(calls()):
                part = sent.pop(number)
                chunks.observe(done)
                yield part, done
        except BrokenProcessPool as exc:
            raise WorkerCrash(_exit_codes(str(exc))) from exc

    def _on_demand(
        self, batches: Iterable[Batch], marker_dir: str | None
    ) -> Iterator[tuple[Batch, list[Done]]]:
        """Each batch as a worker is free, never more than n_jobs at once; the next is taken
        from `batches` only after what finished was yielded (joblib's Parallel takes them
        from its own thread as tasks finish, before their results are read). Workers are
        loky's reusable ones (joblib's own), or threads; sequential runs here."""
        import itertools
        from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait

        source, numbers = iter(batches), itertools.count()
        if self.backend == "sequential":
            for part in source:
                yield part, execute_batch(part.wire(next(numbers)), marker_dir)[1]
            return
        _import_joblib(self.isolated)
        from joblib.externals.loky import get_reusable_executor
        from joblib.externals.loky.process_executor import BrokenProcessPool

        n_jobs = max(self.n_jobs, 1)
        running: dict[Future[tuple[int, list[Done]]], Batch] = {}

        def fill(executor: Executor) -> None:
            while len(running) < n_jobs:
                part = next(source, None)
                if part is None:
                    return
                future = executor.submit(execute_batch, part.wire(next(numbers)), marker_dir)
                running[future] = part

        with contextlib.ExitStack() as stack:
            executor: Executor
            if self.isolated:
                from joblib import Parallel

                # joblib makes (or keeps: the workers prepare() started) loky's one reusable
                # pool, as a Parallel call does, and this takes it: a pool made by loky's
                # get_reusable_executor alone is not joblib's kind, and every joblib call
                # after it in the process failed (AttributeError: _temp_folder_manager).
                # Two workers at least, as run() has: joblib runs n_jobs=1 in this process.
                workers = max(n_jobs, EARLY_WORKERS)
                stack.enter_context(Parallel(n_jobs=workers, backend=self.backend))
                executor = get_reusable_executor(max_workers=workers, reuse=True)
            else:
                from concurrent.futures import ThreadPoolExecutor

                executor = ThreadPoolExecutor(n_jobs, thread_name_prefix="runner-run")
                stack.callback(executor.shutdown, wait=False)
            try:
                fill(executor)
                while running:
                    finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                    for future in finished:
                        part = running.pop(future)
                        yield part, future.result()[1]
                    fill(executor)
            except BrokenProcessPool as exc:
                raise WorkerCrash(_exit_codes(str(exc))) from exc
            finally:
                for future in running:
                    future.cancel()


class Chunks:
    """How many runs go to a worker together, in one joblib call: a part of short runs pays
    joblib's per-call cost and the pickling of what its runs share once, and a million runs
    cost the launcher a few thousand calls. A part lasts about SECONDS: parts start with one
    run and grow (at most 4x from one to the next) as the runs' durations are seen, so long
    runs still go one at a time and spread over the workers. A worker that dies takes its
    part's unreported runs with it: the engine runs them again (crash isolation goes by the
    worker's marker, which names the one run it was executing)."""

    SECONDS = 0.05
    MOST = 4096

    def __init__(self) -> None:
        self.size = 1
        self.mean: float | None = None  # seconds a run, over what finished so far

    def of(self, batches: Iterable[Batch]) -> Iterator[Batch]:
        for batch in batches:
            start, count = 0, len(batch)
            while start < count:
                stop = start + self.size
                yield batch.part(start, stop)
                start = stop

    def observe(self, done: list[Done]) -> None:
        if not done:
            return
        # The part's runs ran one after the other: from the first's start to the last's end.
        seconds = (_ended(done[-1]) - _started(done[0])) / len(done)
        self.mean = seconds if self.mean is None else 0.8 * self.mean + 0.2 * seconds
        wanted = int(self.SECONDS / max(self.mean, 1e-6))
        self.size = max(1, min(wanted, self.size * 4, self.MOST))


def _started(done: Done) -> float:
    return done[0] if isinstance(done, tuple) else done.started


def _ended(done: Done) -> float:
    return done[1] if isinstance(done, tuple) else done.ended


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
