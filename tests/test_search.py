"""A search's trials as runs (issue 24): the values asked stay in their domains, exactly
n_trials finish, repeats tell the mean, the best is the best recorded, trials are asked as
workers are free (never in batches), failures stop a search past max_failure_rate, the same
seed asks the same trials, metric and result-key objectives; and, slow, a SIGKILL then
`runner resume`, a detached search and one on Dask.

(The missing-extra message is tested with the definitions, in test_search_space.py:
test_search_without_optuna_names_the_extra_and_exits_1.)"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runner
from runner.records import RunRecord, RunStatus

optuna = pytest.importorskip("optuna")

# Workflows of a package of their own (searchy), written into each test's project copy.
FLOWS = '''
import os, random, time
from pathlib import Path

import runner


def space(lr: float = 0.01, layers: int = 2, opt: str = "adam", rate: float = 0.5) -> float:
    return lr * layers + rate + (0.5 if opt == "sgd" else 0.0)


def noisy(x: float = 0.5, seed: int = 0) -> float:
    """A value that differs from one seed to the next (the repeats of a trial)."""
    return x + random.Random(seed).random()


def curve(x: float = 0.5, steps: int = 4) -> dict:
    """Logs a falling val_loss (its min at the last step) and returns other values."""
    for step in range(steps):
        runner.log(step=step, val_loss=x + 1.0 / (step + 1))
    return {"loss": 10 + x, "acc": 1 - x}


def timed(x: float = 0.5, folder: str = ".", long: float = 1.5) -> float:
    """The first trial to start takes `long` seconds, every other one 0.05."""
    try:
        os.close(os.open(Path(folder) / "long", os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        time.sleep(0.05)
    else:
        time.sleep(long)
    return x


def failing(x: float = 0.5, folder: str = ".", every: int = 2) -> float:
    """Call k (counted from 1 in a file; one run at a time) fails when `every` divides k."""
    path = Path(folder) / "calls"
    calls = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(calls))
    if calls % every == 0:
        raise ValueError(f"call {calls} fails")
    return x


def nan_above(x: float = 0.5) -> float:
    return float("nan") if x > 0.5 else x


def nap(x: float = 0.5, seconds: float = 0.3) -> float:
    time.sleep(seconds)
    return x


def linked(
    a: float = 0.5,
    b: float = 0.0,
    opt: str = "adam",
    name: str = "",
    nest: dict = {"x": 0.0, "y": 0.0},
    fixed: float = 0.0,
    also: float = 0.0,
) -> dict:
    """Returns the params it was given (and a loss to minimise)."""
    given = {"a": a, "b": b, "opt": opt, "name": name, "nest": nest, "fixed": fixed, "also": also}
    return {"loss": a, "given": given}
'''
WORKFLOWS = ("space", "noisy", "curve", "timed", "failing", "nan_above", "nap", "linked")
LOG_LR = "params.lr=tag(log, interval(1e-5, 1e-1))"


@pytest.fixture
def searchy(project: Path, home: Path) -> Path:
    """The test project with the searchy package and its workflows; returns its conf/."""
    (project / "searchy").mkdir()
    (project / "searchy" / "__init__.py").write_text("")
    (project / "searchy" / "flows.py").write_text(FLOWS)
    for name in WORKFLOWS:
        (project / "conf" / "workflow" / f"{name}.yaml").write_text(
            f'id: {name}\nversion: "1.0"\nentrypoint: searchy.flows:{name}\n'
        )
    return project / "conf"


def search(conf: Path, workflow: str, *overrides: str, **options: Any) -> runner.Launch:
    """A search launched in this process (sequential unless an override names a launcher)."""
    if not any(o.startswith("launcher=") for o in overrides):
        overrides = (*overrides, "launcher=sequential")
    return runner.launch(workflow, list(overrides), config_dir=conf, progress=False, **options)


def by_index(launch: runner.Launch) -> list[RunRecord]:
    return sorted(launch.runs, key=lambda run: run.index)


def objectives(launch: runner.Launch) -> dict[str, float | None]:
    """Each run's `objective` metric (its last value), by run id."""
    found = runner.metric_summaries(launch.id, ["objective"])
    return {summary.run_id: summary.last for summary in found}


