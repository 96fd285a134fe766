"""Plan a launch: the cartesian product of sweep values (Hydra's order) x repeats, each run with its seed."""

from __future__ import annotations

import itertools
import math
import os
import random
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from hydra.core.override_parser.types import OverrideType

from runner.composer import (
    Axis,
    Composer,
    Definition,
    count,
    has_interpolation,
    has_path,
    unknown_key_hint,
)
from runner.errors import CompositionError, DefinitionError, ValidationError
from runner.inputs import InputError, from_json
from runner.records import RunSpec
from runner.validate import UNKNOWN_KEY, PointCheck, bounded, problems_of

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
        self._parent_id = new_id()


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


def plan_runs(
    composer: Composer, on_first: Callable[[Definition, int], None] | None = None
) -> Plan:
    """`on_first`: called with the definition of the first valid run and the number of runs
    the launch will make, before the others are planned, so that a launcher can get ready."""
    axes = composer.axes
    other_axes = [axis for axis in axes if not axis.is_params]
    first = composer.definition(tuple(str(axis.values[0]) for axis in other_axes))
    max_runs = composer.request.max_runs
    points = math.prod(len(axis.values) for axis in axes)
    _check_count(points * int(first.fields["repeat"]), points, first, max_runs)
    launch_seed = first.fields.get("seed")
    if launch_seed is None:
        launch_seed = draw_seed()

    specs: list[RunSpec] = []
    definitions: list[Definition] = []
    problems: dict[str, list[str]] = {}  # problem -> the sweep points that have it
    invalid_runs = 0
    per_definition: dict[int, tuple[Any, ...]] = {}
    checks: dict[int, PointCheck] = {}
    # Per definition, how its points get their params: Hydra's application (None), or
    # values set at their paths, then interpolations resolved when there are some.
    how: dict[int, tuple[bool, PointResolver | None, tuple[str, ...]]] = {}
    # Top-level params keys the sweep changes; empty when a nested key is swept.
    swept = tuple(axis.param_path[0] for axis in axes if axis.is_params)
    if any(len(axis.param_path) > 1 for axis in axes if axis.is_params):
        swept = ()
    # Per axis, once: (key, params path or None, shown value by value).
    plan_axes = [
        (axis.key, axis.param_path, {})
        if axis.is_params
        else (axis.key, None, dict(zip(axis.values, axis.shown, strict=True)))
        for axis in axes
    ]
    # Which places of a combination hold config-group choices (the others are params values).
    group_places = [i for i, axis in enumerate(axes) if not axis.is_params]
    ids = _ids()
    for combo in itertools.product(*(axis.values for axis in axes)):
        choices = tuple(str(combo[i]) for i in group_places) if group_places else ()
        definition = composer.definition(choices)
        mode = how.get(id(definition))
        if mode is None:
            exact = needs_hydra(definition, axes)
            resolver = PointResolver(definition) if definition.interpolates and not exact else None
            # The top-level keys a point changes: the swept ones and those that interpolate.
            changed = () if exact or not swept else swept
            if resolver is not None and changed:
                changed = (*changed, *(leaf[0] for leaf in resolver.leaves))
            mode = how[id(definition)] = (exact, resolver, changed)
        exact, resolver, changed = mode
        point: dict[str, Any] = {}
        if exact:
            overrides = []
            for axis, (key, path, shown), value in zip(axes, plan_axes, combo, strict=True):
                if path is not None:
                    overrides.append(axis.override(value))
                    point[key] = value
                else:
                    point[key] = shown[value]
            params = definition.apply_point(overrides, _show_point(point))
        else:
            params = definition.params
            for (key, path, shown), value in zip(plan_axes, combo, strict=True):
                if path is not None:
                    _set_path(params, path, value)
                    point[key] = value
                else:
                    point[key] = shown[value]
            if resolver is not None:
                resolver.resolve(params, plan_axes, combo, _show_point(point))
        check = checks.get(id(definition))
        if check is None:
            check = checks[id(definition)] = PointCheck(
                definition.params_validator, definition.params
            )
        found = (
            []
            if check.is_valid(params, changed)
            else problems_of(
                params,
                definition.params_validator,
                prefix=("params",),
                where=definition.sources.where,
            )
        )
        if definition.rich_params and not found:
            found = rich_problems(params, definition)
        if found:
            invalid_runs += 1
            for problem in found:
                problems.setdefault(problem, []).append(_show_point(point))
            continue
        if on_first is not None and not specs:
            on_first(definition, points * int(definition.fields["repeat"]))
        per_run = per_definition.get(id(definition))
        if per_run is None:
            # A swept repeat (repeat=1,1000000) changes the count: checked before the seeds.
            _check_count(points * int(definition.fields["repeat"]), points, definition, max_runs)
            per_run = per_definition[id(definition)] = _per_run(definition, launch_seed)
        seeds, workflow, timeout, retries, cache = per_run
        for repeat_index, run_seed in enumerate(seeds):
            specs.append(
                RunSpec(
                    id=next(ids),
                    index=len(specs),
                    workflow_id=workflow.id,
                    workflow_version=workflow.version,
                    entrypoint=workflow.entrypoint,
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
        more = f"; {invalid_runs} sweep points invalid in all" if invalid_runs > 1 else ""
        raise ValidationError(
            f"invalid params{more}:",
            problems=bounded([_at_points(p, at) for p, at in problems.items()]),
            hint=unknown_key_hint(first.workflow)
            if any(UNKNOWN_KEY in p for p in problems)
            else None,
        )
    return Plan(base=first, seed=launch_seed, specs=specs, definitions=definitions, axes=axes)


class PointResolver:
    """Resolves the interpolations of a definition's params at each sweep point, so that
    `${params.x}` follows x. One OmegaConf config per definition: each point sets its swept
    values on it and reads back only the interpolating values (a config per point would cost
    milliseconds)."""

    def __init__(self, definition: Definition) -> None:
        from omegaconf import OmegaConf

        context = {k: v for k, v in definition.fields.items() if k != "params"}
        self.cfg = OmegaConf.create({**context, "params": definition.raw_params})
        self.leaves = list(_interpolating_paths(definition.raw_params, ()))

    def resolve(
        self, params: dict[str, Any], plan_axes: list[Any], combo: tuple[Any, ...], point: str
    ) -> None:
        from omegaconf import Container, OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        from runner.composer import hydra_message

        try:
            for (_key, path, _shown), value in zip(plan_axes, combo, strict=True):
                if path is not None:
                    OmegaConf.update(self.cfg, ".".join(("params", *path)), value, merge=False)
            for leaf in self.leaves:
                value = OmegaConf.select(self.cfg, ".".join(("params", *leaf)))
                if isinstance(value, Container):
                    value = OmegaConf.to_container(value, resolve=True)
                _set_path(params, leaf, value)
        except OmegaConfBaseException as exc:
            raise CompositionError(
                f"cannot resolve the params at sweep point {point}: {hydra_message(exc)}"
            ) from exc


def _interpolating_paths(node: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """The paths of the values that interpolate (a list that holds one counts as one value)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _interpolating_paths(value, (*path, str(key)))
    elif has_interpolation(node):
        yield path


def _check_count(runs: int, points: int, definition: Definition, max_runs: int) -> None:
    """A launch's size is known before it is built: past the limit, nothing is planned."""
    if runs > max_runs:
        repeat = definition.fields["repeat"]
        shown = f"{count(points)} sweep point{'s' * (points != 1)} x repeat {count(repeat)}"
        raise DefinitionError(
            f"this launch would make {count(runs)} runs ({shown}),"
            f" more than the limit of {max_runs:,}; raise it with --max-runs N (or"
            " RUNNER_MAX_RUNS, or max_runs= in the API) if you mean it"
        )


def needs_hydra(definition: Definition, axes: list[Axis]) -> bool:
    """Whether a definition's sweep points need Hydra's override application (see
    Definition.apply_point) rather than values set at their paths, which give the same
    params only when every params axis changes an existing key to a value that is not a
    mapping (mappings merge into the existing one) and holds no interpolation."""
    for axis in axes:
        if not axis.is_params:
            continue
        if axis.kind is not OverrideType.CHANGE or not has_path(
            definition.raw_params, axis.param_path
        ):
            return True
        if any(isinstance(v, dict) or has_interpolation(v) for v in axis.values):
            return True
    return False


def rich_problems(params: dict[str, Any], definition: Definition) -> list[str]:
    """Params of rich types (dates, durations, enums, dataclasses...) that will not convert."""
    problems = []
    for name, annotation in definition.rich_params:
        if name in params:
            try:
                from_json(params[name], annotation)
            except InputError as exc:
                text = f"params.{name}: {params[name]!r} is not {exc}"
                source = definition.sources.where(("params", name))
                problems.append(f"{text} (from {source})" if source else text)
    return problems


def new_id() -> str:
    """A run or launch id: 32 random hex characters (cheaper than uuid4, as random)."""
    return os.urandom(16).hex()


def _ids() -> Iterator[str]:
    """New ids, as new_id makes them, from the OS's random bytes 1,024 at a time."""
    while True:
        text = os.urandom(16 * 1024).hex()
        for start in range(0, len(text), 32):
            yield text[start : start + 32]


def _per_run(definition: Definition, launch_seed: int) -> tuple[Any, ...]:
    """What every run of one definition shares: seeds by repeat index, workflow, limits."""
    fields, workflow = definition.fields, definition.workflow
    own_seed = fields.get("seed")
    seeds = repeat_seeds(launch_seed if own_seed is None else own_seed, fields["repeat"])
    return (
        seeds,
        workflow,
        _first(fields.get("timeout"), workflow.timeout),
        int(_first(fields.get("retries"), workflow.retries)),
        bool(_first(fields.get("cache"), workflow.cache)),
    )


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


def _at_points(problem: str, points: list[str]) -> str:
    """A problem once, with the sweep points that have it (the first three, then a count)."""
    points = [p for p in points if p]
    if not points:
        return problem
    if len(points) == 1:
        return f"{problem} (sweep point {points[0]})"
    shown = "; ".join(points[:3])
    more = f" and {len(points) - 3} more" if len(points) > 3 else ""
    return f"{problem} ({len(points)} sweep points: {shown}{more})"
