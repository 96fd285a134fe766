"""`runner run FILE.py [WORKFLOW [INPUTS]]`, the cases of flytekit's `pyflyte run` tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RUNNER

FILE = "mypkg/typed_flows.py"


@pytest.fixture
def pyrun(project: Path, home: Path, tmp_path: Path):
    """`runner run [--json] FILE ...` from a directory with no conf/, returning (code, out, err)."""

    def run(*args: str, cwd: Path | None = None, stdin: str | None = None, json_out: bool = True):
        env = {k: v for k, v in os.environ.items() if k != "RUNNER_CONFIG_DIR"}
        env["RUNNER_HOME"] = str(home)
        head = ["run", "--json"] if json_out else ["run"]
        done = subprocess.run(
            [RUNNER, *head, *args],
            cwd=cwd or tmp_path,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.returncode, done.stdout, done.stderr

    return run


def result(outcome: tuple[int, str, str]):
    code, out, err = outcome
    assert code == 0, err
    return json.loads(out)["runs"][0]["result"]


def test_listing_in_file_order_with_imported_ones(pyrun, project: Path) -> None:
    code, out, err = pyrun(str(project / FILE), json_out=False)
    assert code == 0, err
    ids = [line.split()[1] for line in out.splitlines()]
    assert ids == ["scale", "kinds", "existing", "flags", "cases", "env_probe", "defaults"]
    assert "workflow  kinds      Echo every input back, as the types it arrived in." in out


CLI_TYPES = [
    pytest.param(["--ratio", "2.5"], "ratio", 2.5, id="float"),
    pytest.param(["--name", "abc"], "name", "abc", id="str"),
    pytest.param(["--color", "blue"], "color", "Color.BLUE", id="enum"),
    pytest.param(["--mode", "slow"], "mode", "slow", id="literal"),
    pytest.param(["--when", "2024-05-01T10:30:00"], "when", "2024-05-01T10:30:00", id="datetime"),
    pytest.param(["--day", "2024-05-01"], "day", "2024-05-01", id="date"),
    pytest.param(["--wait", "20H"], "wait", 72000.0, id="timedelta-hours"),
    pytest.param(["--wait", "1 day"], "wait", 86400.0, id="timedelta-day"),
    pytest.param(["--wait", "1:24"], "wait", 5040.0, id="timedelta-clock"),
    pytest.param(["--items", "[1, 2]"], "items", [1, 2], id="list"),
    pytest.param(["--weights", '{"a": 0.5}'], "weights", {"a": 0.5}, id="dict"),
    pytest.param(
        ["--opts", '{"lr": 0.2, "inner": {"depth": 3}}'],
        "opts",
        ["Opts", 0.2, [2, 2], 3],
        id="nested-dataclass",
    ),
    pytest.param(["--point", '{"x": 1, "y": 2}'], "point", {"x": 1, "y": 2}, id="typeddict"),
    pytest.param(["--either", "7"], "either", ["int", 7], id="union-first"),
    pytest.param(["--either", "seven"], "either", ["str", "seven"], id="union-second"),
    pytest.param([], "opts", None, id="optional-none"),
]


@pytest.mark.parametrize(("args", "key", "expected"), CLI_TYPES)
def test_every_type_from_a_cli_string(pyrun, project: Path, args, key, expected) -> None:
    assert result(pyrun(str(project / FILE), "kinds", "--n", "1", *args))[key] == expected


def test_now_today_and_existing_paths(pyrun, project: Path) -> None:
    out = result(
        pyrun(
            str(project / FILE),
            "kinds",
            "--n",
            "1",
            "--when",
            "now",
            "--day",
            "today",
            "--where",
            str(project),
        )
    )
    assert out["when"][:4].isdigit() and out["day"][:4].isdigit() and out["where"] == "PosixPath"


def test_list_and_dict_from_a_file(pyrun, project: Path, tmp_path: Path) -> None:
    (tmp_path / "items.yaml").write_text("[3, 4]\n")
    assert result(pyrun(str(project / FILE), "kinds", "--n", "1", "--items", "items.yaml"))[
        "items"
    ] == [3, 4]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["--a"], [True, True, False], id="a"),
        pytest.param(["--no-a"], [False, True, False], id="no-a"),
        pytest.param(["--a", "--no-b", "--c"], [True, False, True], id="a-no-b-c"),
        pytest.param(["--a", "--b", "--no-c"], [True, True, False], id="a-b-no-c"),
    ],
)
def test_boolean_matrix(pyrun, project: Path, args, expected) -> None:
    assert result(pyrun(str(project / FILE), "flags", *args)) == expected


@pytest.mark.slow
def test_inputs_file_stdin_and_cli_precedence(pyrun, project: Path, tmp_path: Path) -> None:
    (tmp_path / "in.yaml").write_text("a: true\nb: false\nc: true\n")
    (tmp_path / "in.json").write_text('{"a": false}')
    # false in a file really sets false (a pyflyte bug); --inputs-file=path works too.
    assert result(pyrun(str(project / FILE), "flags", "--inputs-file=in.yaml")) == [
        True,
        False,
        True,
    ]
    assert result(pyrun(str(project / FILE), "flags", "--inputs-file", "in.json")) == [
        False,
        True,
        False,
    ]
    stdin = '{"b": true}'
    assert result(
        pyrun(str(project / FILE), "flags", "--inputs-file", "in.yaml", "-", stdin=stdin)
    ) == [
        True,
        True,
        True,
    ]
    assert result(
        pyrun(str(project / FILE), "flags", "--inputs-file", "in.yaml", "--no-c", "-", stdin=stdin)
    ) == [True, True, False]


def test_upper_case_and_dashed_names(pyrun, project: Path) -> None:
    assert result(pyrun(str(project / FILE), "cases", "--MyInput", "Q", "--my-input", "5")) == [
        "Q",
        5,
    ]
    assert result(pyrun(str(project / FILE), "cases", "--MyInput", "Q", "--my_input", "6")) == [
        "Q",
        6,
    ]


def test_bad_values_and_every_missing_input_are_exit_2(pyrun, project: Path, home: Path) -> None:
    code, _, err = pyrun(str(project / FILE), "kinds", "--ratio", "x", "--color", "purple")
    assert code == 2
    assert "--ratio: 'x' is not a number" in err
    assert "--color: 'purple' is not one of red, blue" in err
    assert "missing required input: --n" in err
    code, _, err = pyrun(str(project / FILE), "flags", "--b")
    assert (code, "missing required input: --a" in err) == (2, True)
    assert not (home / "runner.db").exists()  # nothing reached the function or the store


def test_entity_not_found_names_the_ones_there(pyrun, project: Path) -> None:
    code, _, err = pyrun(str(project / FILE), "nope")
    assert code == 2
    assert (
        "no workflow 'nope'" in err
        and "workflows there: scale, kinds, existing, flags, cases, env_probe, defaults" in err
    )


def test_env_is_visible_only_inside_the_run(pyrun, project: Path) -> None:
    code, out, err = pyrun("--env", "RUNNER_FILE_VAR=inside", str(project / FILE), "env_probe")
    assert code == 0, err
    launch = json.loads(out)
    assert launch["runs"][0]["result"] == "inside"
    assert launch["env"] == {"RUNNER_FILE_VAR": "inside"}


@pytest.mark.parametrize("depth", [0, 1, 2], ids=["project-root", "package", "outside"])
def test_runs_from_several_working_directories(pyrun, project: Path, tmp_path: Path, depth) -> None:
    cwd = [project, project / "mypkg", tmp_path][depth]
    path = os.path.relpath(project / FILE, cwd)
    assert result(pyrun(path, "cases", "--MyInput", "d", cwd=cwd)) == ["d", 1]


def test_inputs_file_for_a_declared_workflow(cli, elsewhere: Path) -> None:
    (elsewhere / "p.yaml").write_text("a: 4\nb: 5\n")
    launch = json.loads(cli("add", "--inputs-file", "p.yaml", "--json").out)
    assert launch["runs"][0]["result"] == 9
    over = json.loads(cli("add", "--inputs-file", "p.yaml", "params.b=1", "--json").out)
    assert over["runs"][0]["result"] == 5  # overrides sit above the inputs file


def test_dump_snippet_loads_the_launch(pyrun, project: Path, home: Path, tmp_path: Path) -> None:
    code, _, err = pyrun("--dump-snippet", str(project / FILE), "cases", "--MyInput", "s")
    assert code == 0, err
    snippet = err[err.index("import runner") :]
    env = {**os.environ, "RUNNER_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-c", snippet], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "succeeded" in done.stdout and "['s', 1]" in done.stdout


def test_list_dict_dataclass_and_timedelta_defaults(pyrun, project: Path) -> None:
    assert result(pyrun(str(project / FILE), "defaults")) == [
        [1, 2],
        {"a": 1},
        ["Opts", 0.3, 1],
        120.0,
    ]
    assert result(pyrun(str(project / FILE), "defaults", "--items", "[5]"))[0] == [5]


def test_help_shows_types_defaults_and_required(pyrun, project: Path) -> None:
    code, out, _ = pyrun(str(project / FILE), "kinds", "--help", json_out=False)
    assert code == 0
    assert "--n TEXT" in out and "int [required]" in out
    assert "--ratio TEXT" in out and "float [default: 0.5]" in out
    assert (
        "--flag" not in out and "--color TEXT" in out and "one of red, blue [default: red]" in out
    )


def test_show_schema_comes_from_the_signature(cli) -> None:
    schema = json.loads(cli("show", "scale", "--schema").out)
    assert schema["required"] == ["x"]
    assert schema["properties"]["factor"] == {"type": "number", "default": 2.0}
    assert "seed" not in schema["properties"]


def test_existing_path_must_exist(pyrun, project: Path, home: Path) -> None:
    assert result(pyrun(str(project / FILE), "existing", "--where", str(project))) == "PosixPath"
    code, _, err = pyrun(str(project / FILE), "existing", "--where", "/no/such/place")
    assert code == 2
    assert "--where: '/no/such/place' is not an existing path" in err


# -- overrides in the file form, in-process (runner.cli.main) ---------------------------------

FLOWS = '''\
import runner


@runner.workflow
def f(C: float = 1.0, kernel: str = "rbf", n: int | None = None) -> dict:
    """Fit."""
    return {"C": C, "kernel": kernel, "n": n}


@runner.workflow
def needs(k: int) -> int:
    """A required input."""
    return k
'''


@pytest.fixture
def flows(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh Python file of workflows (a module name of its own) and `main(args)` ->
    (exit code, stdout, stderr), run in this process from the file's directory."""
    import uuid

    from runner.cli import main

    name = f"flows_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(FLOWS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNNER_CONFIG_DIR", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))

    def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as done:
            code = done.code
        out, err = capsys.readouterr()
        assert isinstance(code, int)
        return code, out, err

    yield f"{name}.py", run
    sys.modules.pop(name, None)