class Spy:
    """What the study was asked and told, in order, seen through optuna.Study itself."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[tuple[str, int]] = []
        self.told: dict[int, Any] = {}  # trial number -> the values it was told
        self.studies: list[Any] = []
        ask, tell = optuna.study.Study.ask, optuna.study.Study.tell
        spy = self

        def asked(study: Any, *args: Any, **kwargs: Any) -> Any:
            trial = ask(study, *args, **kwargs)
            if study not in spy.studies:
                spy.studies.append(study)
            spy.events.append(("ask", trial.number))
            return trial

        def told(study: Any, trial: Any, values: Any = None, *args: Any, **kwargs: Any) -> Any:
            done = tell(study, trial, values, *args, **kwargs)
            spy.events.append(("tell", done.number))
            spy.told[done.number] = values
            return done

        monkeypatch.setattr(optuna.study.Study, "ask", asked)
        monkeypatch.setattr(optuna.study.Study, "tell", told)

    @property
    def study(self) -> Any:
        (study,) = self.studies
        return study


# -- the values asked -------------------------------------------------------------------------


def test_values_stay_in_their_domains_and_log_scaled_ones_spread_over_decades(
    searchy: Path,
) -> None:
    launch = search(
        searchy,
        "space",
        "search=random",
        "search.n_trials=200",
        LOG_LR,
        "params.layers=int(interval(2, 8))",
        "params.opt=choice(adam, sgd)",
        "params.rate=interval(0, 1)",
        seed=11,
    )
    runs = by_index(launch)
    assert [run.index for run in runs] == list(range(200))
    assert all(run.status is RunStatus.SUCCEEDED for run in runs)
    lrs = [run.params["lr"] for run in runs]
    layers = [run.params["layers"] for run in runs]
    rates = [run.params["rate"] for run in runs]
    assert all(1e-5 <= lr <= 1e-1 for lr in lrs)
    assert all(type(n) is int and 2 <= n <= 8 for n in layers)
    assert set(layers) == set(range(2, 9))  # (each of 7 values, 200 draws)
    assert {run.params["opt"] for run in runs} == {"adam", "sgd"}
    assert all(0 <= rate <= 1 for rate in rates)
    # Log-scaled: each of the 4 decades holds about a quarter of the draws (50 expected; 20
    # is 5 standard deviations below); drawn on a linear scale, 1e-5..1e-4 would hold 0.2.
    decades = [sum(10**-k <= lr < 10 ** (1 - k) for lr in lrs) for k in (5, 4, 3, 2)]
    assert sum(decades) == 200 and min(decades) >= 20, decades
    assert statistics.median(math.log10(lr) for lr in lrs) == pytest.approx(-3, abs=0.5)
    # A linear interval is not: its draws fill [0, 1] evenly (median about 0.5).
    assert statistics.median(rates) == pytest.approx(0.5, abs=0.15)
    # Each run recorded its value as its objective metric.
    assert objectives(launch) == {run.id: run.result for run in runs}


def test_interpolations_follow_each_trial_s_values(searchy: Path, home: Path) -> None:
    """`${params.a}` follows the value each trial was asked, as it follows a grid's point:
    a searched float, a choice (in a string), a nested key; one of a fixed key stays."""
    from runner.store import Store, process_start

    launch = search(
        searchy,
        "linked",
        "search=random",
        "search.n_trials=4",
        "search.objective=loss",
        "params.a=interval(1, 2)",
        "params.b=${params.a}",
        "params.opt=adam,sgd",
        "params.name=run-${params.opt}",
        "params.nest.x=interval(5, 6)",
        "params.nest.y=${params.nest.x}",
        "params.fixed=3",
        "params.also=${params.fixed}",
        seed=2,
    )
    runs = by_index(launch)
    assert launch.ok and len(runs) == 4

    def linked_right(run: RunRecord) -> None:
        p = run.params
        assert p["b"] == p["a"] and p["nest"]["y"] == p["nest"]["x"], p
        assert p["name"] == f"run-{p['opt']}" and p["also"] == 3.0, p
        assert run.result["given"] == p  # what the workflow was given, as recorded

    for run in runs:
        linked_right(run)
    assert len({run.params["a"] for run in runs}) == 4
    assert {run.params["opt"] for run in runs} == {"adam", "sgd"}
    # A trial run again by resume (its run killed: pending) is given its params as recorded.
    again = runs[1]
    Store(home).reopen(launch.id, [again.id], os.getpid(), process_start(os.getpid()))
    resumed = by_index(runner.resume(launch.id, progress=False))
    assert resumed[1].id == again.id and resumed[1].ended != again.ended
    assert resumed[1].params == again.params
    linked_right(resumed[1])


def test_exactly_n_trials_and_each_trial_is_told_the_mean_of_its_repeats(
    searchy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(monkeypatch)
    launch = search(
        searchy, "noisy", "search=tpe", "search.n_trials=4", "params.x=interval(0, 1)", repeat=3
    )
    runs = by_index(launch)
    assert len(runs) == 12 and launch.ok
    assert objectives(launch) == {run.id: run.result for run in runs}
    for number in range(4):
        trial = runs[3 * number : 3 * number + 3]
        assert [run.index for run in trial] == [3 * number + r for r in range(3)]
        assert len({json.dumps(run.params) for run in trial}) == 1  # the params it was asked
        assert len({run.seed for run in trial}) == 3  # each repeat a seed of its own
        assert len({run.result for run in trial}) == 3
        mean = statistics.fmean(run.result for run in trial)
        assert spy.told[number] == pytest.approx([mean])
        assert spy.study.trials[number].params == {"params.x": trial[0].params["x"]}
    assert len(spy.study.trials) == 4
    # The launch counts the runs, n_trials x repeat.
    assert launch.record.run_count == 12 and launch.record.counts == {"succeeded": 12}


@pytest.mark.parametrize(("direction", "best"), [("minimize", min), ("maximize", max)])
def test_best_is_the_best_trial_recorded(
    searchy: Path, monkeypatch: pytest.MonkeyPatch, direction: str, best: Any
) -> None:
    spy = Spy(monkeypatch)
    launch = search(
        searchy,
        "space",
        "search=tpe",
        "search.n_trials=15",
        f"search.direction={direction}",
        LOG_LR,
        "params.layers=int(interval(2, 8))",
        "params.opt=adam,sgd",
        seed=3,
    )
    runs = by_index(launch)
    assert len(runs) == 15
    winner = best(runs, key=lambda run: run.result)
    study = spy.study
    assert study.best_value == winner.result == best(objectives(launch).values())
    assert study.best_trial.number == winner.index
    fixed = {"params.rate": 0.5}  # (not a dimension)
    assert {**study.best_params, **fixed} == {f"params.{k}": v for k, v in winner.params.items()}
    # The study holds the recorded trials, no others, with their values.
    assert [t.value for t in study.trials] == [run.result for run in runs]


def test_a_finished_search_resumed_runs_nothing(searchy: Path) -> None:
    launch = search(searchy, "noisy", "search=random", "search.n_trials=3", "params.x=0,1")
    again = runner.resume(launch.id, progress=False)
    assert [(run.id, run.ended) for run in by_index(again)] == [
        (run.id, run.ended) for run in by_index(launch)
    ]
    assert again.record.counts == {"succeeded": 3}


# -- asking as workers are free ---------------------------------------------------------------


def test_a_trial_is_asked_when_a_worker_is_free_not_in_batches(
    searchy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers; the first trial to start is long, the others short: the short ones'
    successors start while the long one runs (a batch-synchronous search would wait for it),
    each asked once the trials before it that ended were told."""
    spy = Spy(monkeypatch)
    launch = search(
        searchy,
        "timed",
        "search=random",
        "search.n_trials=6",
        "search.max_concurrent=2",
        "params.x=interval(0, 1)",
        f"params.folder={tmp_path}",
        "launcher=threads",
    )
    runs = by_index(launch)
    assert len(runs) == 6 and launch.ok
    started = {run.index: run.started for run in runs}
    ended = {run.index: run.ended for run in runs}
    assert all(started.values()) and all(ended.values())
    long = max(runs, key=lambda run: run.duration or 0)
    assert long.index in (0, 1)  # (the first two start together)
    during = [run.index for run in runs if run.started < long.ended and run is not long]
    assert len(during) == 5, (during, started, ended)  # every other trial ran meanwhile
    # Never more than two at once: trial k >= 2 starts after k - 1 trials before it ended.
    for k in range(2, 6):
        assert sum(ended[j] <= started[k] for j in range(k)) >= k - 1, (k, started, ended)
    # Each trial was asked after the tells of all trials but one (the long one) before it.
    for k in range(2, 6):
        asked = spy.events.index(("ask", k))
        told = {n for kind, n in spy.events[:asked] if kind == "tell"}
        assert told == set(range(k)) - {long.index}, (k, spy.events)


