"""Demo workflows behind the built-in conf/workflow/ declarations: small, but real work."""

from __future__ import annotations

import collections
import logging
import math
import random
from pathlib import Path

log = logging.getLogger(__name__)


def hello(name: str, excited: bool = False) -> str:
    """Greet someone by name."""
    greeting = f"Hello, {name}{'!' if excited else '.'}"
    print(greeting)
    return greeting


def estimate_pi(samples: int, seed: int) -> dict[str, float]:
    """Estimate pi from `samples` random points in the unit square; reproducible by seed."""
    rng = random.Random(seed)
    inside = sum(1 for _ in range(samples) if rng.random() ** 2 + rng.random() ** 2 <= 1.0)
    estimate = 4.0 * inside / samples
    log.info("%d of %d points inside the quarter circle", inside, samples)
    return {"pi": estimate, "error": abs(estimate - math.pi), "samples": samples}


def count_primes(below: int) -> int:
    """Count the primes strictly below `below` with a sieve of Eratosthenes."""
    if below < 3:
        return 0
    sieve = bytearray([1]) * below
    sieve[0] = sieve[1] = 0
    for n in range(2, math.isqrt(below - 1) + 1):
        if sieve[n]:
            sieve[n * n :: n] = bytes(len(range(n * n, below, n)))
    return sum(sieve)


def word_frequencies(text: str, top: int, output_dir: Path) -> list[list[object]]:
    """The `top` most frequent words of `text`; the full table goes to counts.tsv in the run's folder."""
    counts = collections.Counter(word.strip(".,;:!?").lower() for word in text.split())
    table = counts.most_common()
    (output_dir / "counts.tsv").write_text(
        "".join(f"{word}\t{count}\n" for word, count in table), encoding="utf-8"
    )
    return [[word, count] for word, count in table[:top]]
