"""pyflyte's inputs (issue 9, items 6-9): the value and type the workflow function receives, and
the params recorded, through the installed CLI and through the API the CLI calls."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runner import api, pyfile
from runner.store import Store
from tests.conftest import RUNNER

FILE = "mypkg/echo_flows.py"


@pytest.fixture
def pyrun(project: Path, home: Path, tmp_path: Path):
    """`runner run --json [OPTIONS] FILE WORKFLOW [INPUTS]` from a folder with no conf/:
    (exit code, the launch as printed, stderr)."""

    def run(workflow: str, *args: str, stdin: str | None = None, before: tuple[str, ...] = ()):
        env = {k: v for k, v in os.environ.items() if k != "RUNNER_CONFIG_DIR"}
        env["RUNNER_HOME"] = str(home)
        done = subprocess.run(
            [RUNNER, "run", "--json", *before, str(project / FILE), workflow, *args],
            cwd=tmp_path,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        launch = json.loads(done.stdout) if done.returncode == 0 else None
        return done.returncode, launch, done.stderr

    return run


def received(outcome: tuple[int, Any, str], home: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what the function received: {input: [type name, value]}, the params in the store)."""
    code, launch, err = outcome
    assert code == 0, err
    [run] = Store(home).runs(launch["id"])
    assert run.status.value == "succeeded", run.error
    return run.result, run.params


def through_api(project: Path, home: Path, workflow_id: str, inputs: dict[str, Any]):
    """api.launch as `runner run FILE WORKFLOW` calls it, with inputs given as data."""
    root, found = pyfile.workflows_in(project / FILE)
    launch = api.launch(
        overrides=["launcher=sequential"],
        config_dir=project / "conf",
        root=root,
        home=home,
        workflow=pyfile.pick(project / FILE, found, workflow_id),
        inputs=inputs,
        inputs_label="the API's inputs",
    )
    [run] = Store(home).runs(launch.id)
    assert run.status.value == "succeeded", run.error
    return run.result, run.params


# -- 6: boolean spellings ----------------------------------------------------------------------

SPELLINGS = [
    # (what is typed, the input, the value it gets); a_b defaults False, c_d_e and must_x True.
    ("--a_b", "a_b", True),
    ("--a-b", "a_b", True),
    ("--no_a_b", "a_b", False),
    ("--no-a_b", "a_b", False),
    ("--no-a-b", "a_b", False),
    ("--c_d_e", "c_d_e", True),
    ("--c-d-e", "c_d_e", True),
    ("--no_c_d_e", "c_d_e", False),
    ("--no-c_d_e", "c_d_e", False),
    ("--no-c-d-e", "c_d_e", False),
    ("--plain", "plain", True),
    ("--no-plain", "plain", False),
    ("--no_plain", "plain", False),
    ("--no-must-x", "must_x", False),
]


@pytest.mark.parametrize(("typed", "name", "value"), SPELLINGS, ids=[s[0] for s in SPELLINGS])
def test_every_boolean_spelling(pyrun, home: Path, typed: str, name: str, value: bool) -> None:
    got, params = received(pyrun("switches", typed), home)
    defaults = {"a_b": False, "c_d_e": True, "plain": False, "must_x": True}
    expected = {**defaults, name: value}
    assert got == {key: ["bool", flag] for key, flag in expected.items()}
    assert params == expected


def test_a_spelling_of_no_input_is_refused(pyrun, home: Path) -> None:
    code, _, err = pyrun("switches", "--no-a")
    assert code == 2
    assert "No such option '--no-a'" in err and "--no-a-b" in err


