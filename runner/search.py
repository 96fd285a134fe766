"""A search: an Optuna study whose trials are the runs of one launch (issue 24).

The study lives in memory, rebuilt from the store each time the launch's runs are executed
(a launch, its detached process, `runner resume`): the runs it has are its trials, told again
with the values they gave. Optuna's own storages are not used (its SQLite storage costs tens
of milliseconds a trial, and its docs advise against it for parallel trials); runner's store
already holds every trial's params, seed, status and metrics.

Asking is asynchronous: the launcher takes a trial's batch only when a worker is free and
after the outcomes before it were handed on (`JoblibLauncher.on_demand`; the Dask launcher
submits as runs finish), so each trial is asked once every trial that ended before it was
told. A trial is `repeat` runs of the same params (each with its own seed, from the launch
seed and the trial number, as repeats are); it is told the mean of its runs' values. A
trial's run records its value as the metric `objective`, so every table, sort and reader of
metrics sees it.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import time
import warnings
from array import array
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from runner.errors import DefinitionError, UsageError
from runner.plan import SEED_BITS, PointResolver, new_id, repeat_seeds
from runner.records import LaunchRecord, RunOutcome, RunRecord, RunSpec, RunStatus, Sets
from runner.store import Store

if TYPE_CHECKING:
    from runner.execution import Execution
    from runner.search_space import Dimension, SearchConfig
    from runner.worker import Batch

OBJECTIVE = "objective"  # the metric each trial's run records its value as
MIN_FOR_FAILURE_RATE = 5  # finished trials before max_failure_rate can stop a search
PRUNE_GRACE = 1.0  # seconds a run told to stop may go on logging before it is stopped
RUNGS = ("hyperband", "successive_halving")  # the pruners with state of their own
PRUNERS = {
    "median": "MedianPruner",
    "hyperband": "HyperbandPruner",
    "successive_halving": "SuccessiveHalvingPruner",
}


def require_optuna() -> Any:
    """Optuna, or the message that says how to install it (exit 1)."""
    try:
        import optuna
    except ImportError:
        raise UsageError(
            "search= needs Optuna, which is not installed here;"
            " install it with: pip install 'runner-launch[search]'"
        ) from None
    optuna.logging.set_verbosity(logging.WARNING)
    return optuna


def trial_seed(launch_seed: int, number: int) -> int:
    """Trial `number`'s seed: drawn from the launch seed and the number, so `--seed S`
    gives every trial the seed it had."""
    return random.Random(f"{launch_seed}:trial:{number}").getrandbits(SEED_BITS)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Space:
    """The search space as Optuna's distributions, and back to params. (A categorical
    dimension's choices are numbers, strings, bools or None: search_space refuses others.)"""

    def __init__(self, optuna: Any, space: tuple[Dimension, ...]) -> None:
        d = optuna.distributions
        self.dimensions = space
        self.distributions: dict[str, Any] = {}
        for dim in space:
            if dim.kind == "categorical":
                self.distributions[dim.key] = d.CategoricalDistribution(tuple(dim.choices))
            elif dim.kind == "int":
                low, high = int(dim.low or 0), int(dim.high or 0)
                self.distributions[dim.key] = d.IntDistribution(
                    low, high, log=dim.log, step=int(dim.step or 1)
                )
            else:
                self.distributions[dim.key] = d.FloatDistribution(
                    float(dim.low or 0), float(dim.high or 0), log=dim.log, step=dim.step
                )

    def sets(self, params: dict[str, Any]) -> tuple[tuple[tuple[str, ...], Any], ...]:
        """A trial's Optuna params as values set at their params paths."""
        return tuple((tuple(key.split("."))[1:], value) for key, value in params.items())

    def of_run(self, params: dict[str, Any]) -> dict[str, Any]:
        """A recorded run's values of the space, as Optuna's params."""
        found: dict[str, Any] = {}
        for key in self.distributions:
            node: Any = params
            for part in key.split(".")[1:]:
                node = node[part]
            found[key] = node
        return found

    def grid(self) -> dict[str, list[Any]]:
        """GridSampler's search space: each dimension's values (Dimension.values)."""
        grid: dict[str, list[Any]] = {}
        for dim in self.dimensions:
            if not dim.discrete:
                raise DefinitionError(
                    f"search=grid takes lists, choice() and range(); {dim.line or dim.key}"
                    " is an interval"
                )
            grid[dim.key] = list(dim.values())
        return grid


