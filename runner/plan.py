"""Plan a launch: the cartesian product of sweep values (Hydra's order) x repeats, each run with its seed."""

from __future__ import annotations

import itertools
import math
import os
import random
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
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
from runner.entrypoints import Workflow, code_of
from runner.errors import CompositionError, DefinitionError, ValidationError
from runner.inputs import InputError, from_json
from runner.records import (
    IndexPlan,
    LaunchRecord,
    RunBlock,
    RunSpec,
    Sets,
    Specs,
    with_sets,
)
from runner.validate import UNKNOWN_KEY, PointCheck, bounded, problems_of

SEED_BITS = 63  # seeds are non-negative 64-bit integers, so SQLite stores them exactly
MAX_PROBLEMS = 20  # past this many invalid runs, the message says how many more


# A launch of up to this many runs keeps its specs once planned; a bigger one plans them
# again each time they are read (its ids, seeds and params follow from its indexes), so its
# memory does not grow with the number of runs, and (made from its indexes) records its runs
# as they run: 10,000 runs start running at once, not after they are all recorded.
KEPT_SPECS = 2_000
ID_BLOCK = 10_000  # ids are drawn sorted, in blocks of this many runs (see run_ids)


@dataclass
class Plan:
    """The runs of one launch, in plan order, and the seed they derive from. The runs are
    planned lazily: `specs` makes them as they are read."""

    base: Definition  # the first run's definition: the launch's name, tags, launcher...
    seed: int
    axes: list[Axis]  # what the launch sweeps, in Hydra's order
    count: int  # the number of runs
    planner: _Planner
    # What the store keeps so that any run's params follow from its index, when they do: a
    # launch of one definition whose sweep sets values at their paths (see by_index).
    by_index: dict[str, Any] | None = None

    @property
    def launch_id(self) -> str:
        # Like Accio: a lone run has no parent, so the launch and its run share one id.
        return self.specs[0].id if self.count == 1 else self._parent_id

    @property
    def specs(self) -> Specs:
        return self._specs

    @property
    def codes(self) -> dict[str, str]:
        """Workflow spec -> the hash of the code it runs, for each workflow of the launch."""
        return self.planner.codes

    @property
    def workflows(self) -> list[Workflow]:
        return list(self.planner.workflows.values())

    def __post_init__(self) -> None:
        self._parent_id = new_id()
        self._specs = Specs(self.count, self.planner.specs, self.planner.kept)


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


