"""Compose run definitions: Hydra's compose API over the config search path, then a run file and overrides."""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import yaml
from hydra import compose as hydra_compose
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.hydra import Hydra
from hydra._internal.utils import create_config_search_path
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    Override,
    OverrideType,
    RangeSweep,
    Sweep,
    ValueType,
)
from hydra.errors import HydraException
from hydra.initialize import get_gh_backup, restore_gh_from_backup
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from runner import validate
from runner.decorated import from_modules
from runner.documents import MAX_DEPTH, DocumentError, nesting, parse, read, unusable
from runner.entrypoints import Workflow, ensure_importable, import_entrypoint, latest
from runner.errors import (
    CompositionError,
    DefinitionError,
    UsageError,
    ValidationError,
    WorkflowError,
)
from runner.inputs import converters, signature_defaults, signature_schema
from runner.records import set_path
from runner.search_space import (
    SAMPLERS,
    Dimension,
    SearchConfig,
    check_space,
    dimension,
    dimension_of_values,
    hydra_spelling,
    is_hydra_sweeper,
    require_optuna,
)

BUILTIN_CONF = "pkg://runner.conf"
PRIMARY = "config"
# Override keys runner resolves itself instead of handing them to Hydra's defaults list:
# a workflow is named by id[:version], a saved run definition is loaded like a run file.
WORKFLOW_KEY = "workflow"
PRESET_KEY = "run"
# The config group that makes a launch a search (conf/search/): params sweeps become the
# dimensions its sampler draws from instead of a grid's axes.
SEARCH_KEY = "search"
SEARCH_ARGUMENT = "argument search="  # where the API's search= came from, in messages
RUN_FILE_SUFFIXES = (".yaml", ".yml", ".json")
# Fields every run definition has: deleting one (`~repeat`) is refused, not composed.
REQUIRED_FIELDS = ("workflow", "repeat", "params", "launcher")
# The most runs one launch may make unless told otherwise (--max-runs, RUNNER_MAX_RUNS).
MAX_RUNS = 1_000_000
# Fields that hold for a whole launch: one value, never a sweep.
LAUNCH_WIDE = ("launcher", "max_parallelism", "addr", "name", "notes", "tags", SEARCH_KEY)

# Hydra composes its own `hydra:` node (logging, help, launcher, sweeper...) into every
# config, and runner reads none of it: deleting those defaults with Hydra's `~group` override
# makes a compose a third cheaper (38 ms to 26 ms, measured).
HYDRA_OWN_GROUPS = (
    "hydra/env",
    "hydra/help",
    "hydra/hydra_help",
    "hydra/hydra_logging",
    "hydra/job_logging",
    "hydra/launcher",
    "hydra/output",
    "hydra/sweeper",
)

# Hydra's GlobalHydra is a process-wide singleton: one composition at a time, and it is
# restored afterwards, so the API works twice in one notebook kernel and from threads.
_HYDRA_LOCK = threading.RLock()


@dataclass(frozen=True)
class Project:
    """Where a user's configs and code live: the config dir and the root that holds it."""

    config_dir: Path | None  # searched before runner's built-in conf
    root: Path  # importable by runs, so entrypoints in uninstalled modules work

    @classmethod
    def find(cls, config_dir: str | Path | None = None) -> Project:
        """--config-dir, then RUNNER_CONFIG_DIR, then ./conf; none is fine (built-ins only)."""
        chosen = config_dir or os.environ.get("RUNNER_CONFIG_DIR")
        if chosen:
            origin = "--config-dir" if config_dir else "RUNNER_CONFIG_DIR"
            try:
                path = Path(chosen).expanduser().resolve()
            except (UnicodeError, ValueError) as exc:  # no file system names it (\ud800, NUL)
                raise UsageError(f"{origin}: {str(chosen)!a} is no path: {exc}") from None
            if not path.is_dir():
                raise UsageError(f"{origin}: config directory {path} does not exist")
            return cls(config_dir=path, root=path.parent)
        local = Path.cwd() / "conf"
        if local.is_dir():
            return cls(config_dir=local.resolve(), root=Path.cwd().resolve())
        return cls(config_dir=None, root=Path.cwd().resolve())

    @property
    def schema_dirs(self) -> list[Path]:
        return [self.root / "schemas"]


@dataclass
class Document:
    """A run definition from a file: a run file, or a saved preset in conf/run/."""

    label: str  # "run file x.yaml" / "preset 'nightly' (path)"
    data: dict[str, Any]
    # Typed inputs (--inputs-file, stdin, a form): each param given replaces its default
    # whole, as in pyflyte; run files and presets merge into it, as Hydra's configs do.
    replaces: bool = False

    @property
    def workflow(self) -> str | None:
        value = self.data.get(WORKFLOW_KEY)
        return str(value) if value is not None else None

    @property
    def sweep(self) -> dict[str, Any]:
        return dict(self.data.get("sweep") or {})

    @property
    def search(self) -> str | None:
        """The search option the document chooses (`search: tpe`, or its mapping's sampler)."""
        value = self.data.get(SEARCH_KEY)
        if isinstance(value, dict):
            value = value.get("sampler")
        return str(value) if isinstance(value, str) else None

    @property
    def fields(self) -> dict[str, Any]:
        fields = {k: v for k, v in self.data.items() if k not in (WORKFLOW_KEY, "sweep")}
        # The option is chosen as a config group (its defaults below the document's keys).
        search = fields.get(SEARCH_KEY)
        if isinstance(search, dict):
            fields[SEARCH_KEY] = {k: v for k, v in search.items() if k != "sampler"}
        elif SEARCH_KEY in fields:
            del fields[SEARCH_KEY]
        return fields


@dataclass
class Sources:
    """Where each value of a definition came from, highest layer first, for messages."""

    layers: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)  # key -> "override 'k=v'"

    def where(self, path: tuple[str | int, ...]) -> str | None:
        keys = [str(p) for p in path]
        for depth in range(len(keys), 0, -1):
            found = self.overrides.get(".".join(keys[:depth]))
            if found:
                return found
        for label, data in self.layers:
            if has_path(data, keys):
                return label
        return None


