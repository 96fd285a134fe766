"""Reading a search (issue 24): what it is in a few words (`about`), how far its trials got and
the best so far (`search_status`), and its study rebuilt for Optuna's own plots (`study`).

A search's trials are its launch's runs (trial = run index // repeat), and each run that gave
a value recorded it as its metric `objective` (runner.search). So the progress and the best
are two reads, the runs' statuses and that metric's summaries, without Optuna and while the
search runs; only the best trial's runs are read whole. `study` replays the recorded trials
through the controller's own replay (search.Search), so it holds what a resume would tell."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from runner.errors import UsageError
from runner.records import LaunchRecord, MetricSummary, RunRecord, RunStatus
from runner.results import format_value, param_text
from runner.store import Store

if TYPE_CHECKING:
    from runner.execution import Execution

OBJECTIVE = "objective"  # the metric a trial's run records its value as (search.OBJECTIVE)
SUMMARIES = ("last", "min", "max", "count")  # a metric objective's summary: val_loss.min
# A trial's state, from its runs; the order `progress` names them in. A trial is `pruned`
# when one of its runs ended with that status (its value, if any, is no candidate for best).
STATES = ("finished", "pruned", "failed", "cancelled", "running", "lost")
PRUNED = "pruned"


class Best(NamedTuple):
    """A search's best trial so far: by its first objective, as the search's direction says."""

    run: RunRecord  # the trial's first run that gave a value
    params: dict[str, Any]  # the searched params only, keyed as the table names them: lr, opt.m
    value: float | list[float]  # the mean over the trial's runs; a list for several objectives


@dataclass(frozen=True)
class SearchStatus:
    """How far a search got: its trials by state and its best trial so far."""

    launch_id: str
    sampler: str
    n_trials: int
    repeat: int
    directions: tuple[str, ...]
    objectives: tuple[str, ...]  # as search.objective gave them ("": the return value)
    trials: dict[str, int]  # trials by state (STATES), only the states some trial is in
    best: Best | None  # None until a trial ended with a value
    best_trial: int | None  # the best trial's number
    pruner: str | None = None  # its name (search.pruner), None without one
    stopped: str | None = None  # why it stopped asking (max_failure_rate), None if it did not

    @property
    def finished(self) -> int:
        """Trials whose runs all ended, with a value."""
        return self.trials.get("finished", 0)

    @property
    def failed(self) -> int:
        """Trials whose runs all ended, none with a value."""
        return self.trials.get("failed", 0)

    @property
    def names(self) -> list[str]:
        """Each objective's name, for people (`_names`)."""
        return _names(self.objectives)

    def about(self) -> str:
        """What the launch is: 'a search of 12 trials (tpe)'."""
        return _about(self.sampler, self.n_trials, self.repeat)

    def progress(self) -> str:
        """'search (tpe): 6 of 12 trials finished, 1 failed, 2 running'."""
        counts = [f"{self.trials[s]:,} {s}" for s in STATES[1:] if self.trials.get(s)]
        how = f"{self.sampler}, repeat {self.repeat:,}" if self.repeat > 1 else self.sampler
        done = f"{self.finished:,} of {self.n_trials:,} trials finished"
        return f"search ({how}): " + ", ".join([done, *counts])

    def best_values(self) -> str:
        """The best trial's value of each objective and its direction: 'loss 0.1102
        (minimize)', 'loss 0.1102 (minimize), acc 0.93 (maximize)'; '' before any."""
        if self.best is None:
            return ""
        values = self.best.value if isinstance(self.best.value, list) else [self.best.value]
        return ", ".join(
            f"{name} {format_value(value, 'number')} ({direction})"
            for name, value, direction in zip(self.names, values, self.directions, strict=True)
        )

    @property
    def over(self) -> bool:
        """Whether every trial was asked and has ended (its best is no longer 'so far')."""
        under_way = self.trials.get("running", 0) + self.trials.get("lost", 0)
        return not under_way and (bool(self.stopped) or sum(self.trials.values()) >= self.n_trials)

    def best_trial_text(self) -> str:
        """'best so far: trial 3 (run fc022fe0a1b2)' (with several objectives, 'best so far
        by loss: ...', the first deciding; 'best' once the search is over); before any,
        that there is none yet."""
        best = "best" if self.over else "best so far"
        if self.best is None:
            return f"{best}: none (no trial has ended with a value{'' if self.over else ' yet'})"
        by = f" by {self.names[0]}" if len(self.objectives) > 1 else ""
        return f"{best}{by}: trial {self.best_trial} (run {self.best.run.id[:12]})"

    def one_line(self) -> str:
        """The best trial in one line (a live line, the TUI): 'best so far: loss 0.1102
        (minimize), trial 3: lr=0.00046, opt=adam'."""
        if self.best is None:
            return self.best_trial_text()
        best = "best" if self.over else "best so far"
        by = f" by {self.names[0]}" if len(self.objectives) > 1 else ""
        return f"{best}{by}: {self.best_values()}, trial {self.best_trial}: {self.best_params()}"

    def best_params(self) -> str:
        """The best trial's searched params as overrides write them: 'lr=0.00046, opt=adam'."""
        if self.best is None:
            return ""
        return ", ".join(f"{key}={param_text(value)}" for key, value in self.best.params.items())

    def lines(self) -> list[str]:
        """What a terminal says of the search, each line short (80 columns hold the first
        two): its progress, its best trial, that trial's values and its params."""
        progress = [self.progress(), *([self.stopped] if self.stopped else [])]
        if self.best is None:
            return [*progress, self.best_trial_text()]
        if len(self.objectives) == 1:
            best = [f"{self.best_trial_text()}: {self.best_values()}"]
        else:
            best = [self.best_trial_text(), f"  {self.best_values()}"]
        return [*progress, *best, f"  {self.best_params()}"]

    def to_json(self) -> dict[str, Any]:
        """The same facts as plain values (`runner status LAUNCH --json`): the trials by
        state of n_trials, why it stopped (or null), and the best trial (or null) with its
        value (a list with several objectives) and searched params."""
        best = None
        if self.best is not None:
            value = self.best.value
            best = {
                "trial": self.best_trial,
                "run": self.best.run.id,
                "value": [_plain(v) for v in value] if isinstance(value, list) else _plain(value),
                "params": self.best.params,
            }
        return {
            "sampler": self.sampler,
            "pruner": self.pruner,
            "n_trials": self.n_trials,
            "repeat": self.repeat,
            "objectives": self.names,
            "directions": list(self.directions),
            **{state: self.trials.get(state, 0) for state in STATES},
            "stopped": self.stopped,
            "best": best,
        }


