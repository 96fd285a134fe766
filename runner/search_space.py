"""A search's definition as plain values: the space its trials' params are drawn from
(`Dimension`, from Hydra's sweep grammar) and how it searches (`SearchConfig`, from the
`search` config group), checked whole before anything runs. The controller turns them into
Optuna's objects; nothing here imports Optuna (an optional extra)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any, Literal, cast

from runner import validate
from runner.errors import CompositionError, DefinitionError, UsageError, ValidationError
from runner.inputs import InputError, from_json

if TYPE_CHECKING:
    from hydra.core.override_parser.types import Override

    from runner.composer import Definition

# The built-in options of the `search` config group (conf/search/), one per Optuna sampler.
SAMPLERS = ("random", "tpe", "cmaes", "gp", "qmc", "nsga2", "grid")
SAMPLER_CLASSES = {
    "random": "RandomSampler",
    "tpe": "TPESampler",
    "cmaes": "CmaEsSampler",
    "gp": "GPSampler",
    "qmc": "QMCSampler",
    "nsga2": "NSGAIISampler",
    "grid": "GridSampler",
}
PRUNERS = ("median", "hyperband", "successive_halving")
# An objective that ends in one of these is a metric's summary (val_loss.min); any other
# is a key of the run's result (acc, or acc.test in a nested one).
SUMMARIES = ("min", "last", "max")
EXTRA = "pip install 'runner-launch[search]'"
# Packages a sampler needs that Optuna does not install with itself.
SAMPLER_NEEDS = {"cmaes": ("cmaes",), "gp": ("torch", "scipy"), "qmc": ("scipy",)}
SINGLE_OBJECTIVE = ("cmaes",)  # Optuna's CMA-ES refuses a study of several objectives
DESCRIBE_WIDTH = 80  # `runner show` at 80 columns

Kind = Literal["float", "int", "categorical"]
KINDS: tuple[Kind, ...] = ("float", "int", "categorical")


@dataclass(frozen=True)
class Dimension:
    """One param the search draws, as Optuna's distributions take it: bounds inclusive.

    `range(2,8)` is int 2..7 step 1 (a range's upper bound is excluded, as in a grid);
    `interval(a,b)` is float a..b; `int(interval(a,b))` int a..b; `tag(log, ...)` log-scaled;
    `choice(a,b)` and `a,b` categorical (low and high None, step None)."""

    key: str  # the override's key: params.lr, params.opt.momentum
    kind: Kind
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None  # None: continuous (float) or 1 (int)
    choices: tuple[Any, ...] = ()  # categorical: None, bool, int, float or str each
    line: str = ""  # the override as written, for messages

    @property
    def path(self) -> tuple[str, ...]:
        """Where the value goes in a run's params."""
        return tuple(self.key.split("."))[1:]

    @property
    def discrete(self) -> bool:
        """Whether a grid can enumerate it."""
        return self.kind != "float" or self.step is not None

    @property
    def size(self) -> int | None:
        """How many values it has; None when continuous."""
        if self.kind == "categorical":
            return len(self.choices)
        if not self.discrete:
            return None
        assert self.low is not None and self.high is not None
        step = _decimal(self.step or 1)
        return int((_decimal(self.high) - _decimal(self.low)) / step) + 1

    @property
    def edges(self) -> tuple[Any, ...]:
        """The values that stand for the whole dimension when it is checked against the
        params schema: its bounds, or each of its choices."""
        if self.kind == "categorical":
            return self.choices
        return (self.low,) if self.low == self.high else (self.low, self.high)

    @property
    def first(self) -> Any:
        """A value of the dimension: its low bound or first choice."""
        return self.choices[0] if self.kind == "categorical" else self.low

    def values(self) -> tuple[Any, ...]:
        """Every value of a discrete dimension, in order (a grid's points along it)."""
        if self.kind == "categorical":
            return self.choices
        size = self.size
        if size is None:
            raise ValueError(f"{self.key} is continuous: it has no list of values")
        assert self.low is not None
        if self.kind == "int":
            low, step = int(self.low), int(self.step or 1)
            return tuple(range(low, low + size * step, step))
        start, by = _decimal(self.low), _decimal(self.step or 1)
        return tuple(float(start + i * by) for i in range(size))

    @property
    def written(self) -> str:
        """The value part of the override as written (interval(0,1), a,b)."""
        return self.line.split("=", 1)[1] if "=" in self.line else self.line

    def describe(self) -> str:
        """The distribution in words: `float in [1e-05, 0.1], log scale`."""
        if self.kind == "categorical":
            return f"one of {len(self.choices)}: " + ", ".join(shown(c) for c in self.choices)
        text = f"{self.kind} in [{shown(self.low)}, {shown(self.high)}]"
        if self.step is not None and not (self.kind == "int" and self.step == 1):
            text += f", step {shown(self.step)}"
        if self.log:
            text += ", log scale"
        if _is_range(self):
            text += f", {self.written.strip()}"
        return text

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["choices"] = list(self.choices)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Dimension:
        kind = str(data["kind"])
        if kind not in KINDS:
            raise ValueError(f"a dimension's kind is one of {', '.join(KINDS)}, not {kind!r}")
        return cls(
            key=str(data["key"]),
            kind=cast(Kind, kind),
            low=data.get("low"),
            high=data.get("high"),
            log=bool(data.get("log", False)),
            step=data.get("step"),
            choices=tuple(data.get("choices") or ()),
            line=str(data.get("line", "")),
        )


@dataclass(frozen=True)
class SearchConfig:
    """How a search searches: its sampler, its stopping rules and its space.

    `objectives` has one entry per direction: "" is the run's return value (with several
    directions, its items in order, as Hydra's Optuna sweeper takes them), a name ending in
    .min/.last/.max a metric's summary (val_loss.min), any other name a result key (acc,
    acc.test). `pruner` is None or a mapping with "name" (one of PRUNERS) and the pruner's
    settings; `sampler_options` the sampler's keyword arguments (never its seed: `seed`,
    None to derive it from the launch seed)."""

    sampler: str
    n_trials: int
    directions: tuple[str, ...]
    objectives: tuple[str, ...]
    max_concurrent: int | None
    max_failure_rate: float
    seed: int | None
    pruner: dict[str, Any] | None
    sampler_options: dict[str, Any]
    space: tuple[Dimension, ...]

    @classmethod
    def of(cls, search: Mapping[str, Any], space: Sequence[Dimension]) -> SearchConfig:
        """The config of a composed definition's `search` mapping (already valid against
        run.schema.json) and its space; what the schema cannot say is checked here."""
        sampler = str(search["sampler"])
        choose = f"search={sampler}"
        direction = search.get("direction", "minimize")
        directions = (direction,) if isinstance(direction, str) else tuple(direction)
        objective = search.get("objective")
        if objective is None:
            objectives: tuple[str, ...] = ("",) * len(directions)
        else:
            objectives = (objective,) if isinstance(objective, str) else tuple(objective)
        if len(objectives) != len(directions):
            raise DefinitionError(
                f"search.objective names {_count(len(objectives), 'objective')} but"
                f" search.direction gives {_count(len(directions), 'direction')}: give one"
                " direction per objective (direction: [minimize, maximize], objective:"
                " [loss, acc])"
            )
        if not space:
            raise DefinitionError(
                f"{choose} has no space to search: make params its dimensions, e.g."
                " 'params.lr=tag(log, interval(1e-5, 1e-1))' 'params.layers=int(interval(2, 8))'"
                " params.opt=adam,sgd"
            )
        if sampler == "grid":
            continuous = [d for d in space if not d.discrete]
            if continuous:
                raise DefinitionError(
                    f"'{continuous[0].line}': {choose} takes discrete dimensions only (choice(),"
                    " range(), a,b lists): interval() has no grid; choose another sampler"
                    " (search=tpe) or list its values (range(0,1,0.1))"
                )
        n_trials = search.get("n_trials")
        if n_trials is None:
            if sampler != "grid":
                raise DefinitionError(
                    f"search.n_trials: null means every point of a grid (search=grid); give"
                    f" {choose} a number of trials (search.n_trials=20)"
                )
            n_trials = math.prod(d.size or 1 for d in space)
        if sampler in SINGLE_OBJECTIVE and len(directions) > 1:
            raise DefinitionError(
                f"{choose} optimises one objective, and search.direction gives"
                f" {len(directions)}; choose search=nsga2 or search=tpe for several"
            )
        pruner = search.get("pruner")
        pruning = {"name": pruner} if isinstance(pruner, str) else pruner
        if pruning is not None and len(directions) > 1:
            raise DefinitionError(
                f"search.pruner={pruning['name']}: Optuna prunes searches of one objective,"
                f" and search.direction gives {len(directions)}; drop the pruner"
                " (search.pruner=null)"
            )
        if pruning is not None and not pruned_metric(pruning, objectives[0]):
            raise DefinitionError(
                f"search.pruner={pruning['name']}: a pruner compares the runs' intermediate"
                f" values, a metric they log with runner.log; name it in the objective"
                f" (search.objective=val_loss.min) or as search.pruner.metric=val_loss"
            )
        options = dict(search.get("sampler_options") or {})
        if "seed" in options:
            raise DefinitionError(
                "search.sampler_options.seed: the sampler's seed is search.seed (null derives"
                " it from the launch seed)"
            )
        if sampler == "grid" and "search_space" in options:
            raise DefinitionError(
                "search.sampler_options.search_space: a grid's space is made of the params"
                " overrides (params.x=1,2,3 or range(...)); remove it"
            )
        return cls(
            sampler=sampler,
            n_trials=int(n_trials),
            directions=tuple(str(d) for d in directions),
            objectives=tuple(str(o) for o in objectives),
            max_concurrent=search.get("max_concurrent"),
            max_failure_rate=float(search.get("max_failure_rate", 0.2)),
            seed=search.get("seed"),
            pruner=dict(pruning) if pruning is not None else None,
            sampler_options=options,
            space=tuple(space),
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON, kept with the launch so that `resume` rebuilds the same study."""
        return {
            "sampler": self.sampler,
            "n_trials": self.n_trials,
            "directions": list(self.directions),
            "objectives": list(self.objectives),
            "max_concurrent": self.max_concurrent,
            "max_failure_rate": self.max_failure_rate,
            "seed": self.seed,
            "pruner": dict(self.pruner) if self.pruner is not None else None,
            "sampler_options": dict(self.sampler_options),
            "space": [d.to_json() for d in self.space],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SearchConfig:
        pruner = data.get("pruner")
        return cls(
            sampler=str(data["sampler"]),
            n_trials=int(data["n_trials"]),
            directions=tuple(data["directions"]),
            objectives=tuple(data["objectives"]),
            max_concurrent=data.get("max_concurrent"),
            max_failure_rate=float(data["max_failure_rate"]),
            seed=data.get("seed"),
            pruner=dict(pruner) if pruner is not None else None,
            sampler_options=dict(data.get("sampler_options") or {}),
            space=tuple(Dimension.from_json(d) for d in data["space"]),
        )

    def settings(self) -> dict[str, Any]:
        """The search as a run file's `search:` mapping (its space aside: `sweeps()`), for
        `runner.launch(..., search=config)` to make the same search again."""
        several = len(self.directions) > 1
        return {
            "sampler": self.sampler,
            "n_trials": self.n_trials,
            "direction": list(self.directions) if several else self.directions[0],
            "objective": (
                None
                if not any(self.objectives)
                else list(self.objectives)
                if several
                else self.objectives[0]
            ),
            "max_concurrent": self.max_concurrent,
            "max_failure_rate": self.max_failure_rate,
            "seed": self.seed,
            "pruner": dict(self.pruner) if self.pruner is not None else None,
            "sampler_options": dict(self.sampler_options),
        }

    def sweeps(self) -> dict[str, Any]:
        """The space as the API's sweep= takes it: each dimension's grammar as it was
        written (interval(0,1), range(2,8)), a categorical one as its list of choices."""
        return {
            d.key: list(d.choices) if d.kind == "categorical" else d.written.strip()
            for d in self.space
        }

    def describe(self) -> list[str]:
        """What `runner show` prints of the search, each line within 80 columns."""
        cls = SAMPLER_CLASSES.get(self.sampler, self.sampler)
        trials = _count(self.n_trials, "trial")
        lines = [
            f"search       {self.sampler} (Optuna's {cls}), {trials}",
            *(
                f"{'objective' if i == 0 else '':<13}{d} {_objective(o, i, len(self.objectives))}"
                for i, (d, o) in enumerate(zip(self.directions, self.objectives, strict=True))
            ),
            f"at once      {self.max_concurrent or 'as many as the launcher runs'}",
            f"failures     stop when more than {self.max_failure_rate:.0%} of finished trials"
            " failed",
            f"seed         {'derived from the launch seed' if self.seed is None else self.seed}",
            f"pruner       {_pruner(self.pruner)}",
        ]
        if self.sampler_options:
            options = ", ".join(f"{k}={shown(v)}" for k, v in self.sampler_options.items())
            lines.append(f"options      {options}")
        lines.append(f"space        {_count(len(self.space), 'dimension')}")
        width = min(max(len(d.key) for d in self.space), 30)
        for d in self.space:
            lines.append(f"  {d.key:<{width}}  {d.describe()}")
        if any(_is_range(d) for d in self.space):
            lines.append("range(a,b) excludes b, as in a grid (Hydra's Optuna sweeper includes it)")
        return [_clip(line) for line in lines]


# -- the grammar ------------------------------------------------------------------------------


def dimension(key: str, override: Override, quoted: str) -> Dimension:
    """The dimension a params sweep override means (Hydra's Optuna sweeper's grammar, with
    range() meaning what it means in a grid). `quoted`: the override as messages name it."""
    from hydra.core.override_parser.types import (
        ChoiceSweep,
        IntervalSweep,
        QuotedString,
        RangeSweep,
        Sweep,
    )

    line = str(override.input_line)
    value = override.value()
    log = "log" in getattr(value, "tags", ())
    if log and not isinstance(value, IntervalSweep):
        raise CompositionError(
            f"{quoted}: tag(log, ...) scales an interval: tag(log, interval(a,b)) or"
            " tag(log, int(interval(a,b)))"
        )
    if isinstance(value, IntervalSweep):
        assert value.start is not None and value.end is not None
        low, high = value.start, value.end
        is_int = isinstance(low, int) and isinstance(high, int)
        _check_bounds(quoted, low, high, log)
        return Dimension(
            key=key,
            kind="int" if is_int else "float",
            low=low,
            high=high,
            log=log,
            step=1 if is_int else None,
            line=line,
        )
    if isinstance(value, RangeSweep):  # shuffle() changes a grid's order, not its values
        return _range(key, value, quoted, line)
    if isinstance(value, ChoiceSweep) and override.value_type is not None:
        if override.value_type.name == "GLOB_CHOICE_SWEEP":
            raise CompositionError(
                f"{quoted}: glob() chooses config group options; a dimension is interval(),"
                " range(), choice() or a,b"
            )
        choices = []
        for item in value.list:
            element = item.text if isinstance(item, QuotedString) else item
            if isinstance(element, Sweep):
                raise CompositionError(
                    f"{quoted}: a choice cannot hold a sweep ({type(element).__name__});"
                    " list its values in one choice()"
                )
            if element is not None and not isinstance(element, str | int | float | bool):
                raise CompositionError(
                    f"{quoted}: a choice of a search is a number, a string, true, false or"
                    f" null, not a {'list' if isinstance(element, list) else 'mapping'}"
                    f" ({json.dumps(element, default=str)[:40]})"
                )
            if isinstance(element, float) and not math.isfinite(element):
                raise CompositionError(f"{quoted}: a choice must be finite, not {element}")
            choices.append(element)
        return Dimension(key=key, kind="categorical", choices=tuple(choices), line=line)
    raise CompositionError(
        f"{quoted}: a dimension is interval(), int(interval()), tag(log, interval()),"
        " range(), choice() or a,b"
    )


def dimension_of_values(key: str, values: Sequence[Any], line: str, quoted: str) -> Dimension:
    """A categorical dimension of Python values (the API's sweep={"x": [1, 2]})."""
    for value in values:
        if value is not None and not isinstance(value, str | int | float | bool):
            raise CompositionError(
                f"{quoted}: a choice of a search is a number, a string, a bool or None, not"
                f" {type(value).__name__}"
            )
    return Dimension(key=key, kind="categorical", choices=tuple(values), line=line)


def _range(key: str, value: Any, quoted: str, line: str) -> Dimension:
    start, stop, step = value.start, value.stop, value.step
    numbers = (start, stop, step)
    if any(isinstance(x, float) and not math.isfinite(x) for x in numbers):
        raise CompositionError(f"{quoted}: range() takes finite numbers")
    if step == 0:
        raise CompositionError(f"{quoted}: range() step must not be 0")
    is_int = all(type(x) is int for x in numbers)
    d_start, d_stop, d_step = (_decimal(x) for x in numbers)
    size = math.ceil((d_stop - d_start) / d_step)
    if size <= 0:
        raise CompositionError(f"{quoted}: range() has no values")
    last = d_start + (size - 1) * d_step
    low, high = min(d_start, last), max(d_start, last)
    if is_int:
        return Dimension(key, "int", int(low), int(high), step=abs(int(step)), line=line)
    return Dimension(key, "float", float(low), float(high), step=float(abs(d_step)), line=line)


def _check_bounds(quoted: str, low: float, high: float, log: bool) -> None:
    if not (math.isfinite(low) and math.isfinite(high)):
        raise CompositionError(f"{quoted}: an interval's bounds must be finite numbers")
    if low > high:
        raise CompositionError(
            f"{quoted}: an interval goes from low to high, and {shown(low)} is above {shown(high)}"
        )
    if log and low <= 0:
        raise CompositionError(f"{quoted}: a log scale needs a low bound above 0, not {shown(low)}")


def check_space(space: Sequence[Dimension], definition: Definition) -> None:
    """Each dimension's bounds (or choices) validated as a run's params would be, so that a
    space the workflow cannot take is refused (exit 2) before anything runs."""
    problems: list[str] = []
    rich = dict(definition.rich_params)
    for d in space:
        at = validate.dotted(("params", *d.path))
        for value in d.edges:
            found = validate.problems_of(
                definition.trial_params({d.key: value}),
                definition.params_validator,
                prefix=("params",),
                where=definition.sources.where,
            )
            if len(d.path) == 1 and d.path[0] in rich and not found:
                try:
                    from_json(value, rich[d.path[0]])
                except InputError as exc:
                    found = [f"{at}: {value!r} is not {exc} (from '{d.line}')"]
            mine = (f"{at}:", f"{at}.", f"{at}[")  # not the problems of other params
            problems += [p for p in found if p.startswith(mine) and p not in problems]
    if problems:
        floats = {validate.dotted(("params", *d.path)) for d in space if d.kind == "float"}
        integral = any("not an integer" in p and p.split(":")[0] in floats for p in problems)
        raise ValidationError(
            f"invalid search space ({_count(len(problems), 'problem')}):",
            problems=validate.bounded(problems),
            hint="int(interval(a,b)) draws integers" if integral else None,
        )


# -- Hydra's Optuna sweeper's spellings ---------------------------------------------------------

# hydra.sweeper.KEY -> runner's key for the same thing.
HYDRA_SWEEPER_KEYS = {
    "n_trials": "search.n_trials",
    "n_jobs": "search.max_concurrent",
    "direction": "search.direction",
    "max_failure_rate": "search.max_failure_rate",
    "sampler.seed": "search.seed",
}
# hydra.sweeper keys that mean nothing here, and why.
HYDRA_SWEEPER_REFUSED = {
    "storage": "runner keeps the study in its own store (runner resume LAUNCH continues it)",
    "study_name": "the study is the launch (name it with --name)",
    "custom_search_space": "runner's space is the params overrides, not a Python function",
    "search_space": "Hydra's old spelling; give the space as overrides: 'params.x=interval(0,1)'",
    "_target_": "the search is runner's own: choose a sampler with search=tpe (or random, ...)",
}
# Hydra's sampler options and _target_ classes -> runner's search options.
HYDRA_SAMPLERS = {
    **{name: name for name in SAMPLERS},
    "nsgaii": "nsga2",
    "motpe": "tpe",  # Optuna folded MOTPESampler into TPESampler, which takes several objectives
    "optuna.samplers.MOTPESampler": "tpe",
    **{f"optuna.samplers.{cls}": name for name, cls in SAMPLER_CLASSES.items()},
}


@dataclass(frozen=True)
class Translated:
    """A Hydra sweeper override in runner's words."""

    line: str  # the override runner composes (search.n_trials=60, search=tpe, params.x=...)
    note: str  # what it is named as in messages


def is_hydra_sweeper(key: str) -> bool:
    return key in ("hydra/sweeper", "hydra.sweeper") or key.startswith(
        ("hydra.sweeper.", "hydra/sweeper/")
    )


def hydra_spelling(override: Override, line: str, sweep_key: Any) -> Translated | None:
    """Runner's override for one of Hydra's Optuna sweeper's (`hydra.sweeper.n_jobs=4` is
    search.max_concurrent=4); None for `hydra/sweeper=optuna`, which chooses a search only
    when no sampler is named. Keys that mean nothing here are refused, naming why.
    `sweep_key`: how a params key of hydra.sweeper.params is named (lr is params.lr)."""
    key = override.key_or_group
    value = override.get_value_string() if "=" in line else ""
    if key == "hydra/sweeper":
        if value.strip() != "optuna":
            raise CompositionError(
                f"'{line}': runner's search is Optuna's samplers: hydra/sweeper=optuna, or"
                " search=tpe (random, cmaes, gp, qmc, nsga2, grid)"
            )
        return None
    name = key.replace("/", ".")[len("hydra.sweeper.") :]
    if name == "sampler" or name == "sampler._target_":
        chosen = HYDRA_SAMPLERS.get(value.strip())
        if chosen is None:
            known = ", ".join(sorted(k for k in HYDRA_SAMPLERS if "." not in k))
            raise CompositionError(
                f"'{line}': no search uses sampler {value.strip()!r}; runner's are {known}"
                " (or optuna.samplers.TPESampler and the others by class)"
            )
        return Translated(f"search={chosen}", f"Hydra's spelling of search={chosen}")
    if name.startswith("params."):
        target = f"{sweep_key(name[len('params.') :])}={value}"
        return Translated(target, f"Hydra's spelling of {target}")
    if name in HYDRA_SWEEPER_KEYS:
        target = HYDRA_SWEEPER_KEYS[name]
        return Translated(f"{target}={value}", f"Hydra's spelling of {target}")
    if name.startswith("sampler."):
        target = f"search.sampler_options.{name[len('sampler.') :]}"
        return Translated(f"{target}={value}", f"Hydra's spelling of {target}")
    why = HYDRA_SWEEPER_REFUSED.get(name.split(".")[0])
    if why is None:
        mapped = ", ".join(f"hydra.sweeper.{k} ({v})" for k, v in HYDRA_SWEEPER_KEYS.items())
        why = (
            f"runner takes {mapped}, hydra.sweeper.sampler (search=NAME) and"
            " hydra.sweeper.params.KEY (the space)"
        )
    raise CompositionError(f"'{line}': hydra.sweeper.{name} does not apply: {why}")


# -- the optional extra -------------------------------------------------------------------------


def require_optuna(sampler: str | None = None) -> None:
    """Refuse a search (exit 1) when Optuna, or a package its sampler needs, is not
    installed; looked up without importing it."""
    if find_spec("optuna") is None:
        raise UsageError(
            "a search (search=...) samples with Optuna, which is not installed;"
            f" install runner's search extra: {EXTRA}"
        )
    missing = [name for name in SAMPLER_NEEDS.get(sampler or "", ()) if find_spec(name) is None]
    if missing:
        raise UsageError(
            f"search={sampler}: Optuna's {SAMPLER_CLASSES[str(sampler)]} needs"
            f" {' and '.join(missing)}, not installed: pip install {' '.join(missing)}"
        )


# -- words --------------------------------------------------------------------------------------


def shown(value: Any) -> str:
    """A value as a person reads it: numbers as Python writes them, strings in quotes."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        return repr(value)
    return json.dumps(value)


def _objective(name: str, index: int, count: int) -> str:
    if not name:
        return "the return value" if count == 1 else f"the return value's item {index}"
    metric, _, summary = name.rpartition(".")
    if metric and summary in SUMMARIES:
        return f"metric {metric}, its {summary}"
    return f"result {name}"


def _pruner(pruner: Mapping[str, Any] | None) -> str:
    if pruner is None:
        return "none"
    settings = ", ".join(f"{k}={shown(v)}" for k, v in pruner.items() if k != "name")
    return f"{pruner['name']}{f' ({settings})' if settings else ''}"


def _is_range(dimension: Dimension) -> bool:
    return "range(" in dimension.written


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'s' * (number != 1)}"


def _clip(line: str, width: int = DESCRIBE_WIDTH) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."


def _decimal(number: float | int) -> Decimal:
    """A number as it was written (0.1 is 0.1, not its binary neighbour), so a range's last
    value and a step divide the way Optuna checks them."""
    return Decimal(str(number))


METRIC_STATS = ("last", "min", "max")


def pruned_metric(pruner: Mapping[str, Any], objective: str) -> str:
    """The metric a pruner reads: its `metric` setting, else the objective's metric
    (val_loss.min -> val_loss); "" when there is none."""
    named = pruner.get("metric")
    if named:
        return str(named)
    metric, _, stat = str(objective).rpartition(".")
    return metric if metric and stat in METRIC_STATS else ""