@dataclass
class Definition:
    """One composed, validated run definition: a workflow and the fields of the launch."""

    workflow: Workflow
    fields: dict[str, Any]  # the run definition, `workflow` as id:version, params complete
    params_validator: Any  # a jsonschema validator for this workflow's params
    sources: Sources
    rich_params: tuple[tuple[str, Any], ...] = ()  # (param, annotation) needing a conversion
    # The params before interpolations are resolved, and whether any of them interpolates:
    # then each sweep point is resolved after its values are set, so `${params.x}` follows x.
    raw_params: dict[str, Any] = field(default_factory=dict)
    interpolates: bool = False
    # A search's config and space (search=tpe ...), None for a grid. Its params hold each
    # dimension at its low bound or first choice, so that the definition validates as a run;
    # a trial's params are `trial_params(values)`.
    search: SearchConfig | None = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.fields["params"])

    def trial_params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The params of one trial: each value (by its dimension's key, params.lr) set in
        the definition's params, interpolations resolved after (`${params.lr}` follows it)."""
        if self.interpolates:
            overrides = [
                Override(
                    type=OverrideType.CHANGE,
                    key_or_group=key,
                    value_type=ValueType.ELEMENT,
                    _value=value,
                    input_line=f"{key}={value}",
                )
                for key, value in values.items()
            ]
            return self.apply_point(overrides, ", ".join(f"{k}={v}" for k, v in values.items()))
        params = copy.deepcopy(self.fields["params"])
        for key, value in values.items():
            set_path(params, tuple(key.split("."))[1:], value)
        return dict(params)

    def apply_point(self, overrides: list[Override], point: str) -> dict[str, Any]:
        """The params of one sweep point: its overrides applied by Hydra's own override
        application (dicts merge, `+` adds, `++` forces) to the unresolved params, then
        resolved, so interpolations see the point's values. `point` names it in messages."""
        context = {k: v for k, v in self.fields.items() if k != "params"}
        cfg = OmegaConf.create({**context, "params": self.raw_params})
        try:
            ConfigLoaderImpl._apply_overrides_to_config(overrides, cfg)
            params = OmegaConf.to_container(cfg.params, resolve=True)
        except (HydraException, OmegaConfBaseException, ValueError) as exc:
            line = overrides[-1].input_line if len(overrides) == 1 else None
            what = f"'{line}'" if line else "the sweep"
            raise CompositionError(
                f"cannot apply {what} at sweep point {point}: {hydra_message(exc)}"
            ) from exc
        assert isinstance(params, dict)
        return {str(k): v for k, v in params.items()}


@dataclass(frozen=True)
class Axis:
    """One swept key and the values it takes, in Hydra's order."""

    key: str
    # Typed values (params axes; an int range() stays a range) or override strings (others).
    values: Sequence[Any]
    source: str
    is_params: bool
    kind: OverrideType = OverrideType.CHANGE  # `+key=` adds, `++key=` forces, as in Hydra
    line: str = ""  # the override as written, for messages

    def override(self, value: Any) -> Override:
        """The override Hydra's sweeper would hand the job at this value (params axes),
        holding the parsed value itself, so a cast such as str(10) stays applied."""
        return Override(
            type=self.kind,
            key_or_group=self.key,
            value_type=ValueType.ELEMENT,
            _value=value,
            input_line=self.line,
        )

    @property
    def shown(self) -> tuple[Any, ...]:
        """The values as a user reads them (the value part of non-params overrides)."""
        if self.is_params:
            return tuple(self.values)
        return tuple(str(v).split("=", 1)[1] for v in self.values)

    @property
    def param_path(self) -> tuple[str, ...]:
        return tuple(self.key.split("."))[1:]


class ConfigSpace:
    """Hydra initialised over one project's search path; valid inside `config_space()`."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.loader = GlobalHydra.instance().config_loader()
        # Hydra's loader keeps its ConfigRepository as an attribute its interface does not name.
        self.repository: Any = cast(Any, self.loader).repository
        self._workflows: dict[str, dict[str, Workflow]] | None = None
        self._broken: dict[str, str] = {}
        self._groups = set(self.loader.list_groups(""))

    # -- what the search path holds ---------------------------------------------------------

    def is_group(self, key: str) -> bool:
        return key.split("/")[0].split(".")[0] in self._groups and "." not in key

    def workflows(self) -> dict[str, dict[str, Workflow]]:
        """id -> version -> Workflow: every declaration in the search path, including the
        @runner.workflow functions of the modules a declaration names under `modules:`."""
        if self._workflows is None:
            index: dict[str, dict[str, Workflow]] = {}
            for option in self.loader.get_group_options(WORKFLOW_KEY):
                try:
                    found = self._declaration(option)
                except DefinitionError as exc:
                    self._broken[option] = str(exc)
                    continue
                for workflow in found:
                    index.setdefault(workflow.id, {})[workflow.version] = workflow
            self._workflows = index
        return self._workflows

    def broken_declarations(self) -> dict[str, str]:
        self.workflows()
        return dict(self._broken)

    def presets(self) -> list[str]:
        return list(self.loader.get_group_options(PRESET_KEY))

    def searches(self) -> list[str]:
        """The `search` config group's options: runner's built-ins and the project's own."""
        return list(self.loader.get_group_options(SEARCH_KEY))

    def preset(self, name: str) -> Document:
        try:
            loaded = self.repository.load_config(f"{PRESET_KEY}/{name}")
        except ValueError as exc:  # not UTF-8, an integer past 4,300 digits: read again, to name it
            path = self._config_file(f"{PRESET_KEY}/{name}")
            try:
                if path is not None:
                    parse(read(path), as_json=False)
            except DocumentError as problem:
                raise DefinitionError(f"saved run definition {path} {problem}") from None
            raise DefinitionError(f"saved run definition '{name}' cannot be read: {exc}") from None
        if loaded is None:
            hint = _did_you_mean(name, self.presets())
            raise DefinitionError(
                f"unknown saved run definition '{name}'{hint}; "
                f"saved: {', '.join(self.presets()) or '(none)'}"
            )
        data = OmegaConf.to_container(loaded.config, resolve=False)
        if not isinstance(data, dict):
            raise DefinitionError(f"preset '{name}' ({loaded.path}) must be a mapping")
        data.pop("defaults", None)
        label = f"preset '{name}' ({_source_path(loaded)}/{PRESET_KEY}/{name}.yaml)"
        document = Document(label=label, data={str(k): v for k, v in data.items()})
        validate.check(
            _known_fields(document.data),
            _run_validator(),
            what=f"run definition in {label}",
            where=_always(label),
        )
        return document

    def by_option(self, option: str) -> Workflow:
        """The workflow declared in workflow/<option>.yaml (not a `modules:` pointer)."""
        for versions in self.workflows().values():
            for workflow in versions.values():
                if workflow.option == option:
                    return workflow
        raise WorkflowError(self._broken.get(option, f"no workflow declared as '{option}'"))

    def resolve_workflow(self, spec: str) -> Workflow:
        """id, id:version, or a declaration's file name; the latest version without one."""
        workflow_id, _, version = spec.partition(":")
        index = self.workflows()
        if workflow_id not in index:
            if any(w.option == spec for vs in index.values() for w in vs.values()):
                return self.by_option(spec)
            if workflow_id in self._broken:
                raise WorkflowError(self._broken[workflow_id])
            hint = _did_you_mean(workflow_id, list(index))
            raise WorkflowError(
                f"unknown workflow '{workflow_id}'{hint}; "
                f"workflows: {', '.join(sorted(index)) or '(none)'}"
            )
        versions = index[workflow_id]
        if not version:
            return latest(versions)
        if version not in versions:
            raise WorkflowError(
                f"workflow '{workflow_id}' has no version '{version}'; "
                f"versions: {', '.join(sorted(versions))}"
            )
        return versions[version]

    def _config_file(self, name: str) -> Path | None:
        """The file of a config (`workflow/pi`) on Hydra's search path, or None."""
        from hydra.core.object_type import ObjectType

        # Which search path entry holds the file: Hydra's repository answers, privately.
        found = self.repository._find_object_source(name, ObjectType.CONFIG)
        if found is None:
            return None
        return Path(_source_path(SimpleNamespace(path=found.full_path()))) / f"{name}.yaml"

    def _read_declaration(self, option: str) -> tuple[str, Any]:
        """(the file, its data) of workflow/<option>.yaml, found on Hydra's search path and
        read with libyaml: Hydra's own loading (OmegaConf) costs ~5 ms a file, which a project
        of 200 workflows pays on every launch and listing; libyaml takes ~50 us."""
        path = self._config_file(f"{WORKFLOW_KEY}/{option}")
        if path is None:
            return option, None
        try:
            data = _yaml_file(path)
        except (OSError, yaml.YAMLError) as exc:
            raise WorkflowError(f"workflow declaration {path} cannot be read: {exc}") from exc
        except ValueError:  # not UTF-8, an integer past 4,300 digits: read again, to name it
            data = None
        if data is None or unusable(data):
            try:
                data = parse(read(path), as_json=False)
            except DocumentError as exc:
                raise WorkflowError(f"workflow declaration {path} {exc}") from None
        if isinstance(data, dict):
            data.pop("defaults", None)  # Hydra's defaults list: not a field of the declaration
        return str(path), data

    def parser(self) -> OverridesParser:
        return OverridesParser.create(config_loader=self.loader)

    # -- composition ------------------------------------------------------------------------

    def compose(self, overrides: list[str]) -> DictConfig:
        given = {o.split("=", 1)[0].lstrip("~+") for o in overrides}
        unused = [f"~{group}" for group in HYDRA_OWN_GROUPS if group not in given]
        try:
            cfg = hydra_compose(config_name=PRIMARY, overrides=[*overrides, *unused])
        except (HydraException, OmegaConfBaseException, ValueError) as exc:
            raise CompositionError(f"cannot compose the config: {hydra_message(exc)}") from exc
        OmegaConf.set_struct(cfg, False)
        return cfg

    def _declaration(self, option: str) -> list[Workflow]:
        source, data = self._read_declaration(option)
        if not isinstance(data, dict):
            raise WorkflowError(f"workflow declaration {source} must be a mapping")
        validate.check(
            data,
            _workflow_validator(),
            what=f"workflow declaration {source}",
            where=_always(source),
        )
        if "modules" in data:  # a pointer to Python modules holding decorated workflows
            return from_modules(data["modules"], source)
        schema = data.get("schema")
        if isinstance(schema, str):
            schema = validate.schema_file(schema, self.project.schema_dirs)
        return [
            Workflow(
                id=str(data.get("id", option)),
                version=str(data.get("version", "0")),
                entrypoint=str(data["entrypoint"]),
                description=str(data.get("description", "")),
                params=dict(data.get("params") or {}),
                schema=schema,
                source=source,
                option=option,
                cache=bool(data.get("cache", False)),
                retries=int(data.get("retries", 0)),
                timeout=data.get("timeout"),
            )
        ]


@contextmanager
def config_space(project: Project) -> Iterator[ConfigSpace]:
    """Hydra initialised over the project's config dir, then runner's built-in conf."""
    with _HYDRA_LOCK:
        backup = get_gh_backup()
        GlobalHydra.instance().clear()
        try:
            import hydra.version

            hydra.version.setbase("1.3")
            search_path = create_config_search_path(
                str(project.config_dir) if project.config_dir else None
            )
            search_path.prepend("runner", BUILTIN_CONF, anchor="schema")
            Hydra.create_main_hydra2(task_name="runner", config_search_path=search_path)
            ensure_importable(str(project.root))
            yield ConfigSpace(project)
        finally:
            restore_gh_from_backup(backup)


@dataclass
class Request:
    """What a front-end asks for: a target, Hydra overrides, and option values."""

    target: str | None = None  # a run file, WORKFLOW[:VERSION], or a saved preset's name
    overrides: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)  # name, tags, repeat, seed, ...
    option_params: list[str] = field(default_factory=list)  # --params pieces, as k=v
    workflow: Workflow | None = None  # already chosen (a Python file's entity), not by name
    inputs: dict[str, Any] = field(default_factory=dict)  # --inputs-file / stdin params
    inputs_label: str = "inputs file"
    # The API's sweep=: key -> Python values (a list) or a Hydra sweep ("range(0,10)"); a key
    # that is not a run definition field is a param ("samples" is params.samples).
    sweeps: dict[str, Any] = field(default_factory=dict)
    # The API's search=: the search option it chooses (its settings are options["search"]),
    # above a run file's or a preset's, as options are.
    search: str | None = None
    max_runs: int = MAX_RUNS  # a launch that would make more runs is refused before planning


