"""What happens inside a worker for one run: seed, environment, captured output, the call, the outcome."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import io
import logging
import mmap
import os
import random
import signal
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from runner import metrics, result_files
from runner.entrypoints import forget, resolve_entrypoint, wants
from runner.inputs import call_kwargs
from runner.records import (
    Done,
    RunBlock,
    RunOutcome,
    RunStatus,
    Sets,
    succeeded,
    to_json,
    with_sets,
)

LOG_NAME = "log.txt"


TIMEOUT_GRACE = 2.0  # seconds past a timeout before a worker that ignores it is ended
TIMED_OUT_MARK = b"T"  # byte 32 of a marker whose run's worker ended it for its timeout
# 32 hex characters of run id + the mark + since when the run executes (a float64; 0 once
# it ended): the launching process tells the runs executing now from them (`executing`).
MARKER_SIZE = 41
_MARK = struct.Struct("<33sd")  # (the run id and the mark, padded with NUL), since when
_SINCE = struct.Struct("<d")
_ENDED = _SINCE.pack(0.0)


class Task(NamedTuple):
    """One run as a worker receives it: small, picklable, self-contained. A tuple: a launch
    builds and pickles one per run, and a tuple costs a third of a frozen dataclass for both."""

    run_id: str
    entrypoint: str
    params: dict[str, Any]
    seed: int
    run_dir: str
    sys_path: tuple[str, ...] = ()
    env: Mapping[str, str] = {}  # shared default: only ever read
    timeout: float | None = None
    attempt: int = 1
    registered: bool = False  # sys_path[0] holds a registered snapshot of the code
    retries: int = 0  # further attempts after a failure
    row: int = 0  # the run's rowid in the store, when known (its outcome is written by it)
    # Values set on `params` to make the run's params: the runs of a sweep share `params`
    # (pickled once per batch of tasks) and differ in these.
    sets: Sets = ()


class Shared(NamedTuple):
    """What the runs of a batch share: one definition's, in one launch."""

    entrypoint: str
    params: dict[str, Any]  # each run sets its `sets` on these
    runs_root: str  # a run's folder is runs_root + its id
    sys_path: tuple[str, ...]
    env: Mapping[str, str]
    timeout: float | None
    registered: bool
    retries: int
    fail_fast: bool = False  # a failure for good stops the launch: its batch stops there


