"""A search from every entry point: the API's search= (a name, a mapping of settings, a
SearchConfig) with sweep= as its space, runner.compose and runner.show, a run file's
`search:` and a saved run definition's, each launching a real tiny search (the sequential
launcher, the random sampler, a fixed seed)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import runner
from runner.search_space import SearchConfig

pytest.importorskip("optuna")

# train(lr, width, epochs, seed) returns {"loss": ..., "acc": {...}, ...} (mypkg/flows.py).
SPACE = {"lr": "tag(log, interval(1e-5, 1e-1))", "width": [16, 64]}
RUN_FILE = """\
workflow: train
name: tune
seed: 5
search: {sampler: random, n_trials: 4, objective: loss}
sweep:
  params.lr: tag(log, interval(1e-5, 1e-1))
  params.width: 16,64
"""


@pytest.fixture
def tiny(project: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test project as the config dir, from its own folder."""
    monkeypatch.setenv("RUNNER_CONFIG_DIR", str(project / "conf"))
    monkeypatch.chdir(project)
    return project


def trials(launch: runner.Launch) -> list[tuple[float, int]]:
    """Each trial's (lr, width), in the order the trials were asked."""
    return [(run.params["lr"], run.params["width"]) for run in launch.runs]


def assert_in_space(found: list[tuple[float, int]]) -> None:
    for lr, width in found:
        assert 1e-5 <= lr <= 1e-1 and width in (16, 64)


def launched(home: Path) -> runner.Launch:
    (launch,) = runner.status(home=home)
    assert isinstance(launch, runner.Launch)
    return launch


# -- the API --------------------------------------------------------------------------------------


def test_search_by_name_draws_each_trial_from_sweep(tiny: Path, home: Path) -> None:
    launch = runner.launch(
        "train",
        ["launcher=sequential", "search.n_trials=4", "search.objective=loss"],
        search="random",
        sweep=SPACE,
        seed=3,
        progress=False,
    )
    assert launch.status() == "succeeded" and len(launch.runs) == 4
    found = trials(launch)
    assert_in_space(found)
    assert len(set(found)) == 4  # drawn, not a grid's points
    # Each trial's value is told as its metric `objective`: the loss it returned.
    for run, result in zip(launch.runs, launch.results, strict=True):
        (summary,) = runner.metric_summaries(run.id, home=home)
        assert summary.key == "objective" and math.isclose(summary.last, result["loss"])
    again = runner.launch(
        "train",
        ["launcher=sequential", "search.n_trials=4", "search.objective=loss"],
        search="random",
        sweep=SPACE,
        seed=3,
        progress=False,
    )
    assert trials(again) == found  # the same seed asks the same trials


def test_search_settings_as_a_mapping(tiny: Path, capsys) -> None:
    launch = runner.launch(
        "train",
        ["launcher=sequential"],
        search={
            "sampler": "random",
            "n_trials": 3,
            "objective": "acc.test",
            "direction": "maximize",
        },
        sweep=SPACE,
        seed=1,
        progress=True,
    )
    assert len(launch.runs) == 3
    # The progress bar counts the trials' runs from none done (they are recorded as asked).
    bar = capsys.readouterr().err
    assert "0/3 [" in bar and "3/3 [" in bar and "6/3" not in bar
    search = launch.record.definition["search"]
    assert (search["sampler"], search["directions"], search["objectives"]) == (
        "random",
        ["maximize"],
        ["acc.test"],
    )
    # A mapping without its sampler sets a search chosen elsewhere (an override here).
    preview = runner.compose("train", ["search=tpe"], search={"n_trials": 9}, sweep=SPACE)
    assert preview.search is not None
    assert (preview.search.sampler, preview.search.n_trials) == ("tpe", 9)


def test_a_search_config_makes_the_same_search_again(tiny: Path, home: Path) -> None:
    first = runner.launch(
        "train",
        ["launcher=sequential"],
        search={"sampler": "random", "n_trials": 3, "objective": "loss"},
        sweep=SPACE,
        seed=11,
        progress=False,
    )
    recorded = first.record.definition["search"]  # a SearchConfig's JSON
    again = runner.launch(
        "train", ["launcher=sequential"], search=recorded, seed=11, progress=False
    )
    assert trials(again) == trials(first)
    assert again.record.definition["search"] == recorded
    # The config itself, with an override and sweep= of its keys winning, as later values do.
    config = runner.compose("train", search=recorded).search
    assert isinstance(config, SearchConfig) and config == SearchConfig.from_json(recorded)
    changed = runner.compose(
        "train", ["search=tpe", "search.n_trials=5"], search=config, sweep={"width": [8, 32, 128]}
    ).search
    assert changed is not None and (changed.sampler, changed.n_trials) == ("tpe", 5)
    assert changed.objectives == ("loss",)  # the config's, where nothing replaced it
    assert {d.key: d.choices or (d.low, d.high) for d in changed.space} == {
        "params.lr": (1e-5, 1e-1),
        "params.width": (8, 32, 128),
    }