class Composer:
    """Turns one request into sweep axes and, per combination of group choices, a Definition."""

    def __init__(self, space: ConfigSpace, request: Request) -> None:
        self.space = space
        self.request = request
        self.documents = self._documents()
        self.fixed: list[Override] = []
        self.axes: list[Axis] = []
        self.sources = Sources()
        self._cache: dict[tuple[str, ...], Definition] = {}
        self._composed: dict[tuple[str, ...], DictConfig] = {}
        self.lines: dict[str, str] = {}  # key -> the override line that set it last
        # A search (search=NAME chosen): its dimensions, in Hydra's order, and how each
        # override set its key (`+params.x=...` adds it); the axes then stay empty.
        self.searching = False
        self.dimensions: list[Dimension] = []
        self._dimension_types: dict[str, OverrideType] = {}
        self._notes: dict[str, str] = {}  # key -> what Hydra's sweeper spelling it came from means
        self._collect_overrides()

    @property
    def search(self) -> SearchConfig | None:
        """The launch's search (its config and space), None for a grid launch."""
        return self.definition(()).search if self.searching else None

    # -- inputs -----------------------------------------------------------------------------

    def _documents(self) -> list[Document]:
        """Preset then run file, lowest first; notes whether the target names a workflow."""
        documents: list[Document] = []
        target = self.request.target
        self.target_spec: str | None = None
        preset_names = [
            o.split("=", 1)[1]
            for o in self.request.overrides
            if "=" in o and o.lstrip("+").split("=", 1)[0] == PRESET_KEY
        ]
        if target and _looks_like_file(target):
            documents.append(load_run_file(Path(target)))
        elif target:
            is_workflow = target.split(":")[0] in self.space.workflows()
            if not is_workflow and target in self.space.presets():
                preset_names.insert(0, target)
            else:
                self.target_spec = target
        if preset_names:
            # The last preset named wins, like any override; presets sit below the run file.
            documents.insert(0, self.space.preset(preset_names[-1]))
        if self.request.inputs:
            documents.append(
                Document(self.request.inputs_label, {"params": self.request.inputs}, replaces=True)
            )
        return documents

    def _collect_overrides(self) -> None:
        parser = self.space.parser()
        lines: list[tuple[str, str]] = []  # (override, where it came from), lowest first
        for document in self.documents:
            for key, expr in document.sweep.items():
                lines.append((f"{key}={_sweep_text(expr)}", document.label))
        for document in self.documents:
            if document.workflow:
                lines.append((f"{WORKFLOW_KEY}={document.workflow}", document.label))
            if document.search:
                lines.append((f"{SEARCH_KEY}={document.search}", document.label))
        if self.target_spec:
            lines.append((f"{WORKFLOW_KEY}={self.target_spec}", f"argument '{self.target_spec}'"))
        for line in self.request.overrides:
            lines.append((line, f"override '{line}'"))
        for line in self.request.option_params:
            lines.append((f"params.{line}", f"option --params '{line}'"))
        if self.request.search is not None:
            lines.append((f"{SEARCH_KEY}={self.request.search}", SEARCH_ARGUMENT))
        # sweep= comes last, as overrides given after the others, in its own order.
        given = {sweep_key(name): (name, values) for name, values in self.request.sweeps.items()}

        by_key: dict[str, tuple[Override, str]] = {}
        hydra_optuna: str | None = None  # `hydra/sweeper=optuna`: a search, TPE unless named
        for line, label in lines:
            override = parse_override(parser, line, label)
            key = override.key_or_group
            if is_hydra_sweeper(key):
                translated = hydra_spelling(override, line, sweep_key)
                if translated is None:
                    hydra_optuna = label
                    continue
                label = f"{label}, {translated.note}"
                override = parse_override(parser, translated.line, label)
                key = override.key_or_group
                if not self.space.is_group(key):  # (a group's line is what Hydra composes)
                    override.input_line = line  # messages quote what was written
                self._notes[key] = translated.note
            if key == SEARCH_KEY and override.is_add():  # +search=tpe: Hydra's habit
                override = parse_override(parser, line.lstrip("+"), label)
            if key == f"{SEARCH_KEY}.sampler":
                raise CompositionError(
                    f"'{line}'{_origin(label)}: the sampler is chosen with its option:"
                    f" search=NAME ({', '.join(SAMPLERS)})"
                )
            self.lines[key] = line
            if key == PRESET_KEY:
                continue  # loaded as a document above
            if key == WORKFLOW_KEY:
                self._check_workflow_override(override, line, label)
                # Both `workflow=x` and `+workflow=x` name the workflow.
                value_text = line.split("=", 1)[1]
                override = parse_override(parser, f"{WORKFLOW_KEY}={value_text}", label)
            elif override.is_delete() and key in REQUIRED_FIELDS:
                raise CompositionError(
                    f"'{line}'{_origin(label)}: {key} is part of every run definition and cannot"
                    f" be deleted; set it instead ({key}=...)"
                )
            elif self.space.is_group(key) and not override.is_delete():
                self._check_group_override(override, line, label)
            by_key[key] = (override, label)  # a later value for a key replaces an earlier one

        if hydra_optuna is not None and SEARCH_KEY not in by_key:
            line = f"{SEARCH_KEY}=tpe"
            label = f"{hydra_optuna}, Hydra's spelling of {line} (its sweeper's default sampler)"
            by_key[SEARCH_KEY] = (parse_override(parser, line, label), label)
        self._choose_search(by_key)
        if WORKFLOW_KEY not in by_key and self.request.workflow is None:
            known = ", ".join(sorted(self.space.workflows())) or "(none)"
            raise DefinitionError(
                "no workflow given: name one as `runner WORKFLOW[:VERSION]`, `+workflow=ID`, "
                f"or `workflow:` in a run file; workflows: {known}"
            )
        for key, (override, label) in by_key.items():
            if key in given:
                continue  # sweep= comes last, as an override given after the others
            self.sources.overrides[key] = label
            if override.is_sweep_override() and self.searching:
                self._add_dimension(key, override, label)
            elif override.is_sweep_override():
                self.axes.append(self._axis(key, override, label))
            else:
                self.fixed.append(override)
        for key, (name, values) in given.items():
            if self.searching:
                self._given_dimension(parser, key, name, values)
            else:
                self.axes.append(self._given_axis(parser, key, name, values))

    def _choose_search(self, by_key: dict[str, tuple[Override, str]]) -> None:
        """Whether the launch is a search: `search=NAME` (an override, a run file's or a
        preset's `search:`, or Hydra's spellings). Its keys without it are refused."""
        chosen = by_key.get(SEARCH_KEY)
        self.searching = (
            chosen is not None and not chosen[0].is_delete() and isinstance(chosen[0].value(), str)
        )
        if self.searching:
            assert chosen is not None
            name = str(chosen[0].value())
            options = self.space.loader.get_group_options(SEARCH_KEY)
            if name not in options:
                raise CompositionError(
                    f"'{chosen[0].input_line}'{_origin(chosen[1])}: no search '{name}'"
                    f"{_did_you_mean(name, options)}; searches: {', '.join(options)}"
                )
            require_optuna()
            return
        for key, (_, label) in by_key.items():
            if key.startswith(f"{SEARCH_KEY}."):
                raise CompositionError(
                    f"{self._quoted(key, label)} sets a key of a search, and no search is"
                    f" chosen: choose one with search=NAME ({', '.join(SAMPLERS)})"
                )

    def _quoted(self, key: str, label: str) -> str:
        """The override that set `key`, as written, for a message: where it came from, and
        what it means when it is Hydra's sweeper's spelling."""
        note = self._notes.get(key)
        return f"'{self.lines[key]}'{_origin(label)}{f' ({note})' if note else ''}"

    def _add_dimension(self, key: str, override: Override, label: str) -> None:
        line = self.lines.get(key) or str(override.input_line)
        quoted = self._quoted(key, label) if key in self.lines else f"'{line}'{_origin(label)}"
        if not key.startswith("params.") or override.is_delete():
            raise CompositionError(
                f"{quoted}: a search draws params, and one search is one definition: {key}"
                " cannot vary within it; make one launch per value"
            )
        self.dimensions.append(dataclasses.replace(dimension(key, override, quoted), line=line))
        self._dimension_types[key] = override.type

    def _given_dimension(self, parser: OverridesParser, key: str, name: str, values: Any) -> None:
        """A dimension of the API's sweep=: a Hydra sweep string, or Python values (a
        categorical dimension of them)."""
        if isinstance(values, str):
            label = f"sweep={{{name!r}: {values!r}}}"
            override = parse_override(parser, f"{key}={values}", label)
            self.sources.overrides[key] = label
            if not override.is_sweep_override():
                override = parse_override(parser, f"{key}=choice({values})", label)
            self.lines[key] = str(override.input_line)
            self._add_dimension(key, override, label)
            return
        label = f"sweep={{{name!r}: [...]}}"
        self.sources.overrides[key] = label
        values = list(values)
        line = f"{key}=<{len(values)} values of sweep=>"
        if not key.startswith("params.") or not values:
            raise CompositionError(
                f"{label}: a search draws params from one value or more; {key} cannot vary"
            )
        self.dimensions.append(dimension_of_values(key, values, line, label))
        self._dimension_types[key] = OverrideType.CHANGE

    def _check_workflow_override(self, override: Override, line: str, label: str) -> None:
        value = override.value()
        if override.is_delete() or "=" not in line:
            raise CompositionError(
                f"'{line}'{_origin(label)}: the workflow cannot be deleted; name one instead"
                " (runner WORKFLOW, or +workflow=ID)"
            )
        if not override.is_sweep_override() and not isinstance(value, str | int | float):
            raise CompositionError(
                f"'{line}'{_origin(label)}: a workflow is named by ID or ID:VERSION, not"
                f" {type(value).__name__} {value!r}"
            )

    def _check_group_override(self, override: Override, line: str, label: str) -> None:
        """A config group takes an option's name: Hydra itself fails on others with an error
        that names neither the group nor its options."""
        if override.is_sweep_override():
            return
        value = override.value()
        if isinstance(value, str) or (isinstance(value, list) and override.is_add()):
            return
        group = override.key_or_group
        options = ", ".join(self.space.loader.get_group_options(group)) or "(none)"
        raise CompositionError(
            f"'{line}'{_origin(label)}: {group} is a config group; choose one of its options"
            f" ({options}), or set one of its keys ({group}.KEY=...)"
        )

    def _given_axis(self, parser: OverridesParser, key: str, name: str, values: Any) -> Axis:
        """An axis of the API's sweep=: a Hydra sweep string, or Python values taken as they
        are (no grammar in between: a string value is that string)."""
        if isinstance(values, str):
            label = f"sweep={{{name!r}: {values!r}}}"
            self.sources.overrides[key] = label
            try:
                override = parser.parse_overrides([f"{key}={values}"])[0]
            except HydraException as exc:
                raise CompositionError(f"malformed {label}: {hydra_message(exc)}") from exc
            if not override.is_sweep_override():
                override = parser.parse_overrides([f"{key}=choice({values})"])[0]
            return self._axis(key, override, label)
        label = f"sweep={{{name!r}: [...]}}"
        self.sources.overrides[key] = label
        if not key.startswith("params."):
            raise CompositionError(
                f"{label}: only params take a list of values; give {key} a Hydra sweep"
                " string instead, e.g. 'range(0,3)'"
            )
        values = list(values)
        if not values:
            raise CompositionError(f"{label}: the sweep of {key} has no values")
        line = f"{key}=<{len(values)} values of sweep=>"
        return Axis(key=key, values=tuple(values), source=label, is_params=True, line=line)

    def _axis(self, key: str, override: Override, label: str) -> Axis:
        if not override.is_discrete_sweep():
            other = [s for s in SAMPLERS if s not in ("tpe", "grid")]
            raise CompositionError(
                f"'{override.input_line}'{_origin(label)}: interval() is a search's dimension;"
                f" choose a search to draw from it (search=tpe, or {', '.join(other)}),"
                " or sweep a grid of lists (a,b), range() and choice()"
            )
        if key.split(".")[0] in LAUNCH_WIDE:
            raise CompositionError(
                f"'{override.input_line}'{_origin(label)}: {key} holds for the whole launch and"
                " cannot be swept; make one launch per value"
            )
        is_params = key.startswith("params.") and not override.is_delete()
        _check_size(override, label, self.request.max_runs)
        sweep = override.value()
        values: Sequence[Any]
        try:
            if (
                is_params
                and isinstance(sweep, RangeSweep)
                and not sweep.shuffle
                and all(type(v) is int for v in (sweep.start, sweep.stop, sweep.step))
            ):
                # An int range stays a range: range(0,1000000) costs a million values nowhere.
                values = range(cast(int, sweep.start), cast(int, sweep.stop), cast(int, sweep.step))
            else:
                values = self._sweep_values(key, override, label, is_params)
        except (HydraException, ValueError, ArithmeticError) as exc:
            raise CompositionError(
                f"cannot expand sweep '{override.input_line}'{_origin(label)}: {hydra_message(exc)}"
            ) from exc
        if not values:
            raise CompositionError(f"sweep '{override.input_line}'{_origin(label)} has no values")
        return Axis(
            key=key,
            values=values,
            source=label,
            is_params=is_params,
            kind=override.type,
            line=str(override.input_line),
        )

    def _sweep_values(
        self, key: str, override: Override, label: str, is_params: bool
    ) -> tuple[Any, ...]:
        """A sweep's elements as Hydra's parser makes them: typed values (params keys) or
        `key=value` override strings (the others)."""
        elements = list(override.sweep_iterator())
        nested = [e for e in elements if isinstance(e, Sweep)]
        if nested:
            raise CompositionError(
                f"'{override.input_line}'{_origin(label)}: an element of a sweep cannot be a"
                f" sweep itself ({type(nested[0]).__name__}); list the values in one sweep"
            )
        if is_params:
            # Quoted elements arrive as the parser's QuotedString: their text is the value.
            # (Plain numbers are left as they are: a sweep may hold a million of them.)
            convert = Override._convert_value
            return tuple(e if type(e) is int or type(e) is float else convert(e) for e in elements)
        prefix = override.get_key_element()
        items = list(override.sweep_string_iterator())
        if key == WORKFLOW_KEY and override.value_type is ValueType.GLOB_CHOICE_SWEEP:
            # glob() yields declaration file names; pin each to what its file declares.
            items = [self.space.by_option(item).spec for item in items]
        return tuple(f"{prefix}={v}" for v in items)

    # -- definitions ------------------------------------------------------------------------

    def definition(self, choices: tuple[str, ...] = ()) -> Definition:
        """The definition for one combination of non-params sweep values (cached)."""
        cached = self._cache.get(choices)
        if cached is None:
            cached = self._cache[choices] = self._define(choices)
        return cached

    def _compose(self, group_overrides: tuple[str, ...]) -> DictConfig:
        """Hydra's compose, once per distinct set of group choices: a sweep over a plain field
        (seed=range(0,300)) makes 300 definitions but one composition (26 ms each)."""
        composed = self._composed.get(group_overrides)
        if composed is None:
            composed = self._composed[group_overrides] = self.space.compose(list(group_overrides))
        return copy.deepcopy(composed)

    def _refuse_unknown_keys(self, schema: dict[str, Any], workflow: Workflow) -> None:
        """Params keys a file gives that the schema cannot take are refused before OmegaConf
        merges the file (which costs ~0.5 ms a key: 20,000 keys would take seconds), with the
        message validation would give."""
        if schema.get("additionalProperties", True) is not False or "patternProperties" in schema:
            return
        known = set(schema.get("properties", {}))
        for document in self.documents:
            params = document.data.get("params")
            if not isinstance(params, dict) or len(params) <= len(known):
                continue
            unknown = {k: v for k, v in params.items() if k not in known}
            if unknown:
                check = validate.compile_schema(
                    {"properties": {"params": schema}}, f"params of '{workflow.id}'"
                )
                problems = validate.problems_of(
                    {"params": unknown}, check, where=_always(document.label)
                )
                raise ValidationError(
                    f"invalid params in {document.label}:",
                    problems=validate.bounded(problems),
                    hint=unknown_key_hint(workflow),
                )

    def _params_suggestion(
        self, workflow: Workflow, schema: dict[str, Any], defaults: dict[str, Any]
    ) -> validate.Suggest:
        """For an unknown top-level key that is one of the workflow's params (`C=10` for
        `params.C=10`): the override, or the place in a file, it was meant to be."""
        names = {*schema.get("properties", {}), *defaults, *workflow.params}

        def suggest(path: tuple[str | int, ...], value: Any) -> str | None:
            key = str(path[0])
            if len(path) != 1 or key not in names:
                return None
            line = self.lines.get(key)
            # An override is given again under params; a file's key goes under `params:`.
            if line:
                meant = f"params.{line.lstrip('+')}"
            else:
                flow = yaml.safe_dump({key: value}, default_flow_style=True, width=1_000).strip()
                meant = f"params: {_clip(flow, 60)}"
            return f"{key} is a param of '{workflow.id}': did you mean {meant}?"

        return suggest

    def _define(self, choices: tuple[str, ...]) -> Definition:
        parser = self.space.parser()
        chosen = parser.parse_overrides(list(choices))
        overrides = {o.key_or_group: o for o in [*self.fixed, *chosen]}
        named = overrides.pop(WORKFLOW_KEY, None)
        workflow = self.request.workflow
        if workflow is None:
            assert named is not None  # _collect_overrides made sure one was given
            workflow = self.space.resolve_workflow(str(named.value()))
        group_overrides = [o for k, o in overrides.items() if self.space.is_group(k)]
        value_overrides = [o for k, o in overrides.items() if not self.space.is_group(k)]
        # A search's definition holds each dimension at its first value (see Definition.search).
        value_overrides += [
            Override(
                type=self._dimension_types[d.key],
                key_or_group=d.key,
                value_type=ValueType.ELEMENT,
                _value=d.first,
                input_line=d.line,
            )
            for d in self.dimensions
        ]

        # A declared workflow joins the composition as its group option; a decorated one has
        # no file to compose.
        chosen_group = [f"+{WORKFLOW_KEY}={workflow.option}"] if workflow.option else []
        cfg = self._compose((*chosen_group, *(str(o.input_line) for o in group_overrides)))
        if WORKFLOW_KEY in cfg:
            del cfg[WORKFLOW_KEY]  # the declaration, already read by the workflow index

        func = import_entrypoint(workflow)
        defaults = signature_defaults(func)
        schema = workflow.schema if workflow.schema is not None else signature_schema(func)
        suggest = self._params_suggestion(workflow, schema, defaults)
        for document in self.documents:
            # Checked alone when the file was read but for the keys no run definition has,
            # refused here before a merge (0.5 ms a key), now that the workflow is known.
            if len(_known_fields(document.data)) < len(document.data):
                validate.check(
                    document.data,
                    _run_validator(),
                    what=f"run definition in {document.label}",
                    where=_always(document.label),
                    suggest=suggest,
                )
        self._refuse_unknown_keys(schema, workflow)
        base_params = OmegaConf.create({**defaults, **workflow.params})
        sources = Sources(overrides=dict(self.sources.overrides))
        config_params = OmegaConf.to_container(cfg.params) if "params" in cfg else {}
        cfg.params = OmegaConf.merge(base_params, cfg.params or {})
        try:
            for document in self.documents:
                if document.replaces:
                    for key, value in (document.fields.get("params") or {}).items():
                        cfg.params[key] = value  # an assignment replaces; a merge would not
                else:
                    cfg.merge_with(document.fields)
            ConfigLoaderImpl._apply_overrides_to_config(value_overrides, cfg)
            cfg.merge_with(self.request.options)
            raw_params = OmegaConf.to_container(cfg.params, resolve=False)
            composed = OmegaConf.to_container(cfg, resolve=True)
        except (HydraException, OmegaConfBaseException, ValueError) as exc:
            key = getattr(exc, "full_key", None) or getattr(exc.__cause__, "full_key", None)
            where = self.sources.where(tuple(str(key).split("."))) if key else None
            at = f"{key}{f' (from {where})' if where else ''}: " if key else ""
            raise CompositionError(
                f"cannot compose the run definition: {at}{hydra_message(exc)}"
            ) from exc
        assert isinstance(composed, dict) and isinstance(raw_params, dict)
        fields: dict[str, Any] = {str(k): v for k, v in composed.items()}

        layers: list[tuple[str, Mapping[str, Any]]] = [
            *((_option_label(k), {k: v}) for k, v in self.request.options.items()),
            *((d.label, d.data) for d in reversed(self.documents)),
            ("the primary config", {"params": config_params}),
            (f"workflow '{workflow.id}' defaults ({workflow.source})", {"params": workflow.params}),
            (f"the signature of {workflow.entrypoint}", {"params": defaults}),
        ]
        sources.layers = layers
        fields.pop("sweep", None)
        if fields.get("addr"):
            fields["launcher"] = cluster_launcher(fields["launcher"], str(fields["addr"]))
        fields = {WORKFLOW_KEY: workflow.spec, **fields}
        validate.check(
            fields,
            _run_validator(),
            what="run definition",
            where=sources.where,
            suggest=suggest,
        )

        validator = validate.compile_schema(schema, f"params schema of workflow '{workflow.id}'")
        definition = Definition(
            workflow=workflow,
            fields=fields,
            params_validator=validator,
            sources=sources,
            rich_params=converters(func),
            raw_params={str(k): v for k, v in raw_params.items()},
            interpolates=has_interpolation(raw_params),
        )
        if self.searching:
            definition.search = self._search(definition)
        elif fields.get(SEARCH_KEY) is not None:
            where = sources.where((SEARCH_KEY,))
            raise DefinitionError(
                f"search settings are given{f' (in {where})' if where else ''} and no search is"
                f" chosen: choose one with search=NAME ({', '.join(SAMPLERS)}), or `search:"
                " NAME` in a run file"
            )
        return definition

    def _search(self, definition: Definition) -> SearchConfig:
        """The search of a definition, its space checked against the workflow's params."""
        config = SearchConfig.of(definition.fields[SEARCH_KEY], self.dimensions)
        require_optuna(config.sampler)
        runs = config.n_trials * int(definition.fields["repeat"])
        if runs > self.request.max_runs:
            raise DefinitionError(
                f"this search would make {count(runs)} runs ({count(config.n_trials)} trials x"
                f" repeat {definition.fields['repeat']}), more than the limit of"
                f" {self.request.max_runs:,}; raise it with --max-runs N (or RUNNER_MAX_RUNS)"
                " if you mean it"
            )
        check_space(config.space, definition)
        return config