class Batch:
    """Runs of one definition as they go to the workers: what they share once, what differs
    as columns (run i is run_ids[i], seeds[i], sets[i]; rows[i] its rowid, 0 if unknown).
    A launch hands its runs out in batches and a worker sends back one list per batch: a
    million runs make a few thousand objects on their way, not a million (launchers.Chunks
    says how many runs a batch holds). `part` cuts a batch into smaller ones, which know
    the batch they came from (`source`, `offset`)."""

    __slots__ = (
        "attempt",
        "block",
        "offset",
        "rows",
        "run_ids",
        "seeds",
        "sets",
        "shared",
        "source",
    )

    def __init__(
        self,
        shared: Shared,
        run_ids: list[str],
        seeds: list[int],
        sets: list[Sets],
        rows: list[int],
        attempt: int = 1,
    ) -> None:
        self.shared = shared
        self.run_ids = run_ids
        self.seeds = seeds
        self.sets = sets
        self.rows = rows
        self.attempt = attempt
        self.source = self
        self.offset = 0
        # A streamed launch's block not recorded yet: recorded with what its runs did
        # (engine.Recorder), its rows then known.
        self.block: RunBlock | None = None

    @classmethod
    def of(cls, task: Task) -> Batch:
        """A batch of one task (a crash suspect run alone, a launcher's single run)."""
        runs_root = task.run_dir.removesuffix(task.run_id)
        if runs_root + task.run_id != task.run_dir:
            raise ValueError(f"run {task.run_id}: its folder must end with its id")
        shared = Shared(
            task.entrypoint,
            task.params,
            runs_root,
            task.sys_path,
            task.env,
            task.timeout,
            task.registered,
            task.retries,
        )
        return cls(shared, [task.run_id], [task.seed], [task.sets], [task.row], task.attempt)

    @property
    def retries(self) -> int:
        return self.shared.retries

    def __len__(self) -> int:
        return len(self.run_ids)

    def part(self, start: int, stop: int) -> Batch:
        if start == 0 and stop >= len(self.run_ids):
            return self
        part = Batch(
            self.shared,
            self.run_ids[start:stop],
            self.seeds[start:stop],
            self.sets[start:stop],
            self.rows[start:stop],
            self.attempt,
        )
        part.source, part.offset = self.source, self.offset + start
        return part

    def pick(self, indexes: list[int]) -> Batch:
        """A batch of its own (not a part) of the runs at these indexes."""
        if self.source is self and len(indexes) == len(self.run_ids):
            return self
        return Batch(
            self.shared,
            [self.run_ids[i] for i in indexes],
            [self.seeds[i] for i in indexes],
            [self.sets[i] for i in indexes],
            [self.rows[i] for i in indexes],
            self.attempt,
        )

    def again(self) -> Batch:
        """The same runs, for their next attempt."""
        return Batch(self.shared, self.run_ids, self.seeds, self.sets, self.rows, self.attempt + 1)

    def task(self, i: int) -> Task:
        shared, run_id = self.shared, self.run_ids[i]
        return Task(
            run_id,
            shared.entrypoint,
            shared.params,
            self.seeds[i],
            shared.runs_root + run_id,
            shared.sys_path,
            shared.env,
            shared.timeout,
            self.attempt,
            shared.registered,
            shared.retries,
            self.rows[i],
            self.sets[i],
        )

    def wire(self, number: int) -> tuple[Any, ...]:
        """What execute_batch receives: plain values, which pickle without Python code."""
        shared = self.shared
        return (
            number,
            tuple(shared),
            self.attempt,
            shared.fail_fast and self.attempt > shared.retries,
            self.run_ids,
            self.seeds,
            self.sets,
        )

    def outcomes(self, done: list[Done]) -> list[RunOutcome]:
        """What the batch's runs did, each as a RunOutcome."""
        attempt = self.attempt
        return [
            succeeded(run_id, d, attempt) if isinstance(d, tuple) else d
            for run_id, d in zip(self.run_ids, done, strict=True)
        ]


class RunTimeout(BaseException):
    """Raised inside a run that outlived its timeout (BaseException: `except Exception` in
    the workflow must not swallow it)."""


def execute(task: Task, marker_dir: str | None = None) -> RunOutcome:
    """Run one task; never raises for what the workflow does, so one failure stops nothing else.

    `marker_dir` is given in worker processes: the worker notes there which run it holds, so
    that if it dies the launcher knows which run killed it.
    """
    _put_on_path(task.sys_path)
    _install()
    try:
        done = _run(
            task.entrypoint,
            task.params,
            task.sets,
            task.seed,
            task.run_id,
            task.run_dir,
            task.sys_path[0] if task.registered else "",
            task.env,
            task.timeout,
            task.attempt,
            marker_dir,
            metrics.inbox_of(marker_dir),
        )
    finally:
        metrics.drain()
    return succeeded(task.run_id, done, task.attempt) if isinstance(done, tuple) else done


def execute_batch(batch: tuple[Any, ...], marker_dir: str | None = None) -> tuple[int, list[Done]]:
    """Run a batch's runs one after the other (Batch.wire says what it holds); returns the
    batch's number and what each run did, in order. A batch whose failures are final under
    --fail-fast stops at its first failure: the runs after it never start."""
    number, shared, attempt, stops, run_ids, seeds, sets = batch
    entrypoint, params, runs_root, sys_path, env, timeout, registered = shared[:7]
    _put_on_path(sys_path)
    _install()
    snapshot = sys_path[0] if registered else ""
    inbox = metrics.inbox_of(marker_dir)

    def runs() -> Iterator[Done]:
        for run_id, seed, run_sets in zip(run_ids, seeds, sets, strict=True):
            yield _run(
                entrypoint,
                params,
                run_sets,
                seed,
                run_id,
                runs_root + run_id,
                snapshot,
                env,
                timeout,
                attempt,
                marker_dir,
                inbox,
            )

    try:
        if not stops:
            return number, list(runs())
        done: list[Done] = []
        for one in runs():
            done.append(one)
            if not isinstance(one, tuple) and not one.status.ok:
                break
        return number, done
    finally:
        metrics.drain()  # the runs' last points, written before their outcomes go back