class _Trial:
    """A trial on its way: its Optuna trial, its runs, and the values of those that ended."""

    __slots__ = (
        "cancelled",
        "ended",
        "failed",
        "number",
        "optuna",
        "pruned",
        "pruned_at",
        "pruned_when",
        "reported",
        "run_ids",
        "values",
    )

    def __init__(self, number: int, trial: Any, run_ids: list[str]) -> None:
        self.number = number
        self.optuna = trial
        self.run_ids = run_ids
        self.ended = 0
        self.values: list[list[float]] = []
        self.failed: list[str] = []  # why each run that gave no value gave none
        self.cancelled = False  # a run of it ended cancelled
        self.pruned = False  # the pruner stopped it (or a run of it ended pruned)
        self.reported: set[int] = set()  # the steps told to the pruner
        self.pruned_at = -1  # the last step judged (where the pruner stopped it, if it did)
        self.pruned_when = 0.0  # and when


class Search:
    """A launch's study: asks trials as workers are free (`batches`) and tells each the
    value of its runs as they end (`on_outcome`)."""

    def __init__(self, store: Store, record: LaunchRecord, runs: Execution) -> None:
        from runner.search_space import SearchConfig

        self.optuna = optuna = require_optuna()
        self.store, self.record, self.runs = store, record, runs
        definition = record.definition
        self.config: SearchConfig = SearchConfig.from_json(definition["search"])
        self.space = _Space(optuna, self.config.space)
        self.repeat = max(record.repeat, 1)
        self.retries = int(definition.get("retries") or 0)
        by_number: dict[int, list[RunRecord]] = {}
        for run in store.every_run(record.id):
            by_number.setdefault(run.index // self.repeat, []).append(run)
        self.numbers = max(by_number, default=-1) + 1  # the next trial's number
        seed = self.config.seed if self.config.seed is not None else record.seed % 2**32
        # Named by the seed: Hyperband puts a trial in a bracket by a hash of the study's
        # name and the trial's number, so the same seed and a rebuilt study keep them.
        name = f"search-{seed}"
        if self.numbers:
            # A study rebuilt (resume) draws on from where it was, not its first draws again.
            seed = random.Random(f"{seed}:{self.numbers}").getrandbits(32)
        self.pruner = None
        self.pruner_name = ""
        self.pruned_metric = ""
        if self.config.pruner:
            from runner.search_space import pruned_metric

            self.pruner = pruner_of(optuna, self.config.pruner)
            self.pruner_name = str(self.config.pruner["name"])
            self.pruned_metric = pruned_metric(self.config.pruner, self.config.objectives[0])
        self.storage = optuna.storages.InMemoryStorage()
        self.study = optuna.create_study(
            storage=self.storage,
            study_name=name,
            sampler=sampler_of(optuna, self.config, self.space, seed),
            directions=list(self.config.directions),
            pruner=self.pruner,
        )
        self.trials: dict[str, _Trial] = {}  # by run id, the trials under way
        self.told = 0
        self.failed = 0
        self.stopped: str | None = None  # why no more trials are asked
        self.why = ""  # why the first trial that failed gave no value
        self._again: list[tuple[int, list[RunRecord]]] = []  # recorded trials to run again
        self._replay(by_number)

    # -- the trials the store has ------------------------------------------------------------

    def _replay(self, by_number: dict[int, list[RunRecord]]) -> None:
        """Tell the study every trial the launch has recorded (a resume, a detached process):
        those whose runs all ended with their values, and what their first run reported to
        the pruner (the median pruner compares new trials with it, TPE ranks a pruned trial
        by its last); the others run again, as they were. Successive halving and hyperband
        keep state of their own (rungs): there each trial reports again and is judged step
        by step, in trial order, through a study of a random sampler on the same storage
        (a recorded trial's params are fixed; the search's sampler could fit a model each)."""
        create = self.optuna.trial.create_trial
        states = self.optuna.trial.TrialState
        rungs = None
        if self.pruner_name in RUNGS and by_number:
            rungs = self.optuna.load_study(
                study_name=self.study.study_name,
                storage=self.storage,
                sampler=self.optuna.samplers.RandomSampler(),
                pruner=self.pruner,
            )
        for number in sorted(by_number):
            runs = by_number[number]
            params = self.space.of_run(runs[0].params)
            if any(not run.status.finished for run in runs):
                self._again.append((number, runs))
                continue
            values = [v for run in runs if (v := self._value_of_record(run)) is not None]
            told = self._told(values, any(run.status is RunStatus.PRUNED for run in runs))
            logged = (
                self.store.metric_series(runs[0].id, [self.pruned_metric]) if self.pruner else []
            )
            if rungs is None:
                reported: dict[int, float] = {}
                for series in logged:
                    for step, value in zip(series.steps, series.values, strict=True):
                        if value == value:  # (NaN is not reported)
                            reported.setdefault(step, value)
                self.study.add_trial(
                    create(
                        params=params,
                        distributions=self.space.distributions,
                        intermediate_values=reported,
                        **told,
                    )
                )
            else:
                rungs.enqueue_trial(params)
                again = _Trial(number, rungs.ask(self.space.distributions), [])
                for series in logged:
                    judge_points(again, series.steps, series.values)
                rungs.tell(again.optuna, told.get("values"), state=told["state"])
            if told["state"] is states.FAIL:
                self.failed += 1
            self.told += 1

    def _told(self, values: list[list[float]], pruned: bool = False) -> dict[str, Any]:
        states = self.optuna.trial.TrialState
        if pruned:
            return {"state": states.PRUNED}
        if not values:
            return {"state": states.FAIL}
        means = [sum(v[i] for v in values) / len(values) for i in range(len(values[0]))]
        return {"values": means, "state": states.COMPLETE}

    # -- asking ----------------------------------------------------------------------------

    def batches(self) -> Iterator[Batch]:
        """The trials' batches, each asked when the launcher takes it: first the recorded
        trials that did not end (their runs again, same ids, params and seeds), then new
        ones until n_trials are asked (or too many failed)."""
        from runner.worker import Batch

        for number, runs in self._again:
            if self.stopped:
                return
            left = [run for run in runs if not run.status.finished]
            self.study.enqueue_trial(self.space.of_run(runs[0].params))
            trial = self.study.ask(self.space.distributions)
            self._under_way(number, trial, runs)
            yield Batch(
                self._shared(runs[0].params),  # (as recorded, interpolations resolved)
                [run.id for run in left],
                [run.seed for run in left],
                [()] * len(left),
                [0] * len(left),  # (written by id)
            )
        while not self.stopped and self.numbers < self.config.n_trials:
            number = self.numbers
            self.numbers += 1
            trial = self.study.ask(self.space.distributions)
            sets = self._sets(number, trial.params)
            seeds = repeat_seeds(trial_seed(self.record.seed, number), self.repeat)
            specs = [self._spec(number, r, seed, sets) for r, seed in enumerate(seeds)]
            first_row = self.store.record_runs(self.record, specs)
            self._under_way(number, trial, specs)
            # (--cache: runs that match an earlier succeeded one are served, and told, here)
            yield from self.runs.batches(specs, first_row)

    def _under_way(self, number: int, trial: Any, runs: list[Any]) -> None:
        under_way = _Trial(number, trial, [run.id for run in runs])
        done = [run for run in runs if isinstance(run, RunRecord) and run.status.finished]
        for run in done:  # (a trial of several runs, some of which ended before)
            under_way.ended += 1
            value = self._value_of_record(run)
            if value is not None:
                under_way.values.append(value)
        for run in runs:
            if not (isinstance(run, RunRecord) and run.status.finished):
                self.trials[run.id] = under_way

    def _spec(self, number: int, repeat_index: int, seed: int, sets: Any) -> RunSpec:
        definition = self.record.definition
        workflow_id, _, version = str(definition["workflow"]).partition(":")
        return RunSpec(
            id=new_id(),
            index=number * self.repeat + repeat_index,
            workflow_id=workflow_id,
            workflow_version=version,
            entrypoint=definition["entrypoint"],
            params=definition["params"],
            seed=seed,
            repeat_index=repeat_index,
            timeout=definition.get("timeout"),
            retries=self.retries,
            cache=bool(definition.get("cache")),
            sets=sets,
            code=definition.get("code") or "",
        )

    def _shared(self, params: dict[str, Any]) -> Any:
        definition = self.record.definition
        return self.runs.shared(
            definition["entrypoint"], params, definition.get("timeout"), self.retries
        )

    def _sets(self, number: int, params: dict[str, Any]) -> Sets:
        """A trial's values set at their params paths, and the params that interpolate
        (`${params.lr}`) resolved at those values, as a grid's points resolve them."""
        sets = self.space.sets(params)
        if self._resolver is None:
            return sets
        return (*sets, *self._resolver.resolved(sets, f"trial {number}"))

    @functools.cached_property
    def _resolver(self) -> PointResolver | None:
        definition = self.record.definition
        raw = definition.get("raw_params")  # (recorded when the params interpolate)
        if raw is None:
            return None
        # The definition's fields are what `${...}` may name; the search's own record (its
        # space's lines as written, why it stopped) is no field, and no interpolation.
        unnamed = ("raw_params", "search", "search_stopped")
        return PointResolver({k: v for k, v in definition.items() if k not in unnamed}, raw)

    # -- telling ---------------------------------------------------------------------------

    def on_outcome(self, outcome: RunOutcome) -> None:
        """A run's attempt ended: once every run of its trial ended for good, the trial is
        told the mean of their values (failed: no run gave one)."""
        trial = self.trials.get(outcome.run_id)
        if trial is None:
            return
        final = outcome.status.ok or outcome.attempt > self.retries
        if outcome.status is RunStatus.CANCELLED:
            final = True
        if not final:
            return
        del self.trials[outcome.run_id]
        trial.ended += 1
        if outcome.status is RunStatus.PRUNED:
            trial.pruned = True
        elif outcome.status is RunStatus.CANCELLED:
            trial.cancelled = True
        elif outcome.status.ok:
            value = self._value(outcome.run_id, outcome.result_json)
            if isinstance(value, str):
                trial.failed.append(value)
            else:
                trial.values.append(value)
                if outcome.status is not RunStatus.CACHED:  # (a cached run shows its source's)
                    self._record_objective(outcome, value)
        if trial.ended < len(trial.run_ids):
            return
        told = self._told(trial.values, trial.pruned)
        self._tell(trial.optuna, told.get("values"), told["state"])
        if trial.cancelled and told["state"] is self.optuna.trial.TrialState.FAIL:
            # Cancelled, not failed: no count toward max_failure_rate, and resume runs it
            # again, as a grid's (Optuna has no such state; its sampler ignores a FAIL).
            return
        self.told += 1
        if told["state"] is self.optuna.trial.TrialState.FAIL:
            self.failed += 1
            if trial.failed and not self.why:
                self.why = f"trial {trial.number}'s run gave no value: {trial.failed[0]}"
        rate = self.config.max_failure_rate
        enough = min(MIN_FOR_FAILURE_RATE, self.config.n_trials)  # (a search of 3: all 3)
        if self.told >= enough and self.failed / self.told > rate:
            self.stopped = (
                f"the search stopped: {self.failed} of {self.told} trials failed"
                f" (search.max_failure_rate={rate:g})" + (f"; {self.why}" if self.why else "")
            )

    def _tell(self, trial: Any, values: list[float] | None, state: Any) -> None:
        try:
            self.study.tell(trial, values, state=state)
        except RuntimeError as exc:
            # GridSampler calls Study.stop() once its grid is used up, which Optuna allows
            # only inside optimize(); the trial is told all the same (the state is stored in
            # a `finally`), and n_trials already stops the asking.
            if "Study.stop" not in str(exc):
                raise

    # -- pruning -----------------------------------------------------------------------------

    def on_points(self, sent: list[Any]) -> list[str]:
        """Points recorded (on the recorder's thread): each trial's first run reports the
        pruned metric's values to its Optuna trial, which the pruner then judges; returns
        the runs of the trials it stops (all their runs: a trial's repeats stop together)."""
        stop: list[str] = []
        for run_id, _started, _number, chunks in sent:
            trial = self.trials.get(run_id)
            if trial is None or run_id != trial.run_ids[0]:
                continue
            if trial.pruned:
                self._went_on(trial, chunks)
                continue
            try:
                judged = self._judge(trial, chunks)
            except Exception as exc:  # (the pruner's own error: Optuna's, of its settings)
                if not self.stopped:
                    self.stopped = (
                        f"the search stopped: search.pruner={self.pruner_name} could not judge"
                        f" trial {trial.number} at step {trial.pruned_at}:"
                        f" {type(exc).__name__}: {exc}"
                    )
                continue
            if judged:
                trial.pruned = True
                trial.pruned_when = time.time()
                stop.extend(trial.run_ids)
        return stop

    def _judge(self, trial: _Trial, chunks: list[Any]) -> bool:
        """Report the pruned metric's new points to the trial (True: the pruner stops it)."""
        for key, steps, values, _times in chunks:
            if key != self.pruned_metric:
                continue
            s, v = array("q"), array("d")
            s.frombytes(steps)
            v.frombytes(values)
            if judge_points(trial, s, v):
                return True
        return False

    def _went_on(self, trial: _Trial, chunks: list[Any]) -> None:
        """A run told to stop that still logs PRUNE_GRACE seconds later does not ask
        should_prune(): it is stopped as a cancel stops a run (its worker ended), recorded
        pruned, and its trial told so now."""
        times = array("d")
        for key, _steps, _values, packed in chunks:
            if key == self.pruned_metric:
                times.frombytes(packed)
        if not times or max(times) < trial.pruned_when + PRUNE_GRACE:
            return
        for run_id in trial.run_ids:
            if self.trials.pop(run_id, None) is not None:
                self.store.cancel(
                    self.record.id,
                    run_id,
                    f"pruned at step {trial.pruned_at} (search.pruner={self.pruner_name})",
                    RunStatus.PRUNED,
                )
        self._tell(trial.optuna, None, self.optuna.trial.TrialState.PRUNED)
        self.told += 1

    def _value_of_record(self, run: RunRecord) -> list[float] | None:
        if not run.status.ok:
            return None
        result = json.dumps(run.shown_result)
        value = self._value(run.cached_from or run.id, result)
        return None if isinstance(value, str) else value

    def _value(self, run_id: str, result_json: str | None) -> list[float] | str:
        """The run's value of each objective, or why it has none."""
        values: list[float] = []
        result = json.loads(result_json) if result_json else None
        count = len(self.config.objectives)
        for index, objective in enumerate(self.config.objectives):
            found = self._objective(run_id, objective, result, index, count)
            if isinstance(found, str):
                return found
            if found != found:  # (Optuna takes no NaN: the trial fails, as in its optimize())
                return f"its {objective or 'return value'} is NaN"
            values.append(found)
        return values

    def _objective(
        self, run_id: str, objective: str, result: Any, index: int, count: int
    ) -> float | str:
        """The value of one objective (SearchConfig's rule): the return value ("", or its
        item `index` of several), a key of the result (acc, or acc.test nested), or a
        metric's summary (val_loss.min); else why there is none."""
        if objective == "result" and not (isinstance(result, dict) and "result" in result):
            objective = ""  # (what tables call the return value)
        if not objective:
            if count > 1:
                if isinstance(result, list | tuple) and len(result) == count:
                    result = result[index]
                else:
                    return (
                        f"search.direction gives {count} objectives and its result is not"
                        f" {count} numbers (a list): return them, or name each with"
                        " search.objective=[KEY, ...]"
                    )
            if _is_number(result):
                return float(result)
            return (
                f"its result is not a number ({type(result).__name__}): name the value to"
                " optimise with search.objective=KEY (a result key, or a metric's KEY.min)"
            )
        node: Any = result
        if isinstance(result, dict) and objective in result:
            node = result[objective]
        else:
            for part in objective.split("."):
                node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            if _is_number(node):
                return float(node)
            return f"its result's {objective} is not a number"
        metric, _, stat = objective.rpartition(".")
        if metric and stat in ("last", "min", "max", "count"):
            for summary in self.store.metric_summaries(run_ids=[run_id], keys=[metric]):
                value = getattr(summary, stat)
                if value is not None:
                    return float(value)
        return f"it has no {objective} (a key of its result, or a metric's last/min/max)"

    def _record_objective(self, outcome: RunOutcome, value: list[float]) -> None:
        """The run's value, as its metric `objective` (the first objective's), of the
        execution that gave it (its other metrics are kept)."""
        now = time.time()
        chunk = (
            OBJECTIVE,
            array("q", [0]).tobytes(),
            array("d", [value[0]]).tobytes(),
            array("d", [now]).tobytes(),
        )
        self.store.record_points([(outcome.run_id, outcome.started, 1 << 40, [chunk])], {})


def check(config: SearchConfig) -> None:
    """Make a search's sampler and pruner once, before its launch is recorded: settings
    Optuna refuses (`sampler_options`, a pruner's settings that go together) are refused
    then (exit 2), with nothing stored."""
    optuna = require_optuna()
    sampler_of(optuna, config, _Space(optuna, config.space), 0)
    if config.pruner:
        pruner_of(optuna, config.pruner)


def sampler_of(optuna: Any, config: SearchConfig, space: _Space, seed: int) -> Any:
    """The search's Optuna sampler, seeded."""
    from runner.search_space import SAMPLER_CLASSES

    cls = getattr(optuna.samplers, SAMPLER_CLASSES[config.sampler])
    given = dict(config.sampler_options)
    options = {"seed": seed, **given}
    if config.sampler == "grid":
        options.setdefault("search_space", space.grid())
    try:
        with warnings.catch_warnings():  # (QMCSampler's "experimental": nothing to act on)
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return cls(**options)
    except (TypeError, ValueError, ImportError) as exc:
        raise DefinitionError(
            f"search.sampler={config.sampler} ({cls.__name__}) cannot be made with"
            f" sampler_options {given}: {exc}"
        ) from exc


def pruner_of(optuna: Any, pruner: dict[str, Any]) -> Any:
    """The search's Optuna pruner, from its name and settings."""
    name = pruner["name"]
    cls = getattr(optuna.pruners, PRUNERS[name])
    options = {k: v for k, v in pruner.items() if k not in ("name", "metric")}
    low, high = options.get("min_resource", 1), options.get("max_resource", "auto")
    if isinstance(low, int) and isinstance(high, int) and low > high:  # (Optuna takes it,
        raise DefinitionError(  # and then never judges a trial)
            f"search.pruner={name}: min_resource {low} is above max_resource {high}, so it"
            " would never judge a trial; min_resource is the steps before its first judgement"
        )
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise DefinitionError(
            f"search.pruner={name} ({cls.__name__}) cannot be made with {options}: {exc}"
        ) from exc


def judge_points(trial: _Trial, steps: array[int], values: array[float]) -> bool:
    """Report points to the trial, asking the pruner after each new last step, as a trial
    that reports and asks at every step of its own loop would (the points come in batches of
    up to 0.1 s: a pruner asked once a batch would judge every rung it passed by the batch's
    last value). True: the pruner stopped it (the points after are reported, not judged:
    asked again, successive halving would enter it in the rungs it never reached)."""
    from optuna.exceptions import UpdateFinishedTrialError

    stop = False
    try:
        for step, value in zip(steps, values, strict=True):
            if value != value or step in trial.reported:  # (NaN is not reported)
                continue
            trial.reported.add(step)
            trial.optuna.report(value, step)
            if stop or step < trial.pruned_at:  # (not a new last step: nothing new to judge)
                continue
            trial.pruned_at = step
            stop = trial.optuna.should_prune()
    except UpdateFinishedTrialError:  # told meanwhile (its runs ended)
        return False
    return stop


def search_of(record: LaunchRecord) -> bool:
    """Whether the launch is a search."""
    return bool(record.definition.get("search"))


def told(
    search: Search, on_outcome: Callable[[RunOutcome], None] | None
) -> Callable[[RunOutcome], None]:
    """on_outcome that tells the study first, then whoever listens."""

    def both(outcome: RunOutcome) -> None:
        search.on_outcome(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    return both
