"""Registered versions: a workflow's declaration and the source of its package, kept in the
store, so `runner run WF:VERSION` runs that code even after the code on disk changed."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from pathlib import Path

from runner.entrypoints import Workflow, forget, source_files
from runner.errors import WorkflowError
from runner.store import Store

PREFIX = "r"  # registered versions read r<12 hex>, apart from declared ones


def register(store: Store, workflow: Workflow) -> tuple[Workflow, bool]:
    """Snapshot the workflow; (the registered version, whether it is new)."""
    try:
        top, paths = source_files(workflow.entrypoint)
    except LookupError:
        top = workflow.entrypoint.partition(":")[0].split(".")[0]
        raise WorkflowError(f"cannot find the source of '{top}' to register") from None
    files = [(name, path.read_bytes()) for name, path in paths]
    declaration = dataclasses.asdict(workflow)
    for volatile in ("version", "source", "code"):  # (the code is in the files)
        declaration.pop(volatile)
    digest = hashlib.sha256(json.dumps(declaration, sort_keys=True).encode())
    for name, content in files:
        digest.update(name.encode() + b"\0" + content)
    version = PREFIX + digest.hexdigest()[:12]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            archive.writestr(name, content)
    registered = dataclasses.replace(
        workflow, version=version, source=f"registered {version}", code=version
    )
    new = store.save_snapshot(
        workflow.id, version, {**declaration, "package": top}, buffer.getvalue()
    )
    return registered, new


def registered(target: str, home: str | Path | None) -> tuple[Workflow, Path] | None:
    """The registered snapshot a target names (WF:rXXXXXXXXXXXX), unpacked; None when the
    target names no registered version; WorkflowError when the store holds no such one."""
    workflow_id, _, version = target.partition(":")
    if not version.startswith(PREFIX) or len(version) != 13:
        return None
    store = Store.existing(home)
    found = checkout(store, workflow_id, version) if store else None
    if found is None:
        raise WorkflowError(
            f"workflow '{workflow_id}' has no registered version '{version}'"
            " (runner list --versions shows them)"
        )
    return found


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
        code=version,  # its own hash: the runs' cache keys and provenance carry it
    )
    return workflow, folder