def help_text(project: Path, home: Path, cwd: Path, workflow: str) -> str:
    """`runner run FILE WORKFLOW --help` as printed 100 columns wide."""
    env = {k: v for k, v in os.environ.items() if k != "RUNNER_CONFIG_DIR"}
    env.update(RUNNER_HOME=str(home), COLUMNS="100")
    done = subprocess.run(
        [RUNNER, "run", str(project / FILE), workflow, "--help"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_boolean_help_lines(project: Path, home: Path, tmp_path: Path) -> None:
    text = help_text(project, home, tmp_path, "switches")
    options = [line for line in text.splitlines() if line.startswith("  --")]
    lines = {line.split()[0]: line for line in options if "boolean" in line}
    assert set(lines) == {"--a_b", "--c_d_e", "--plain", "--must_x"}
    assert "--a_b / --no-a_b  " in lines["--a_b"] and "--a-b" not in text
    assert "--c_d_e / --no-c_d_e " in lines["--c_d_e"] and "--no_c_d_e" not in text
    assert "[default: True]" in lines["--must_x"] and "[default: False]" in lines["--a_b"]


def test_booleans_through_the_api(project: Path, home: Path) -> None:
    got, params = through_api(project, home, "switches", {"a_b": True, "c_d_e": False})
    assert got == {
        "a_b": ["bool", True],
        "c_d_e": ["bool", False],
        "plain": ["bool", False],
        "must_x": ["bool", True],
    }
    assert params == {"a_b": True, "c_d_e": False, "plain": False, "must_x": True}


# -- 7: a dict or list input replaces its default ----------------------------------------------

REPLACEMENTS = {
    "table": ({"b": 2}, ["dict", {"b": 2}]),
    "anything": ({"a": {"other": 3}}, ["dict", {"a": {"other": 3}}]),
    "items": ([7], ["list", [7]]),
    "box": ({"tag": "given"}, ["Box", {"x": 0, "tag": "given"}]),  # Box's own default x
}
RECORDED = {
    "table": {"b": 2},
    "anything": {"a": {"other": 3}},
    "items": [7],
    "box": {"x": 0, "tag": "given"},
}


@pytest.mark.parametrize("way", ["options", "inputs-file", "stdin"])
def test_dicts_and_lists_replace_their_defaults(pyrun, home: Path, tmp_path: Path, way) -> None:
    given = {name: value for name, (value, _) in REPLACEMENTS.items()}
    if way == "options":
        args = [arg for name, value in given.items() for arg in (f"--{name}", json.dumps(value))]
        outcome = pyrun("replaced", *args)
    elif way == "inputs-file":
        (tmp_path / "in.yaml").write_text(json.dumps(given))
        outcome = pyrun("replaced", "--inputs-file", "in.yaml")
    else:
        outcome = pyrun("replaced", "-", stdin=json.dumps(given))
    got, params = received(outcome, home)
    assert got == {name: arrived for name, (_, arrived) in REPLACEMENTS.items()}
    assert params == RECORDED


def test_empty_dict_and_list_replace_too_and_defaults_stay_whole(pyrun, home: Path) -> None:
    got, params = received(pyrun("replaced", "--table", "{}", "--items", "[]"), home)
    assert got["table"] == ["dict", {}] and got["items"] == ["list", []]
    assert got["anything"] == ["dict", {"a": {"deep": 1}, "b": 2}]
    assert got["box"] == ["Box", {"x": 5, "tag": "default"}]
    assert params["table"] == {} and params["items"] == []


def test_an_option_replaces_a_dict_from_the_inputs_file(pyrun, home, tmp_path: Path) -> None:
    (tmp_path / "in.yaml").write_text("table: {a: 5, c: 6}\n")
    got, params = received(
        pyrun("replaced", "--inputs-file", "in.yaml", "--table", '{"z": 1}'), home
    )
    assert got["table"] == ["dict", {"z": 1}] and params["table"] == {"z": 1}


def test_dicts_and_lists_replace_through_the_api(project: Path, home: Path) -> None:
    given = {name: value for name, (value, _) in REPLACEMENTS.items()}
    got, params = through_api(project, home, "replaced", given)
    assert got == {name: arrived for name, (_, arrived) in REPLACEMENTS.items()}
    assert params == RECORDED


# -- 8: unions convert to the member that matched ----------------------------------------------

# (input, text on the command line, the type the function gets, its value there, recorded)
UNION_CASES = [
    ("mixed", "7", "int", 7, 7),
    ("mixed", "/tmp/data.csv", "PosixPath", "/tmp/data.csv", "/tmp/data.csv"),
    ("mixed", "2024-05-01T10:30:00", "datetime", "2024-05-01T10:30:00", "2024-05-01T10:30:00"),
    ("mixed", "RED", "Color", "RED", "red"),
    ("mixed", "blue", "Color", "BLUE", "blue"),
    ("mixed", "none", "NoneType", None, None),
    ("obj", '{"x": 3}', "Box", {"x": 3, "tag": "none"}, {"x": 3, "tag": "none"}),
    ("obj", "4", "int", 4, 4),
    ("text_first", "7", "int", 7, 7),
    ("text_first", "seven", "str", "seven", "seven"),
    ("flag_or_number", "true", "bool", True, True),
    ("flag_or_number", "2.5", "float", 2.5, 2.5),
    ("number_or_flag", "1", "int", 1, 1),
    ("number_or_flag", "false", "bool", False, False),
    ("day_or_wait", "2024-05-01", "date", "2024-05-01", "2024-05-01"),
    ("day_or_wait", "90s", "timedelta", 90.0, 90.0),
    ("level_or_text", "2", "Level", "HIGH", 2),
    ("level_or_text", "LOW", "Level", "LOW", 1),
    ("level_or_text", "medium", "str", "medium", "medium"),
    ("choice_or_count", "auto", "str", "auto", "auto"),
    ("choice_or_count", "3", "int", 3, 3),
    ("pair_or_list", '{"a": 1, "b": "x"}', "dict", {"a": 1, "b": "x"}, {"a": 1, "b": "x"}),
    ("pair_or_list", "[1, 2]", "list", [1, 2], [1, 2]),
    ("table_or_none", '{"k": 1}', "dict", {"k": 1}, {"k": 1}),
    ("table_or_none", "null", "NoneType", None, None),
    ("ratio", "2", "float", 2.0, 2.0),
    ("ratio", "none", "NoneType", None, None),
    ("path_or_names", '["a", "b"]', "list", ["a", "b"], ["a", "b"]),
    ("path_or_names", "notes.txt", "PosixPath", "notes.txt", "notes.txt"),
    ("when_or_day", "2024-05-01", "datetime", "2024-05-01T00:00:00", "2024-05-01T00:00:00"),
    # flytekit's test_union_type2 and test_pyflyte_run_with_none
    ("number_box_list", "2.0", "float", 2.0, 2.0),
    ("number_box_list", '{"x": 1, "tag": "h"}', "Box", {"x": 1, "tag": "h"}, {"x": 1, "tag": "h"}),
    ("number_box_list", "[1, 2, 3]", "list", [1, 2, 3], [1, 2, 3]),
    ("text", "1", "str", "1", "1"),
]


def _batches(cases: list[tuple[Any, ...]]) -> list[list[tuple[Any, ...]]]:
    """The cases in as few runs as can hold them: an input once per run."""
    batches: list[list[tuple[Any, ...]]] = []
    for case in cases:
        batch = next((b for b in batches if all(c[0] != case[0] for c in b)), None)
        if batch is None:
            batches.append(batch := [])
        batch.append(case)
    return batches


BATCHES = _batches(UNION_CASES)


@pytest.mark.parametrize("batch", BATCHES, ids=[f"run{i}" for i in range(len(BATCHES))])
def test_a_union_gives_the_member_that_matched(pyrun, home: Path, batch) -> None:
    args = [arg for name, text, *_ in batch for arg in (f"--{name}", text)]
    got, params = received(pyrun("unions", *args), home)
    for name, text, kind, value, recorded in batch:
        assert got[name] == [kind, value], f"--{name} {text}"
        assert params[name] == recorded, f"--{name} {text}"


@pytest.mark.parametrize("batch", BATCHES, ids=[f"run{i}" for i in range(len(BATCHES))])
def test_a_union_through_the_api(project: Path, home: Path, batch) -> None:
    """The API takes the recorded JSON forms (and names, as the CLI does): the same types."""
    given = {name: recorded for name, _, _, _, recorded in batch}
    given.update({name: text for name, text, *_ in batch if text in ("RED", "LOW")})
    got, params = through_api(project, home, "unions", given)
    for name, _, kind, value, recorded in batch:
        assert got[name] == [kind, value], f"{name}={given[name]!r}"
        assert params[name] == recorded, f"{name}={given[name]!r}"


def test_union_values_from_an_inputs_file_keep_their_json_type(pyrun, home, tmp_path) -> None:
    (tmp_path / "in.json").write_text('{"text_first": "7", "mixed": "2024-05-01", "obj": {}}')
    got, params = received(pyrun("unions", "--inputs-file", "in.json"), home)
    assert got["text_first"] == ["str", "7"]  # a JSON string is a string, not 7
    assert got["mixed"] == ["datetime", "2024-05-01T00:00:00"]
    assert got["obj"] == ["Box", {"x": 0, "tag": "none"}]
    assert params["text_first"] == "7" and params["obj"] == {"x": 0, "tag": "none"}


def test_a_value_no_member_takes_is_refused_naming_each(pyrun, home: Path) -> None:
    code, _, err = pyrun("unions", "--obj", '{"y": 1}')
    assert code == 2
    assert "--obj" in err and "an integer or an object with the fields of Box" in err
    assert "unknown y" in err
    code, _, err = pyrun("unions", "--number_box_list", "hello")
    assert code == 2
    assert "'hello' is not a number or a Box object in JSON or a .json/.yaml file" in err
    assert "or a list of int in JSON" in err
    assert Store.existing(home) is None or not Store(home).launches(5)


def test_members_with_one_json_form_are_refused_not_mixed_up(pyrun, home: Path) -> None:
    # 90s is a timedelta, recorded as 90.0 seconds, which float (the first member) would take.
    code, _, err = pyrun("ambiguous", "--wait", "90s")
    assert code == 2
    assert "would arrive as float" in err
    got, _ = received(pyrun("ambiguous", "--wait", "2.5"), home)
    assert got["wait"] == ["float", 2.5]


def test_help_shows_union_members_in_the_order_tried(project, home, tmp_path) -> None:
    text = help_text(project, home, tmp_path, "unions")
    assert "--mixed TEXT            int | datetime | Color | Path | None [default: null]" in text
    assert "--text_first TEXT       int | str | None" in text
    assert "--choice_or_count TEXT  'auto' | 'off' | int | None" in text
    assert "--path_or_names TEXT    list[str] | Path | None" in text


# -- 9: repeated run-level options accumulate --------------------------------------------------

REPEATED = (
    "--tags",
    "a",
    "--tags",
    "b,c",
    "--labels",
    "team=x",
    "--labels",
    "stage=dev,zone=1",
    "--annotations",
    "p=1",
    "--annotations",
    "q=2",
    "--env",
    "E1=1",
    "--env",
    "E2=a,b",
)


def _launch_fields(launch: dict[str, Any]) -> dict[str, Any]:
    return {key: launch[key] for key in ("tags", "labels", "annotations", "env")}


EXPECTED_FIELDS = {
    "tags": ["a", "b", "c"],
    "labels": {"team": "x", "stage": "dev", "zone": "1"},
    "annotations": {"p": "1", "q": "2"},
    "env": {"E1": "1", "E2": "a,b"},
}


def test_repeated_options_accumulate_for_a_python_file(pyrun, home: Path) -> None:
    code, launch, err = pyrun("switches", before=REPEATED)
    assert code == 0, err
    assert _launch_fields(launch) == EXPECTED_FIELDS
    stored = Store(home).launch(launch["id"])
    assert stored is not None and stored.tags == ["a", "b", "c"]
    assert stored.labels == EXPECTED_FIELDS["labels"] and stored.env == EXPECTED_FIELDS["env"]


def test_repeated_options_accumulate_for_a_declared_workflow(cli, home: Path) -> None:
    done = cli("add", *REPEATED, "--params", "a=2", "--params", "b=5", "-tags=d", "--json")
    assert done.code == 0, done.err
    launch = json.loads(done.out)
    assert _launch_fields(launch) == {**EXPECTED_FIELDS, "tags": ["a", "b", "c", "d"]}
    stored = Store(home).launch(launch["id"])
    assert stored is not None and stored.tags == ["a", "b", "c", "d"]
    assert launch["runs"][0]["params"] == {"a": 2, "b": 5} and launch["runs"][0]["result"] == 7
    shown = json.loads(cli("show", "add", "--tags", "x", "--tags", "y", "--json").out)
    assert shown["definition"]["tags"] == ["x", "y"]
