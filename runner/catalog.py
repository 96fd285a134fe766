"""What a project offers, described for the front-ends: its workflows (every version, where
each is defined, its params schema and defaults) and its saved run definitions."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import DefinitionError, RunnerError
from runner.store import Store

if TYPE_CHECKING:
    from runner.composer import ConfigSpace
    from runner.entrypoints import Workflow


@dataclass
class Param:
    """One param of a workflow, as a form shows it."""

    name: str
    schema: dict[str, Any]  # its JSON Schema (type, enum, minimum, description...)
    default: Any = None
    has_default: bool = False
    required: bool = False
    description: str = ""  # the schema's description, else the docstring's for this argument

    @property
    def type(self) -> str:
        """A short name of what it takes: integer, number, string, boolean, array, object,
        enum, or several joined by ' | '."""
        return schema_type(self.schema)


@dataclass
class WorkflowInfo:
    """A workflow, as `runner list`, the TUI and notebooks describe it."""

    id: str
    version: str  # the latest version
    versions: list[str]  # newest first
    registered: list[str]  # snapshot versions in the store (runner register)
    kind: str  # "declared" (conf/workflow/*.yaml) or "python" (@runner.workflow)
    description: str
    entrypoint: str
    source: str  # the YAML declaration, or the Python file
    line: int | None  # the function's first line, when known
    params_schema: dict[str, Any] | None  # None when the entrypoint does not import
    params: list[Param] = field(default_factory=list)
    error: str | None = None  # why the schema is unknown

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line else self.source

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "versions": self.versions,
            "registered": self.registered,
            "kind": self.kind,
            "description": self.description,
            "entrypoint": self.entrypoint,
            "source": self.source,
            "line": self.line,
            "params_schema": self.params_schema,
            "error": self.error,
        }

    def __repr__(self) -> str:
        from runner.display import workflow_text

        return workflow_text(self)

    def _repr_html_(self) -> str:
        from html import escape

        from runner.results import param_text  # defaults as overrides write them: null

        rows = "".join(
            f"<tr><td>{escape(p.name)}</td><td>{escape(p.type)}</td>"
            f"<td>{escape(param_text(p.default)) if p.has_default else '(required)'}</td></tr>"
            for p in self.params
        )
        return (
            f"<b>{escape(self.id)}</b> {escape(self.version)} &mdash; "
            f"{escape(self.description)}<br><small>{escape(self.where)}</small>"
            f"<table><tr><th>param</th><th>type</th><th>default</th></tr>{rows}</table>"
        )


class Workflows(list[WorkflowInfo]):
    """What `runner.workflows()` returns: a list that reads as a table, one line a workflow,
    in a console and (as HTML) in a notebook; each item is a WorkflowInfo with its params."""

    def __repr__(self) -> str:
        from runner.display import workflows_text

        return workflows_text(self)

    def _repr_html_(self) -> str:
        from runner.display import workflows_html

        return workflows_html(self)


@dataclass
class PresetInfo:
    """A saved run definition (conf/run/NAME.yaml)."""

    name: str
    workflow: str | None
    description: str
    error: str | None = None
    label: str = ""  # where it is: "preset 'nightly' (.../run/nightly.yaml)"
    fields: dict[str, Any] = field(default_factory=dict)  # what it sets (sweep too), not workflow


@dataclass
class Described:
    """What `runner TARGET --help` describes: a workflow, and the preset that names it."""

    workflow: WorkflowInfo
    preset: PresetInfo | None = None


def workflows(*, config_dir: str | Path | None = None, home: str | Path | None = None) -> Workflows:
    """Every workflow of the project and runner's built-ins, sorted by id; shown, a table::

    for wf in runner.workflows():
        print(wf.id, wf.version, wf.where, [p.name for p in wf.params])
    """
    from runner.composer import Project, config_space

    with config_space(Project.find(config_dir)) as space:
        found = describe_workflows(space)
    registered = registered_versions(home)
    for info in found:
        info.registered = registered.get(info.id, [])
    return Workflows(found)


def presets(*, config_dir: str | Path | None = None) -> list[PresetInfo]:
    """The saved run definitions of the project and runner's built-ins::

    [(p.name, p.workflow) for p in runner.presets()]   # [('pi_sweep', 'pi'), ...]
    """
    from runner.composer import Project, config_space

    with config_space(Project.find(config_dir)) as space:
        return describe_presets(space)


def searches(*, config_dir: str | Path | None = None) -> list[str]:
    """The searches `search=NAME` chooses: runner's built-ins (Optuna's samplers, in
    `runner.SAMPLERS` order), then the project's own (conf/search/NAME.yaml)::

    runner.searches()   # ['random', 'tpe', 'cmaes', 'gp', 'qmc', 'nsga2', 'grid', 'quick']
    """
    from runner.composer import Project, config_space
    from runner.search_space import SAMPLERS

    with config_space(Project.find(config_dir)) as space:
        found = space.searches()
    return [name for name in SAMPLERS if name in found] + sorted(set(found) - set(SAMPLERS))


def describe_workflows(space: ConfigSpace, *, params: bool = True) -> list[WorkflowInfo]:
    """`params=False` leaves out what only importing each entrypoint tells (the schema of a
    signature, its defaults, the source line), for listings that do not show them."""
    from runner.entrypoints import latest

    return [
        describe_workflow(latest(versions), versions=list(versions), params=params)
        for _, versions in sorted(space.workflows().items())
    ]


def describe_workflow(
    workflow: Workflow, *, versions: list[str] | None = None, params: bool = True
) -> WorkflowInfo:
    """One workflow, from its declaration (and, with `params`, its imported entrypoint)."""
    from runner.entrypoints import version_key

    info = WorkflowInfo(
        id=workflow.id,
        version=workflow.version,
        versions=sorted(versions or [workflow.version], key=version_key, reverse=True),
        registered=[],
        kind="python" if workflow.option == "" else "declared",
        description=workflow.description,
        entrypoint=workflow.entrypoint,
        source=workflow.source,
        line=None,
        params_schema=None,
    )
    if params:
        _describe_params(info, workflow)
    return info


def describe(
    target: str, *, config_dir: str | Path | None = None, home: str | Path | None = None
) -> Described:
    """The workflow TARGET launches, as a launch resolves it: WORKFLOW[:VERSION], a
    registered version (WORKFLOW:rXXXXXXXXXXXX), or a saved run definition, which is
    described with the workflow it names."""
    from runner.composer import Project, config_space
    from runner.snapshots import registered

    found = registered(target, home)
    if found is not None:
        return Described(describe_workflow(found[0]))
    with config_space(Project.find(config_dir)) as space:
        if target not in space.presets():
            return Described(describe_workflow(space.resolve_workflow(target)))
        document = space.preset(target)
        preset = PresetInfo(
            name=target,
            workflow=document.workflow,
            description=str(document.data.get("notes") or document.data.get("name") or ""),
            label=document.label,
            fields={**document.fields, **({"sweep": document.sweep} if document.sweep else {})},
        )
        if document.workflow is None:
            raise DefinitionError(f"{document.label} names no workflow")
    # Its workflow may be registered, or declared: resolved as the preset's launch would be.
    described = describe(document.workflow, config_dir=config_dir, home=home)
    return Described(described.workflow, preset)


def describe_presets(space: ConfigSpace) -> list[PresetInfo]:
    found = []
    for name in space.presets():
        try:
            document = space.preset(name)
        except DefinitionError as exc:  # a broken preset is listed as broken, not fatal
            found.append(PresetInfo(name, None, "", error=str(exc)))
            continue
        description = document.data.get("notes") or document.data.get("name") or ""
        found.append(PresetInfo(name, document.workflow, str(description)))
    return found


def schema_type(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "enum"
    if "const" in schema:
        return "const"
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind)
    if kind:
        return str(kind)
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return " | ".join(schema_type(s) for s in schema[combinator] if isinstance(s, dict))
    return "any"


def _describe_params(info: WorkflowInfo, workflow: Workflow) -> None:
    """Schema, defaults and source line: what importing the entrypoint tells."""
    from runner.entrypoints import import_entrypoint
    from runner.inputs import signature_defaults, signature_schema

    func: Any = None
    try:
        func = import_entrypoint(workflow)
    except RunnerError as exc:
        info.error = str(exc)
        info.params_schema = workflow.schema
        defaults: dict[str, Any] = dict(workflow.params)
    else:
        info.params_schema = (
            workflow.schema if workflow.schema is not None else (signature_schema(func))
        )
        defaults = {**signature_defaults(func), **workflow.params}
        if info.kind == "python":
            try:
                info.source = inspect.getsourcefile(func) or info.source
                info.line = inspect.getsourcelines(func)[1]
            except (OSError, TypeError):
                pass  # built without source (a zipped snapshot): the module is enough
    schema = info.params_schema or {}
    properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
    required = set(schema.get("required", [])) if isinstance(schema, dict) else set()
    documented = _documented(func) if func is not None else {}
    for name in dict.fromkeys([*properties, *defaults]):
        sub = properties.get(name, {})
        sub = sub if isinstance(sub, dict) else {}
        has_default = name in defaults or "default" in sub
        info.params.append(
            Param(
                name=name,
                schema=sub,
                default=defaults.get(name, sub.get("default")),
                has_default=has_default,
                required=name in required and not has_default,
                description=str(sub.get("description") or documented.get(name, "")),
            )
        )


def _documented(func: Any) -> dict[str, str]:
    """Each argument's description in the function's docstring (Google, numpydoc, reST or
    epydoc style), by name."""
    import docstring_parser

    text = inspect.getdoc(func)
    if not text:
        return {}
    try:
        parsed = docstring_parser.parse(text)
    except docstring_parser.ParseError:
        return {}
    return {
        param.arg_name: " ".join((param.description or "").split())
        for param in parsed.params
        if param.arg_name
    }


def registered_versions(home: str | Path | None) -> dict[str, list[str]]:
    """workflow id -> the versions `runner register` snapshotted into the store."""
    store = Store.existing(home)
    registered: dict[str, list[str]] = {}
    for workflow_id, version, _ in store.snapshots() if store else []:
        registered.setdefault(workflow_id, []).append(version)
    return registered
