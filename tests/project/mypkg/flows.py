"""Workflows of the test project: an uninstalled package the runs must be able to import."""

import os
import random


def add(a: int, b: int = 1) -> int:
    return a + b


def draw(n: int = 3, seed: int = 0) -> dict:
    """Uses `random` (seeded by runner) and its seed argument."""
    return {"seed": seed, "values": [random.random() for _ in range(n)]}


def typed(
    name: str,
    count: int = 2,
    ratio: float = 0.5,
    flag: bool = False,
    items: list[int] | None = None,
    weights: dict[str, float] | None = None,
) -> dict:
    return {
        "name": name,
        "count": count,
        "ratio": ratio,
        "flag": flag,
        "items": items,
        "weights": weights,
    }


def boom(a: int) -> int:
    if a == 2:
        raise ValueError(f"a must not be {a}")
    print(f"a is {a}")
    return a


def show_env(key: str = "RUNNER_TEST_VAR") -> str | None:
    return os.environ.get(key)


def draw_numpy(n: int = 3) -> list:
    """numpy's global generator, which runner seeds before the run starts."""
    import numpy as np

    return np.random.random(n).tolist()


def nap(seconds: float = 0.1) -> float:
    import time

    time.sleep(seconds)
    return seconds


def crash(a: int) -> int:
    """Kills its own worker process when a == 3, as a segfault or the OOM killer would."""
    if a == 3:
        os._exit(7)
    return a


def slow(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


def stubborn(seconds: float) -> float:
    """Ignores the timeout's exception, as C code that never returns to Python would."""
    import time

    end = time.time() + seconds
    while time.time() < end:
        try:
            time.sleep(0.05)
        except BaseException:
            continue
    return seconds


def flaky(marker: str, fail_times: int = 2, seed: int = 0) -> int:
    """Fails its first `fail_times` attempts (counted in a file), then succeeds."""
    from pathlib import Path

    path = Path(marker)
    count = int(path.read_text()) if path.exists() else 0
    path.write_text(str(count + 1))
    if count < fail_times:
        raise RuntimeError(f"attempt {count + 1} fails")
    return seed


def train(lr: float = 0.01, width: int = 64, epochs: int = 10, seed: int = 0) -> dict:
    """A nested dict result that depends on the params and the seed (for the results table)."""
    rng = random.Random(seed)
    loss = lr * 100 / width + rng.random() / 10
    return {
        "loss": loss,
        "acc": {"train": 1 - loss / 2, "test": 1 - loss},
        "curve": [loss * 2, loss],
        "epochs_run": epochs,
    }


def shapes(kind: str = "scalar") -> object:
    """Results of every shape: a scalar, a list, None, a dict, or a failure."""
    if kind == "fail":
        raise RuntimeError("shape 'fail' asked to fail\nsecond line")
    return {"scalar": 2.5, "list": [1, 2], "none": None, "dict": {"a": 1}}[kind]
