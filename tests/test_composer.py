"""Composition: the search path, workflow resolution, precedence, sweeps, and their errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runner.composer import Composer, Project, Request, config_space
from runner.errors import CompositionError, DefinitionError, UsageError, WorkflowError


def compose(project: Path, target: str | None, *overrides: str, **options) -> Composer:
    with config_space(Project.find(project / "conf")) as space:
        composer = Composer(
            space, Request(target=target, overrides=list(overrides), options=options)
        )
        composer.definition(tuple(str(a.values[0]) for a in composer.axes if not a.is_params))
        return composer


def first(composer: Composer):
    return composer.definition(tuple(str(a.values[0]) for a in composer.axes if not a.is_params))


def test_project_is_found_from_flag_env_then_cwd(
    tmp_path: Path, project: Path, monkeypatch
) -> None:
    monkeypatch.delenv("RUNNER_CONFIG_DIR", raising=False)
    monkeypatch.chdir(project)
    assert Project.find().config_dir == project / "conf"
    monkeypatch.chdir(tmp_path)
    assert Project.find().config_dir is None
    monkeypatch.setenv("RUNNER_CONFIG_DIR", str(project / "conf"))
    assert Project.find().root == project
    with pytest.raises(UsageError, match=r"RUNNER_CONFIG_DIR: config directory .* does not exist"):
        monkeypatch.setenv("RUNNER_CONFIG_DIR", str(tmp_path / "nope"))
        Project.find()


def test_latest_version_unless_pinned(project: Path) -> None:
    assert first(compose(project, "add")).workflow.version == "2.0"
    assert first(compose(project, "add:1.0")).workflow.version == "1.0"
    assert first(compose(project, None, "+workflow=add:1.0")).workflow.version == "1.0"
    assert first(compose(project, None, "workflow=add_v2")).workflow.version == "2.0"  # file name


def test_signature_defaults_sit_below_declared_params(project: Path) -> None:
    definition = first(compose(project, "add:1.0"))
    assert definition.params == {"a": 1, "b": 1}
    assert definition.sources.where(("params", "b")) == "the signature of mypkg.flows:add"
    assert definition.sources.where(("params", "a")).startswith("workflow 'add' defaults (")


def test_override_and_option_sources(project: Path) -> None:
    definition = first(compose(project, "add", "params.a=3", repeat=4))
    assert definition.params["a"] == 3
    assert definition.fields["repeat"] == 4
    assert definition.sources.where(("params", "a")) == "override 'params.a=3'"
    assert definition.sources.where(("repeat",)) == "option --repeat"


def test_interpolation_is_resolved(project: Path) -> None:
    definition = first(compose(project, "add:1.0", "name=run-${params.a}", "params.a=7"))
    assert definition.fields["name"] == "run-7"


def test_sweep_axes_keep_hydras_order(project: Path) -> None:
    composer = compose(project, "add", "params.b=1,2", "params.a=range(3)", "name=x")
    assert [(a.key, a.shown) for a in composer.axes] == [
        ("params.b", (1, 2)),
        ("params.a", (0, 1, 2)),
    ]
    assert [o.input_line for o in composer.fixed] == ["workflow=add", "name=x"]


def test_launch_wide_fields_cannot_be_swept(project: Path) -> None:
    with pytest.raises(CompositionError, match="launcher holds for the whole launch"):
        compose(project, "add", "launcher=threads,sequential")


def test_group_sweep_composes_once_per_choice(project: Path) -> None:
    with config_space(Project.find(project / "conf")) as space:
        composer = Composer(space, Request(target=None, overrides=["+workflow=add:1.0,draw"]))
        assert [a.key for a in composer.axes] == ["workflow"]
        for _ in range(3):
            ids = [composer.definition((choice,)).workflow.id for choice in composer.axes[0].values]
        assert ids == ["add", "draw"]
        assert len(composer._cache) == 2


def test_hydras_own_groups_are_left_out_unless_overridden(project: Path) -> None:
    """Hydra's own config groups are not composed (runner reads none of them); a user's
    override of one still composes."""
    with config_space(Project.find(project / "conf")) as space:
        assert "hydra" not in space.compose(["+workflow=add"])
        assert "hydra" not in space.compose(["+workflow=add", "hydra/job_logging=disabled"])
    assert first(compose(project, "add:1.0", "hydra/job_logging=disabled")).params["a"] == 1


@pytest.mark.parametrize(
    ("target", "overrides", "error", "message"),
    [
        pytest.param("nope", [], WorkflowError, "unknown workflow 'nope'", id="unknown"),
        pytest.param(
            "add:3", [], WorkflowError, "has no version '3'; versions: 1.0, 2.0", id="version"
        ),
        pytest.param(
            "add",
            ["params.a=[1,"],
            CompositionError,
            "malformed override 'params.a=[1,'",
            id="malformed",
        ),
        pytest.param(
            "add",
            ["params.a=interval(0,1)"],
            CompositionError,
            "interval() is a search's dimension; choose a search to draw from it (search=tpe",
            id="interval",
        ),
        pytest.param(
            "add",
            ["~params.zzz"],
            CompositionError,
            "Could not delete from config",
            id="delete-missing",
        ),
        pytest.param(
            "ghost", [], WorkflowError, "No module named 'mypkg.missing_module'", id="import"
        ),
        pytest.param(
            None, ["+run=nope"], DefinitionError, "unknown saved run definition 'nope'", id="preset"
        ),
    ],
)
def test_composition_errors(project: Path, target, overrides, error, message) -> None:
    with pytest.raises(error, match=re.escape(message)):
        compose(project, target, *overrides)


def test_user_schema_file_is_found_in_project_schemas(project: Path) -> None:
    definition = first(compose(project, "limited"))
    assert definition.params_validator.schema["properties"]["a"]["maximum"] == 100


def test_hydra_state_is_restored(project: Path) -> None:
    from hydra.core.global_hydra import GlobalHydra

    compose(project, "add")
    compose(project, "add")  # twice in one process, as a notebook would
    assert not GlobalHydra.instance().is_initialized()
