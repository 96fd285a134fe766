"""Execution backends: one small protocol, implemented on joblib (loky processes, threads, in-process)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from runner.errors import DefinitionError
from runner.runs import RunOutcome
from runner.worker import Task, execute


class Launcher(Protocol):
    """Runs tasks and yields their outcomes as they finish, in any order."""

    name: str

    def run(self, tasks: Sequence[Task]) -> Iterator[RunOutcome]: ...


@dataclass
class JoblibLauncher:
    """joblib's Parallel with a named backend; results stream back unordered."""

    name: str
    backend: str  # loky | threading | sequential | multiprocessing
    n_jobs: int

    def run(self, tasks: Sequence[Task]) -> Iterator[RunOutcome]:
        from joblib import Parallel, delayed

        if not tasks:
            return
        n_jobs = 1 if self.backend == "sequential" else min(self.n_jobs, len(tasks))
        parallel = Parallel(
            n_jobs=n_jobs,
            backend=self.backend,
            return_as="generator_unordered",
            batch_size="auto",
        )
        yield from parallel(delayed(execute)(task) for task in tasks)


BACKENDS = ("loky", "threading", "sequential", "multiprocessing")


def make_launcher(config: dict[str, Any], max_parallelism: int | None) -> Launcher:
    """The launcher a run definition's `launcher` config and --max-parallelism ask for."""
    backend = config.get("backend", "loky")
    if backend not in BACKENDS:
        raise DefinitionError(
            f"launcher '{config.get('name')}': backend '{backend}' is not available here;"
            f" backends: {', '.join(BACKENDS)}"
        )
    n_jobs = max_parallelism or config.get("n_jobs") or os.cpu_count() or 1
    return JoblibLauncher(name=str(config.get("name", backend)), backend=backend, n_jobs=n_jobs)
