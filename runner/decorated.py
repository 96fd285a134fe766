"""Workflows written in Python: the @workflow decorator and discovery of decorated functions."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any, TypeVar, overload

from runner.entrypoints import Workflow, code_hash
from runner.errors import WorkflowError

F = TypeVar("F", bound=Callable[..., Any])
MARK = "__runner_workflow__"  # the attribute @workflow sets on the function it marks


@overload
def workflow(func: F) -> F: ...


@overload
def workflow(
    *,
    id: str | None = None,
    version: str | None = None,
    description: str | None = None,
    cache: bool = False,
    retries: int = 0,
    timeout: float | None = None,
) -> Callable[[F], F]: ...


def workflow(
    func: Any = None,
    *,
    id: str | None = None,
    version: str | None = None,
    description: str | None = None,
    cache: bool = False,
    retries: int = 0,
    timeout: float | None = None,
) -> Any:
    """Mark a function as a workflow runner can launch.

    Its id defaults to the function's name, its description to the docstring's first
    paragraph, and its version to a hash of its package's source (its module's, when it
    stands alone), so that a change to the code is a new version and a run's record says
    which code ran::

        @runner.workflow(retries=2)
        def train(lr: float = 0.01, epochs: int = 10, seed: int = 0) -> dict:
            return {"loss": 1 / (1 + lr * epochs)}
    """

    def mark(target: F) -> F:
        setattr(
            target,
            MARK,
            {
                "id": id or target.__name__,
                "version": version,
                "description": description,
                "cache": cache,
                "retries": retries,
                "timeout": timeout,
            },
        )
        return target

    return mark(func) if func is not None else mark


def describe(func: Callable[..., Any]) -> Workflow:
    """The Workflow a decorated function stands for."""
    options = getattr(func, MARK)
    code = code_hash(func.__module__)
    return Workflow(
        id=options["id"],
        version=options["version"] or code or "0",
        entrypoint=f"{func.__module__}:{func.__qualname__}",
        description=options["description"] or first_paragraph(func.__doc__),
        params={},
        schema=None,
        source=inspect.getsourcefile(func) or func.__module__,
        option="",
        cache=options["cache"],
        retries=options["retries"],
        timeout=options["timeout"],
        code=code,
    )


def discover(module: ModuleType) -> list[Workflow]:
    """The decorated workflows a module defines or imports, in the order it holds them."""
    found = []
    for value in vars(module).values():
        if callable(value) and hasattr(value, MARK):
            found.append(describe(value))
    return found


def from_modules(names: Iterable[str], source: str) -> list[Workflow]:
    """Import the modules a declaration names and collect their decorated workflows."""
    found: list[Workflow] = []
    for name in names:
        try:
            module = importlib.import_module(name)
        except Exception as exc:
            raise WorkflowError(
                f"{source}: cannot import module '{name}': {type(exc).__name__}: {exc}"
            ) from exc
        found.extend(discover(module))
    return found


def first_paragraph(doc: str | None) -> str:
    if not doc:
        return ""
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())