def cluster_launcher(launcher: dict[str, Any], addr: str) -> dict[str, Any]:
    """`addr` (--addr, RUNNER_ADDR, a run file's addr) sends the runs to a Dask cluster: the
    default launcher becomes the dask one (options given to it, such as launcher.copy, kept);
    another local launcher is refused."""
    if launcher.get("backend") == "dask":
        return launcher
    name = launcher.get("name")
    if name != "local":
        raise DefinitionError(
            f"addr {addr} sends the runs to a Dask cluster, but launcher '{name}' runs them"
            f" on this machine; drop one of them (or choose launcher=dask)"
        )
    from importlib.resources import files

    dask = yaml.safe_load(files("runner.conf").joinpath("launcher/dask.yaml").read_text())
    # The local launcher's n_jobs counts this machine's cores, not the cluster's.
    kept = {k: v for k, v in launcher.items() if k not in ("name", "backend", "n_jobs")}
    return {**dask, **kept}


# -- run files ------------------------------------------------------------------------------


def load_run_file(path: Path) -> Document:
    """A YAML or JSON run file, checked against run.schema.json on its own."""
    label = f"run file {path}"
    if not path.exists():
        raise DefinitionError(f"run file '{path}' not found (cwd: {Path.cwd()})")
    try:
        data = parse(read(path), as_json=path.suffix == ".json")
    except DocumentError as exc:
        raise DefinitionError(f"run file {path} {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DefinitionError(
            f"run file {path} must hold a mapping of run definition fields, not a {type(data).__name__}"
        )
    document = Document(label=label, data=data)
    validate.check(
        _known_fields(data),
        _run_validator(),
        what=f"run definition in {label}",
        where=_always(label),
    )
    return document


