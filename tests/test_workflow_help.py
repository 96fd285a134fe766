"""`runner WORKFLOW --help`: the workflow's own params, before the general options."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner import cli


@pytest.fixture
def helped(project: Path, home: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setenv("RUNNER_CONFIG_DIR", str(project / "conf"))
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(project)

    def run(*args: str) -> str:
        with pytest.raises(SystemExit) as done:
            cli.main([*args])
        out = capsys.readouterr()
        assert done.value.code == 0, out.err
        for line in out.out.splitlines():
            assert len(line) <= 80, line
        return out.out

    return run


def _rows(text: str) -> dict[str, list[str]]:
    """The params table: name -> the other cells of its first line."""
    table = text.split("Params (")[1].split("Examples:")[0]
    return {line.split()[0]: line.split()[1:] for line in table.splitlines()[3:] if line.strip()}


def test_a_declared_workflows_help_shows_its_params_and_an_example(helped) -> None:
    out = helped("train", "--help")
    assert out.startswith("Usage: runner train [params.NAME=VALUE...]")
    assert "Returns a nested dict of metrics." in out
    assert "declared in conf/workflow/train.yaml" in out
    assert _rows(out) == {
        "lr": ["number", "0.01"],
        "width": ["integer", "64"],
        "epochs": ["integer", "10"],
    }
    assert "    runner train params.lr=0.1 params.width=640\n" in out
    assert "    runner train params.lr=0.01,0.1    # a sweep\n" in out
    assert out.index("Examples:") < out.index("Options:") < out.index("--config-dir")
    assert helped("run", "train", "--help") == out
    assert "Launch TARGET: a run file" in helped("run", "--help")  # no target: the command's


def test_a_decorated_workflows_help_shows_required_params(helped) -> None:
    out = helped("run", "scale", "-h")
    assert "Multiply x by a factor." in out
    assert "(@runner.workflow in" in out
    assert _rows(out) == {"x": ["number", "required"], "factor": ["number", "2.0"]}
    assert "    runner scale params.x=1.0 params.factor=20.0\n" in out


def test_descriptions_come_from_the_schema_or_the_docstring(helped, project: Path) -> None:
    (project / "documented_flows.py").write_text(
        "import runner\n\n\n"
        "@runner.workflow\n"
        "def fit(C: float = 1.0, kernel: str = 'rbf', shrinking: bool = True) -> dict:\n"
        '    """Fit an SVC.\n\n'
        "    Args:\n"
        "        C: Regularisation strength.\n"
        "        kernel: The kernel.\n"
        '    """\n'
        "    return {}\n\n\n"
        "@runner.workflow\n"
        "def forest(n_estimators: int = 100, depth: int | None = None) -> dict:\n"
        '    """Fit a random forest.\n\n'
        "    Parameters\n"
        "    ----------\n"
        "    n_estimators : int\n"
        "        How many trees.\n"
        '    """\n'
        "    return {}\n"
    )
    (project / "conf" / "workflow" / "documented.yaml").write_text("modules: [documented_flows]\n")
    (project / "conf" / "workflow" / "svc.yaml").write_text(
        "id: svc\nversion: '1'\nentrypoint: documented_flows:fit\n"
        "schema:\n  type: object\n  properties:\n"
        "    C: {type: number, description: Inverse of the regularisation.}\n"
        "    kernel: {enum: [rbf, linear]}\n"
    )
    fit = helped("fit", "--help")
    assert _rows(fit)["C"] == ["number", "1.0", "Regularisation", "strength."]
    assert _rows(fit)["kernel"] == ["string", "rbf", "The", "kernel."]
    assert _rows(fit)["shrinking"] == ["boolean", "true"]
    assert "runner fit params.C=10.0 params.kernel=rbf" in fit
    forest = helped("forest", "--help")
    assert "How many trees." in forest
    assert "integer | null" in forest and "null" in _rows(forest)["depth"]
    svc = helped("svc", "--help")
    assert "Inverse of the regularisation." in svc
    assert "rbf | linear" in svc
    assert "runner svc params.C=10.0 params.kernel=linear" in svc


def test_a_saved_definitions_help_shows_its_workflow_and_what_it_sets(helped) -> None:
    out = helped("nightly", "--help")
    assert "launches workflow add:1.0 and sets:" in out
    assert "    repeat: 2\n" in out and "    params.a: 100\n" in out
    assert _rows(out)["a"] == ["integer", "100", "(set", "by", "nightly)"]
    assert "runner nightly params.a=1000" in out
    swept = helped("pi_sweep", "--help")  # runner's own: it sweeps
    assert "    params.samples: 1000,10000,100000  (a sweep)\n" in swept
    assert _rows(swept)["samples"][:3] == ["integer", "1000,10000,100000", "points"]


def test_a_registered_versions_help(helped) -> None:
    from runner import api

    _, version, _ = api.register("train")
    out = helped(f"train:{version}", "--help")
    assert f"Workflow train:{version} (registered {version}" in out
    assert _rows(out)["epochs"] == ["integer", "10"]


def test_a_python_files_workflow_help(helped, project: Path) -> None:
    out = helped("mypkg/decorated.py", "shout", "--help")
    assert out.startswith("Usage: runner mypkg/decorated.py shout [params.NAME=VALUE...]")
    assert "runner mypkg/decorated.py shout params.word=hi" in out
    assert _rows(out) == {"word": ["string", "hi"]}


def test_an_unknown_workflows_help_names_it(project, home, monkeypatch, capsys) -> None:
    monkeypatch.setenv("RUNNER_CONFIG_DIR", str(project / "conf"))
    with pytest.raises(SystemExit) as done:
        cli.main(["trian", "--help"])
    assert done.value.code == 2
    assert "unknown workflow 'trian'" in capsys.readouterr().err
