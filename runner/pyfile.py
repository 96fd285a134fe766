"""Workflows in a Python file, as `pyflyte run file.py` finds them: import the file the way
Python would (its package root on sys.path), then collect its @runner.workflow functions."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from runner.decorated import discover
from runner.entrypoints import Workflow
from runner.errors import UsageError, WorkflowError


def import_root(path: Path) -> tuple[Path, str]:
    """(the folder to put on sys.path, the module's dotted name): walk up past __init__.py."""
    path = path.resolve()
    parts = [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return folder, ".".join(parts)


def workflows_in(path: Path) -> tuple[Path, list[Workflow]]:
    """The file's import root and the workflows it defines or imports, in file order."""
    if not path.is_file():
        raise UsageError(f"no such Python file: {path}")
    root, name = import_root(path)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(name)
    except Exception as exc:
        raise WorkflowError(f"cannot import {path} as {name}: {type(exc).__name__}: {exc}") from exc
    return root, discover(module)


def pick(path: Path, found: list[Workflow], wanted: str) -> Workflow:
    for workflow in found:
        if wanted in (workflow.id, workflow.entrypoint.rpartition(":")[2]):
            return workflow
    names = ", ".join(w.id for w in found) or "(none: decorate a function with @runner.workflow)"
    raise WorkflowError(f"no workflow '{wanted}' in {path}; workflows there: {names}")