_on_path: tuple[str, ...] = ()  # the last batch's sys_path, put on sys.path


def _put_on_path(sys_path: tuple[str, ...]) -> None:
    global _on_path
    if sys_path != _on_path:  # the same for every run of a launch: checked once
        for entry in sys_path:
            if entry not in sys.path:
                sys.path.insert(0, entry)
        _on_path = sys_path


def _run(
    entrypoint: str,
    params: dict[str, Any],
    sets: Sets,
    seed: int,
    run_id: str,
    run_dir: str,
    snapshot: str,
    env: Mapping[str, str],
    timeout: float | None,
    attempt: int,
    marker_dir: str | None,
    inbox: metrics.Inbox | None,
) -> Done:
    """One run. `inbox`: the launch's (metrics.inbox_of) when the run runs in the launching
    process (threads, sequential): it learns there that the run executes, where a worker
    process notes it in its marker."""
    started = time.time()
    metrics.enter(run_id, started, marker_dir)
    if inbox is not None:
        inbox.running[threading.get_ident()] = (run_id, started, os.getpid(), None, None)
        marker_dir = None  # (no marker, no watchdog: this is the launcher's own process)
    elif marker_dir:
        _mark(marker_dir, run_id.encode(), started)
    log = _LazyLog(run_dir)
    status, result_json, error, trace = RunStatus.SUCCEEDED, None, None, None
    result_ref = None
    kwargs: dict[str, Any] = {}
    try:
        func = _entrypoint(entrypoint, snapshot)
        kwargs = call_kwargs(func, with_sets(params, sets) if sets else dict(params))
        if _wants(func, "seed"):
            kwargs["seed"] = seed
        if _wants(func, "output_dir"):
            Path(run_dir).mkdir(parents=True, exist_ok=True)
            kwargs["output_dir"] = Path(run_dir)
        seed_generators(seed)
        _local.buffer = log
        try:
            if env or timeout:
                with _environment(env), _time_limit(run_id, timeout, marker_dir):
                    result = func(**kwargs)
            else:  # the common case, without the cost of two context managers
                result = func(**kwargs)
        finally:
            _local.buffer = None
        result_json, result_ref = encode_result(result, run_dir, log)
    except RunTimeout:
        status = RunStatus.TIMED_OUT
        error = f"timed out after {timeout:g}s"
    except Exception as exc:
        if type(exc).__name__ == "TrialPruned":  # runner's, or Optuna's own
            status = RunStatus.PRUNED
        else:
            status = RunStatus.FAILED
            error = f"{type(exc).__name__}: {exc}".strip()
            trace = traceback.format_exc()
            log.write(trace)
    finally:  # (also when what stops the run is no Exception: Ctrl-C, a Dask cancel)
        told_to_stop = metrics.leave()
        if inbox is not None:
            inbox.running.pop(threading.get_ident(), None)
        elif marker_dir:
            _marker[1][33:] = _ENDED  # type: ignore[index]
    if told_to_stop and status is RunStatus.SUCCEEDED:  # (it returned when should_prune said)
        status = RunStatus.PRUNED
    log.close()
    kept = log.opened or result_ref or "output_dir" in kwargs
    if status is RunStatus.SUCCEEDED and not kept:
        return started, time.time(), result_json  # type: ignore[return-value]
    return RunOutcome(
        run_id=run_id,
        status=status,
        started=started,
        ended=time.time(),
        result_json=result_json,
        error=error,
        traceback=trace,
        run_dir=_kept(run_dir) if kept else None,
        attempt=attempt,
        result_ref=result_ref,
    )


def encode_result(result: Any, run_dir: str, log: _LazyLog) -> tuple[str, str | None]:
    """(the result as the store's JSON, the path of its file or None): a big result is
    pickled into the run's folder and the JSON is its summary (runner/result_files.py)."""
    if type(result) is int:  # the common trivial case, without a pickle
        return str(result), None
    result_json, path, note = result_files.encode(result, run_dir, to_json)
    if note:
        log.write(note)
    return result_json, path


# -- markers: which run a process worker holds, read by the launcher when a worker dies ------

# This worker's marker, mapped into memory: marking a run is a write to memory, not a system
# call (1.5 us a run), and the file's pages hold it when the worker dies however it dies.
# Per marker folder: a worker a notebook's launches share serves each launch's folder.
_marker: tuple[str, mmap.mmap] | None = None


