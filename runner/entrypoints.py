"""Workflows: their declarations, their entrypoints, and the params schema of their signature."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.machinery import PathFinder
from pathlib import Path
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
    # A hash of the code it runs, when known as it is found (a decorated workflow's version,
    # a registered version); else `code_of` hashes its package's source once per launch.
    code: str = ""

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


def source_files(module: str, root: str | Path | None = None) -> tuple[str, list[tuple[str, Path]]]:
    """(top-level name, [(path inside it, file)]) of the code a module runs: every .py file
    of its top-level package, or the module's own file when it stands alone. Looked up in
    `root` first (the folder the runs import from), then on sys.path, as a fresh worker would
    import it (not from sys.modules, which may hold another project's copy). What a
    registered snapshot holds and what `code_hash` hashes. LookupError: no source files (a
    built-in module, a notebook's __main__)."""
    top, place = _top_place(module, root)
    if place.is_dir():  # a package
        files = sorted(
            (p for p in place.rglob("*.py") if "__pycache__" not in p.parts),
            key=lambda p: p.parts,  # (Path's own order, each key made once)
        )
        return top, [(str(Path(top) / p.relative_to(place)), p) for p in files]
    return top, [(place.name, place)]


def module_file(module: str, root: str | Path | None = None) -> Path | None:
    """The source file of a module (package.module: its .py or its __init__.py), found as
    `source_files` finds its package, without importing anything; None if there is none."""
    try:
        _, place = _top_place(module, root)
    except LookupError:
        return None
    parts = module.partition(":")[0].split(".")[1:]
    if not place.is_dir():  # a module alone
        return None if parts else place
    inside = place.joinpath(*parts)
    candidates = [inside.with_name(inside.name + ".py")] if parts else []
    return next((c for c in [*candidates, inside / "__init__.py"] if c.is_file()), None)


def _top_place(module: str, root: str | Path | None) -> tuple[str, Path]:
    """(top-level name, its package's folder or its module's .py file)."""
    top = module.partition(":")[0].split(".")[0]
    spec = PathFinder.find_spec(top, [str(root)]) if root else None
    if spec is None:
        spec = PathFinder.find_spec(top)
    if spec is None:  # imported by a meta path finder (an editable install)
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):  # __main__ without a spec
            spec = None
    if spec is not None and spec.submodule_search_locations:  # a package
        return top, Path(next(iter(spec.submodule_search_locations)))
    if spec is not None and spec.origin and spec.origin.endswith(".py"):
        return top, Path(spec.origin)
    raise LookupError(f"no source files for module '{top}'")


# where a package or module is -> (its files' (path, inode, mtime, size), their hash): a
# process hashes unchanged code once
_hashed: dict[str, tuple[tuple[tuple[str, int, int, int], ...], str]] = {}


def code_hash(module: str, root: str | Path | None = None) -> str:
    """A content hash (12 hex digits) of the code a module runs: its top-level package's
    source (see source_files), or the module's own. A decorated workflow's version is this
    hash, and every run's cache key and provenance carry it, so a change to the code is
    seen. '' when the module has no source files to hash; a module loaded without a file it
    can be found by (a script run as __main__) is hashed from inspect's source of it."""
    if module.startswith("__main__"):  # a script's or a notebook's: not found by name
        return _loaded_source_hash("__main__")
    try:
        _, files = source_files(module, root)
    except LookupError:
        return _loaded_source_hash(module.partition(":")[0])
    if not files:
        return ""
    # the package's folder (or the module's file): what the kept hash is of
    parts = Path(files[0][0]).parts
    where = str(files[0][1] if len(parts) == 1 else files[0][1].parents[len(parts) - 2])
    try:
        signature = tuple(
            (str(path), st.st_ino, st.st_mtime_ns, st.st_size)
            for path, st in ((p, p.stat()) for _, p in files)
        )
        known = _hashed.get(where)
        if known is not None and known[0] == signature:
            return known[1]
        if len(files) == 1 and "/" not in files[0][0]:  # a module alone: its source's hash
            digest = hashlib.sha256(files[0][1].read_bytes())
        else:
            digest = hashlib.sha256()
            for name, path in files:
                digest.update(name.encode() + b"\0" + path.read_bytes())
    except OSError:  # a file removed meanwhile
        return ""
    found = digest.hexdigest()[:12]
    _hashed[where] = (signature, found)
    return found


def _loaded_source_hash(module: str) -> str:
    loaded = sys.modules.get(module)
    if loaded is None:
        return ""
    try:
        source = inspect.getsource(loaded)
    except (OSError, TypeError):
        return ""
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def code_of(workflow: Workflow, root: str | Path | None = None) -> str:
    """The hash of the code a workflow runs: its own when known (a registered version, a
    decorated workflow's), else its entrypoint's package source's (see code_hash)."""
    return workflow.code or code_hash(workflow.entrypoint, root)


def forget(package: str, folder: Path) -> None:
    """Drop modules of `package` imported from elsewhere, so the snapshot's are imported."""
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        origin = getattr(sys.modules[name], "__file__", None) or ""
        if not origin.startswith(str(folder)):
            del sys.modules[name]
    if str(folder) in sys.path:
        sys.path.remove(str(folder))
    sys.path.insert(0, str(folder))
