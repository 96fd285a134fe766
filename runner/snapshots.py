"""Registered versions: a workflow's declaration and the source of its package, kept in the
store, so `runner run WF:VERSION` runs that code even after the code on disk changed."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import io
import json
import sys
import zipfile
from pathlib import Path

from runner.entrypoints import Workflow
from runner.errors import WorkflowError
from runner.store import Store

PREFIX = "r"  # registered versions read r<12 hex>, apart from declared ones


def source_files(entrypoint: str) -> tuple[str, list[tuple[str, bytes]]]:
    """(top-level package, [(path inside the snapshot, content)]) of an entrypoint's code."""
    top = entrypoint.partition(":")[0].split(".")[0]
    spec = importlib.util.find_spec(top)
    if spec is None or (spec.origin is None and not spec.submodule_search_locations):
        raise WorkflowError(f"cannot find the source of '{top}' to register")
    if spec.submodule_search_locations:  # a package: every .py file under it
        folder = Path(next(iter(spec.submodule_search_locations)))
        files = sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)
        return top, [(str(Path(top) / p.relative_to(folder)), p.read_bytes()) for p in files]
    origin = Path(str(spec.origin))
    return top, [(origin.name, origin.read_bytes())]


def register(store: Store, workflow: Workflow) -> tuple[Workflow, bool]:
    """Snapshot the workflow; (the registered version, whether it is new)."""
    top, files = source_files(workflow.entrypoint)
    declaration = dataclasses.asdict(workflow)
    declaration.pop("version")
    declaration.pop("source")
    digest = hashlib.sha256(json.dumps(declaration, sort_keys=True).encode())
    for name, content in files:
        digest.update(name.encode() + b"\0" + content)
    version = PREFIX + digest.hexdigest()[:12]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            archive.writestr(name, content)
    registered = dataclasses.replace(workflow, version=version, source=f"registered {version}")
    new = store.save_snapshot(
        workflow.id, version, {**declaration, "package": top}, buffer.getvalue()
    )
    return registered, new


def checkout(store: Store, workflow_id: str, version: str) -> tuple[Workflow, Path] | None:
    """A registered version, unpacked under RUNNER_HOME/snapshots; None if there is none."""
    found = store.snapshot(workflow_id, version)
    if found is None:
        return None
    declaration, archive = found
    folder = (store.home / "snapshots" / workflow_id / version).resolve()
    if not folder.is_dir():
        folder.mkdir(parents=True)
        with zipfile.ZipFile(io.BytesIO(archive)) as unpacked:
            unpacked.extractall(folder)
    package = declaration.pop("package")
    forget(package, folder)
    fields = {f.name for f in dataclasses.fields(Workflow)}
    workflow = Workflow(
        **{k: v for k, v in declaration.items() if k in fields},
        version=version,
        source=f"registered {version} ({folder})",
    )
    return workflow, folder


def forget(package: str, folder: Path) -> None:
    """Drop modules of `package` imported from elsewhere, so the snapshot's are imported."""
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        origin = getattr(sys.modules[name], "__file__", None) or ""
        if not origin.startswith(str(folder)):
            del sys.modules[name]
    if str(folder) in sys.path:
        sys.path.remove(str(folder))
    sys.path.insert(0, str(folder))
