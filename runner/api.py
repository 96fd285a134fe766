"""The public API: the one path every front-end (CLI, TUI, notebook) takes through a launch."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import DefinitionError, Interrupted, UsageError
from runner.runs import LaunchRecord, RunOutcome, RunRecord, RunSpec, RunStatus
from runner.store import Store

if TYPE_CHECKING:
    from runner.compose import ConfigSpace, Project, Request
    from runner.plan import Plan

# Composition (Hydra) and execution (joblib) are imported where they are used, so that
# `runner status`, `runner --help` and `import runner` stay fast.

FLUSH_EVERY = 0.25  # seconds between batched writes of finished runs
FLUSH_SIZE = 500  # or this many finished runs, whichever comes first


@dataclass
class Launch:
    """A launch and its runs, as recorded."""

    record: LaunchRecord
    runs: list[RunRecord]

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def ok(self) -> bool:
        return all(run.status is RunStatus.SUCCEEDED for run in self.runs)

    @property
    def results(self) -> list[Any]:
        return [run.result for run in self.runs]

    def to_json(self) -> dict[str, Any]:
        return {**self.record.to_json(), "runs": [run.to_json() for run in self.runs]}


@dataclass
class Preview:
    """What `show` returns: the composed definition and the runs a launch would make."""

    definition: dict[str, Any]
    seed: int
    seed_drawn: bool
    specs: list[RunSpec]
    params_schema: dict[str, Any]
    axes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "definition": self.definition,
            "seed": self.seed,
            "seed_drawn": self.seed_drawn,
            "runs": [
                {"index": s.index, "params": s.params, "seed": s.seed, "repeat": s.repeat_index}
                for s in self.specs
            ],
        }


@dataclass
class Entities:
    """What `runner list` shows: workflows (every version) and saved run definitions."""

    workflows: list[dict[str, Any]]
    presets: list[dict[str, Any]]
    broken: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"workflows": self.workflows, "presets": self.presets, "broken": self.broken}


def request(
    target: str | None = None,
    overrides: Iterable[str] = (),
    *,
    name: str | None = None,
    tags: Sequence[str] | None = None,
    notes: str | None = None,
    repeat: int | str | None = None,
    seed: int | str | None = None,
    params: dict[str, Any] | Iterable[str] | None = None,
    labels: dict[str, Any] | None = None,
    annotations: dict[str, Any] | None = None,
    env: dict[str, Any] | None = None,
    max_parallelism: int | None = None,
    addr: str | None = None,
) -> Request:
    """A Request from keyword arguments; options that are None are left to the definition."""
    from runner.compose import Request

    options = {
        "name": name,
        "tags": list(tags) if tags is not None else None,
        "notes": notes,
        "repeat": repeat,
        "seed": seed,
        "labels": labels,
        "annotations": annotations,
        "env": env,
        "max_parallelism": max_parallelism,
        "addr": addr,
    }
    # A dict of params merges as values; k=v strings are typed by Hydra's grammar, as on the CLI.
    if isinstance(params, dict):
        options["params"] = dict(params)
        option_params = []
    else:
        option_params = list(params or ())
    return Request(
        target=target,
        overrides=list(overrides),
        options={k: v for k, v in options.items() if v is not None},
        option_params=option_params,
    )


def plan(req: Request, *, config_dir: str | Path | None = None) -> tuple[Plan, Project]:
    """Compose, validate and plan; raises a DefinitionError before anything is stored."""
    from runner.compose import Composer, Project, config_space
    from runner.plan import plan_runs

    project = Project.find(config_dir)
    with config_space(project) as space:
        return plan_runs(Composer(space, req)), project


def show(
    target: str | None = None,
    overrides: Iterable[str] = (),
    *,
    config_dir: str | Path | None = None,
    **options: Any,
) -> Preview:
    """The composed, validated definition and its planned runs; nothing is stored or run."""
    the_plan, _ = plan(request(target, overrides, **options), config_dir=config_dir)
    base = the_plan.base
    definition = dict(base.fields)
    if the_plan.axes:
        definition["sweep"] = {axis.key: list(axis.shown) for axis in the_plan.axes}
    return Preview(
        definition=definition,
        seed=the_plan.seed,
        seed_drawn=base.fields.get("seed") is None,
        specs=the_plan.specs,
        params_schema=base.params_validator.schema,
    )


def launch(
    target: str | None = None,
    overrides: Iterable[str] = (),
    *,
    config_dir: str | Path | None = None,
    home: str | Path | None = None,
    on_created: Callable[[LaunchRecord, list[RunSpec]], None] | None = None,
    on_outcome: Callable[[RunOutcome], None] | None = None,
    **options: Any,
) -> Launch:
    """Compose, validate, plan, record, execute and record again; returns the recorded launch.

    `target` is a run file, WORKFLOW[:VERSION] or a saved run definition's name; `overrides`
    use Hydra's grammar (params.a=1,2 sweeps); `options` are the run definition's fields
    (name, tags, notes, repeat, seed, params, labels, annotations, env, max_parallelism, addr).
    """
    the_plan, project = plan(request(target, overrides, **options), config_dir=config_dir)
    base = the_plan.base.fields
    store = Store(home)
    record = LaunchRecord(
        id=the_plan.launch_id,
        created=time.time(),
        workflow_id=the_plan.base.workflow.id,
        workflow_version=the_plan.base.workflow.version,
        name=base.get("name"),
        tags=list(base.get("tags") or []),
        notes=base.get("notes"),
        seed=the_plan.seed,
        repeat=int(base.get("repeat", 1)),
        labels=dict(base.get("labels") or {}),
        annotations=dict(base.get("annotations") or {}),
        env={k: str(v) for k, v in (base.get("env") or {}).items()},
        launcher=str(base["launcher"]["name"]),
        addr=base.get("addr"),
        definition={**base, "seed": the_plan.seed},
        pid=os.getpid(),
        run_count=len(the_plan.specs),
    )
    from runner.launchers import make_launcher
    from runner.worker import Task

    launcher = make_launcher(base["launcher"], base.get("max_parallelism"))
    store.record_launch(record, the_plan.specs)
    if on_created:
        on_created(record, the_plan.specs)

    sys_path = (str(project.root),)
    tasks = [
        Task(
            run_id=spec.id,
            entrypoint=spec.entrypoint,
            params=spec.params,
            seed=spec.seed,
            run_dir=str(store.run_dir(spec.id).resolve()),
            sys_path=sys_path,
            env={k: str(v) for k, v in (definition.fields.get("env") or {}).items()},
        )
        for spec, definition in zip(the_plan.specs, the_plan.definitions, strict=True)
    ]
    pending: list[RunOutcome] = []
    last_flush = time.monotonic()
    try:
        for outcome in launcher.run(tasks):
            pending.append(outcome)
            if on_outcome:
                on_outcome(outcome)
            if len(pending) >= FLUSH_SIZE or time.monotonic() - last_flush > FLUSH_EVERY:
                store.record_outcomes(pending)
                pending, last_flush = [], time.monotonic()
    except KeyboardInterrupt:
        store.record_outcomes(pending)
        cancelled = store.cancel_unfinished(record.id)
        raise Interrupted(
            f"interrupted: {cancelled} unfinished runs of launch {record.id} recorded as cancelled"
        ) from None
    store.record_outcomes(pending)
    return _recorded(store, record.id)


def status(
    ids: Sequence[str] = (), *, home: str | Path | None = None, limit: int | None = 20
) -> list[Launch] | list[RunRecord]:
    """Recorded launches (most recent first), or the launches and runs named by id prefixes."""
    store = Store.existing(home)
    if store is None:
        if ids:
            raise UsageError(
                f"no run store at {Path(home or os.environ.get('RUNNER_HOME') or '.runner')}"
            )
        return []
    if not ids:
        return [Launch(record=r, runs=[]) for r in store.launches(limit)]
    found: list[Any] = []
    for prefix in ids:
        kind, full = store.resolve(prefix)
        if kind == "launch":
            found.append(_recorded(store, full))
        else:
            found.append(store.run(full))
    return found


def entities(*, config_dir: str | Path | None = None) -> Entities:
    from runner.compose import Project, config_space

    project = Project.find(config_dir)
    with config_space(project) as space:
        return _entities(space)


def _entities(space: ConfigSpace) -> Entities:
    from runner.workflows import latest, version_key

    workflows = []
    for workflow_id, versions in sorted(space.workflows().items()):
        newest = latest(versions)
        workflows.append(
            {
                "id": workflow_id,
                "latest": newest.version,
                "versions": sorted(versions, key=version_key, reverse=True),
                "description": newest.description,
                "entrypoint": newest.entrypoint,
                "source": newest.source,
            }
        )
    presets = []
    for name in space.presets():
        try:
            document = space.preset(name)
            presets.append(
                {
                    "name": name,
                    "workflow": document.workflow,
                    "description": document.data.get("notes") or document.data.get("name") or "",
                }
            )
        except DefinitionError as exc:  # a broken preset is listed as broken, not fatal
            presets.append({"name": name, "workflow": None, "description": f"invalid: {exc}"})
    return Entities(workflows=workflows, presets=presets, broken=space.broken_declarations())


def _recorded(store: Store, launch_id: str) -> Launch:
    record = store.launch(launch_id)
    assert record is not None
    return Launch(record=record, runs=store.runs(launch_id))
