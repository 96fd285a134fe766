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
