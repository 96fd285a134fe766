"""What happens inside a worker for one run: seed, environment, captured output, the call, the outcome."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import random
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TextIO

from runner.runs import RunOutcome, RunStatus
from runner.store import to_json
from runner.workflows import resolve_entrypoint, wants

LOG_NAME = "log.txt"


@dataclass(frozen=True)
class Task:
    """One run as a worker receives it: small, picklable, self-contained."""

    run_id: str
    entrypoint: str
    params: dict[str, Any]
    seed: int
    run_dir: str
    sys_path: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


def execute(task: Task) -> RunOutcome:
    """Run one task; never raises for what the workflow does, so one failure stops nothing else."""
    for entry in task.sys_path:
        if entry not in sys.path:
            sys.path.insert(0, entry)
    started = time.time()
    buffer = io.StringIO()
    status, result, error, trace = RunStatus.SUCCEEDED, None, None, None
    try:
        func = _entrypoint(task.entrypoint)
        kwargs = dict(task.params)
        if _wants(func, "seed"):
            kwargs["seed"] = task.seed
        if _wants(func, "output_dir"):
            Path(task.run_dir).mkdir(parents=True, exist_ok=True)
            kwargs["output_dir"] = Path(task.run_dir)
        seed_generators(task.seed)
        with _captured(buffer), _environment(task.env):
            result = func(**kwargs)
        result = json.loads(to_json(result))  # what the store will hold, and picklable
    except Exception as exc:
        status = RunStatus.FAILED
        error = f"{type(exc).__name__}: {exc}".strip()
        trace = traceback.format_exc()
    ended = time.time()
    run_dir = _keep_log(task.run_dir, buffer.getvalue(), trace)
    return RunOutcome(
        run_id=task.run_id,
        status=status,
        started=started,
        ended=ended,
        result=result,
        error=error,
        traceback=trace,
        run_dir=run_dir,
    )


def seed_generators(seed: int) -> None:
    """Seed `random`, and numpy's global generator when numpy is installed."""
    random.seed(seed)
    numpy = _numpy()
    if numpy is not None:
        numpy.random.seed(seed % 2**32)


@cache
def _numpy() -> Any:
    if importlib.util.find_spec("numpy") is None:
        return None
    import numpy

    return numpy


@cache
def _entrypoint(entrypoint: str) -> Callable[..., Any]:
    return resolve_entrypoint(entrypoint)


@cache
def _wants(func: Callable[..., Any], name: str) -> bool:
    return wants(func, name)


def _keep_log(run_dir: str, text: str, trace: str | None) -> str | None:
    """Write the run's log into its folder; the folder exists only if something is in it."""
    if trace:
        text += trace
    folder = Path(run_dir)
    if text:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / LOG_NAME).write_text(text, encoding="utf-8")
    if folder.is_dir():
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
def _captured(buffer: io.StringIO) -> Iterator[None]:
    _install()
    _local.buffer = buffer
    try:
        yield
    finally:
        _local.buffer = None


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
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