def _results(out: str) -> list[object]:
    return [run["result"] for run in json.loads(out)["runs"]]


@pytest.mark.parametrize("head", [["run"], []], ids=["run", "bare"])
def test_file_form_applies_params_overrides(flows, capsys, head: list[str]) -> None:
    path, run = flows
    args = [*head, "--json", path, "f", "launcher=sequential"]
    code, out, err = run(capsys, *args, "params.C=10")
    assert code == 0, err
    assert _results(out) == [{"C": 10, "kernel": "rbf", "n": None}]
    code, out, err = run(capsys, *args, "params.C=0.1,1", "params.kernel=linear")
    assert code == 0, err
    assert [r["C"] for r in _results(out)] == [0.1, 1]  # type: ignore[index]
    code, out, err = run(capsys, *args, "params.n=range(1,3)", "repeat=2", "~params.kernel")
    assert code == 0, err
    assert [r["n"] for r in _results(out)] == [1, 1, 2, 2]  # type: ignore[index]
    # An override is above the typed options, as it is above an inputs file for a declared
    # workflow; a required input may be given either way.
    code, out, err = run(capsys, *args, "--C", "5", "params.C=7", "--kernel", "poly")
    assert (code, _results(out)) == (0, [{"C": 7, "kernel": "poly", "n": None}]), err
    code, out, err = run(capsys, "--json", path, "needs", "launcher=sequential", "params.k=3")
    assert (code, _results(out)) == (0, [3]), err