def _known_fields(data: dict[str, Any]) -> dict[str, Any]:
    """A file's fields that a run definition has: the others are reported with the
    definition, once the workflow is known (`C: 10` may be meant as one of its params)."""
    fields = _run_validator().schema["properties"]
    return {k: v for k, v in data.items() if k in fields}


# -- helpers --------------------------------------------------------------------------------


def _run_validator() -> Any:
    return _validators("run.schema.json")


def _workflow_validator() -> Any:
    return _validators("workflow.schema.json")


_VALIDATORS: dict[str, Any] = {}


def _validators(name: str) -> Any:
    if name not in _VALIDATORS:
        _VALIDATORS[name] = validate.compile_schema(validate.builtin_schema(name), name)
    return _VALIDATORS[name]


def unknown_key_hint(workflow: Workflow) -> str:
    """How a key is added on purpose: in the schema that refused it."""
    if workflow.schema is None:
        return (
            f"workflow '{workflow.id}' takes only the parameters of {workflow.entrypoint};"
            " add one there to take a new key"
        )
    return (
        f"workflow '{workflow.id}' takes only the params its schema declares ({workflow.source});"
        " declare a new key there to add it, or allow any with additionalProperties"
    )


def parse_override(parser: OverridesParser, line: str, label: str) -> Override:
    """One override, parsed by Hydra; any failure is the user's input, named whole."""
    try:
        override = parser.parse_overrides([line])[0]
    except HydraException as exc:
        raise CompositionError(
            f"malformed override '{_clip(line)}'{_origin(label)}: {hydra_message(exc)}"
        ) from exc
    except (ValueError, RecursionError) as exc:  # int() past 4,300 digits; deep nesting
        what = "nested too deeply" if isinstance(exc, RecursionError) else _first_sentence(exc)
        raise CompositionError(
            f"malformed override '{_clip(line)}'{_origin(label)}: {what}"
        ) from exc
    value = override._value
    depth = max(
        (nesting(v) for v in (value.list if isinstance(value, ChoiceSweep) else [value])), default=0
    )
    if depth > MAX_DEPTH:
        raise CompositionError(
            f"malformed override '{_clip(line)}'{_origin(label)}: lists and mappings nested"
            f" more than {MAX_DEPTH} deep"
        )
    return override