def _plain(value: float) -> float | None:
    """A value JSON holds: NaN (an objective a trial has no value of) is null."""
    return None if math.isnan(value) else value


def _names(objectives: Sequence[str]) -> list[str]:
    """Each objective's name, for people: loss, val_loss.min; the return value is `result`
    (`result[i]`, an item of it, with several objectives)."""
    count = len(objectives)
    return [o or ("result" if count == 1 else f"result[{i}]") for i, o in enumerate(objectives)]


def about(record: LaunchRecord, *, short: bool = False) -> str:
    """What a launch is when it is a search, from its definition alone (no read): 'a search
    of 12 trials (tpe)', 'a search of 12 trials (tpe, repeat 3)' (short, for one line a
    launch: '12 tpe trials, repeat 3'); '' for any other launch."""
    search = record.definition.get("search")
    if not search:
        return ""
    sampler, n_trials = str(search.get("sampler", "")), int(search.get("n_trials") or 0)
    if not short:
        return _about(sampler, n_trials, record.repeat)
    repeat = f", repeat {record.repeat:,}" if record.repeat > 1 else ""
    return f"{n_trials:,} {sampler} trial{'s' * (n_trials != 1)}{repeat}"


def _about(sampler: str, n_trials: int, repeat: int) -> str:
    how = f"{sampler}, repeat {repeat:,}" if repeat > 1 else sampler
    return f"a search of {_trials(n_trials)} ({how})"