@pytest.mark.parametrize(
    ("stray", "hint"),
    [
        ("whatever", "after the workflow come its inputs"),
        ("C=10", "did you mean params.C=10?"),
        ("kernel", "did you mean params.kernel=VALUE?"),
        ("workflow=other", "after the workflow come its inputs"),
        ("+nope=1", "after the workflow come its inputs"),
        ("10", "after the workflow come its inputs"),
    ],
)
def test_file_form_refuses_stray_arguments(flows, capsys, home: Path, stray, hint) -> None:
    path, run = flows
    code, _, err = run(capsys, path, "f", stray)
    assert code == 1, err
    assert f"unexpected argument '{stray}'" in err and hint in err
    assert not (home / "runner.db").exists()


def test_file_form_stdin_is_only_a_dash(flows, capsys, monkeypatch) -> None:
    import io

    path, run = flows
    stdin = io.TextIOWrapper(io.BytesIO(b'{"C": 3, "kernel": "x"}'))
    monkeypatch.setattr(sys, "stdin", stdin)
    code, out, err = run(capsys, "--json", path, "f", "-", "params.kernel=y", "launcher=sequential")
    assert (code, _results(out)) == (0, [{"C": 3, "kernel": "y", "n": None}]), err
    code, _, err = run(capsys, path, "f", "-", "-")
    assert code == 1 and "unexpected argument '-'" in err and "stdin (-) is read once" in err


def test_file_form_names_a_run_option_given_after_the_workflow(flows, capsys) -> None:
    path, run = flows
    code, _, err = run(capsys, path, "f", "params.C=2", "-q")
    assert code == 2 and "-q is an option of runner run: give it before the file" in err
    code, _, err = run(capsys, path, "f", "--nope")
    assert code == 2 and "No such option '--nope'" in err and "hint" not in err