def sweep_size(override: Override) -> int | None:
    """How many values a sweep has, counted without making them (a range may be huge)."""
    value = override.value()
    if isinstance(value, RangeSweep):
        start, stop, step = value.start, value.stop, value.step
        if any(isinstance(x, float) and not math.isfinite(x) for x in (start, stop, step)):
            raise ValueError("range() takes finite numbers")
        if step == 0:
            raise ValueError("range() step must not be 0")
        assert start is not None and stop is not None
        return max(0, math.ceil((stop - start) / step))
    if isinstance(value, ChoiceSweep):
        return len(value.list)
    return None


def _check_size(override: Override, label: str, max_runs: int) -> None:
    try:
        size = sweep_size(override)
    except ValueError as exc:
        raise CompositionError(f"sweep '{override.input_line}'{_origin(label)}: {exc}") from exc
    if size is not None and size > max_runs:
        raise CompositionError(
            f"sweep '{_clip(str(override.input_line))}'{_origin(label)} has {count(size)} values,"
            " more than the"
            f" {max_runs:,} runs a launch may make; raise the limit with --max-runs N"
            " (or RUNNER_MAX_RUNS) if you mean it"
        )


def count(number: int) -> str:
    """A count as people read it: 1,000,000, or 1e+30 past a trillion."""
    return f"{number:,}" if number < 10**12 else f"{number:.3g}"


