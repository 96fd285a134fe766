"""What happens inside a worker for one run: seed, environment, captured output, the call, the outcome."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import random
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from runner import result_files
from runner.entrypoints import resolve_entrypoint, wants
from runner.inputs import call_kwargs
from runner.records import RunOutcome, RunStatus, Sets, with_sets
from runner.store import to_json

LOG_NAME = "log.txt"


TIMEOUT_GRACE = 2.0  # seconds past a timeout before a worker that ignores it is ended
TIMED_OUT_MARK = b"T"  # last byte of a marker whose run's worker ended it for its timeout
MARKER_SIZE = 33  # 32 hex characters of run id + the mark


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


_on_path: tuple[str, ...] = ()  # the last task's sys_path, put on sys.path


class RunTimeout(BaseException):
    """Raised inside a run that outlived its timeout (BaseException: `except Exception` in
    the workflow must not swallow it)."""


def execute(task: Task, marker_dir: str | None = None) -> RunOutcome:
    """Run one task; never raises for what the workflow does, so one failure stops nothing else.

    `marker_dir` is given in worker processes: the worker notes there which run it holds, so
    that if it dies the launcher knows which run killed it.
    """
    global _on_path
    if task.sys_path != _on_path:  # the same for every run of a launch: checked once
        for entry in task.sys_path:
            if entry not in sys.path:
                sys.path.insert(0, entry)
        _on_path = task.sys_path
    if marker_dir:
        _mark(marker_dir, task.run_id.encode())
    started = time.time()
    log = _LazyLog(task.run_dir)
    status, result_json, error, trace = RunStatus.SUCCEEDED, None, None, None
    result_ref = None
    kwargs: dict[str, Any] = {}
    try:
        func = _entrypoint(task.entrypoint, task.sys_path[0] if task.registered else "")
        kwargs = call_kwargs(func, with_sets(task.params, task.sets) if task.sets else task.params)
        if _wants(func, "seed"):
            kwargs["seed"] = task.seed
        if _wants(func, "output_dir"):
            Path(task.run_dir).mkdir(parents=True, exist_ok=True)
            kwargs["output_dir"] = Path(task.run_dir)
        seed_generators(task.seed)
        _install()
        _local.buffer = log
        try:
            if task.env or task.timeout:
                with _environment(task.env), _time_limit(task, marker_dir):
                    result = func(**kwargs)
            else:  # the common case, without the cost of two context managers
                result = func(**kwargs)
        finally:
            _local.buffer = None
        result_json, result_ref = encode_result(result, task.run_dir, log)
    except RunTimeout:
        status = RunStatus.TIMED_OUT
        error = f"timed out after {task.timeout:g}s"
    except Exception as exc:
        status = RunStatus.FAILED
        error = f"{type(exc).__name__}: {exc}".strip()
        trace = traceback.format_exc()
        log.write(trace)
    log.close()
    return RunOutcome(
        run_id=task.run_id,
        status=status,
        started=started,
        ended=time.time(),
        result_json=result_json,
        error=error,
        traceback=trace,
        run_dir=_kept(task.run_dir) if log.opened or result_ref or "output_dir" in kwargs else None,
        attempt=task.attempt,
        result_ref=result_ref,
    )


def execute_many(items: list[tuple[Any, ...]], marker_dir: str | None = None) -> list[RunOutcome]:
    """Run a chunk of tasks, sent as plain tuples (launchers.Chunks), one after the other."""
    make = Task._make
    return [execute(make(item), marker_dir) for item in items]


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

_marker_fd: int | None = None


def _mark(marker_dir: str, content: bytes) -> None:
    global _marker_fd
    if _marker_fd is None:
        path = os.path.join(marker_dir, str(os.getpid()))
        _marker_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.pwrite(_marker_fd, content.ljust(MARKER_SIZE, b" "), 0)


def read_markers(marker_dir: str) -> dict[str, bool]:
    """run id -> whether its worker ended it for its timeout, for every marker left."""
    found: dict[str, bool] = {}
    for name in os.listdir(marker_dir):
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
def _time_limit(task: Task, marker_dir: str | None) -> Iterator[None]:
    """SIGALRM interrupts the run at its timeout; a run that will not stop ends its worker."""
    if not task.timeout:
        yield
        return
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("timeouts need a process launcher (local or sequential), not threads")

    def interrupt(signum: int, frame: Any) -> None:
        raise RunTimeout()

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, task.timeout)
    watchdog = None
    if marker_dir:  # only in a worker process, never in the launcher itself
        watchdog = threading.Timer(task.timeout + TIMEOUT_GRACE, _end_worker, (task, marker_dir))
        watchdog.daemon = True
        watchdog.start()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if watchdog:
            watchdog.cancel()


def _end_worker(task: Task, marker_dir: str) -> None:
    _mark(marker_dir, task.run_id.encode() + TIMED_OUT_MARK)
    os._exit(124)


def ready() -> int:
    """A prepared worker's first call: it imports what every run needs (numpy's generator too)."""
    seed_generators(0)
    return os.getpid()


def seed_generators(seed: int) -> None:
    """Seed `random`, and numpy's global generator when numpy is installed."""
    _seed_random(seed)
    numpy = _numpy()
    if numpy is not None:
        numpy.random.seed(seed % 2**32)


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
def _numpy() -> Any:
    if importlib.util.find_spec("numpy") is None:
        return None
    import numpy

    return numpy


@cache
def _entrypoint(entrypoint: str, snapshot: str) -> Callable[..., Any]:
    """The callable; from a registered snapshot's folder when one is named."""
    if snapshot:
        from runner.snapshots import forget

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

    Checked on every run, not once: a host such as pytest or Jupyter may swap sys.stdout.
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