def test_searches_and_grids_share_the_local_launchers_workers_in_one_process(
    searchy: Path,
) -> None:
    """A notebook's kernel: a search on worker processes, then a grid, then a search. (The
    search's pool was loky's own kind, not joblib's, and every launch after it failed.)"""
    space = ("search=random", "search.n_trials=2", "params.x=interval(0, 1)")
    local = ("params.seconds=0", "launcher=local")
    first = search(searchy, "nap", *space, *local)
    grid = search(searchy, "nap", "params.x=1,2", *local)
    second = search(searchy, "nap", *space, *local)
    assert [launch.record.counts for launch in (first, grid, second)] == [{"succeeded": 2}] * 3


# -- failures ---------------------------------------------------------------------------------


def failing_search(conf: Path, folder: Path, every: int) -> runner.Launch:
    return search(
        conf,
        "failing",
        "search=random",
        "search.n_trials=10",
        "params.x=interval(0, 1)",
        f"params.folder={folder}",
        f"params.every={every}",
    )


def test_failures_within_max_failure_rate_do_not_stop_the_search(
    searchy: Path, tmp_path: Path
) -> None:
    # Every fifth trial fails: 2 of 10, exactly the default max_failure_rate (0.2).
    launch = failing_search(searchy, tmp_path, 5)
    runs = by_index(launch)
    assert [run.status.value for run in runs] == 4 * ["succeeded"] + ["failed"] + 4 * [
        "succeeded"
    ] + ["failed"]
    assert runs[4].error == "ValueError: call 5 fails"
    assert launch.record.counts == {"succeeded": 8, "failed": 2}