def _mark(marker_dir: str, content: bytes, since: float = 0.0) -> None:
    global _marker
    if _marker is None or _marker[0] != marker_dir:
        path = os.path.join(marker_dir, str(os.getpid()))
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.ftruncate(fd, MARKER_SIZE)
            _marker = (marker_dir, mmap.mmap(fd, MARKER_SIZE))
        finally:
            os.close(fd)
    _MARK.pack_into(_marker[1], 0, content, since)


def executing(marker_dir: str) -> list[tuple[int, str, float]]:
    """(worker pid, run id, since when) of each run a worker process executes now."""
    found = []
    for name in os.listdir(marker_dir):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(marker_dir, name), "rb") as marker:
                content = marker.read(MARKER_SIZE)
        except FileNotFoundError:  # the launcher read and removed it meanwhile
            continue
        if len(content) < MARKER_SIZE:
            continue
        (since,) = _SINCE.unpack_from(content, 33)
        run_id = content[:32].decode(errors="replace").strip()
        if since and run_id:
            found.append((int(name), run_id, since))
    return found


def read_markers(marker_dir: str) -> dict[str, bool]:
    """run id -> whether its worker ended it for its timeout, for every marker left."""
    found: dict[str, bool] = {}
    for name in os.listdir(marker_dir):
        if not name.isdigit():  # (a worker's points: see runner.metrics)
            continue
        with open(os.path.join(marker_dir, name), "rb") as marker:
            content = marker.read(MARKER_SIZE)
        run_id = content[:32].decode(errors="replace").strip()
        if run_id:
            found[run_id] = content[32:33] == TIMED_OUT_MARK
        os.unlink(os.path.join(marker_dir, name))
    return found


def held_runs(marker_dir: str) -> dict[int, str]:
    """worker pid -> the run it holds (or last held), for every marker; leaves them in place."""
    held: dict[int, str] = {}
    for name in os.listdir(marker_dir):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(marker_dir, name), "rb") as marker:
                run_id = marker.read(32).decode(errors="replace").strip()
        except FileNotFoundError:  # the launcher read and removed it meanwhile
            continue
        if run_id and name.isdigit():
            held[int(name)] = run_id
    return held


# -- timeouts -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _time_limit(run_id: str, timeout: float | None, marker_dir: str | None) -> Iterator[None]:
    """SIGALRM interrupts the run at its timeout; a run that will not stop ends its worker."""
    if not timeout:
        yield
        return
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("timeouts need a process launcher (local or sequential), not threads")

    def interrupt(signum: int, frame: Any) -> None:
        raise RunTimeout()

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    watchdog = None
    if marker_dir:  # only in a worker process, never in the launcher itself
        watchdog = threading.Timer(timeout + TIMEOUT_GRACE, _end_worker, (run_id, marker_dir))
        watchdog.daemon = True
        watchdog.start()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if watchdog:
            watchdog.cancel()


def _end_worker(run_id: str, marker_dir: str) -> None:
    _mark(marker_dir, run_id.encode() + TIMED_OUT_MARK)
    os._exit(124)


def ready() -> int:
    """A prepared worker's first call: it imports what every run needs."""
    seed_generators(0)
    return os.getpid()


def seed_generators(seed: int) -> None:
    """Seed `random`, and numpy's global generator where a run could see it: once
    numpy.random is imported (numpy 2 imports it only when it is first used), else as it
    is imported, during the run that imports it. Either way a run that draws from it draws
    the same numbers as if it had been seeded before the run, and a run that never does
    costs nothing (2 us a run, a fifth of a trivial run's cost in a worker)."""
    global _numpy_seed
    _seed_random(seed)
    _numpy_seed = seed % 2**32
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed(_numpy_seed)
    elif not _seeding_on_import:
        _seed_numpy_on_import()


_numpy_seed = 0  # the seed of the run under way, for numpy.random imported during it
_seeding_on_import = False


