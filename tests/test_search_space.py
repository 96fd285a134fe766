"""A search's definition: the search config group, the grammar of its dimensions, Hydra's
Optuna sweeper's spellings, the checks (each refusal with its exit code), `runner show`, and
the SearchConfig the controller is built on."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import runner
from runner import search_space
from runner.composer import Composer, Project, Request, config_space
from runner.search_space import SAMPLERS, Dimension, SearchConfig

CONF = Path(runner.__file__).resolve().parent.parent / "conf"

# A workflow whose params schema has bounds and an enum, to check a space against.
TUNE = """\
id: tune
version: "1.0"
entrypoint: mypkg.echo:echo
params: {lr: 0.01, layers: 2, opt: adam, rate: 0.5}
schema:
  type: object
  properties:
    lr: {type: number, exclusiveMinimum: 0, maximum: 1}
    layers: {type: integer, minimum: 1, maximum: 16}
    opt: {enum: [adam, sgd, rmsprop]}
    rate: {type: number}
  additionalProperties: false
"""


@pytest.fixture
def tune(project: Path) -> Path:
    (project / "conf" / "workflow" / "tune.yaml").write_text(TUNE)
    return project


def composed(project: Path, target: str | None, *overrides: str, **request: Any) -> Composer:
    with config_space(Project.find(project / "conf")) as space:
        composer = Composer(space, Request(target=target, overrides=list(overrides), **request))
        composer.definition(())
        return composer


def search_of(project: Path, target: str | None, *overrides: str) -> SearchConfig:
    found = composed(project, target, *overrides).search
    assert found is not None
    return found


@pytest.fixture
def show(tune: Path, home: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    """`runner show ARGS` in this process: (exit code, stdout, stderr)."""
    from runner.cli import main

    monkeypatch.setenv("RUNNER_CONFIG_DIR", str(tune / "conf"))
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tune)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as done:
            main(["show", *args])
        out, err = capsys.readouterr()
        assert isinstance(done.value.code, int)
        return done.value.code, out, err

    return run


# -- the config group --------------------------------------------------------------------------


def test_each_built_in_search_sets_its_sampler_and_the_same_defaults() -> None:
    options = {path.stem: yaml.safe_load(path.read_text()) for path in (CONF / "search").iterdir()}
    assert sorted(options) == sorted(SAMPLERS)
    for name, option in options.items():
        assert option.pop("sampler") == name
        n_trials = option.pop("n_trials")
        assert n_trials == (None if name == "grid" else 20)
        assert option == {
            "direction": "minimize",
            "objective": None,
            "max_concurrent": None,
            "max_failure_rate": 0.2,
            "seed": None,
            "pruner": None,
            "sampler_options": {},
        }


@pytest.mark.parametrize("sampler", ["random", "tpe", "qmc", "nsga2", "cmaes", "gp"])
def test_search_option_gives_its_config(
    project: Path, sampler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cmaes and gp need packages Optuna does not install (cmaes; torch): taken as there.
    monkeypatch.setattr(search_space, "find_spec", lambda name: object())
    found = search_of(project, "echo_open", f"search={sampler}", "params.x=interval(0,1)")
    assert found == SearchConfig(
        sampler=sampler,
        n_trials=20,
        directions=("minimize",),
        objectives=("",),
        max_concurrent=None,
        max_failure_rate=0.2,
        seed=None,
        pruner=None,
        sampler_options={},
        space=(Dimension("params.x", "float", 0.0, 1.0, line="params.x=interval(0,1)"),),
    )


def test_search_keys_are_set_like_any_others(project: Path) -> None:
    found = search_of(
        project,
        "echo_open",
        "search=nsga2",
        "params.x=interval(0,1)",
        "search.n_trials=60",
        "search.direction=[minimize,maximize]",
        "search.objective=[val_loss.min,acc]",
        "search.max_concurrent=3",
        "search.max_failure_rate=0.5",
        "search.seed=7",
        "search.sampler_options.population_size=10",
    )
    assert (found.n_trials, found.directions, found.objectives) == (
        60,
        ("minimize", "maximize"),
        ("val_loss.min", "acc"),
    )
    assert (found.max_concurrent, found.max_failure_rate, found.seed) == (3, 0.5, 7)
    assert found.sampler_options == {"population_size": 10}


@pytest.mark.parametrize(
    ("overrides", "pruner"),
    [
        pytest.param(["search.pruner=median"], {"name": "median"}, id="name"),
        pytest.param(
            ["search.pruner={name: hyperband, reduction_factor: 3}"],
            {"name": "hyperband", "reduction_factor": 3},
            id="mapping",
        ),
        pytest.param(
            ["search.pruner.name=successive_halving"], {"name": "successive_halving"}, id="key"
        ),
    ],
)
def test_pruner_is_a_mapping_with_its_name(project: Path, overrides: list[str], pruner) -> None:
    found = search_of(
        project,
        "echo_open",
        "search=tpe",
        "search.objective=loss.min",  # (a pruner reads a metric the runs log)
        "params.x=interval(0,1)",
        *overrides,
    )
    assert found.pruner == pruner


def test_grid_searches_every_point_by_default(project: Path) -> None:
    found = search_of(
        project, "echo_open", "search=grid", "params.x=range(0,1,0.25)", "params.s=a,b,c"
    )
    assert found.n_trials == 12
    assert [d.values() for d in found.space] == [(0.0, 0.25, 0.5, 0.75), ("a", "b", "c")]


# -- the grammar ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "low", "high", "log", "step", "choices"),
    [
        pytest.param("interval(0,1)", "float", 0.0, 1.0, False, None, (), id="interval"),
        pytest.param("interval(-2.5, 3)", "float", -2.5, 3.0, False, None, (), id="interval-neg"),
        pytest.param("int(interval(2, 8))", "int", 2, 8, False, 1, (), id="int-interval"),
        pytest.param("tag(log, interval(1e-5, 1e-1))", "float", 1e-5, 0.1, True, None, (), id="log"),
        pytest.param("tag(log, int(interval(1, 1024)))", "int", 1, 1024, True, 1, (), id="log-int"),
        pytest.param("choice(adam, sgd)", "categorical", None, None, False, None, ("adam", "sgd"), id="choice"),
        pytest.param("adam,sgd", "categorical", None, None, False, None, ("adam", "sgd"), id="list"),
        pytest.param(
            "'a b',null,true,1.5,2",
            "categorical", None, None, False, None, ("a b", None, True, 1.5, 2),
            id="choice-typed",
        ),
        pytest.param("range(2,8)", "int", 2, 7, False, 1, (), id="range"),
        pytest.param("range(5)", "int", 0, 4, False, 1, (), id="range-stop"),
        pytest.param("range(0,10,3)", "int", 0, 9, False, 3, (), id="range-step"),
        pytest.param("range(8,2,-2)", "int", 4, 8, False, 2, (), id="range-down"),
        pytest.param("range(0,1,0.25)", "float", 0.0, 0.75, False, 0.25, (), id="range-float"),
        pytest.param("range(0,1,0.1)", "float", 0.0, 0.9, False, 0.1, (), id="range-tenths"),
        pytest.param("shuffle(range(1,4))", "int", 1, 3, False, 1, (), id="shuffle"),
    ],
)  # fmt: skip
def test_each_grammar_form_gives_its_dimension(
    project: Path, value: str, kind, low, high, log, step, choices
) -> None:
    composer = composed(project, "echo_open", "search=tpe", f"params.x={value}", "params.s=fixed")
    assert composer.axes == []
    (d,) = composer.dimensions
    assert (d.key, d.kind, d.low, d.high, d.log, d.step, d.choices) == (
        "params.x", kind, low, high, log, step, choices,
    )  # fmt: skip
    assert type(d.low) is type(low) and type(d.high) is type(high)
    assert d.line == f"params.x={value}"
    definition = composer.definition(())
    assert definition.search is composer.search and definition.search.space == (d,)
    assert definition.params["s"] == "fixed"  # anything else is fixed


@pytest.mark.parametrize(
    "value", ["range(2,8)", "range(0,10,3)", "range(8,2,-2)", "range(0,1,0.25)"]
)
def test_range_means_in_a_search_what_it_means_in_a_grid(project: Path, value: str) -> None:
    """Its upper bound is excluded (Hydra's Optuna sweeper includes it): range(2,8) is 2..7."""
    grid = composed(project, "echo_open", f"params.x={value}").axes[0].values
    (d,) = composed(project, "echo_open", "search=grid", f"params.x={value}").dimensions
    assert sorted(d.values()) == sorted(grid)
    assert d.high == max(grid)  # range(2,8) never draws 8


def test_definition_holds_each_dimension_at_its_first_value(project: Path) -> None:
    """So that it validates as a run; a trial's params are set where the dimension says,
    interpolations resolved after (echo_open's yref is ${params.x})."""
    definition = composed(
        project, "echo_open", "search=tpe", "params.x=int(interval(3,9))", "params.d.a=p,q"
    ).definition(())
    assert (definition.params["x"], definition.params["d"], definition.params["yref"]) == (
        3,
        {"a": "p", "b": 2},
        3,
    )
    trial = definition.trial_params({"params.x": 7, "params.d.a": "q"})
    assert (trial["x"], trial["d"], trial["yref"]) == (7, {"a": "q", "b": 2}, 7)
    assert definition.params["x"] == 3  # the definition is left as it was


def test_api_sweep_values_are_a_categorical_dimension(project: Path) -> None:
    preview = runner.compose(
        "echo_open",
        ["search=random"],
        sweep={"x": [1, 2, 3], "s": "interval(0,1)"},
        config_dir=project / "conf",
    )
    assert preview.search is not None
    assert [(d.key, d.kind, d.choices) for d in preview.search.space] == [
        ("params.x", "categorical", (1, 2, 3)),
        ("params.s", "float", ()),
    ]


# -- run files ------------------------------------------------------------------------------------


def test_run_file_chooses_a_search_and_the_command_line_another(
    project: Path, tmp_path: Path
) -> None:
    run_file = tmp_path / "search.yaml"
    run_file.write_text(
        "workflow: echo_open\n"
        "search: {sampler: random, n_trials: 5, direction: maximize}\n"
        "sweep: {params.x: 'interval(0, 1)'}\n"
    )
    found = search_of(project, str(run_file))
    assert (found.sampler, found.n_trials, found.directions) == ("random", 5, ("maximize",))
    assert found.space[0].line == "params.x=interval(0, 1)"
    found = search_of(project, str(run_file), "search=tpe")  # the file's keys stay
    assert (found.sampler, found.n_trials, found.directions) == ("tpe", 5, ("maximize",))
    run_file.write_text("workflow: echo_open\nsearch: qmc\nsweep: {params.x: 'interval(0, 1)'}\n")
    assert search_of(project, str(run_file)).sampler == "qmc"


@pytest.mark.parametrize(
    ("search", "message"),
    [
        pytest.param(
            "{sampler: tpe, n_trials: -1}",
            "search.n_trials: -1 is below the minimum of 1 (from run file",
            id="n_trials",
        ),
        pytest.param(
            "{sampler: annealing}",
            "search.sampler: 'annealing' is not one of: 'random', 'tpe', 'cmaes'",
            id="sampler",
        ),
        pytest.param("{sampler: tpe, trials: 3}", "search.trials: unknown key (did you mean 'n_trials'?)", id="key"),
        pytest.param(
            "{sampler: tpe, direction: down}",
            "search.direction: 'down' is not one of 'minimize', 'maximize' or a list",
            id="direction",
        ),
        pytest.param(
            "{sampler: tpe, pruner: {n_startup_trials: 5}}",
            "search.pruner: {\"n_startup_trials\": 5} is not null or one of 'median', 'hyperband',"
            " 'successive_halving' or a mapping",
            id="pruner-name",
        ),
        pytest.param("{sampler: tpe, max_failure_rate: 2}", "search.max_failure_rate: 2 is above the maximum of 1", id="rate"),
        pytest.param("{sampler: tpe, sampler_options: [1]}", "search.sampler_options: [1] is not a mapping", id="options"),
        pytest.param("[tpe]", "search: [\"tpe\"] is not a mapping or a string or null", id="list"),
    ],
)  # fmt: skip
def test_run_schema_checks_the_search_mapping(
    project: Path, tmp_path: Path, search: str, message: str
) -> None:
    run_file = tmp_path / "bad.yaml"
    run_file.write_text(f"workflow: echo_open\nsearch: {search}\n")
    with pytest.raises(runner.ValidationError) as error:
        composed(project, str(run_file), "params.x=interval(0,1)")
    assert message in str(error.value)
    assert error.value.exit_code == 2


# -- Hydra's Optuna sweeper's spellings -------------------------------------------------------------


def test_hydra_sweeper_spellings_mean_the_same(project: Path) -> None:
    found = search_of(
        project,
        "echo_open",
        "hydra/sweeper=optuna",
        "hydra.sweeper.n_trials=7",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.direction=maximize",
        "hydra.sweeper.max_failure_rate=0.1",
        "hydra.sweeper.params.x=interval(0,1)",
        "hydra.sweeper.params.params.s=a,b",
        "hydra.sweeper.sampler.seed=3",
        "hydra.sweeper.sampler.n_startup_trials=4",
    )
    assert (found.sampler, found.n_trials, found.max_concurrent, found.directions) == (
        "tpe",  # Hydra's Optuna sweeper's default sampler
        7,
        2,
        ("maximize",),
    )
    assert (found.max_failure_rate, found.seed, found.sampler_options) == (
        0.1,
        3,
        {"n_startup_trials": 4},
    )
    assert [(d.key, d.line) for d in found.space] == [
        ("params.x", "hydra.sweeper.params.x=interval(0,1)"),
        ("params.s", "hydra.sweeper.params.params.s=a,b"),
    ]


@pytest.mark.parametrize(
    ("override", "sampler"),
    [
        ("hydra.sweeper.sampler=random", "random"),
        ("hydra/sweeper/sampler=nsgaii", "nsga2"),
        ("hydra.sweeper.sampler._target_=optuna.samplers.QMCSampler", "qmc"),
        ("hydra.sweeper.sampler._target_=optuna.samplers.MOTPESampler", "tpe"),
    ],
)
def test_hydra_sampler_names_a_search(project: Path, override: str, sampler: str) -> None:
    assert search_of(project, "echo_open", override, "params.x=interval(0,1)").sampler == sampler


def test_hydra_spelling_is_named_in_messages(show) -> None:
    code, _, err = show("tune", "search=tpe", "params.lr=interval(0.1,1)", "hydra.sweeper.n_jobs=0")
    assert code == 2
    assert (
        "search.max_concurrent: 0 is below the minimum of 1 (from override"
        " 'hydra.sweeper.n_jobs=0', Hydra's spelling of search.max_concurrent)"
    ) in err


# -- refusals, with their exit codes ----------------------------------------------------------------

REFUSED = [
    pytest.param(
        ["params.lr=interval(0.1,1)"],
        "'params.lr=interval(0.1,1)': interval() is a search's dimension; choose a search to"
        " draw from it (search=tpe, or random, cmaes, gp, qmc, nsga2), or sweep a grid",
        id="interval-without-search",
    ),
    pytest.param(
        ["hydra.sweeper.n_trials=5", "params.lr=0.1,0.2"],
        "'hydra.sweeper.n_trials=5' (Hydra's spelling of search.n_trials) sets a key of a"
        " search, and no search is chosen: choose one with search=NAME (random, tpe, cmaes,"
        " gp, qmc, nsga2, grid)",
        id="search-key-without-search",
    ),
    pytest.param(
        ["search=tpe", "params.lr=interval(0.1,1)", "launcher=local,threads"],
        "'launcher=local,threads': a search draws params, and one search is one definition:"
        " launcher cannot vary within it; make one launch per value",
        id="non-params-sweep",
    ),
    pytest.param(
        ["search=tpe", "params.lr=interval(0.1,1)", "seed=1,2"],
        "'seed=1,2': a search draws params, and one search is one definition",
        id="seed-sweep",
    ),
    pytest.param(
        ["search=tpe,random", "params.lr=interval(0.1,1)"],
        "'search=tpe,random': search holds for the whole launch and cannot be swept",
        id="search-sweep",
    ),
    pytest.param(
        ["search=grid", "params.lr=interval(0.1,1)", "params.opt=adam,sgd"],
        "'params.lr=interval(0.1,1)': search=grid takes discrete dimensions only (choice(),"
        " range(), a,b lists): interval() has no grid",
        id="grid-interval",
    ),
    pytest.param(["search=anneal", "params.lr=interval(0.1,1)"], "'search=anneal': no search 'anneal'; searches: cmaes, gp, grid", id="unknown-search"),
    pytest.param(
        ["search=tpe", "search.sampler=random", "params.lr=interval(0.1,1)"],
        "'search.sampler=random': the sampler is chosen with its option: search=NAME",
        id="sampler-key",
    ),
    pytest.param(["search=tpe"], "search=tpe has no space to search: make params its dimensions", id="no-space"),
    pytest.param(
        ["search=tpe", "params.lr=interval(0.5,2)"],
        "invalid search space (1 problem):\n  - params.lr: 2.0 is above the maximum of 1 (from"
        " override 'params.lr=interval(0.5,2)')",
        id="schema-high",
    ),
    pytest.param(
        ["search=tpe", "params.lr=interval(0,1)"],
        "params.lr: 0.0 is not above 0 (the exclusive minimum) (from override",
        id="schema-low",
    ),
    pytest.param(
        ["search=tpe", "params.opt=adam,nadam"],
        "params.opt: 'nadam' is not one of: 'adam', 'sgd', 'rmsprop' (from override"
        " 'params.opt=adam,nadam')",
        id="schema-choice",
    ),
    pytest.param(
        ["search=tpe", "params.layers=interval(1,8)"],
        "params.layers: 1.0 is not an integer (write it without a fraction)",
        id="schema-integer",
    ),
    pytest.param(
        ["search=tpe", "+params.depth=int(interval(1,8))"],
        "params.depth: unknown key",
        id="schema-unknown",
    ),
    pytest.param(
        ["search=tpe", "params.lr=tag(log, interval(0, 1))"],
        "'params.lr=tag(log, interval(0, 1))': a log scale needs a low bound above 0, not 0.0",
        id="log-zero",
    ),
    pytest.param(
        ["search=tpe", "params.opt=tag(log, choice(adam, sgd))"],
        "tag(log, ...) scales an interval",
        id="log-choice",
    ),
    pytest.param(
        ["search=tpe", "params.lr=interval(0.9,0.1)"],
        "an interval goes from low to high, and 0.9 is above 0.1",
        id="interval-reversed",
    ),
    pytest.param(["search=tpe", "params.layers=range(5,2)"], "'params.layers=range(5,2)': range() has no values", id="range-empty"),
    pytest.param(
        ["search=tpe", "params.opt=choice([1,2],[3])"],
        "a choice of a search is a number, a string, true, false or null, not a list",
        id="choice-list",
    ),
    pytest.param(
        ["search=tpe", "params.lr=interval(0.1,1)", "search.n_trials=null"],
        "search.n_trials: null means every point of a grid (search=grid); give search=tpe a"
        " number of trials",
        id="n-trials-null",
    ),
    pytest.param(
        ["search=tpe", "params.lr=interval(0.1,1)", "search.n_trials=0"],
        "search.n_trials: 0 is below the minimum of 1",
        id="n-trials-zero",
    ),
    pytest.param(
        ["search=tpe", "params.lr=interval(0.1,1)", "search.direction=[minimize,maximize]",
         "search.objective=loss"],
        "search.objective names 1 objective but search.direction gives 2 directions",
        id="objectives",
    ),
    pytest.param(
        ["search=tpe", "params.lr=interval(0.1,1)", "search.pruner=median", "search.objective=[a,b]",
         "search.direction=[minimize,minimize]"],
        "search.pruner=median: Optuna prunes searches of one objective",
        id="pruner-objectives",
    ),
    pytest.param(
        ["search=tpe", "params.lr=interval(0.1,1)", "search.pruner=sometimes"],
        "search.pruner: 'sometimes' is not null or one of 'median', 'hyperband',"
        " 'successive_halving' or a mapping",
        id="pruner-name",
    ),
    pytest.param(
        ["search=tpe", "params.lr=interval(0.1,1)", "search.sampler_options.seed=1"],
        "search.sampler_options.seed: the sampler's seed is search.seed",
        id="options-seed",
    ),
    pytest.param(
        ["search=tpe", "params.lr=interval(0.1,1)", "search.n_trials=100", "--max-runs", "50"],
        "this search would make 100 runs (100 trials x repeat 1), more than the limit of 50",
        id="max-runs",
    ),
    pytest.param(
        ["search=tpe", "params.lr=interval(0.1,1)", "hydra.sweeper.storage=sqlite:///s.db"],
        "'hydra.sweeper.storage=sqlite:///s.db': hydra.sweeper.storage does not apply: runner"
        " keeps the study in its own store",
        id="hydra-storage",
    ),
    pytest.param(
        ["search=tpe", "params.lr=interval(0.1,1)", "hydra.sweeper.study_name=s"],
        "hydra.sweeper.study_name does not apply: the study is the launch",
        id="hydra-study-name",
    ),
    pytest.param(
        ["search=tpe", "params.lr=interval(0.1,1)", "hydra.sweeper.custom_search_space=m.f"],
        "hydra.sweeper.custom_search_space does not apply",
        id="hydra-custom-space",
    ),
    pytest.param(
        ["params.lr=interval(0.1,1)", "hydra/sweeper=basic"],
        "'hydra/sweeper=basic': runner's search is Optuna's samplers",
        id="hydra-basic",
    ),
    pytest.param(
        ["params.lr=interval(0.1,1)", "hydra.sweeper.sampler=annealing"],
        "'hydra.sweeper.sampler=annealing': no search uses sampler 'annealing'",
        id="hydra-sampler",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), REFUSED)
def test_refusals_name_what_is_wrong_and_exit_2(show, args: list[str], message: str) -> None:
    code, out, err = show("tune", *args)
    assert (code, out) == (2, "")
    assert message in err


def test_search_without_optuna_names_the_extra_and_exits_1(
    show, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` fails, as if absent
    code, out, err = show("tune", "search=tpe", "params.lr=interval(0.1,1)")
    assert (code, out) == (1, "")
    assert err == (
        "error: a search (search=...) samples with Optuna, which is not installed; install"
        " runner's search extra: pip install 'runner-launch[search]'\n"
    )


def test_sampler_needing_a_package_names_it_and_exits_1(
    show, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = search_space.find_spec
    monkeypatch.setattr(search_space, "find_spec", lambda n: None if n == "cmaes" else real(n))
    code, _, err = show("tune", "search=cmaes", "params.lr=interval(0.1,1)")
    assert code == 1
    assert (
        "search=cmaes: Optuna's CmaEsSampler needs cmaes, not installed: pip install cmaes" in err
    )


def test_grid_launch_is_unchanged_and_imports_no_optuna(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)
    composer = composed(project, "add", "params.a=1,2", "params.b=range(3)")
    assert [(a.key, tuple(a.values)) for a in composer.axes] == [
        ("params.a", (1, 2)),
        ("params.b", (0, 1, 2)),
    ]
    assert composer.search is None and composer.dimensions == []
    assert composer.definition(()).search is None
    assert "search" not in composer.definition(()).fields


# -- runner show ------------------------------------------------------------------------------------


def test_show_prints_the_search_instead_of_planned_runs(show) -> None:
    code, out, err = show(
        "tune",
        "search=tpe",
        "search.n_trials=60",
        "params.lr=tag(log, interval(1e-5, 1e-1))",
        "params.layers=range(2,8)",
        "params.opt=adam,sgd",
        "--seed",
        "1",
    )
    assert (code, err) == (0, "")
    definition, _, search = out.partition("search       ")
    assert yaml.safe_load(definition)["params"] == {
        "lr": "tag(log, interval(1e-5, 1e-1))",
        "layers": "range(2,8)",
        "opt": "adam,sgd",
        "rate": 0.5,
    }
    assert ("search       " + search).splitlines() == [
        "search       tpe (Optuna's TPESampler), 60 trials",
        "objective    minimize the return value",
        "at once      as many as the launcher runs",
        "failures     stop when more than 20% of finished trials failed",
        "seed         derived from the launch seed",
        "pruner       none",
        "space        3 dimensions",
        "  params.lr      float in [1e-05, 0.1], log scale",
        "  params.layers  int in [2, 7], range(2,8)",
        '  params.opt     one of 2: "adam", "sgd"',
        "range(a,b) excludes b, as in a grid (Hydra's Optuna sweeper includes it)",
    ]
    assert "planned runs" not in out


def test_describe_keeps_long_spaces_within_80_columns() -> None:
    choices = tuple(f"option_number_{i}" for i in range(40))
    found = SearchConfig.of(
        {"sampler": "nsga2", "n_trials": 5, "direction": ["minimize", "maximize"],
         "objective": ["validation_loss_of_the_model.min", "accuracy_on_the_held_out_set.last"]},
        [Dimension("params.a_rather_long_name_for_a_param", "categorical",
                   choices=choices, line="params.x=...")],
    )  # fmt: skip
    lines = found.describe()
    assert all(len(line) <= 80 for line in lines)
    assert lines[1] == "objective    minimize metric validation_loss_of_the_model, its min"
    assert lines[2] == "             maximize metric accuracy_on_the_held_out_set, its last"


def test_show_json_holds_the_search(show) -> None:
    code, out, _ = show(
        "tune", "search=grid", "params.layers=range(2,4)", "params.opt=adam,sgd", "--json"
    )
    assert code == 0
    shown = json.loads(out)
    assert shown["runs"] == []
    assert shown["definition"]["search"]["sampler"] == "grid"
    assert SearchConfig.from_json(shown["search"]).n_trials == 4


# -- the contract -----------------------------------------------------------------------------------


def test_search_config_round_trips_through_json(project: Path) -> None:
    found = search_of(
        project,
        "echo_open",
        "search=tpe",
        "params.x=tag(log, interval(1e-5, 1))",
        "params.s=a,null,true,2,2.5",
        "params.n.other=range(0,1,0.25)",
        "search.pruner={name: hyperband, reduction_factor: 3, metric: loss}",
        "search.sampler_options.n_startup_trials=5",
        "search.seed=11",
    )
    again = SearchConfig.from_json(json.loads(json.dumps(found.to_json())))
    assert again == found
    assert [type(v) for v in again.space[1].choices] == [str, type(None), bool, int, float]


def test_dimension_from_json_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match=re.escape("one of float, int, categorical, not 'set'")):
        Dimension.from_json({"key": "params.x", "kind": "set"})
