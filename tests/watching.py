"""Workflows that log metrics and wait to be watched, written into a test's project copy as a
package of their own (`watched`), declared in conf/workflow/ and decorated; shared by
tests/test_running.py and tests/test_metrics.py. A run that waits notes its pid and start in
a file beside its `gate`, then waits until the gate exists: a test looks at the store while
the run runs, then lets it go, without guessing how long anything takes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

FLOWS = '''
import math, os, threading, time

import runner


def note(path: str, text: str = "") -> None:
    """Writes `text` (default: this process's pid and the time) to `path`, whole."""
    with open(path + ".tmp", "w") as f:
        f.write(text or f"{os.getpid()} {time.time()!r}")
    os.rename(path + ".tmp", path)


def hold(gate: str, seconds: float = 60.0) -> int:
    """Notes its pid and start in gate.started, then waits until `gate` exists."""
    note(gate + ".started")
    end = time.time() + seconds
    while not os.path.exists(gate) and time.time() < end:
        time.sleep(0.01)
    return os.getpid()


def curve(
    n: int = 5, then: str = "return", gate: str = "", first: str = "", again: int = 3
) -> int:
    """Logs n implicit steps of two keys, an explicit step of one and numpy scalars; then
    returns, raises, waits for its gate, or (when `first` does not exist yet) notes it and
    waits: a later execution of the run logs `again` points of `again` instead and returns."""
    import numpy as np

    if first and os.path.exists(first):
        for i in range(again):
            runner.log(again=float(i))
        return -1
    for i in range(n):
        runner.log(loss=1.0 / (i + 1), acc=i / n)
    runner.log(step=10, loss=0.05)
    runner.log(val=np.float32(0.25), hits=np.int64(3))
    if first:
        note(first)
    if then == "raise":
        raise ValueError("after logging")
    if then == "interrupt":
        raise KeyboardInterrupt
    if then == "text":
        runner.log(ok=1.0, loss="0.5")
    if then == "bool step":
        runner.log(step=True, loss=0.1)
    if then in ("wait", "sleep"):
        if gate:
            note(gate + ".logged")
        end = time.time() + 60
        while not (gate and os.path.exists(gate)) and time.time() < end:
            time.sleep(0.01)
    return n


def many(n: int = 20000, seed: int = 0) -> int:
    """n points of `x` (a NaN in every 7) from the run's thread, n of `y` from a thread it
    started and waited for; the run's own thread logs `x` only after the other is done."""
    import random

    rng = random.Random(seed)
    xs = [math.nan if i % 7 == 3 else rng.uniform(-1, 1) for i in range(n)]
    ys = [rng.uniform(-5, 5) for _ in range(n)]

    def other() -> None:
        for y in ys:
            runner.log(y=y)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    for x in xs:
        runner.log(x=x)
    return n


def leaky(stop: str) -> int:
    """Starts a thread that logs `tick` every 5 ms until `stop` exists, long after the run
    returned (once it logged once)."""
    logged = threading.Event()

    def ticking() -> None:
        while not os.path.exists(stop):
            runner.log(tick=1.0)
            logged.set()
            time.sleep(0.005)

    threading.Thread(target=ticking, daemon=True).start()
    logged.wait(10)
    return 0


def forks(n: int = 9000) -> int:
    """A child forked by the run logs n points and exits; the run logs its own, after."""
    import warnings

    child = os.fork()
    if child == 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in range(n):
                runner.log(child=float(i))
        os._exit(0)
    os.waitpid(child, 0)
    runner.log(parent=1.0)
    return n


def instant(i: int = 0, pause: float = 0.0) -> int:
    if pause:
        time.sleep(pause)
    return i
'''

DECORATED = '''
import runner


@runner.workflow
def fit(epochs: int = 3, rate: float = 0.5) -> float:
    """Logs its loss and accuracy at each epoch, as a training loop does."""
    loss = 1.0
    for epoch in range(epochs):
        loss *= 1 - rate
        runner.log(step=epoch, loss=loss, acc=1 - loss)
    return loss
'''

WORKFLOWS = ("hold", "curve", "many", "leaky", "forks", "instant")


@pytest.fixture
def watched(project: Path) -> Path:
    """The test project with the `watched` package: its workflows declared in conf/workflow/
    (hold, curve, many, leaky, forks, instant) and `fit` decorated."""
    package = project / "watched"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "flows.py").write_text(FLOWS)
    (package / "decorated.py").write_text(DECORATED)
    conf = project / "conf" / "workflow"
    for name in WORKFLOWS:
        (conf / f"{name}.yaml").write_text(
            f'id: {name}\nversion: "1.0"\nentrypoint: watched.flows:{name}\n'
        )
    (conf / "watched_decorated.yaml").write_text("modules: [watched.decorated]\n")
    return project


def wait_until(what: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, f"still not true after {timeout}s"
        time.sleep(0.02)
