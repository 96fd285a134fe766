"""Reading a search (issue 24): what its launch line, `runner status`, the notebook and the TUI
say of it; its best trial so far (`Launch.best`, `runner status LAUNCH`), live while it runs;
its results table sorted by the objective; its study rebuilt for Optuna's own plots. Real,
small searches (search=random with a fixed seed) on the sequential and threads launchers, in
this process."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

import runner
from runner import render
from runner.records import RunStatus
from runner.store import Store
from tests.conftest import PROJECT
from tests.test_output import cli_out

pytest.importorskip("optuna")  # (the `search` extra; every search needs it)

FLOWS = '''
import os, time


def bowl(x: float = 0.0, opt: str = "a") -> float:
    return (x - 0.3) ** 2 + (0.25 if opt == "b" else 0.0)


def pair(x: float = 0.0) -> dict:
    return {"loss": (x - 0.3) ** 2, "size": x, "deep": {"acc": 1 - x}}


def items(x: float = 0.0) -> list:
    return [(x - 0.3) ** 2, x]


def picky(x: float = 0.0) -> float:
    if x > 0.5:
        raise ValueError("too big")
    return x


def held(x: float = 0.0, gate: str = "", free: int = 3) -> float:
    """The first `free` calls return at once; the others wait until `gate` exists."""
    call = 0
    while True:  # this call's number: the first free name, taken atomically; then its x
        try:
            fd = os.open(f"{gate}.call{call}", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            call += 1
    os.write(fd, repr(x).encode())
    os.close(fd)
    end = time.time() + 60
    while call >= free and not os.path.exists(gate) and time.time() < end:
        time.sleep(0.01)
    return (x - 0.3) ** 2
'''
WORKFLOWS = ("bowl", "pair", "items", "picky", "held")
SPACE = ["params.x=interval(0, 1)", "params.opt=a,b"]


def searched_project(root: Path) -> Path:
    """The test project with the `searched` package, its workflows declared."""
    project = root / "proj"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("__pycache__", ".runner"))
    (project / "searched").mkdir()
    (project / "searched" / "__init__.py").write_text("")
    (project / "searched" / "flows.py").write_text(FLOWS)
    for name in WORKFLOWS:
        (project / "conf" / "workflow" / f"{name}.yaml").write_text(
            f'id: {name}\nversion: "1.0"\nentrypoint: searched.flows:{name}\n'
        )
    return project


def search(project: Path, home: Path, target: str, *overrides: str, **options: Any) -> Any:
    return runner.launch(
        target,
        ["search=random", "search.seed=7", "launcher=sequential", *overrides],
        config_dir=project / "conf",
        home=home,
        progress=False,
        seed=5,
        **options,
    )


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, runner.Launch]:
    """One finished search of 8 trials of `bowl` (minimize), read by the tests below."""
    root = tmp_path_factory.mktemp("studies")
    project, home = searched_project(root), root / "home"
    launch = search(project, home, "bowl", "search.n_trials=8", *SPACE)
    return project, home, launch


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return searched_project(tmp_path)


def values(launch: runner.Launch) -> dict[str, float]:
    """Each run's value, computed again from its result (the objective: the return value)."""
    return {run.id: run.result for run in launch.runs if run.status is RunStatus.SUCCEEDED}


def trial_line(best: runner.Launch, run_id: str) -> int:
    run = next(run for run in best.runs if run.id == run_id)
    return run.index // max(best.record.repeat, 1)


# -- what a search is: its launch line, the launches listed ------------------------------------