def test_show_describes_the_search_and_plans_no_runs(tiny: Path) -> None:
    preview = runner.show("train", search="tpe", sweep=SPACE)
    assert preview.specs == [] and preview.search is not None
    assert preview.search.describe()[0] == "search       tpe (Optuna's TPESampler), 20 trials"
    assert preview.definition["params"]["lr"] == "tag(log, interval(1e-5, 1e-1))"


@pytest.mark.parametrize(
    ("search", "error", "message"),
    [
        pytest.param(
            3,
            runner.UsageError,
            "search: a search's name (search='tpe'), a mapping of its settings ({'sampler':"
            " 'tpe', 'n_trials': 60}) or a SearchConfig, not a int",
            id="type",
        ),
        pytest.param(
            " ", runner.UsageError, "search: name a search (search='tpe')", id="empty-name"
        ),
        pytest.param(
            {"sampler": ["tpe"]},
            runner.UsageError,
            "search: its 'sampler' is a search's name ('tpe', 'random', ...), not ['tpe']",
            id="sampler-type",
        ),
        pytest.param(
            "anneal",
            runner.CompositionError,
            "'search=anneal' (argument search=): no search 'anneal'; searches: cmaes, gp, grid,",
            id="unknown",
        ),
        pytest.param(
            {"sampler": "tpe", "n_trial": 3},
            runner.ValidationError,
            "search.n_trial: unknown key (did you mean 'n_trials'?) (from argument search=)",
            id="key",
        ),
        pytest.param(
            {"sampler": "tpe", "n_trials": 0},
            runner.ValidationError,
            "search.n_trials: 0 is below the minimum of 1 (from argument search=)",
            id="value",
        ),
        pytest.param(
            {"directions": ["up"], "space": []},
            runner.UsageError,
            "search: a mapping with 'directions' and 'space' is a SearchConfig's JSON, and this"
            " one cannot be read (KeyError: 'sampler')",
            id="config-json",
        ),
    ],
)
def test_a_bad_search_argument_is_named(
    tiny: Path, search: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        runner.compose("train", search=search, sweep={"lr": "interval(0.001, 0.1)"})
    assert message in str(raised.value)


def test_search_settings_without_a_search_say_how_to_choose_one(tiny: Path) -> None:
    with pytest.raises(runner.DefinitionError) as raised:
        runner.compose("train", search={"n_trials": 3}, sweep={"lr": [0.1, 0.2]})
    assert str(raised.value).startswith(
        "search settings are given (in argument search=) and no search is chosen"
    )


# -- run files and saved run definitions ----------------------------------------------------------


def cli_main(*args: str) -> int:
    from runner.cli import main

    with pytest.raises(SystemExit) as done:
        main(list(args))
    assert isinstance(done.value.code, int)
    return done.value.code


def test_a_run_file_launches_its_search(tiny: Path, home: Path, capsys) -> None:
    (tiny / "tune.yaml").write_text(RUN_FILE)
    assert cli_main("run", "tune.yaml", "launcher=sequential") == 0
    launch = launched(home)
    assert launch.record.name == "tune" and launch.record.seed == 5
    assert launch.status() == "succeeded" and len(launch.runs) == 4
    assert_in_space(trials(launch))
    assert launch.record.definition["search"]["objectives"] == ["loss"]
    out = capsys.readouterr().out
    assert out.startswith(
        f"launch {launch.id}: a search of 4 trials (random) of train:1.0 (seed 5)\n"
    )
    assert "4 succeeded" in out
    # The same file from the API asks the same trials (the file's seed).
    again = runner.launch(str(tiny / "tune.yaml"), ["launcher=sequential"], progress=False)
    assert trials(again) == trials(launch)


def test_a_saved_run_definition_launches_its_search(tiny: Path, home: Path, capsys) -> None:
    (tiny / "conf" / "run" / "tune.yaml").write_text(RUN_FILE.replace("n_trials: 4", "n_trials: 3"))
    assert "tune" in [preset.name for preset in runner.presets()]
    assert cli_main("tune", "launcher=sequential", "search.n_trials=2") == 0
    launch = launched(home)
    assert launch.status() == "succeeded" and len(launch.runs) == 2  # the override wins
    assert_in_space(trials(launch))
    capsys.readouterr()
    # `runner show` prints the preset's search; the API launches it by name too.
    assert cli_main("show", "tune") == 0
    assert "search       random (Optuna's RandomSampler), 3 trials" in capsys.readouterr().out
    again = runner.launch("tune", ["launcher=sequential"], progress=False)
    assert len(again.runs) == 3 and trials(again)[:2] == trials(launch)


# -- found in the controller (runner/search.py) ------------------------------------------------


def test_a_search_stopped_by_its_failures_leaves_no_run_pending(tiny: Path) -> None:
    # train returns a dict: with no objective named, no trial has a value, each one fails.
    launch = runner.launch(
        "train",
        ["launcher=sequential"],
        search={"sampler": "random", "n_trials": 6},
        sweep=SPACE,
        seed=1,
        progress=False,
    )
    assert "pending" not in launch.record.counts and launch.status() != "running"
    assert launch.record.run_count == 5  # the trials it asked, and why it stopped
    stopped = launch.record.definition["search_stopped"]
    assert "5 of 5 trials failed" in stopped and "search.objective" in stopped