def test_a_nan_value_fails_its_trial_and_the_search_goes_on(
    searchy: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Optuna takes no NaN (telling it one was an internal error, exit 5): the trial fails,
    saying so; within max_failure_rate the search goes on (Hydra's sweeper stops at the
    first NaN), beyond it it stops and says why."""
    from runner.cli import main

    space = ("search=random", "search.n_trials=10", "params.x=interval(0, 1)")
    launch = search(searchy, "nan_above", *space, "search.max_failure_rate=1")
    nan = [run for run in launch.runs if run.params["x"] > 0.5]
    assert 0 < len(nan) < 10
    assert launch.search_status().trials == {"finished": 10 - len(nan), "failed": len(nan)}
    assert launch.ok and launch.best is not None
    assert launch.best.value == min(run.params["x"] for run in launch.runs if run not in nan)
    monkeypatch.setenv("RUNNER_CONFIG_DIR", str(searchy))
    with pytest.raises(SystemExit) as done:
        main(["nan_above", *space, "search.seed=3", "launcher=sequential"])
    assert done.value.code == 4
    assert "run gave no value: its return value is NaN" in capsys.readouterr().err


def test_the_objective_result_is_the_return_value_as_tables_name_it(searchy: Path) -> None:
    """Status and tables call the return value `result`: search.objective=result reads it
    (it failed every trial: "it has no result"), unless the result has a key of that name."""
    space = ("search=random", "search.n_trials=5", "params.x=interval(0, 1)")
    launch = search(searchy, "nap", *space, "params.seconds=0", "search.objective=result")
    assert launch.search_status().trials == {"finished": 5}
    best = min(launch.runs, key=lambda run: run.result)  # (minimize)
    assert launch.best is not None and launch.best.value == best.result


def test_several_objectives_need_as_many_values(
    searchy: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Two directions and a return value of one number: each trial fails, saying what to
    return (the one number was told as both objectives' value)."""
    from runner.cli import main

    monkeypatch.setenv("RUNNER_CONFIG_DIR", str(searchy))
    space = ("search=nsga2", "search.n_trials=5", "params.x=interval(0, 1)", "params.seconds=0")
    with pytest.raises(SystemExit) as done:
        main(["nap", *space, "search.direction=[minimize,maximize]", "launcher=sequential"])
    assert done.value.code == 4
    assert "search.direction gives 2 objectives and its result is not 2 numbers" in (
        capsys.readouterr().err
    )


def test_a_qmc_search_says_nothing_of_optuna_s_experimental_warning(searchy: Path) -> None:
    """(pytest turns warnings into errors here: QMCSampler's ExperimentalWarning was printed
    to every user of search=qmc, pointing into runner's code)"""
    pytest.importorskip("scipy")
    space = ("search=qmc", "search.n_trials=3", "params.x=interval(0, 1)", "params.seconds=0")
    assert search(searchy, "nap", *space).search_status().trials == {"finished": 3}


def test_resume_of_a_search_leaves_its_failed_trials_finished(
    searchy: Path, tmp_path: Path
) -> None:
    """A failed trial is one the search finished: a resume runs it no more (a grid's resume
    runs its failures again), so a second resume of a finished study does nothing."""
    launch = failing_search(searchy, tmp_path, 5)
    before = {run.id: (run.status, run.ended) for run in launch.runs}
    assert launch.record.counts == {"succeeded": 8, "failed": 2}
    again = runner.resume(launch.id, progress=False)
    assert {run.id: (run.status, run.ended) for run in again.runs} == before
    assert (tmp_path / "calls").read_text() == "10"  # no trial ran again


def test_a_cancelled_trial_is_no_failure_and_resume_runs_it_again(
    searchy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two of six trials end cancelled (as a launcher reports a run it stopped, a Dask
    cluster's): as failures (2 of 5 > 0.2) they would have stopped the search; it asks all
    six. Resume runs them again with their params and seeds, as a grid's resume runs its
    cancelled runs, and the study has its six trials."""
    import runner.launchers
    from runner.records import RunOutcome

    real = runner.launchers.execute_batch
    taken: list[str] = []

    def cancelling(batch: tuple[Any, ...], marker_dir: str | None = None) -> Any:
        number, _, attempt, _, run_ids, _, _ = batch
        taken.append(run_ids[0])
        if len(taken) not in (2, 4):
            return real(batch, marker_dir)
        now = time.time()
        return number, [RunOutcome(run_ids[0], RunStatus.CANCELLED, now, now, attempt=attempt)]

    monkeypatch.setattr(runner.launchers, "execute_batch", cancelling)
    space = ("search=random", "search.n_trials=6", "params.x=interval(0, 1)", "params.seconds=0")
    launch = search(searchy, "nap", *space)
    runs = by_index(launch)
    assert [run.status.value for run in runs] == 2 * ["succeeded", "cancelled"] + 2 * ["succeeded"]
    assert "search_stopped" not in launch.record.definition
    assert launch.search_status().trials == {"finished": 4, "cancelled": 2}
    monkeypatch.setattr(runner.launchers, "execute_batch", real)
    again = runner.resume(launch.id, progress=False)
    resumed = by_index(again)
    assert [run.status.value for run in resumed] == 6 * ["succeeded"]
    assert [(r.id, r.params, r.seed) for r in resumed] == [(r.id, r.params, r.seed) for r in runs]
    assert again.search_status().trials == {"finished": 6}


def test_failures_beyond_max_failure_rate_stop_the_search(
    searchy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from runner.cli import main

    # Every second trial fails: after 5 (2 failed, 0.4 > 0.2) no more is asked.
    monkeypatch.setenv("RUNNER_CONFIG_DIR", str(searchy))
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as done:
        main(
            [
                "failing",
                "search=random",
                "search.n_trials=10",
                "params.x=interval(0, 1)",
                f"params.folder={tmp_path}",
                "params.every=2",
                "launcher=sequential",
            ]
        )
    assert done.value.code == 4
    err = capsys.readouterr().err
    assert "run " in err and "failed: ValueError: call 2 fails" in err
    (launch,) = runner.status([])
    assert isinstance(launch, runner.Launch)
    runs = by_index(launch)
    assert [run.status.value for run in runs] == ["succeeded", "failed"] * 2 + ["succeeded"]
    assert (tmp_path / "calls").read_text() == "5"


def test_resume_of_a_search_stopped_by_its_failures_runs_nothing_and_says_why(
    searchy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Stopped past max_failure_rate: resume asks no more trials (it asked more, as if the
    failures were forgotten), runs none again, says why as status does, and that a new launch
    searches on; exit 4, as a finished search's resume with failed trials."""
    from tests.test_output import cli_out

    launch = failing_search(searchy, tmp_path, 2)  # stopped after 5 trials, 2 failed
    stopped = launch.record.definition["search_stopped"]
    before = {run.id: (run.status, run.ended) for run in launch.runs}
    assert {run.id: (run.status, run.ended) for run in runner.resume(launch.id).runs} == before
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = cli_out(capsys, "resume", launch.id)
    assert code == 4
    assert f"\n{stopped}\nbest: trial " in out  # the search's lines, as status shows them
    assert err.endswith(
        f"; {stopped}; `runner resume` asks no more trials of it: a new launch searches on\n"
    )
    assert (tmp_path / "calls").read_text() == "5"  # no trial ran
    assert {run.id: (run.status, run.ended) for run in launch_status(launch.id).runs} == before
    code, out, _ = cli_out(capsys, "status", launch.id, "--json")
    (shown,) = json.loads(out)
    found = shown["search"]
    assert (found["stopped"], found["finished"], found["failed"]) == (stopped, 3, 2)


def test_a_stopped_search_says_why_and_counts_no_trial_it_never_asked(
    searchy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from runner.cli import main

    monkeypatch.setenv("RUNNER_CONFIG_DIR", str(searchy))
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as done:
        main(
            [
                "failing",
                "search=random",
                "search.n_trials=10",
                "params.x=interval(0, 1)",
                f"params.folder={tmp_path}",
                "params.every=2",
                "launcher=sequential",
            ]
        )
    assert done.value.code == 4
    out, err = capsys.readouterr()
    assert "the search stopped: 2 of 5 trials failed (search.max_failure_rate=0.2)" in (out + err)
    (launch,) = runner.status([])
    assert isinstance(launch, runner.Launch)
    assert launch.record.counts == {"succeeded": 3, "failed": 2}


# -- reproducible -------------------------------------------------------------------------------


def test_the_same_seed_asks_the_same_trials_in_the_same_order(searchy: Path) -> None:
    args = (
        "search=tpe",
        "search.n_trials=14",  # (TPE's own model from the 11th trial on)
        "search.max_concurrent=1",
        LOG_LR,
        "params.layers=int(interval(2, 8))",
        "params.opt=adam,sgd",
    )

    def trials(seed: int) -> list[tuple[dict[str, Any], int]]:
        return [
            (run.params, run.seed) for run in by_index(search(searchy, "space", *args, seed=seed))
        ]

    first = trials(5)
    assert len(first) == 14
    assert trials(5) == first
    other = trials(6)
    assert [params for params, _ in other] != [params for params, _ in first]


def test_cache_serves_the_trials_run_before_and_tells_each_its_source_s_value(
    searchy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--cache, as for a grid's runs: the same search again (the same seed: the same trials,
    params and seeds) with two more trials serves its first three from the first search's
    runs, each trial told the value its source gave (a metric's: the source logged it)."""
    args = (
        "search=random",
        "search.objective=val_loss.min",
        "params.x=interval(0, 1)",
        "params.steps=int(interval(2, 5))",
    )
    before = search(searchy, "curve", *args, "search.n_trials=3", seed=4, cache=True)
    sources = by_index(before)
    spy = Spy(monkeypatch)
    launch = search(searchy, "curve", *args, "search.n_trials=5", seed=4, cache=True)
    runs = by_index(launch)
    assert [run.status.value for run in runs] == 3 * ["cached"] + 2 * ["succeeded"]
    assert [run.cached_from for run in runs[:3]] == [run.id for run in sources]
    assert [run.params for run in runs[:3]] == [run.params for run in sources]
    given = objectives(before)
    values = objectives(launch)  # (a cached run's metrics are its source's, once)
    assert len(runner.metric_summaries(launch.id, ["objective"])) == 5
    for number, source in enumerate(sources):
        assert spy.told[number] == [given[source.id]]
        assert values[runs[number].id] == given[source.id]
    assert sorted(spy.told) == list(range(5)) and launch.ok
    assert launch.search_status().trials == {"finished": 5}
    # --overwrite-cache runs them, detached too (its own process asks the trials: given here).
    from runner import execution

    spawned: list[dict[str, Any]] = []
    monkeypatch.setattr(
        "runner.detach.spawn", lambda *_, **flags: spawned.append(flags) or os.getpid()
    )
    args = (*args, "search.n_trials=2")
    detached = search(
        searchy, "curve", *args, seed=4, cache=True, detach=True, overwrite_cache=True
    )
    assert spawned == [{"fail_fast": False, "overwrite_cache": True}]
    done = execution.run_pending(detached.id, overwrite_cache=True)
    assert done.record.counts == {"succeeded": 2}


# -- objectives ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("objective", "stat"), [("val_loss.min", min), ("val_loss.last", None)])
def test_a_metric_logged_during_the_run_is_the_objective(
    searchy: Path, monkeypatch: pytest.MonkeyPatch, objective: str, stat: Any
) -> None:
    spy = Spy(monkeypatch)
    launch = search(
        searchy,
        "curve",
        "search=random",
        "search.n_trials=4",
        f"search.objective={objective}",
        "params.x=interval(0, 1)",
        "params.steps=int(interval(2, 5))",
    )
    runs = by_index(launch)
    assert len(runs) == 4 and launch.ok
    values = objectives(launch)
    for run in runs:
        (series,) = runner.metric_series(run.id, ["val_loss"])
        logged = list(series.values)
        expected = stat(logged) if stat else logged[-1]
        assert values[run.id] == pytest.approx(expected)
        assert spy.told[run.index] == pytest.approx([expected])
        assert run.result["loss"] != pytest.approx(expected)  # (not the result)


def test_a_result_key_is_the_objective(searchy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    launch = search(
        searchy,
        "curve",
        "search=random",
        "search.n_trials=5",
        "search.objective=acc",
        "search.direction=maximize",
        "params.x=interval(0, 1)",
    )
    runs = by_index(launch)
    assert objectives(launch) == {run.id: run.result["acc"] for run in runs}
    assert spy.study.best_value == max(run.result["acc"] for run in runs)


# -- slow: a killed controller, a detached search, Dask ----------------------------------------


def launch_status(launch_id: str) -> runner.Launch:
    found = runner.get(launch_id)
    assert isinstance(found, runner.Launch)
    return found


@pytest.mark.slow
def test_sigkill_of_the_launching_process_then_resume_gives_exactly_n_trials(
    searchy: Path, home: Path, elsewhere: Path, cli
) -> None:
    from tests.conftest import popen

    process = popen(
        searchy.parent,
        home,
        elsewhere,
        "nap",
        "search=tpe",
        "search.n_trials=8",
        "search.max_concurrent=2",
        "params.x=interval(0, 1)",
        "params.seconds=0.3",
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, "no 3 trials ended within 60 s"
            found = runner.status([])
            runs = found[0].runs if found and isinstance(found[0], runner.Launch) else []
            ended = sum(run.status is RunStatus.SUCCEEDED for run in runs)
            if ended >= 3 and len(runs) > ended:  # (and the next ones asked)
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
        # Not read to their end: the killed process's workers hold them open a while.
        for pipe in (process.stdout, process.stderr):
            pipe.close()
    (launch,) = runner.status([])
    assert isinstance(launch, runner.Launch)
    before = {run.id: run for run in launch.runs}
    assert 3 <= len(before) < 8
    assert any(run.status is RunStatus.LOST for run in before.values()), launch.record.counts

    done = cli("resume", launch.id)
    assert done.code == 0, done.err
    after = {run.id: run for run in launch_status(launch.id).runs}
    assert len(after) == 8 and all(run.status is RunStatus.SUCCEEDED for run in after.values())
    assert sorted(run.index for run in after.values()) == list(range(8))
    # The runs recorded before the kill kept their ids, indexes, params and seeds (the killed
    # ones ran again as they were); the others are new trials, none a copy of another.
    for run_id, run in before.items():
        assert (after[run_id].index, after[run_id].params, after[run_id].seed) == (
            run.index,
            run.params,
            run.seed,
        )
    assert len({run.params["x"] for run in after.values()}) == 8
    # A second resume of the finished study does nothing.
    assert cli("resume", launch.id).code == 0
    assert {run.id: run.ended for run in launch_status(launch.id).runs} == {
        run.id: run.ended for run in after.values()
    }


@pytest.mark.slow
def test_a_detached_search_runs_to_n_trials(searchy: Path, cli) -> None:
    done = cli(
        "--detach",
        "nap",
        "search=random",
        "search.n_trials=5",
        "params.x=interval(0, 1)",
        "params.seconds=0.05",
        "--json",
    )
    assert done.code == 0, done.err
    launch_id = json.loads(done.out)["id"]
    waited = cli("wait", launch_id)
    assert waited.code == 0, waited.err
    launch = launch_status(launch_id)
    runs = by_index(launch)
    assert [run.index for run in runs] == list(range(5))
    assert launch.ok and len({run.params["x"] for run in runs}) == 5
    assert objectives(launch) == {run.id: run.result for run in runs}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip("distributed")
    from tests import test_dask

    running = test_dask.Cluster(tmp_path_factory.mktemp("dask-cluster"))
    try:
        if not os.path.exists(test_dask.DASK):  # (a venv that sees the system's packages)
            test_dask.DASK = shutil.which("dask") or test_dask.DASK
        running.start_scheduler()
        running.start_worker()
        running.start_worker()
        running.wait_for_workers(2)
        yield running
    finally:
        running.stop()


@pytest.mark.slow
@pytest.mark.parametrize(
    "concurrent",
    [["search.max_concurrent=2"], pytest.param([], id="default")],
)
def test_a_search_on_dask(
    searchy: Path, cluster: Any, monkeypatch: pytest.MonkeyPatch, concurrent: list[str]
) -> None:
    """The cluster has two workers of one thread: two trials at a time, by default too."""
    spy = Spy(monkeypatch)
    launch = runner.launch(
        "nap",
        [
            "search=tpe",
            "search.n_trials=6",
            "params.x=interval(0, 1)",
            "params.seconds=0.2",
            *concurrent,
        ],
        config_dir=searchy,
        addr=cluster.address,
        progress=False,
    )
    runs = by_index(launch)
    assert [run.index for run in runs] == list(range(6)) and launch.ok
    assert all(run.worker and run.worker.startswith("tcp://127.0.0.1:") for run in runs)
    assert objectives(launch) == {run.id: run.result for run in runs}
    assert [t.value for t in spy.study.trials] == [run.result for run in runs]
    # Two trials asked at first, then one as each is told.
    for k in range(2, 6):
        asked = spy.events.index(("ask", k))
        assert sum(kind == "tell" for kind, _ in spy.events[:asked]) >= k - 1, spy.events


def test_a_grid_search_runs_every_point_once_float_ranges_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """search=grid: Optuna's GridSampler over each dimension's values (a float range's too),
    every point once; its stop once the grid is used up ends nothing (it raised: exit 5)."""
    from runner.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNNER_HOME", str(tmp_path / "home"))
    (tmp_path / "g.py").write_text(
        "import runner\n\n\n@runner.workflow\ndef f(x: float = 0.0, s: str = 'a') -> float:\n"
        "    return (x - 0.5) ** 2 + (s == 'b')\n"
    )
    args = ["-q", "g.py", "f", "search=grid", "params.x=range(0,1,0.25)", "params.s=a,b"]
    with pytest.raises(SystemExit) as done:
        main([*args, "launcher=sequential"])
    assert done.value.code == 0
    (launch,) = runner.status([], home=tmp_path / "home")
    assert isinstance(launch, runner.Launch)
    points = sorted((run.params["x"], run.params["s"]) for run in launch.runs)
    assert points == [(x, s) for x in (0.0, 0.25, 0.5, 0.75) for s in ("a", "b")]