def _trials(count: int) -> str:
    return f"{count:,} trial{'s' * (count != 1)}"


def search_status(store: Store, record: LaunchRecord) -> SearchStatus | None:
    """How far a search got, read now (None: the launch is no search). Reads the runs'
    statuses and the `objective` metric's summaries; then the best trial's runs alone."""
    from runner.search_space import SearchConfig

    definition = record.definition.get("search")
    if not definition:
        return None
    config = SearchConfig.from_json(definition)
    repeat = max(record.repeat, 1)
    values = {
        s.run_id: s.last
        for s in store.metric_summaries(launch_id=record.id, keys=[OBJECTIVE])
        if s.last is not None and not math.isnan(s.last)
    }
    by_trial: dict[int, list[tuple[str, RunStatus]]] = {}
    for row in store.table_rows(record):
        by_trial.setdefault(row.run_index // repeat, []).append((row.run_id, row.status))
    trials: dict[str, int] = {}
    best: tuple[float, int, list[str]] | None = None  # (value, trial, its runs with a value)
    maximize = config.directions[0] == "maximize"
    for number, runs in by_trial.items():
        state = _state(runs, values)
        trials[state] = trials.get(state, 0) + 1
        if state != "finished":
            continue
        valued = [run_id for run_id, _ in runs if run_id in values]
        mean = math.fsum(values[run_id] for run_id in valued) / len(valued)
        if best is None or (mean > best[0] if maximize else mean < best[0]):
            best = (mean, number, valued)
    found = None
    if best is not None:
        found = _best(store, config.objectives, config.space, best[0], best[2])
    return SearchStatus(
        launch_id=record.id,
        sampler=config.sampler,
        n_trials=config.n_trials,
        repeat=repeat,
        directions=config.directions,
        objectives=config.objectives,
        trials={state: trials[state] for state in STATES if state in trials},
        best=found,
        best_trial=None if best is None else best[1],
        pruner=str(config.pruner["name"]) if config.pruner else None,
        stopped=record.definition.get("search_stopped"),
    )


def _state(runs: list[tuple[str, RunStatus]], values: Mapping[str, float]) -> str:
    # A run with a value has ended: the search records it as the run's outcome arrives,
    # while the run's own row may wait for the next batch of finished runs to be written.
    under_way = (RunStatus.PENDING, RunStatus.RUNNING)
    statuses = {
        RunStatus.SUCCEEDED if run_id in values and status in under_way else status
        for run_id, status in runs
    }
    if statuses & set(under_way):
        return "running"
    if RunStatus.LOST in statuses:
        return "lost"  # (resume runs it again)
    if any(status.value == PRUNED for status in statuses):
        return "pruned"
    if any(run_id in values for run_id, _ in runs):
        return "finished"
    return "cancelled" if RunStatus.CANCELLED in statuses else "failed"


def _best(
    store: Store, objectives: Sequence[str], space: Sequence[Any], value: float, run_ids: list[str]
) -> Best:
    """The best trial: its first run with a value, its searched params, and its value (with
    several objectives, the others' means over the same runs, read from their results and
    metrics as the search reads them)."""
    runs = [run for run_id in run_ids if (run := store.run(run_id)) is not None]
    params: dict[str, Any] = {}
    for dimension in space:
        node: Any = runs[0].params
        for part in dimension.path:
            node = node.get(part) if isinstance(node, dict) else None
        params[".".join(dimension.path)] = node
    if len(objectives) == 1:
        return Best(runs[0], params, value)
    summaries = store.metric_summaries(run_ids=[run.id for run in runs])
    values = [value]
    for index, objective in enumerate(objectives[1:], start=1):
        found = [
            v
            for run in runs
            if (v := objective_value(objective, index, len(objectives), run, summaries)) is not None
        ]
        values.append(math.fsum(found) / len(found) if found else math.nan)
    return Best(runs[0], params, values)


def objective_value(
    objective: str, index: int, count: int, run: RunRecord, summaries: Sequence[MetricSummary]
) -> float | None:
    """A run's value of one objective (SearchConfig.objectives[index] of `count`): the
    return value ("", or its item `index` when there are several objectives), a key of its
    result (acc, or acc.test in a nested one), or a metric's summary (val_loss.min); None
    when it has none."""
    result = run.shown_result
    if not objective:
        if count > 1 and isinstance(result, list | tuple) and len(result) == count:
            result = result[index]
        return _number(result)
    if isinstance(result, dict) and objective in result:
        return _number(result[objective])
    node: Any = result
    for part in objective.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is not None:
        return _number(node)
    metric, _, stat = objective.rpartition(".")
    for summary in summaries:
        if summary.run_id == run.id and summary.key == metric and stat in SUMMARIES:
            return _number(getattr(summary, stat))
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def study(store: Store, record: LaunchRecord) -> Any:
    """The search's study as an `optuna.Study` in memory, rebuilt from the store as the
    controller rebuilds it on resume: trial N is the launch's trial N (its runs in the
    trial's `user_attrs["run_ids"]`, its times theirs), finished ones with their values,
    those under way RUNNING. For Optuna's plots and analyses; a new study's sampler."""
    from runner.search import Search, require_optuna, search_of

    if not search_of(record):
        raise UsageError(
            f"launch {record.id[:12]} is no search (it ran its runs as planned): a study is"
            " made of a search's trials (search=tpe ...)"
        )
    optuna = require_optuna()
    # The controller's replay of the recorded trials; it runs nothing, so it is given no
    # execution (Search takes the one it asks trials for, used only when asking).
    replayed = Search(store, record, cast("Execution", None))
    repeat = replayed.repeat
    by_trial: dict[int, list[RunRecord]] = {}
    for run in store.every_run(record.id):
        by_trial.setdefault(run.index // repeat, []).append(run)
    told = iter(replayed.study.get_trials(deepcopy=False))
    states = optuna.trial.TrialState
    trials = []
    for number in sorted(by_trial):
        runs = by_trial[number]
        attrs = {"run_ids": [run.id for run in runs]}
        starts = [run.started for run in runs if run.started is not None]
        ends = [run.ended for run in runs if run.ended is not None]
        start = _datetime(min(starts) if starts else min(run.created for run in runs))
        if all(run.status.finished for run in runs):  # (what the replay told, in order)
            trial = next(told)
            trials.append(
                optuna.trial.FrozenTrial(
                    number=number,
                    state=trial.state,
                    value=None,
                    values=trial.values,
                    datetime_start=start,
                    datetime_complete=_datetime(max(ends)) if ends else start,
                    params=_named(trial.params),
                    distributions=_named(trial.distributions),
                    user_attrs=attrs,
                    system_attrs={},
                    intermediate_values=dict(trial.intermediate_values),
                    trial_id=number,
                )
            )
        else:
            trials.append(
                optuna.trial.FrozenTrial(
                    number=number,
                    state=states.RUNNING,
                    value=None,
                    values=None,
                    datetime_start=start,
                    datetime_complete=None,
                    params=_named(replayed.space.of_run(runs[0].params)),
                    distributions=_named(replayed.space.distributions),
                    user_attrs=attrs,
                    system_attrs={},
                    intermediate_values={},
                    trial_id=number,
                )
            )
    found = optuna.create_study(
        study_name=record.id,
        directions=list(replayed.config.directions),
        sampler=replayed.study.sampler,
    )
    found.add_trials(trials)
    with warnings.catch_warnings():  # (experimental since Optuna 3.2; plots name the axes)
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        found.set_metric_names(_names(replayed.config.objectives))
    return found


def _named(by_key: dict[str, Any]) -> dict[str, Any]:
    """Optuna's params (keyed as overrides are: params.lr) keyed as tables name them: lr."""
    return {key.removeprefix("params."): value for key, value in by_key.items()}


def _datetime(stamp: float) -> Any:
    import datetime

    return datetime.datetime.fromtimestamp(stamp)