def test_a_search_s_launch_line_says_what_it_is(
    project: Path, home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNNER_CONFIG_DIR", str(project / "conf"))
    code, out, _ = cli_out(
        capsys,
        "bowl",
        "search=random",
        "search.n_trials=3",
        "params.x=interval(0, 1)",
        "launcher=sequential",
        "repeat=2",
        "seed=5",
    )
    assert code == 0
    (launch,) = runner.status(home=home)
    first = out.splitlines()[0]
    assert (
        first == f"launch {launch.id}: a search of 3 trials (random, repeat 2) of bowl:1.0 (seed 5)"
    )
    assert "0 runs" not in out
    monkeypatch.setenv("COLUMNS", "120")  # (at 80, the column is cut with an ellipsis)
    code, out, _ = cli_out(capsys, "status")
    assert "  3 random trials, repeat 2  " in out


def test_a_search_s_progress_bar_counts_its_trials_runs(
    project: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """tqdm's bar of a search starts at 0 of its planned runs (it has none recorded when made)."""
    runner.launch(
        "bowl",
        ["search=random", "search.n_trials=3", "params.x=interval(0, 1)", "launcher=sequential"],
        config_dir=project / "conf",
        home=home,
        progress=True,
    )
    err = capsys.readouterr().err
    assert " 3/3 " in err and "6/3" not in err
    assert " 0/3 " in err


# -- the best trial so far ---------------------------------------------------------------------


def test_the_best_is_the_minimum_over_the_recorded_trials(done: tuple[Path, Path, Any]) -> None:
    launch = done[2]
    found = values(launch)
    assert len(found) == 8
    best = launch.best
    assert best is not None
    assert best.value == min(found.values())
    assert best.run.id == min(found, key=found.__getitem__)
    assert best.params == {"x": best.run.params["x"], "opt": best.run.params["opt"]}
    status = launch.search_status()
    assert (status.finished, status.failed, status.n_trials) == (8, 0, 8)
    assert status.best_trial == trial_line(launch, best.run.id)


def test_a_maximised_search_s_best_is_the_maximum(project: Path, home: Path) -> None:
    launch = search(project, home, "bowl", "search.n_trials=5", "search.direction=maximize", *SPACE)
    found = values(launch)
    assert launch.best is not None and launch.best.value == max(found.values())
    table = runner.table(launch, by_point=False)
    assert table.rows[0].run_id == launch.best.run.id  # best first: descending


def test_a_launch_that_is_no_search_has_no_best_and_no_study(project: Path, home: Path) -> None:
    grid = runner.launch(
        "bowl", ["params.x=0.1,0.2", "launcher=sequential"], config_dir=project / "conf", home=home
    )
    assert grid.best is None and grid.search_status() is None
    with pytest.raises(runner.UsageError, match="is no search"):
        grid.study()


def test_status_of_a_search_shows_its_best_trial_and_sorts_by_the_objective(
    done: tuple[Path, Path, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, home, launch = done
    monkeypatch.setenv("RUNNER_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = cli_out(capsys, "status", launch.id[:12])
    assert code == 0
    lines = out.splitlines()
    best = launch.best
    x, opt = best.run.params["x"], best.run.params["opt"]
    trial = trial_line(launch, best.run.id)
    at = lines.index("  search (random): 8 of 8 trials finished")
    assert lines[at + 1 : at + 3] == [
        f"  best: trial {trial} (run {best.run.id[:12]}): result {best.value:.4g} (minimize)",
        f"    x={x!r}, opt={opt}",
    ]
    assert all(len(line) <= 80 for line in lines)
    header = next(i for i, line in enumerate(lines) if line.startswith("run "))
    assert lines[header].split()[:5] == ["run", "status", "x", "opt", "objective.last"]
    shown = [line.split()[0] for line in lines[header + 1 : header + 9]]
    order = sorted(values(launch).items(), key=lambda item: item[1])
    assert shown == [run_id[:8] for run_id, _ in order]  # best first


def test_status_json_of_a_search_says_how_far_it_got_and_its_best(
    done: tuple[Path, Path, Any],
    project: Path,
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the text status says of a search, as plain values (launch --json says it too)."""
    _, done_home, launch = done
    monkeypatch.setenv("RUNNER_HOME", str(done_home))
    code, out, _ = cli_out(capsys, "status", launch.id[:12], "--json")
    assert code == 0
    (shown,) = json.loads(out)
    best = launch.best
    assert shown["search"] == {
        "sampler": "random",
        "pruner": None,
        "n_trials": 8,
        "repeat": 1,
        "objectives": ["result"],
        "directions": ["minimize"],
        "finished": 8,
        "pruned": 0,
        "failed": 0,
        "cancelled": 0,
        "running": 0,
        "lost": 0,
        "stopped": None,
        "best": {
            "trial": trial_line(launch, best.run.id),
            "run": best.run.id,
            "value": best.value,
            "params": {"x": best.run.params["x"], "opt": best.run.params["opt"]},
        },
    }
    assert len(shown["runs"]) == 8
    # Several objectives: the best's value of each; a pruner by its name; a grid has none.
    monkeypatch.setenv("RUNNER_HOME", str(home))
    pairs = search(
        project,
        home,
        "pair",
        "search.n_trials=3",
        "search.objective=[loss,size]",
        "search.direction=[minimize,maximize]",
        "params.x=interval(0, 1)",
    )
    found = pairs.to_json()["search"]
    assert found["best"]["value"] == pairs.best.value and len(pairs.best.value) == 2
    assert found["objectives"] == ["loss", "size"]
    pruned = ("search.pruner.name=median", "search.pruner.metric=loss", "search.n_trials=2")
    assert search(project, home, "bowl", *pruned, *SPACE).to_json()["search"]["pruner"] == "median"
    grid = runner.launch(
        "bowl", ["params.x=0,1", "launcher=sequential"], config_dir=project / "conf", progress=False
    )
    assert "search" not in grid.to_json()
    code, out, _ = cli_out(capsys, "status", grid.id, "--json")
    assert "search" not in json.loads(out)[0]


def test_status_is_live_while_a_search_runs(
    project: Path, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three trials end, two wait on a gate: the best is among the three, two are running."""
    gate = tmp_path / "gate"
    made: list[str] = []
    launched: list[Any] = []
    thread = threading.Thread(
        target=lambda: launched.append(
            runner.launch(
                "held",
                [
                    "search=random",
                    "search.seed=3",
                    "search.n_trials=5",
                    "search.max_concurrent=2",
                    "params.x=interval(0, 1)",
                    f"params.gate={gate}",
                    "launcher=threads",
                ],
                config_dir=project / "conf",
                home=home,
                on_created=lambda record, _: made.append(record.id),
            )
        )
    )
    thread.start()
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            if made and (launch := runner.get(made[0], home=home)).record.run_count:
                status = launch.search_status()
                if status.finished == 3 and status.trials.get("running") == 2:
                    break
            time.sleep(0.02)
        assert status is not None and status.trials == {"finished": 3, "running": 2}
        assert not status.over
        # The runs of the first three calls ended (their rows may still wait to be written
        # as finished): each call wrote its x.
        free = {float((tmp_path / f"gate.call{n}").read_text()) for n in range(3)}
        ended = {
            run.id: (run.params["x"] - 0.3) ** 2 for run in launch.runs if run.params["x"] in free
        }
        assert len(ended) == 3
        assert status.best is not None and status.best.value == pytest.approx(min(ended.values()))
        assert status.best.run.id in ended
        assert status.best_trial_text().startswith("best so far: trial ")
        with pytest.MonkeyPatch.context() as env:
            env.setenv("RUNNER_HOME", str(home))
            _, out, _ = cli_out(capsys, "status", made[0][:12])
        assert "  search (random): 3 of 5 trials finished, 2 running" in out
        assert "  best so far: trial " in out
    finally:
        gate.touch()
        thread.join(60)
    (finished,) = launched
    assert finished.search_status().trials == {"finished": 5}


def test_failed_trials_are_counted_and_never_best(project: Path, home: Path) -> None:
    launch = search(
        project,
        home,
        "picky",
        "search.n_trials=8",
        "search.max_failure_rate=1",
        "params.x=interval(0, 1)",
    )
    status = launch.search_status()
    failed = sum(1 for run in launch.runs if run.status is RunStatus.FAILED)
    assert failed and status.trials == {"finished": 8 - failed, "failed": failed}
    assert (
        status.progress() == f"search (random): {8 - failed} of 8 trials finished, {failed} failed"
    )
    assert status.best.value == min(values(launch).values())


def test_several_objectives_best_by_the_first_the_others_shown(project: Path, home: Path) -> None:
    launch = search(
        project,
        home,
        "pair",
        "search.n_trials=5",
        "search.objective=[loss,size]",
        "search.direction=[minimize,maximize]",
        "params.x=interval(0, 1)",
    )
    runs = {run.id: run.result for run in launch.runs}
    best_id = min(runs, key=lambda run_id: runs[run_id]["loss"])
    best = launch.best
    assert best.run.id == best_id
    assert best.value == [runs[best_id]["loss"], runs[best_id]["size"]]
    lines = launch.search_status().lines()
    assert lines[1].startswith("best by loss: trial ")
    assert lines[2] == (
        f"  loss {runs[best_id]['loss']:.4g} (minimize), size {runs[best_id]['size']:.4g} (maximize)"
    )


def test_a_repeated_search_s_trials_are_worth_their_runs_mean(project: Path, home: Path) -> None:
    launch = search(
        project,
        home,
        "pair",
        "search.n_trials=4",
        "search.objective=loss",
        "repeat=2",
        "params.x=interval(0, 1)",
    )
    by_trial: dict[int, list[float]] = {}
    for run in launch.runs:
        by_trial.setdefault(run.index // 2, []).append(run.result["loss"])
    means = {trial: sum(v) / len(v) for trial, v in by_trial.items()}
    status = launch.search_status()
    assert status.best_trial == min(means, key=means.__getitem__)
    assert status.best.value == pytest.approx(min(means.values()))
    table = runner.table(launch)  # by point (repeats): the points sorted by their mean
    column = "metrics.objective.last.mean"
    shown = [row.values[column] for row in table.rows]
    assert shown == sorted(shown) and len(shown) == 4


# -- the results table and runner compare ------------------------------------------------------


def test_compare_shows_the_objective_first_and_sorts_by_it(
    done: tuple[Path, Path, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, home, launch = done
    monkeypatch.setenv("RUNNER_HOME", str(home))
    table = runner.table(launch, by_point=False)
    keys = [c.key for c in table.columns]
    assert keys[:5] == ["run", "status", "params.x", "params.opt", "metrics.objective.last"]
    found = [row.values["metrics.objective.last"] for row in table.rows]
    assert found == sorted(found)
    # Another sort, asked for, wins; --desc alone turns the objective's order round.
    by_x = runner.table(launch, by_point=False, sort="x")
    assert [r.values["params.x"] for r in by_x.rows] == sorted(r.params["x"] for r in launch.runs)
    _, out, _ = cli_out(capsys, "compare", launch.id[:12], "--desc", "--format", "csv")
    header, *rows = out.splitlines()
    at = header.split(",").index("metrics.objective.last")
    numbers = [float(row.split(",")[at]) for row in rows]
    assert numbers == sorted(numbers, reverse=True) and len(numbers) == 8


# -- the study, for Optuna's own plots ---------------------------------------------------------


def test_the_study_is_rebuilt_from_the_store_for_optuna_s_plots(
    done: tuple[Path, Path, Any],
) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import optuna

    _, _, launch = done
    study = launch.study()
    assert isinstance(study, optuna.Study)
    trials = study.get_trials()
    assert [t.number for t in trials] == list(range(8))
    runs = sorted(launch.runs, key=lambda run: run.index)
    for trial, run in zip(trials, runs, strict=True):
        assert trial.user_attrs["run_ids"] == [run.id]
        assert trial.params == {"x": run.params["x"], "opt": run.params["opt"]}
        assert trial.value == run.result
        assert trial.state is optuna.trial.TrialState.COMPLETE
    assert study.best_trial.number == launch.search_status().best_trial
    assert study.best_value == launch.best.value
    with warnings.catch_warnings():  # (Optuna's matplotlib plots are "experimental")
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        ax = optuna.visualization.matplotlib.plot_optimization_history(study)
    assert len(ax.collections[0].get_offsets()) == 8  # one point a trial
    import matplotlib.pyplot as plt

    plt.close("all")


# -- the notebook, the TUI and the live line ---------------------------------------------------


def test_a_search_s_html_says_what_it_is_and_its_best_so_far(done: tuple[Path, Path, Any]) -> None:
    _, home, launch = done
    (found,) = runner.status([launch.id], home=home)
    html = found._repr_html_()
    best = launch.best
    assert "bowl:1.0, a search of 8 trials (random), 8 runs" in html
    assert "<div>search (random): 8 of 8 trials finished</div>" in html
    assert f"best: trial {trial_line(launch, best.run.id)} (run {best.run.id[:12]}):" in html
    assert f"<b>result {best.value:.4g} (minimize)</b>" in html
    assert "a search of 8 trials (random)" in repr(found)


def test_the_live_line_of_a_search_says_its_best_so_far(
    done: tuple[Path, Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal a search's bar counts its planned runs (none are made when it starts)
    and the line under it says its best trial, read as the runs end."""
    _, home, launch = done
    monkeypatch.setenv("RUNNER_HOME", str(home))
    record = Store(home).launch(launch.id)
    assert record is not None
    record = dataclasses.replace(record, counts={})  # as when it was made: no run ended
    watch = render.Watch(quiet=False, as_json=False, run_ids=False, every=0.01)
    watch.live = True  # as on a terminal
    with watch:
        watch.created(record, [])
        assert watch.total == 8
        deadline = time.monotonic() + 10
        while not watch.watched and time.monotonic() < deadline:
            time.sleep(0.01)
        *_, line = watch.progress.get_renderables()
    best = launch.best
    assert line.plain == (
        f"best: result {best.value:.4g} (minimize), trial {trial_line(launch, best.run.id)}:"
        f" x={best.run.params['x']!r}, opt={best.run.params['opt']}"
    )


async def test_the_tui_shows_a_search_s_best_so_far(done: tuple[Path, Path, Any]) -> None:
    from textual.widgets import DataTable, Static

    from runner.tui import make_app
    from tests.test_tui import settle, until

    project, home, launch = done
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await until(pilot, lambda: app.launches.launch_id == launch.id)
        fixed = app.screen.query_one("#fixed", Static)
        await until(pilot, lambda: "best" in str(fixed.render()))
        text = str(fixed.render())
        best = launch.best
        assert text.splitlines()[:2] == [
            "search (random): 8 of 8 trials finished",
            f"best: trial {trial_line(launch, best.run.id)} (run {best.run.id[:12]}):"
            f" result {best.value:.4g} (minimize)  x={best.run.params['x']!r},"
            f" opt={best.run.params['opt']}",
        ]
        table = app.screen.query_one("#launch-table", DataTable)
        assert str(table.get_cell(launch.id, "done")) == "8/8 random trials"


# -- what the controller does not read yet (runner/search.py) ----------------------------------


def test_a_nested_result_key_is_an_objective(project: Path, home: Path) -> None:
    launch = search(
        project,
        home,
        "pair",
        "search.n_trials=2",
        "search.objective=deep.acc",
        "params.x=interval(0, 1)",
    )
    assert launch.search_status().finished == 2


def test_the_return_value_s_items_are_several_objectives(project: Path, home: Path) -> None:
    launch = search(
        project,
        home,
        "items",
        "search.n_trials=2",
        "search.direction=[minimize,maximize]",
        "params.x=interval(0, 1)",
    )
    status = launch.search_status()
    assert status.finished == 2
    assert isinstance(status.best.value, list) and not math.isnan(status.best.value[1])


# -- what the engine does not write yet (runner/engine.py) -------------------------------------


@pytest.mark.slow
def test_runs_that_ended_are_written_while_others_run(
    project: Path, home: Path, tmp_path: Path
) -> None:
    from tests.watching import wait_until

    gate = tmp_path / "gate"
    made: list[str] = []
    overrides = [
        "search=random",
        "search.n_trials=5",
        "search.max_concurrent=2",
        "params.x=interval(0, 1)",
        f"params.gate={gate}",
        "launcher=threads",
    ]
    thread = threading.Thread(
        target=runner.launch,
        args=("held", overrides),
        kwargs={
            "config_dir": project / "conf",
            "home": home,
            "on_created": lambda record, _: made.append(record.id),
        },
    )
    thread.start()
    try:
        # The first three trials ended (the search recorded their values)...
        wait_until(lambda: made and len(runner.metric_summaries(made[0], home=home)) == 3)
        launch = runner.get(made[0], home=home)

        def written() -> bool:
            runs = launch.runs if launch.status() else []
            return sum(run.status is RunStatus.SUCCEEDED for run in runs) == 3

        wait_until(written, timeout=10)  # ...and their rows say so (FLUSH_EVERY is 0.05 s)
    finally:
        gate.touch()
        thread.join(60)
