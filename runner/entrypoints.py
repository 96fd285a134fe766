"""Workflows: their declarations, their entrypoints, and the params schema of their signature."""

from __future__ import annotations

import importlib
import inspect
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from packaging.version import InvalidVersion, Version

from runner.errors import WorkflowError


@dataclass(frozen=True)
class Workflow:
    """A launchable callable: from conf/workflow/<option>.yaml."""

    id: str
    version: str
    entrypoint: str  # package.module:function
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)  # declared defaults
    schema: dict[str, Any] | None = None  # declared params schema; None = from the signature
    source: str = ""  # where it was declared, for messages
    option: str = ""  # its option name in the Hydra `workflow` group
    cache: bool = False  # reuse identical earlier runs' results
    retries: int = 0  # further attempts after a failure
    timeout: float | None = None  # seconds per run

    @property
    def spec(self) -> str:
        return f"{self.id}:{self.version}"


def version_key(version: str) -> tuple[int, Version | str]:
    """Orders versions: PEP 440 ones by value, above any that are not PEP 440."""
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def latest(versions: dict[str, Workflow]) -> Workflow:
    return versions[max(versions, key=version_key)]


def import_entrypoint(workflow: Workflow) -> Callable[..., Any]:
    """The workflow's callable; any failure is a WorkflowError naming the entrypoint."""
    try:
        return resolve_entrypoint(workflow.entrypoint)
    except Exception as exc:
        where = f" (declared in {workflow.source})" if workflow.source else ""
        raise WorkflowError(
            f"workflow '{workflow.id}'{where}: cannot import entrypoint"
            f" '{workflow.entrypoint}': {type(exc).__name__}: {exc}"
        ) from exc


def resolve_entrypoint(entrypoint: str) -> Callable[..., Any]:
    module_name, _, attr_path = entrypoint.partition(":")
    target: Any = importlib.import_module(module_name)
    for attr in attr_path.split("."):
        target = getattr(target, attr)
    if not callable(target):
        raise TypeError(f"{entrypoint} is a {type(target).__name__}, not a callable")
    return typing.cast(Callable[..., Any], target)


def wants(func: Callable[..., Any], name: str) -> bool:
    """Whether the callable takes an argument of this name (seed, output_dir)."""
    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def ensure_importable(root: str) -> None:
    """Put a project root first on sys.path so its uninstalled modules import."""
    if root not in sys.path:
        sys.path.insert(0, root)