def _clip(text: str, width: int = 80) -> str:
    return text if len(text) <= width else f"{text[: width - 20]}...({len(text):,} characters)"


def _first_sentence(exc: BaseException) -> str:
    return str(exc).split(";")[0]


def sweep_key(name: str) -> str:
    """sweep= keys: `samples` is params.samples; run definition fields and dotted paths
    that start with `params.` are taken as they are."""
    fields = _run_validator().schema.get("properties", {})
    return name if name.startswith("params.") or name in fields else f"params.{name}"


def _looks_like_file(target: str) -> bool:
    return target.endswith(RUN_FILE_SUFFIXES) or os.sep in target or Path(target).is_file()


def _sweep_text(expr: Any) -> str:
    if isinstance(expr, bool):
        return "true" if expr else "false"
    return str(expr)


def _option_label(key: str) -> str:
    if key == SEARCH_KEY:
        return SEARCH_ARGUMENT  # the API's alone: the command line says search=NAME
    return f"option --{key.replace('_', '-')}"


def _always(label: str) -> validate.Where:
    """A `where` for a document checked on its own: every value came from it."""
    return lambda _path: label


def _origin(label: str) -> str:
    """Where a value came from, in parentheses, unless the message quotes the override itself."""
    return "" if label.startswith("override") else f" ({label})"


