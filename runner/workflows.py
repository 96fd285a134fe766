"""Workflows: their declarations, their entrypoints, and the params schema of their signature."""

from __future__ import annotations

import enum
import importlib
import inspect
import json
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from packaging.version import InvalidVersion, Version

from runner.errors import WorkflowError

# Arguments runner itself supplies to a workflow that asks for them; never user params.
INJECTED = ("seed", "output_dir")


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


def signature_schema(func: Callable[..., Any]) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) for the params the callable's signature accepts."""
    signature = inspect.signature(func)
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # unresolvable forward references: fall back to the raw annotations
        hints = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    extra_allowed = False
    for name, param in signature.parameters.items():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            extra_allowed = True
            continue
        if param.kind is inspect.Parameter.VAR_POSITIONAL or name in INJECTED:
            continue
        annotation = hints.get(name, param.annotation)
        prop = type_schema(annotation)
        if param.default is inspect.Parameter.empty:
            required.append(name)
        elif _is_json(param.default):
            prop = {**prop, "default": param.default}
        properties[name] = prop
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": extra_allowed,
    }
    if required:
        schema["required"] = required
    return schema


def signature_defaults(func: Callable[..., Any]) -> dict[str, Any]:
    """The JSON-able defaults of the callable's params, so records hold every value used."""
    out = {}
    for name, param in inspect.signature(func).parameters.items():
        if name in INJECTED or param.default is inspect.Parameter.empty:
            continue
        if param.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
            continue
        if _is_json(param.default):
            out[name] = param.default
    return out


def type_schema(annotation: Any) -> dict[str, Any]:
    """The JSON Schema of one annotation; unknown types accept anything."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return {}
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [type_schema(arg) for arg in args]}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if annotation is type(None):
        return {"type": "null"}
    if annotation is bool:
        return {"type": "boolean"}
    if annotation is int:
        return {"type": "integer"}
    if annotation is float:
        return {"type": "number"}
    if annotation is str:
        return {"type": "string"}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {"enum": [member.value for member in annotation]}
    if annotation in (list, tuple, set) or origin in (list, tuple, set, frozenset):
        schema: dict[str, Any] = {"type": "array"}
        if args and args[-1] is not Ellipsis:
            schema["items"] = type_schema(args[0])
        return schema
    if annotation is dict or origin is dict:
        schema = {"type": "object"}
        if len(args) == 2:
            schema["additionalProperties"] = type_schema(args[1])
        return schema
    return {}


def ensure_importable(root: str) -> None:
    """Put a project root first on sys.path so its uninstalled modules import."""
    if root not in sys.path:
        sys.path.insert(0, root)


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
