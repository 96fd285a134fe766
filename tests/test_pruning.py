"""Pruning a search (issue 24): a run reports a metric with runner.log, asks
runner.should_prune(), and ends `pruned` with its metrics kept; the study is told so."""

from __future__ import annotations

import math
import textwrap
from array import array
from pathlib import Path
from typing import Any

import pytest

import runner
from runner import cli
from runner.records import RunStatus

pytest.importorskip("optuna")  # (the test extra installs it; the search extra for users)

FLOWS = textwrap.dedent(
    '''
    import math
    import time
    import runner


    def floor(lr):
        return (math.log10(lr) + 2) ** 2 * 0.1 + 0.05


    @runner.workflow
    def curve(lr: float = 0.1, steps: int = 20, obey: bool = True, raises: bool = False) -> float:
        """A learning curve falling to a floor that depends on lr (best at 1e-2)."""
        loss = 1.0
        for step in range(steps):
            loss = floor(lr) + (1.0 - floor(lr)) * math.exp(-step / 4)
            runner.log(step=step, val_loss=loss)
            time.sleep(0.005)  # (an epoch's work: the pruner's decisions come within 0.1 s)
            if obey and runner.should_prune():
                if raises:
                    raise runner.TrialPruned()
                return loss
        return loss


    @runner.workflow
    def asks() -> bool:
        return runner.should_prune()
    '''
)


def main(args: list[str]) -> int:
    """runner's console script in this process: its exit code."""
    try:
        cli.main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture
def flows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNNER_HOME", str(tmp_path / "home"))
    path = tmp_path / "prunable.py"
    path.write_text(FLOWS)
    return path


def latest_runs(home: Path) -> list[runner.RunRecord]:
    (first, *_) = runner.runs(home=home, limit=1)
    return list(runner.get(first.launch_id, home=home).runs)  # type: ignore[union-attr]


@pytest.mark.parametrize("pruner", ["median", "hyperband", "successive_halving"])
def test_a_pruner_ends_bad_trials_pruned_with_their_metrics_kept(
    flows: Path, tmp_path: Path, pruner: str
) -> None:
    assert main(_args(flows, f"search.pruner={pruner}")) == 0
    runs = latest_runs(tmp_path / "home")
    assert len(runs) == 16
    pruned = [run for run in runs if run.status is RunStatus.PRUNED]
    finished = [run for run in runs if run.status is RunStatus.SUCCEEDED]
    assert pruned and finished
    lengths = []
    for run in pruned:  # stopped where it was told, what it logged kept
        (series,) = runner.metric_series(run.id, ["val_loss"], home=tmp_path / "home")
        assert list(series.steps) == list(range(len(series.steps)))
        lengths.append(len(series.steps))
    assert min(lengths) < 20  # (one told at its last step ends pruned all the same)
    # The pruned trials are worse than the best finished one at the step they stopped.
    best = min(run.result for run in finished)
    assert all(run.result > best for run in pruned)


def _args(flows: Path, *extra: str) -> list[str]:
    return [
        "-q",
        "--max-parallelism=4",
        str(flows),
        "curve",
        "launcher=threads",
        "search=random",
        "search.seed=3",
        "search.n_trials=16",
        "search.objective=val_loss.min",
        "params.lr=tag(log, interval(1e-4, 1))",
        *extra,
    ]


def test_a_run_that_raises_trial_pruned_ends_pruned(flows: Path, tmp_path: Path) -> None:
    assert main(_args(flows, "search.pruner=median", "params.raises=true")) == 0
    statuses = {run.status for run in latest_runs(tmp_path / "home")}
    assert RunStatus.PRUNED in statuses and RunStatus.FAILED not in statuses


def test_the_study_is_told_the_pruned_trials(flows: Path, tmp_path: Path) -> None:
    """Resume of the finished study runs nothing again: pruned trials are finished ones."""
    assert main(_args(flows, "search.pruner=median")) == 0
    home = tmp_path / "home"
    before = {run.id: run.status for run in latest_runs(home)}
    launch_id = next(iter(latest_runs(home))).launch_id
    assert main(["resume", "-q", launch_id]) == 0
    after = {run.id: run.status for run in latest_runs(home)}
    assert after == before