def has_path(data: Mapping[str, Any], keys: Sequence[str]) -> bool:
    """Whether nested mappings hold a value at this path of keys."""
    node: Any = data
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return True


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def has_interpolation(value: Any) -> bool:
    """Whether an unresolved container holds an interpolation (`${...}`) anywhere."""
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, dict):
        return any(has_interpolation(v) for v in value.values())
    if isinstance(value, list):
        return any(has_interpolation(v) for v in value)
    return False


def hydra_message(exc: BaseException) -> str:
    """Hydra's message without what the caller already says: its "Error parsing override"
    line, its link to the docs and OmegaConf's key/type trailer; its hints (the functions that
    exist, how to add a key with `+` or force it with `++`) are kept, on one line."""
    cause = exc.__cause__ if isinstance(exc.__cause__, OmegaConfBaseException) else None
    lines = [line.strip() for line in str(exc).strip().splitlines()]
    if cause is not None and lines and lines[0].startswith("Error merging override"):
        lines = [line.strip() for line in str(cause).strip().splitlines()]
    kept = [
        _EVALUATING.sub("", line) for line in lines if line and not line.startswith(_NOT_FOR_USERS)
    ]
    text = ""
    for line in kept:
        text += line if not text else (" " if text.endswith((".", ":")) else "; ") + line
    return text or type(exc).__name__


# Lines of Hydra's and OmegaConf's messages that say nothing the user can act on.
_NOT_FOR_USERS = (
    "Error parsing override",
    "See https://",
    "full_key:",
    "object_type=",
    "reference_type=",
)
# "HydraException while evaluating 'nosuchfn(1)': Unknown function": the override is quoted
# by the caller already.
_EVALUATING = re.compile(r"^\w+ while evaluating '.*?': ")


_YAML_FILES: dict[tuple[str, int, int], Any] = {}  # (path, mtime, size) -> data


def _yaml_file(path: Path) -> Any:
    """A YAML file's data, parsed once per version of the file in this process (a notebook
    or the TUI composes many launches)."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _YAML_FILES:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        _YAML_FILES[key] = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    return copy.deepcopy(_YAML_FILES[key])


def _source_path(loaded: Any) -> str:
    """The folder of a search path entry Hydra loaded a config from, as a file system path
    (a `pkg://` entry is a package's folder), so messages and the TUI name a real file."""
    path = str(getattr(loaded, "path", ""))
    if path.startswith("file://"):
        path = path[len("file://") :]
    elif path.startswith("pkg://"):
        from contextlib import suppress
        from importlib import resources

        with suppress(ModuleNotFoundError, TypeError):  # else keep Hydra's name for it
            path = str(resources.files(path[len("pkg://") :].replace("/", ".")))
    return path
