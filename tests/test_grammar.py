"""Hydra's override grammar, with Hydra itself as the oracle: its parser and basic sweeper split
the overrides into jobs, each job is composed by Hydra, and runner must plan the same params,
in the same order, and hand the workflow the same values and types."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

import runner
from runner.errors import DefinitionError
from tests.conftest import PROJECT, snapshot

ECHO = PROJECT / "conf" / "workflow" / "echo.yaml"


def hydra_jobs(
    tmp: Path, overrides: list[str], workflow: str = "echo", *, multirun: bool = True
) -> list[dict[str, Any]]:
    """The params of each job Hydra's multirun would launch, in its order: the basic
    sweeper's split, then one composition per job over a primary config holding the
    workflow's declared params (Hydra composes in struct mode, so unknown keys raise)."""
    declared = yaml.safe_load((PROJECT / "conf" / "workflow" / f"{workflow}.yaml").read_text())
    conf = tmp / f"oracle-{workflow}"
    conf.mkdir(exist_ok=True)
    (conf / "config.yaml").write_text(yaml.safe_dump({"params": declared["params"]}))
    if multirun:
        parsed = OverridesParser.create().parse_overrides(overrides)
        batches = BasicSweeper.split_arguments(parsed, max_batch_size=None)
        jobs = [job for batch in batches for job in batch]
    else:  # one composition of the overrides as given, as `python app.py ...` without -m
        jobs = [overrides]
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        out = []
        for job in jobs:
            cfg = hydra_compose(config_name="config", overrides=list(job))
            params = OmegaConf.to_container(cfg.params, resolve=True)
            assert isinstance(params, dict)
            out.append(params)
    return out


def hydra_refuses(tmp: Path, overrides: list[str]) -> bool:
    try:
        hydra_jobs(tmp, overrides)
    except (HydraException, OmegaConfBaseException):
        return True
    return False


def planned(project: Path, overrides: list[str], workflow: str = "echo") -> list[dict]:
    preview = runner.show(workflow, overrides, config_dir=project / "conf", seed=1)
    return [spec.params for spec in preview.specs]


SWEEPS = [
    pytest.param(["params.s=a,'b,c'"], id="quoted-element-with-a-comma"),
    pytest.param(["params.s='1','2'"], id="quoted-numbers-stay-strings"),
    pytest.param(["params.s=true,'true'"], id="quoted-bool-stays-a-string"),
    pytest.param(["params.s=\"x y\",'null',null"], id="double-quotes-and-null"),
    pytest.param(["params.items=[1,'2'],[]"], id="quoted-inside-a-list"),
    pytest.param(["params.d={a:'10'},{b:\"x,y\"}"], id="quoted-inside-a-dict"),
    pytest.param(["params.d={a:10},{b:20}"], id="dicts-merge-into-the-existing-one"),
    pytest.param(["params.d=choice({a:10},{b:20})"], id="choice-of-dicts-merges"),
    pytest.param(["params.n={inner:{p:10}},{other:5}"], id="nested-dicts-merge-deeply"),
    pytest.param(["params.n.inner={q:7},{p:8}"], id="dict-at-a-nested-key"),
    pytest.param(["params.x=1,2", "params.s=${params.x}"], id="interpolation-follows-point"),
    pytest.param(["params.x=range(3)"], id="declared-interpolation-follows-point"),
    pytest.param(["params.s='${params.x}',plain", "params.x=5,6"], id="swept-interpolation"),
    pytest.param(["params.x=1,2", "params.d={a:'${params.x}'}"], id="interpolation-in-a-dict"),
    pytest.param(["params.x=3", "params.s=choice(a,b)", "params.flag=true,false"], id="order"),
    pytest.param(["params.x=sort(3,1,2,reverse=true)"], id="sort-reversed"),
    pytest.param(["params.x=sort(3,1,2)", "params.s=int(2),float(3)"], id="sort-and-casts"),
]


@pytest.mark.parametrize("overrides", SWEEPS)
def test_sweeps_plan_what_hydra_composes(
    overrides: list[str], project: Path, home: Path, tmp_path: Path
) -> None:
    assert planned(project, overrides) == hydra_jobs(tmp_path, overrides)


def test_the_workflow_receives_hydras_values_and_types(
    project: Path, home: Path, tmp_path: Path
) -> None:
    overrides = ["params.s=a,'b,c','1',true,'true'", "params.d={a:10},{b:20}"]
    expected = hydra_jobs(tmp_path, overrides)
    launch = runner.launch(
        "echo", [*overrides, "launcher=sequential"], config_dir=project / "conf", seed=1
    )
    received = [result["params"] for result in launch.results]
    assert received == expected
    assert [r["types"]["s"] for r in launch.results[::2]] == ["str", "str", "str", "bool", "str"]
    recorded = runner.status([launch.id])[0].runs
    assert [run.params for run in recorded] == expected


def test_the_cli_records_hydras_values(cli, project: Path, home: Path, tmp_path: Path) -> None:
    overrides = ["params.s=a,'b,c'", "params.x=1,2", "params.d={a:'${params.x}'},{b:20}"]
    done = cli("echo", *overrides, "--seed", "1", "--json")
    assert done.code == 0, done.err
    runs = json.loads(done.out)["runs"]
    expected = hydra_jobs(tmp_path, overrides)
    assert [run["params"] for run in runs] == expected
    assert [run["result"]["params"] for run in runs] == expected