def test_without_a_pruner_no_trial_is_pruned(flows: Path, tmp_path: Path) -> None:
    assert main(_args(flows)) == 0
    assert {run.status for run in latest_runs(tmp_path / "home")} == {RunStatus.SUCCEEDED}


def test_should_prune_outside_a_search_is_false(flows: Path, tmp_path: Path) -> None:
    assert runner.should_prune() is False  # outside a run
    assert main(["-q", str(flows), "asks", "launcher=sequential"]) == 0
    (run,) = latest_runs(tmp_path / "home")
    assert run.result is False


def test_a_pruner_needs_a_metric_to_read(flows: Path, capsys: Any) -> None:
    args = [a for a in _args(flows, "search.pruner=median") if "objective" not in a]
    assert main(args) == 2
    assert "search.pruner.metric" in capsys.readouterr().err


def test_summaries_of_a_pruned_run_are_those_of_its_points(flows: Path, tmp_path: Path) -> None:
    assert main(_args(flows, "search.pruner=median")) == 0
    home = tmp_path / "home"
    for run in latest_runs(home):
        (summary,) = runner.metric_summaries(run.id, ["val_loss"], home=home)
        (series,) = runner.metric_series(run.id, ["val_loss"], home=home)
        assert summary.count == len(series.values)
        assert math.isclose(summary.min or 0, min(series.values))


def test_points_that_come_in_one_batch_are_judged_step_by_step() -> None:
    """A run's points reach the controller in batches (every 0.1 s): the pruner is asked
    after each new step, as a loop asking at every step would ask it, so a trial behind at
    an early rung is stopped there even if its batch ends with values that would pass."""
    import optuna

    from runner.search import _Trial, judge_points

    study = optuna.create_study(
        pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    )
    space = {"x": optuna.distributions.FloatDistribution(0, 1)}
    leader = study.ask(space)
    for step in range(11):
        leader.report(0.5, step)
        assert not leader.should_prune()
    study.tell(leader, 0.5)
    late = _Trial(1, study.ask(space), ["run"])
    values = [0.9, 0.9, 0.9] + [0.1] * 8  # (behind the leader at step 1, ahead from step 3)
    assert judge_points(late, array("q", range(11)), array("d", values)) is True
    assert late.pruned_at == 1  # (rung 0 of successive halving: step 1)
    assert late.optuna.study.trials[1].intermediate_values == dict(enumerate(values))


def test_a_rebuilt_study_has_what_each_trial_reported(flows: Path, tmp_path: Path) -> None:
    """The study rebuilt from the store (resume, a detached launch, launch.study()) has each
    trial's reported points, so the median pruner compares new trials with them and TPE
    ranks a pruned trial by its last; Optuna's plot_intermediate_values draws them."""
    assert main(_args(flows, "search.pruner=median")) == 0
    home = tmp_path / "home"
    runs = latest_runs(home)
    study = runner.get(runs[0].launch_id, home=home).study()  # type: ignore[union-attr]
    assert any(trial.state.name == "PRUNED" for trial in study.trials)
    for trial in study.trials:
        (run_id,) = trial.user_attrs["run_ids"]
        (series,) = runner.metric_series(run_id, ["val_loss"], home=home)
        assert trial.intermediate_values == dict(zip(series.steps, series.values, strict=True))