def run_ids(key: int, count: int, start: int = 0) -> Iterator[str]:
    """The ids of a launch's runs from index `start`: 32 random hex characters each, made
    again the same from `key` (a lazy plan is read more than once: the ids printed must be
    the ids recorded). The runs' ids are sorted by index, block by block of ID_BLOCK runs,
    each block drawn from its own slice of the id space: SQLite then inserts a million runs
    into its id index in order (7 us a run) rather than at random places (25 us a run, and
    more as the store grows). They are as random as before to anyone reading one."""
    blocks = max(1, -(-count // ID_BLOCK))
    space = 1 << 128
    for block in range(start // ID_BLOCK, blocks):
        low, high = space * block // blocks, space * (block + 1) // blocks
        size = min(ID_BLOCK, count - block * ID_BLOCK)
        bits, width = random.Random(f"{key}:{block}").getrandbits, high - low
        ids = sorted([low + (bits(128) * width >> 128) for _ in range(size)])
        skip = start - block * ID_BLOCK if block == start // ID_BLOCK else 0
        yield from [f"{value:032x}" for value in ids[skip:]]


def plan_runs(
    composer: Composer, on_first: Callable[[Definition, int], None] | None = None
) -> Plan:
    """Compose, validate and count the launch's runs; they are made as `Plan.specs` is read.
    Every run is valid when this returns (else a ValidationError names every problem), and
    nothing was kept but a few definitions, so a million-run sweep is checked in constant
    memory. `on_first`: called with the definition of the first valid run and the number of
    runs the launch will make, before the others are checked, so that a launcher can get
    ready."""
    planner = _Planner(composer)
    count = planner.check(on_first)
    base = planner.first
    return Plan(
        base=base,
        seed=planner.launch_seed,
        axes=planner.axes,
        count=count,
        planner=planner,
        by_index=planner.by_index(),
    )


class _Planner:
    """Makes a launch's runs in plan order: the cartesian product of the sweep axes (Hydra's
    order), each point once per repeat, each run with its id and seed."""

    def __init__(self, composer: Composer) -> None:
        self.composer = composer
        self.axes = axes = composer.axes
        other_axes = [axis for axis in axes if not axis.is_params]
        self.first = first = composer.definition(tuple(str(axis.values[0]) for axis in other_axes))
        self.max_runs = composer.request.max_runs
        self.points = math.prod(len(axis.values) for axis in axes)
        _check_count(self.points * int(first.fields["repeat"]), self.points, first, self.max_runs)
        seed = first.fields.get("seed")
        self.launch_seed = draw_seed() if seed is None else seed
        self.id_key = secrets.randbits(64)
        self.count = 0
        self.kept: list[RunSpec] | None = None
        # Per definition, how its points get their params: Hydra's application (exact), or
        # values set at their paths, then interpolations resolved when there are some.
        self._how: dict[int, tuple[bool, PointResolver | None, tuple[str, ...]]] = {}
        self._checks: dict[int, PointCheck] = {}
        self._per_run: dict[int, tuple[Any, ...]] = {}
        # Workflow spec -> the hash of the code it runs, once per launch (entrypoints.code_of).
        self.codes: dict[str, str] = {}
        self.workflows: dict[str, Workflow] = {}  # every workflow the launch runs, by spec
        self.root = composer.space.project.root
        # Top-level params keys the sweep changes; empty when a nested key is swept.
        swept = tuple(axis.param_path[0] for axis in axes if axis.is_params)
        if any(len(axis.param_path) > 1 for axis in axes if axis.is_params):
            swept = ()
        self.swept = swept
        # Per axis, once: (key, params path or None, shown value by value).
        self.plan_axes = [
            (axis.key, axis.param_path, {})
            if axis.is_params
            else (axis.key, None, dict(zip(axis.values, axis.shown, strict=True)))
            for axis in axes
        ]
        # Which places of a combination hold config-group choices (the others are params).
        self.group_places = [i for i, axis in enumerate(axes) if not axis.is_params]

    # -- per definition, once ---------------------------------------------------------------

    def how(self, definition: Definition) -> tuple[bool, PointResolver | None, tuple[str, ...]]:
        mode = self._how.get(id(definition))
        if mode is None:
            exact = needs_hydra(definition, self.axes)
            resolver = (
                PointResolver(definition.fields, definition.raw_params)
                if definition.interpolates and not exact
                else None
            )
            # The top-level keys a point changes: the swept ones and those that interpolate.
            changed = () if exact or not self.swept else self.swept
            if resolver is not None and changed:
                changed = (*changed, *(leaf[0] for leaf in resolver.leaves))
            mode = self._how[id(definition)] = (exact, resolver, changed)
        return mode

    def check_of(self, definition: Definition) -> PointCheck:
        check = self._checks.get(id(definition))
        if check is None:
            check = self._checks[id(definition)] = PointCheck(
                definition.params_validator, definition.params
            )
        return check

    def per_run(self, definition: Definition) -> tuple[Any, ...]:
        per_run = self._per_run.get(id(definition))
        if per_run is None:
            # A swept repeat (repeat=1,1000000) changes the count: checked before the seeds.
            repeat = int(definition.fields["repeat"])
            _check_count(self.points * repeat, self.points, definition, self.max_runs)
            per_run = _per_run(definition, self.launch_seed)
            workflow = definition.workflow
            code = self.codes.get(workflow.spec)
            if code is None:
                code = self.codes[workflow.spec] = code_of(workflow, self.root)
                self.workflows[workflow.spec] = workflow
            per_run = self._per_run[id(definition)] = (*per_run, code)
        return per_run

    def by_index(self) -> dict[str, Any] | None:
        """What makes any run's params from its index alone, when the launch is one
        definition whose sweep sets values at their paths and nothing interpolates; the store
        keeps it once and each run's params column empty (see records.IndexPlan)."""
        if self.group_places:
            return None
        exact, resolver, _ = self.how(self.first)
        if exact or resolver is not None:
            return None
        seeds, workflow, _, _, cache, code = self.per_run(self.first)
        return {
            "params": self.first.params,
            "axes": [[list(axis.param_path), axis_json(axis.values)] for axis in self.axes],
            "repeat": len(seeds),
            "seeds": seeds,
            "ids": [self.id_key, self.count],
            "entrypoint": workflow.entrypoint,
            "cache": cache,
            "code": code,
        }

    # -- checking ---------------------------------------------------------------------------

    def check(self, on_first: Callable[[Definition, int], None] | None) -> int:
        """Validate every run and count them; raises a ValidationError naming the problems."""
        first = self.first
        if self._by_axis_value(first):
            self.count = self.points * int(first.fields["repeat"])
            self.per_run(first)
            if on_first is not None:
                on_first(first, self.count)
            if self.count <= KEPT_SPECS:
                self.kept = list(self.specs())
            return self.count
        problems: dict[str, list[str]] = {}  # problem -> the sweep points that have it
        invalid = 0
        kept: list[tuple[Definition, tuple[Any, ...], dict[str, Any], dict[str, Any] | None]] = []
        count = 0
        for definition, combo, point, params in self._points(full=True):
            assert params is not None
            found = self._problems(definition, params)
            if found:
                invalid += 1
                for problem in found:
                    problems.setdefault(problem, []).append(_show_point(point))
                continue
            if on_first is not None and count == 0:
                on_first(definition, self.points * int(definition.fields["repeat"]))
            count += len(self.per_run(definition)[0])
            if len(kept) <= KEPT_SPECS:
                kept.append((definition, combo, point, params))
        if problems:
            more = f"; {invalid} sweep points invalid in all" if invalid > 1 else ""
            raise ValidationError(
                f"invalid params{more}:",
                problems=bounded([_at_points(p, at) for p, at in problems.items()]),
                hint=unknown_key_hint(first.workflow)
                if any(UNKNOWN_KEY in p for p in problems)
                else None,
            )
        self.count = count
        if count <= KEPT_SPECS:  # planned once: made into runs now, not planned again
            self.kept = list(self._runs(iter(kept)))
        return count

    def _by_axis_value(self, definition: Definition) -> bool:
        """Whether every run is valid, known by checking each axis value once: true for one
        definition whose sweep changes top-level keys of a simple schema (see PointCheck).
        False when that cannot tell, or when a value is invalid (the caller then checks each
        point, for the messages)."""
        if self.group_places:
            return False
        exact, resolver, changed = self.how(definition)
        check = self.check_of(definition)
        if exact or resolver is not None or not changed or not check.simple:
            return False
        if definition.rich_params and rich_problems(definition.params, definition):
            return False
        rich = {name for name, _ in definition.rich_params}
        for axis in self.axes:
            key = axis.param_path[0]
            if not check.values_are_valid(key, axis.values):
                return False
            if key in rich and any(rich_problems({key: v}, definition) for v in axis.values):
                return False
        return True

    def _problems(self, definition: Definition, params: dict[str, Any]) -> list[str]:
        _, _, changed = self.how(definition)
        check = self.check_of(definition)
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
        return found

    # -- making runs ------------------------------------------------------------------------

    def _points(
        self, *, full: bool
    ) -> Iterator[tuple[Definition, tuple[Any, ...], dict[str, Any], dict[str, Any] | None]]:
        """(definition, combination, shown point, params) of each sweep point in Hydra's
        order. `full`: params made for every point; else None where the run's sweep values
        (set on its definition's params) are enough."""
        axes, plan_axes, group_places = self.axes, self.plan_axes, self.group_places
        composer = self.composer
        for combo in itertools.product(*(axis.values for axis in axes)):
            choices = tuple(str(combo[i]) for i in group_places) if group_places else ()
            definition = composer.definition(choices)
            exact, resolver, _ = self.how(definition)
            point: dict[str, Any] = {}
            for (key, path, shown), value in zip(plan_axes, combo, strict=True):
                point[key] = value if path is not None else shown[value]
            if exact:
                overrides = [
                    axis.override(value)
                    for axis, value in zip(axes, combo, strict=True)
                    if axis.is_params
                ]
                yield (
                    definition,
                    combo,
                    point,
                    definition.apply_point(overrides, _show_point(point)),
                )
            elif resolver is not None:
                sets = _sets(plan_axes, combo)
                resolved = resolver.resolved(sets, f"sweep point {_show_point(point)}")
                yield definition, combo, point, with_sets(definition.params, (*sets, *resolved))
            elif full:
                yield (
                    definition,
                    combo,
                    point,
                    with_sets(definition.params, _sets(plan_axes, combo)),
                )
            else:
                yield definition, combo, point, None

    def specs(self) -> Iterator[RunSpec]:
        by_index = self.by_index()
        if by_index is None:
            return self._runs(self._points(full=False))
        return self._indexed_runs(IndexPlan.from_json(by_index))

    def _indexed_runs(self, plan: IndexPlan) -> Iterator[RunSpec]:
        """The runs of one definition whose sweep sets values at their paths, made from their
        indexes as a streamed launch makes them (index_blocks): a million plan in a second."""
        seeds, workflow, timeout, retries, cache, code = self.per_run(self.first)
        template = RunSpec(
            "",
            0,
            workflow.id,
            workflow.version,
            workflow.entrypoint,
            plan.params,
            seeds[0],
            0,
            timeout,
            retries,
            cache,
            code=code,
        )
        for block in index_blocks(plan, template, 0, ID_BLOCK):
            yield from block.specs()

    def _runs(
        self,
        points: Iterator[tuple[Definition, tuple[Any, ...], dict[str, Any], dict[str, Any] | None]],
    ) -> Iterator[RunSpec]:
        ids = run_ids(self.id_key, self.count)
        plan_axes = self.plan_axes
        index = 0
        shared: dict[int, dict[str, Any]] = {}  # each definition's params, made once
        for definition, combo, _point, params in points:
            seeds, workflow, timeout, retries, cache, code = self.per_run(definition)
            if params is None:
                base = shared.get(id(definition))
                if base is None:
                    base = shared[id(definition)] = definition.params
                sets = _sets(plan_axes, combo)
            else:
                base, sets = params, ()
            for repeat_index, run_seed in enumerate(seeds):
                yield RunSpec(
                    next(ids),
                    index,
                    workflow.id,
                    workflow.version,
                    workflow.entrypoint,
                    base,
                    run_seed,
                    repeat_index,
                    timeout,
                    retries,
                    cache,
                    sets,
                    code,
                )
                index += 1


def _sets(plan_axes: list[Any], combo: tuple[Any, ...]) -> Sets:
    return tuple(
        (path, value)
        for (_key, path, _shown), value in zip(plan_axes, combo, strict=True)
        if path is not None
    )


class PointResolver:
    """Resolves the interpolations of a definition's params at each sweep point (or search
    trial), so that `${params.x}` follows x. One OmegaConf config per definition: each point
    sets its values on it and reads back only the interpolating values (a config per point
    would cost milliseconds). `fields` are the definition's (its params aside: `raw_params`
    are them unresolved)."""

    def __init__(self, fields: Mapping[str, Any], raw_params: dict[str, Any]) -> None:
        from omegaconf import OmegaConf

        context = {k: v for k, v in fields.items() if k != "params"}
        self.cfg = OmegaConf.create({**context, "params": raw_params})
        self.leaves = list(_interpolating_paths(raw_params, ()))

    def resolved(self, sets: Sets, point: str) -> Sets:
        """The interpolating values where a point's values are `sets`, as values to set;
        `point` names it in messages."""
        from omegaconf import Container, OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        from runner.composer import hydra_message

        found = []
        try:
            for path, value in sets:
                OmegaConf.update(self.cfg, ".".join(("params", *path)), value, merge=False)
            for leaf in self.leaves:
                value = OmegaConf.select(self.cfg, ".".join(("params", *leaf)))
                if isinstance(value, Container):
                    value = OmegaConf.to_container(value, resolve=True)
                found.append((leaf, value))
        except OmegaConfBaseException as exc:
            raise CompositionError(
                f"cannot resolve the params at {point}: {hydra_message(exc)}"
            ) from exc
        return tuple(found)


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
        if not isinstance(axis.values, range) and any(  # (a range holds only ints)
            isinstance(v, dict | str | list) and (isinstance(v, dict) or has_interpolation(v))
            for v in axis.values
        ):
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


def _per_run(definition: Definition, launch_seed: int) -> tuple[Any, ...]:
    """What every run of one definition shares: seeds by repeat index, workflow, limits
    (and then, added by the planner, its workflow's code hash)."""
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


def index_specs(plan: IndexPlan, launch: LaunchRecord, start: int) -> Iterator[RunSpec]:
    """The runs of a launch planned by index, from index `start`: what a launch stopped
    before it recorded them all (its launcher killed) resumes with. Made as they were."""
    for block in index_blocks(plan, index_template(plan, launch), start, ID_BLOCK):
        yield from block.specs()


def index_template(plan: IndexPlan, launch: LaunchRecord) -> RunSpec:
    """What every run of a launch planned by index shares (as its run 0)."""
    definition = launch.definition
    return RunSpec(
        "",
        0,
        launch.workflow_id,
        launch.workflow_version,
        plan.entrypoint,
        plan.params,
        plan.seeds[0],
        0,
        definition.get("timeout"),
        int(definition.get("retries") or 0),
        plan.cache,
        code=plan.code,
    )


def index_blocks(plan: IndexPlan, template: RunSpec, start: int, size: int) -> Iterator[RunBlock]:
    """The runs of a launch planned by index from index `start`, `size` at a time, as
    columns: the same ids, seeds and params as the planner makes them one by one."""
    ids = run_ids(plan.id_key, plan.count, start)
    repeat, seeds, axes = plan.repeat, plan.seeds, plan.axes
    for first in range(start, plan.count, size):
        indexes = range(first, min(first + size, plan.count))
        if repeat == 1:
            block_seeds = [seeds[0]] * len(indexes)
        else:
            block_seeds = [seeds[index % repeat] for index in indexes]
        if len(axes) == 1:  # the common sweep, without a call per run
            ((path, values),) = axes
            sets: list[Sets] = [((path, values[index // repeat]),) for index in indexes]
        else:
            sets = [plan.sets(index) for index in indexes]
        block_ids = list(itertools.islice(ids, len(indexes)))
        yield RunBlock(template, first, block_ids, block_seeds, sets, repeat)


def axis_json(values: Sequence[Any]) -> Any:
    """An axis's values as a launch's plan keeps them: a range as its bounds."""
    if isinstance(values, range):
        return {"range": [values.start, values.stop, values.step]}
    return list(values)