class _SeedOnImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds numpy.random as Python would, and seeds its global generator once imported."""

    def __init__(self) -> None:
        self.loader: Any = None

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "numpy.random":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        self.loader, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)
        module.seed(_numpy_seed)


def _seed_numpy_on_import() -> None:
    global _seeding_on_import
    _seeding_on_import = True
    sys.meta_path.insert(0, _SeedOnImport())


# seed -> `random`'s state right after random.seed(seed): the runs of a sweep share a few seeds
# (one per repeat index), and setting a kept state takes half the time of seeding (5 us).
_random_states: dict[int, Any] = {}


def _seed_random(seed: int) -> None:
    state = _random_states.get(seed)
    if state is not None:
        random.setstate(state)
        return
    random.seed(seed)
    if len(_random_states) >= 64:
        _random_states.clear()
    _random_states[seed] = random.getstate()


@cache
def _entrypoint(entrypoint: str, snapshot: str) -> Callable[..., Any]:
    """The callable; from a registered snapshot's folder when one is named."""
    if snapshot:
        forget(entrypoint.split(".")[0].split(":")[0], Path(snapshot))
    return resolve_entrypoint(entrypoint)


@cache
def _wants(func: Callable[..., Any], name: str) -> bool:
    return wants(func, name)


class _LazyLog:
    """The run's log file, created (with its folder) at the first write, written through,
    so `runner logs -f` can follow a run while it runs. A plain class: one is made per run,
    and an io.TextIOBase costs a microsecond more to make and to finalize."""

    __slots__ = ("_file", "opened", "run_dir")

    def __init__(self, run_dir: str) -> None:
        self.run_dir = run_dir
        self.opened = False
        self._file: TextIO | None = None

    def write(self, text: str) -> int:
        if not text:
            return 0
        if self._file is None:
            os.makedirs(self.run_dir, exist_ok=True)
            path = os.path.join(self.run_dir, LOG_NAME)
            self._file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
            self.opened = True
        return self._file.write(text)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _kept(run_dir: str) -> str | None:
    """The run's folder if it holds anything; an empty one is removed."""
    folder = Path(run_dir)
    if not folder.is_dir():
        return None
    if any(folder.iterdir()):
        return str(folder)
    folder.rmdir()
    return None


# -- output capture ---------------------------------------------------------------------------
# A worker thread's stdout, stderr and logging go to that run's buffer. Routing by thread
# keeps runs apart under the threads launcher too, where they share one process.

_local = threading.local()


class _Routed(io.TextIOBase):
    """Stands in for sys.stdout/stderr: writes to the current run's buffer, if any."""

    def __init__(self, fallback: TextIO) -> None:
        self.fallback = fallback

    def write(self, text: str) -> int:
        target = getattr(_local, "buffer", None)
        return (target or self.fallback).write(text)

    def flush(self) -> None:
        target = getattr(_local, "buffer", None)
        (target or self.fallback).flush()

    def isatty(self) -> bool:
        return getattr(_local, "buffer", None) is None and self.fallback.isatty()

    def fileno(self) -> int:
        return self.fallback.fileno()

    @property
    def buffer(self) -> Any:
        """The binary stream below, for writers of bytes (click echoes its completions as
        bytes): the current run's, or the stream this one stands in for."""
        return (getattr(_local, "buffer", None) or self.fallback).buffer

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.fallback, "encoding", "utf-8")


class _RoutedHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        target = getattr(_local, "buffer", None)
        if target is not None:
            target.write(self.format(record) + "\n")


_install_lock = threading.Lock()
_handler: _RoutedHandler | None = None


def _install() -> None:
    """Route stdout, stderr and logging through the current run's buffer (idempotent).

    Checked for every batch of runs, not once: a host such as pytest or Jupyter may swap
    sys.stdout between two.
    """
    global _handler
    if _handler is not None and isinstance(sys.stdout, _Routed) and isinstance(sys.stderr, _Routed):
        return
    with _install_lock:
        if not isinstance(sys.stdout, _Routed):
            sys.stdout = _Routed(sys.stdout)
        if not isinstance(sys.stderr, _Routed):
            sys.stderr = _Routed(sys.stderr)
        if _handler is None:
            _handler = _RoutedHandler(level=logging.INFO)
            _handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            )
            root = logging.getLogger()
            root.addHandler(_handler)
            if root.level > logging.INFO or root.level == logging.NOTSET:
                root.setLevel(logging.INFO)


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """The run's env vars, set for the call and restored after (never in the launcher's own env)."""
    if not env:
        yield
        return
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update({key: str(value) for key, value in env.items()})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