def test_a_rebuilt_study_judges_new_trials_against_the_recorded_ones(
    flows: Path, tmp_path: Path
) -> None:
    """Resume rebuilds the pruner's state too: successive halving's rungs hold the recorded
    trials, so a new trial worse than all of them at the first rung is stopped there (with
    empty rungs it would be promoted, compared only with itself)."""
    from typing import cast

    from runner.execution import Execution
    from runner.search import Search, _Trial, judge_points
    from runner.store import Store

    sha = "search.pruner={name: successive_halving, min_resource: 1, reduction_factor: 2}"
    assert main(_args(flows, sha)) == 0
    home = tmp_path / "home"
    store = Store(home)
    record = store.launch(latest_runs(home)[0].launch_id)
    rebuilt = Search(store, record, cast(Execution, None))
    assert rebuilt.told == 16
    new = _Trial(16, rebuilt.study.ask(rebuilt.space.distributions), [])
    assert judge_points(new, array("q", [0, 1]), array("d", [9.0, 9.0])) is True
    assert new.pruned_at == 1
    store.close()


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("search.pruner={name: hyperband, min_resource: -1}", "min_resource: -1 is below"),
        ("search.pruner={name: hyperband, reduction_factor: 1}", "reduction_factor: 1 is below"),
        ("search.pruner={name: hyperband, min_resourse: 3}", "did you mean 'min_resource'"),
        ("search.pruner={name: median, n_warmup_steps: 2.5}", "n_warmup_steps: 2.5 is not an"),
        ("search.pruner={name: successive_halving, bootstrap_count: -2}", "bootstrap_count"),
        ("search.pruner={name: median, min_resource: 3}", "min_resource: unknown key"),
        ("search.pruner={name: hyperband, bootstrap_count: 1}", "mutually incompatible"),
        ("search.pruner={name: hyperband, min_resource: 5, max_resource: 3}", "never judge"),
        ("search.sampler_options={n_startup: 3}", "sampler_options {'n_startup': 3}"),
    ],
)
def test_settings_optuna_would_refuse_are_refused_before_anything_is_stored(
    flows: Path, tmp_path: Path, capsys: Any, setting: str, said: str
) -> None:
    assert main(_args(flows, setting)) == 2
    assert said in capsys.readouterr().err
    assert not (tmp_path / "home").exists() or not runner.runs(home=tmp_path / "home")


def test_a_pruner_that_fails_stops_the_search_and_says_why(
    flows: Path, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optuna

    def fails(self: Any, study: Any, trial: Any) -> bool:
        raise RuntimeError("cannot judge")

    monkeypatch.setattr(optuna.pruners.MedianPruner, "prune", fails)
    assert main(_args(flows, "search.pruner=median")) == 4
    err = capsys.readouterr().err
    assert "the search stopped: search.pruner=median could not judge trial" in err
    assert "RuntimeError: cannot judge" in err
    runs = latest_runs(tmp_path / "home")
    assert 0 < len(runs) < 16 and {run.status for run in runs} == {RunStatus.SUCCEEDED}


def test_a_small_search_whose_every_trial_fails_says_why(
    flows: Path, tmp_path: Path, capsys: Any
) -> None:
    """Fewer trials than max_failure_rate waits for (5): all of them failing still stops
    it and says why, with exit 4 (it exited 0 with no trial finished)."""
    args = [a for a in _args(flows) if "n_trials" not in a and "objective" not in a]
    assert main([*args, "search.n_trials=3", "search.objective=val_loss.median"]) == 4
    err = capsys.readouterr().err
    assert "3 of 3 trials failed" in err and "has no val_loss.median" in err
    assert {run.status for run in latest_runs(tmp_path / "home")} == {RunStatus.SUCCEEDED}


DEAF = textwrap.dedent(
    '''
    import math
    import os
    import time
    import runner


    @runner.workflow
    def deaf(lr: float = 0.1, steps: int = 40) -> float:
        """Never asks should_prune: the controller stops it between steps (a second after
        it told it to stop, so a run lasts 2 s here)."""
        floor = (math.log10(lr) + 2) ** 2 * 0.1 + 0.05
        loss = 1.0
        for step in range(steps):
            loss = floor + (1.0 - floor) * math.exp(-step / 4)
            runner.log(step=step, val_loss=loss)
            time.sleep(0.05)
        return loss
    '''
)


@pytest.mark.slow  # (worker processes, 6 s)
def test_a_run_that_never_asks_is_stopped_between_steps(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNNER_HOME", str(tmp_path / "home"))
    (tmp_path / "deaf.py").write_text(DEAF)
    code = main(
        [
            "-q",
            "--max-parallelism=2",
            str(tmp_path / "deaf.py"),
            "deaf",
            "launcher=local",
            "search=random",
            "search.seed=5",
            "search.n_trials=6",
            "search.objective=val_loss.min",
            "search.pruner={name:median,n_startup_trials:2}",
            "params.lr=tag(log, interval(1e-4, 1))",
        ]
    )
    assert code == 0
    runs = latest_runs(tmp_path / "home")
    pruned = [run for run in runs if run.status is RunStatus.PRUNED]
    assert len(runs) == 6 and pruned
    for run in pruned:  # stopped where it was, its error says why, its points kept
        assert run.error and run.error.startswith("pruned at step")
        (series,) = runner.metric_series(run.id, ["val_loss"], home=tmp_path / "home")
        assert len(series.steps) < 40