def test_open_schema_adds_keys_as_hydra_adds_them(
    project: Path, home: Path, tmp_path: Path
) -> None:
    # A schema that allows extra keys takes them; Hydra takes them with `+` (new key) or
    # `++` (a dict gaining keys), which are the oracle here.
    assert planned(project, ["+params.extra=5,6"], "echo_open") == hydra_jobs(
        tmp_path, ["+params.extra=5,6"], "echo_open"
    )
    assert planned(project, ["params.d={c:30},{a:3}"], "echo_open") == hydra_jobs(
        tmp_path, ["++params.d={c:30},{a:3}"], "echo_open"
    )


def test_a_cast_applies_to_every_swept_value(project: Path, home: Path, tmp_path: Path) -> None:
    # Hydra's sweeper turns str(10) back into the text 10, which its job then reads as an
    # int; runner keeps the cast, as Hydra does for the same value without a sweep.
    plans = planned(project, ["params.s=str(10),int('20')"])
    one_by_one = [
        hydra_jobs(tmp_path, [line], multirun=False)[0]
        for line in ("params.s=str(10)", "params.s=int('20')")
    ]
    assert plans == one_by_one
    assert [p["s"] for p in plans] == ["10", 20]


REFUSED = [
    pytest.param(
        ["params.x=range(1,3),5"], "an element of a sweep cannot be a sweep", id="nested-sweep"
    ),
    pytest.param(
        ["params.x=1,choice(2,3)"], "an element of a sweep cannot be a sweep", id="nested-choice"
    ),
    pytest.param(["params.nope=5,6"], "params.nope: unknown key", id="unknown-key-swept"),
    pytest.param(["params.d={c:30},{a:3}"], "params.d.c: unknown key", id="dict-adds-a-key"),
    pytest.param(
        ["params.n.inner={z:1},{p:2}"], "params.n.inner.z: unknown key", id="nested-dict-adds"
    ),
    pytest.param(["+params.x=5,6"], "'++params.x=5,6'", id="add-an-existing-key"),
    pytest.param(["params.x=nosuchfn(1)"], "Available: bool,choice", id="unknown-function"),
]


@pytest.mark.parametrize(("overrides", "message"), REFUSED)
def test_refused_like_hydra_and_nothing_stored(
    overrides: list[str], message: str, project: Path, home: Path, tmp_path: Path
) -> None:
    assert hydra_refuses(tmp_path, overrides)
    before = snapshot(home)
    with pytest.raises(DefinitionError) as caught:
        runner.launch("echo", [*overrides, "launcher=sequential"], config_dir=project / "conf")
    assert message in str(caught.value)
    assert snapshot(home) == before


@pytest.mark.parametrize(
    ("swept", "single"),
    [
        pytest.param("params.nope=5,6", "params.nope=5", id="unknown-key"),
        pytest.param("params.d={c:30},{a:3}", "params.d={c:30}", id="dict-adds-a-key"),
        pytest.param("+params.x=5,6", "+params.x=5", id="add-an-existing-key"),
    ],
)
def test_a_sweep_is_refused_as_the_same_override_alone(
    swept: str, single: str, project: Path, home: Path
) -> None:
    errors = []
    for line in (swept, single):
        with pytest.raises(DefinitionError) as caught:
            runner.show("echo", [line], config_dir=project / "conf")
        errors.append(caught.value)
    alone, sweep = errors[1], errors[0]
    # The same problems and the same hint; the sweep adds only which points have them.
    for problem in alone.problems:
        assert any(p.startswith(problem.replace(single, swept)) for p in sweep.problems)
    assert sweep.hint == alone.hint
    if alone.problems:
        assert "declare a new key there" in (alone.hint or "")
    else:
        assert "Either remove + prefix" in str(sweep) and "Either remove + prefix" in str(alone)


@pytest.mark.slow
def test_refusals_through_the_cli(cli, home: Path) -> None:
    for line, expected in [
        ("params.x=range(1,3),5", "cannot be a sweep itself"),
        ("params.nope=5,6", "params.nope: unknown key"),
        ("params.x=nosuchfn(1)", "Unknown function 'nosuchfn'; Available: bool,choice"),
        ("params.x=range(0)", "has no values"),
    ]:
        done = cli("echo", line)
        assert (done.code, done.out) == (2, ""), done.err
        assert expected in done.err and "Traceback" not in done.err
    assert not (home / "runner.db").exists() or snapshot(home)[0] == []


def test_a_run_files_sweep_is_read_with_the_same_grammar(
    project: Path, home: Path, tmp_path: Path
) -> None:
    run_file = tmp_path / "sweep.yaml"
    run_file.write_text(
        yaml.safe_dump(
            {
                "workflow": "echo",
                "params": {"x": 3, "s": "${params.x}"},
                "sweep": {"params.d": "{a:10},{b:20}", "params.items": "[1,'2'],[]"},
            }
        )
    )
    preview = runner.show(str(run_file), config_dir=project / "conf", seed=1)
    expected = hydra_jobs(
        tmp_path,
        ["params.d={a:10},{b:20}", "params.items=[1,'2'],[]", "params.x=3", "params.s=${params.x}"],
    )
    assert [spec.params for spec in preview.specs] == expected
