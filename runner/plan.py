"""Plan a launch: the cartesian product of sweep values (Hydra's order) x repeats, each run with its seed."""

from __future__ import annotations

import itertools
import random
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from runner.compose import Axis, Composer, Definition
from runner.errors import ValidationError
from runner.runs import RunSpec
from runner.validate import PointCheck, problems_of

SEED_BITS = 63  # seeds are non-negative 64-bit integers, so SQLite stores them exactly
MAX_PROBLEMS = 20  # past this many invalid runs, the message says how many more


@dataclass
class Plan:
    """The runs of one launch, in plan order, and the seed they derive from."""

    base: Definition  # the first run's definition: the launch's name, tags, launcher...
    seed: int
    specs: list[RunSpec]
    definitions: list[Definition]  # each spec's definition, parallel to specs
    axes: list[Axis]  # what the launch sweeps, in Hydra's order

    @property
    def launch_id(self) -> str:
        # Like Accio: a lone run has no parent, so the launch and its run share one id.
        return self.specs[0].id if len(self.specs) == 1 else self._parent_id

    def __post_init__(self) -> None:
        self._parent_id = uuid.uuid4().hex


def draw_seed() -> int:
    return secrets.randbits(SEED_BITS)


def repeat_seeds(seed: int, repeat: int) -> list[int]:
    """The seed of each repeat index, the same for every sweep point so points compare fairly.

    A single repeat runs with the launch seed itself; several draw their seeds in order from
    a generator seeded with it (as Accio does), so `--seed S` always reproduces them.
    """
    if repeat == 1:
        return [seed]
    rng = random.Random(seed)
    return [rng.getrandbits(SEED_BITS) for _ in range(repeat)]


def plan_runs(composer: Composer) -> Plan:
    axes = composer.axes
    other_axes = [axis for axis in axes if not axis.is_params]
    first = composer.definition(tuple(str(axis.values[0]) for axis in other_axes))
    launch_seed = first.fields.get("seed")
    if launch_seed is None:
        launch_seed = draw_seed()

    specs: list[RunSpec] = []
    definitions: list[Definition] = []
    problems: list[str] = []
    invalid_runs = 0
    seeds_by_definition: dict[int, list[int]] = {}
    checks: dict[int, PointCheck] = {}
    # Top-level params keys the sweep changes; empty when a nested key is swept.
    swept = tuple(axis.param_path[0] for axis in axes if axis.is_params)
    if any(len(axis.param_path) > 1 for axis in axes if axis.is_params):
        swept = ()
    for combo in itertools.product(*(axis.values for axis in axes)):
        choices = tuple(str(v) for axis, v in zip(axes, combo, strict=True) if not axis.is_params)
        definition = composer.definition(choices)
        params = definition.params
        point: dict[str, Any] = {}
        for axis, value in zip(axes, combo, strict=True):
            if axis.is_params:
                _set_path(params, axis.param_path, value)
                point[axis.key] = value
            else:
                point[axis.key] = axis.shown[axis.values.index(value)]
        check = checks.get(id(definition))
        if check is None:
            check = checks[id(definition)] = PointCheck(definition.params_validator, params)
        found = (
            []
            if check.is_valid(params, swept)
            else problems_of(
                params,
                definition.params_validator,
                prefix=("params",),
                where=definition.sources.where,
            )
        )
        if found:
            invalid_runs += 1
            where = f" (sweep point {_show_point(point)})" if point else ""
            problems.extend(p + where for p in found if len(problems) < MAX_PROBLEMS)
            continue
        seeds = seeds_by_definition.get(id(definition))
        if seeds is None:
            own_seed = definition.fields.get("seed")
            seed = launch_seed if own_seed is None else own_seed
            seeds = seeds_by_definition[id(definition)] = repeat_seeds(
                seed, definition.fields["repeat"]
            )
        fields, workflow = definition.fields, definition.workflow
        timeout = _first(fields.get("timeout"), workflow.timeout)
        retries = int(_first(fields.get("retries"), workflow.retries))
        cache = bool(_first(fields.get("cache"), workflow.cache))
        for repeat_index, run_seed in enumerate(seeds):
            specs.append(
                RunSpec(
                    id=uuid.uuid4().hex,
                    index=len(specs),
                    workflow_id=definition.workflow.id,
                    workflow_version=definition.workflow.version,
                    entrypoint=definition.workflow.entrypoint,
                    params=params,
                    seed=run_seed,
                    repeat_index=repeat_index,
                    point=point,
                    timeout=timeout,
                    retries=retries,
                    cache=cache,
                )
            )
            definitions.append(definition)
    if problems:
        more = f"; {invalid_runs} runs invalid in all" if invalid_runs > 1 else ""
        raise ValidationError(f"invalid params{more}:", problems=_unique(problems))
    return Plan(base=first, seed=launch_seed, specs=specs, definitions=definitions, axes=axes)


def _first(given: Any, declared: Any) -> Any:
    """The run definition's value when it sets one, else the workflow declaration's."""
    return declared if given is None else given


def _set_path(params: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = params
    for key in path[:-1]:
        child = node.get(key)
        node[key] = child = dict(child) if isinstance(child, dict) else {}
        node = child
    node[path[-1]] = value


def _show_point(point: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items())


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
