"""End to end: the installed `runner` command against a user project, from an unrelated directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Result, popen, snapshot


def ids_of(result: Result) -> list[str]:
    return result.out.split()


def test_one_run_prints_its_id_and_result(cli) -> None:
    result = cli("add", "params.a=2", "params.b=3")
    assert result.code == 0, result.err
    assert result.out.startswith("run ")
    assert "result    5" in result.out
    assert "status    succeeded" in result.out


@pytest.mark.slow
def test_plus_workflow_and_workflow_both_work(cli) -> None:
    for spelling in ("+workflow=add", "workflow=add"):
        result = cli(spelling, "params.a=4", "--json")
        assert result.code == 0, result.err
        launch = json.loads(result.out)
        assert launch["runs"][0]["result"] == 9  # add:2.0 is the latest: b defaults to 5


def test_version_pins_the_declaration(cli) -> None:
    result = cli("add:1.0", "params.a=4", "--json")
    launch = json.loads(result.out)
    assert (launch["version"], launch["runs"][0]["result"]) == ("1.0", 5)


def test_quiet_prints_parent_then_runs(cli, home: Path) -> None:
    result = cli("add", "params.a=1,2,3", "--repeat", "2", "-q")
    assert result.code == 0, result.err
    ids = ids_of(result)
    assert len(ids) == 7 and all(len(i) == 32 for i in ids)
    status = json.loads(cli("status", ids[0], "--json").out)[0]
    assert status["run_count"] == 6
    assert [run["id"] for run in status["runs"]] == ids[1:]
    assert {run["parent_id"] for run in status["runs"]} == {ids[0]}


def test_the_store_is_closed_when_the_command_ends(cli, home: Path) -> None:
    """The CLI skips Python's last garbage collections; the store is closed all the same."""
    assert cli("add", "params.a=1,2,3", "-q").code == 0
    assert sorted(p.name for p in home.iterdir() if p.name.startswith("runner.db")) == ["runner.db"]


def test_single_run_has_no_parent(cli) -> None:
    (run_id,) = ids_of(cli("add", "-q"))
    (record,) = json.loads(cli("status", run_id[:8], "--json").out)
    assert record["runs"][0]["parent_id"] is None
    assert record["id"] == run_id


def test_sweep_order_is_hydras_and_repeats_share_seeds(cli) -> None:
    result = cli(
        "add", "params.a=1,2", "params.b=range(10,12)", "--repeat", "2", "--seed", "9", "--json"
    )
    runs = json.loads(result.out)["runs"]
    points = [(r["params"]["a"], r["params"]["b"]) for r in runs]
    assert points == [(1, 10), (1, 10), (1, 11), (1, 11), (2, 10), (2, 10), (2, 11), (2, 11)]
    seeds = [r["seed"] for r in runs]
    assert seeds[0::2] == [seeds[0]] * 4 and seeds[1::2] == [seeds[1]] * 4
    assert seeds[0] != seeds[1]


def test_same_seed_reproduces_seeds_and_results(cli) -> None:
    first = json.loads(cli("draw", "--repeat", "3", "--seed", "123", "--json").out)["runs"]
    again = json.loads(cli("draw", "--repeat", "3", "--seed", "123", "--json").out)["runs"]
    assert [r["seed"] for r in first] == [r["seed"] for r in again]
    assert [r["result"] for r in first] == [r["result"] for r in again]
    assert first[0]["result"]["seed"] == first[0]["seed"]  # the workflow received it
    assert first[0]["result"]["values"] != first[1]["result"]["values"]


@pytest.mark.slow
def test_drawn_seed_is_recorded(cli) -> None:
    launch = json.loads(cli("draw", "--json").out)
    assert isinstance(launch["seed"], int) and launch["runs"][0]["seed"] == launch["seed"]
    again = json.loads(cli("draw", "--seed", str(launch["seed"]), "--json").out)
    assert again["runs"][0]["result"] == launch["runs"][0]["result"]


def test_accio_single_dash_options(cli) -> None:
    result = cli(
        "add:1.0", "-name=accio", "-tags=a,b", "-repeat=2", "-seed=42", "-params=a=3,b=4", "-json"
    )
    assert result.code == 0, result.err
    launch = json.loads(result.out)
    assert (launch["name"], launch["tags"], launch["seed"]) == ("accio", ["a", "b"], 42)
    assert [r["result"] for r in launch["runs"]] == [7, 7]


def test_precedence_defaults_preset_file_overrides_options(cli, elsewhere: Path) -> None:
    run_file = elsewhere / "run.yaml"
    run_file.write_text("workflow: add:1.0\nname: from-file\nparams: {b: 7}\n")
    # preset: a=100 repeat=2 name=nightly; file: name, b=7; override: b=8; option: name
    result = cli(str(run_file), "+run=nightly", "params.b=8", "--name", "from-option", "--json")
    assert result.code == 0, result.err
    launch = json.loads(result.out)
    assert launch["name"] == "from-option"
    assert launch["repeat"] == 2
    assert [r["params"] for r in launch["runs"]] == [{"a": 100, "b": 8}] * 2
    without_override = json.loads(cli(str(run_file), "+run=nightly", "--json").out)
    assert without_override["name"] == "from-file"
    assert without_override["runs"][0]["params"] == {"a": 100, "b": 7}


def test_run_file_json_with_sweep_block(cli, elsewhere: Path) -> None:
    run_file = elsewhere / "sweep.json"
    run_file.write_text(
        json.dumps({"workflow": "add:1.0", "sweep": {"params.a": "1,2,3"}, "seed": 5})
    )
    launch = json.loads(cli(str(run_file), "--json").out)
    assert [r["result"] for r in launch["runs"]] == [2, 3, 4]
    assert {r["seed"] for r in launch["runs"]} == {5}


def test_preset_by_name(cli) -> None:
    launch = json.loads(cli("nightly", "--json").out)
    assert (launch["name"], launch["run_count"]) == ("nightly", 2)


@pytest.mark.slow
def test_runs_import_the_project_from_anywhere(cli, project: Path, tmp_path: Path) -> None:
    # No RUNNER_CONFIG_DIR: the project's ./conf is found from its own root.
    result = cli("add", "params.a=1", "--json", cwd=project, env={"RUNNER_CONFIG_DIR": ""})
    assert result.code == 0, result.err
    assert json.loads(result.out)["runs"][0]["result"] == 6
    by_flag = cli(
        "--config-dir", str(project / "conf"), "add", "--json", env={"RUNNER_CONFIG_DIR": ""}
    )
    assert by_flag.code == 0, by_flag.err


def test_project_launcher_shadows_builtin(cli) -> None:
    launch = json.loads(cli("add", "--json").out)
    assert launch["definition"]["launcher"]["n_jobs"] == 2


def test_failing_run_is_recorded_and_others_succeed(cli) -> None:
    result = cli("boom", "params.a=1,2,3", "--json")
    assert result.code == 4
    assert "1 of 3 runs did not succeed" in result.err
    runs = json.loads(result.out)["runs"]
    assert [r["status"] for r in runs] == ["succeeded", "failed", "succeeded"]
    assert runs[1]["error"] == "ValueError: a must not be 2"
    assert 'raise ValueError(f"a must not be {a}")' in runs[1]["traceback"]
    log = Path(runs[0]["run_dir"]) / "log.txt"
    assert log.read_text() == "a is 1\n"


def test_env_is_set_inside_the_run_only(cli) -> None:
    launch = json.loads(cli("envy", "--env", "RUNNER_TEST_VAR=inside", "--json").out)
    assert launch["runs"][0]["result"] == "inside"
    assert launch["env"] == {"RUNNER_TEST_VAR": "inside"}


def test_threads_and_sequential_launchers(cli) -> None:
    for launcher in ("threads", "sequential"):
        launch = json.loads(cli("add:1.0", "params.a=1,2", f"launcher={launcher}", "--json").out)
        assert launch["launcher"] == launcher
        assert [r["result"] for r in launch["runs"]] == [2, 3]


@pytest.mark.slow
def test_status_lists_most_recent_first(cli) -> None:
    first = ids_of(cli("add", "-q"))[0]
    second = ids_of(cli("add", "params.a=1,2", "-q"))[0]
    assert ids_of(cli("status", "-q")) == [second, first]
    table = cli("status").out
    assert table.index(second[:12]) < table.index(first[:12])
    assert "2 succeeded" in table


def test_status_unknown_and_ambiguous_ids(cli) -> None:
    cli("add", "-q")
    unknown = cli("status", "ffffffffffff")
    assert unknown.code == 1
    assert "no launch or run id starts with 'ffffffffffff'" in unknown.err
    assert cli("status", "not-hex").code == 1


def test_show_prints_definition_and_plan(cli, home: Path) -> None:
    result = cli("show", "add:1.0", "params.a=1,2", "--repeat", "2", "--seed", "3")
    assert result.code == 0, result.err
    assert "workflow: add:1.0" in result.out
    assert "4 planned runs" in result.out
    planned = json.loads(cli("show", "add:1.0", "params.a=1,2", "--seed", "3", "--json").out)
    assert [r["params"]["a"] for r in planned["runs"]] == [1, 2]
    assert not (home / "runner.db").exists()  # show stores nothing


def test_list_shows_workflows_versions_and_presets(cli) -> None:
    found = json.loads(cli("list", "--json").out)
    by_id = {w["id"]: w for w in found["workflows"]}
    assert by_id["add"]["versions"] == ["2.0", "1.0"]
    assert "pi" in by_id  # built-in workflows are listed beside the project's
    assert [p["name"] for p in found["presets"] if p["name"] == "nightly"] == ["nightly"]


def test_help_documents_exit_codes(cli) -> None:
    for args in (["--help"], [], ["run", "--help"]):
        result = cli(*args)
        assert result.code == 0
        for code in ("0", "1", "2", "4", "5", "130"):
            assert f"  {code}  " in result.out


BAD_INPUT = [
    pytest.param(["nope"], 2, "error: unknown workflow 'nope'", id="unknown-workflow"),
    pytest.param(
        ["ad"], 2, "error: unknown workflow 'ad' (did you mean 'add'?)", id="workflow-typo"
    ),
    pytest.param(
        ["add:9.9"],
        2,
        "error: workflow 'add' has no version '9.9'; versions: 1.0, 2.0",
        id="unknown-version",
    ),
    pytest.param(
        ["add", "params.bb=2"],
        2,
        "params.bb: unknown key (did you mean 'b'?) (from override 'params.bb=2')",
        id="unknown-param",
    ),
    pytest.param(
        ["add", "params.a=abc"],
        2,
        "params.a: 'abc' is not an integer (from override 'params.a=abc')",
        id="wrong-type",
    ),
    pytest.param(
        ["add", "params.a=[1,"],
        2,
        "error: malformed override 'params.a=[1,'",
        id="malformed-override",
    ),
    pytest.param(
        ["missing.yaml"], 2, "error: run file 'missing.yaml' not found", id="missing-run-file"
    ),
    pytest.param(
        ["add", "--repeat", "0"],
        2,
        "repeat: 0 is below the minimum of 1 (from option --repeat)",
        id="repeat-zero",
    ),
    pytest.param(
        ["add", "--seed", "abc"],
        2,
        "seed: 'abc' is not an integer or null (from option --seed)",
        id="seed-not-int",
    ),
    pytest.param(
        ["ghost"],
        2,
        "error: workflow 'ghost' (declared in",
        id="entrypoint-import",
    ),
    pytest.param(
        ["typed"],
        2,
        "params.name: required, but no value was given (set it with params.name=...)",
        id="missing-required",
    ),
    pytest.param(
        ["limited", "params.a=101"],
        2,
        "params.a: 101 is above the maximum of 100",
        id="schema-file",
    ),
    pytest.param(
        ["add", "--max-parallelism", "0"],
        1,
        "Invalid value for '--max-parallelism'",
        id="bad-option-value",
    ),
    pytest.param(["add", "extra"], 1, "unexpected argument 'extra'", id="extra-argument"),
    pytest.param(["add", "launcher=nope"], 2, "cannot compose the config", id="unknown-launcher"),
    pytest.param(
        ["add", "launcher.backend=dask"],
        2,
        "error: launcher 'local' needs the address of a Dask scheduler: --addr tcp://HOST:8786,",
        id="dask-without-address",
    ),
    pytest.param(
        # The first runs are valid, so the launcher's workers are already starting.
        ["add", "params.a=1,2,3,x"],
        2,
        "params.a: 'x' is not an integer (from override 'params.a=1,2,3,x') (sweep point params.a=x)",
        id="later-sweep-point",
    ),
    pytest.param(["-q"], 2, "error: no workflow given", id="no-workflow"),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD_INPUT)
def test_bad_input_is_reported_and_changes_nothing(cli, home: Path, args, code, message) -> None:
    assert cli("add", "-q").code == 0  # something already recorded, which must survive
    before = snapshot(home)
    result = cli(*args)
    assert result.code == code, result.err
    assert message in result.err
    assert "Traceback" not in result.err
    assert snapshot(home) == before


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        pytest.param(
            "bad.yaml",
            "workflow: add\nparams: [1,\n",
            "is not valid YAML: line 3, column 1",
            id="invalid-yaml",
        ),
        pytest.param(
            "bad.json",
            '{"workflow": "add",',
            "is not valid JSON: line 1, column 20",
            id="invalid-json",
        ),
        pytest.param(
            "zero.yaml",
            "workflow: add\nrepeat: 0\n",
            "repeat: 0 is below the minimum of 1 (from run file",
            id="file-repeat-zero",
        ),
        pytest.param(
            "seed.json",
            '{"workflow": "add", "seed": "x"}',
            "seed: 'x' is not an integer or null (from run file",
            id="file-seed",
        ),
        pytest.param(
            "list.yaml",
            "- add\n",
            "must hold a mapping of run definition fields, not a list",
            id="not-a-mapping",
        ),
        pytest.param(
            "typo.yaml",
            "workflow: add\nrepaet: 2\n",
            "repaet: unknown key (did you mean 'repeat'?)",
            id="unknown-field",
        ),
    ],
)
def test_bad_run_files(
    cli, home: Path, elsewhere: Path, name: str, text: str, message: str
) -> None:
    cli("add", "-q")
    before = snapshot(home)
    (elsewhere / name).write_text(text)
    result = cli(name)
    assert result.code == 2, result.err
    assert message in result.err
    assert snapshot(home) == before


@pytest.mark.slow
def test_ids_are_printed_before_execution_finishes(
    cli, project: Path, home: Path, elsewhere
) -> None:
    with popen(project, home, elsewhere, "nap", "params.seconds=3", "-q") as proc:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        status = cli("status", run_id, "--json")
        assert status.code == 0, (run_id, status.err)
        (record,) = json.loads(status.out)
        assert record["runs"][0]["status"] == "pending"  # recorded, announced, not finished
        assert proc.wait(60) == 0
    (record,) = json.loads(cli("status", run_id, "--json").out)
    assert record["runs"][0]["status"] == "succeeded"


def test_output_dir_is_the_runs_folder(cli) -> None:
    launch = json.loads(cli("wordfreq", "params.text=b a b", "params.top=1", "--json").out)
    run = launch["runs"][0]
    assert run["result"] == [["b", 2]]
    assert (Path(run["run_dir"]) / "counts.tsv").read_text() == "b\t2\na\t1\n"


def test_glob_sweeps_config_group_options_and_multirun_flag_is_accepted(cli) -> None:
    launch = json.loads(cli("-m", "+workflow=glob(add*)", "params.a=1", "--json").out)
    assert [(r["workflow"], r["version"], r["result"]) for r in launch["runs"]] == [
        ("add", "1.0", 2),
        ("add", "2.0", 6),
    ]


# -- a param given where a run definition field goes: "did you mean params.C=10?" ---------------


@pytest.fixture
def main_in_process(project: Path, home: Path, monkeypatch: pytest.MonkeyPatch):
    """`runner ARGS` in this process: (exit code, stdout, stderr)."""
    from runner.cli import main

    monkeypatch.setenv("RUNNER_CONFIG_DIR", str(project / "conf"))
    monkeypatch.chdir(project.parent)

    def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as done:
            main(list(args))
        out, err = capsys.readouterr()
        assert isinstance(done.value.code, int)
        return done.value.code, out, err

    return run


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["add", "a=3"], 2, "a: unknown key (a is a param of 'add': did you mean params.a=3?)"),
        (["show", "add", "b=1,2"], 2, "did you mean params.b=1,2?) (from override 'b=1,2')"),
        (["show", "add", "+b=1"], 2, "b is a param of 'add': did you mean params.b=1?"),
        (["show", "train", "width=8"], 2, "did you mean params.width=8?"),
        (["add", "--a", "3"], 1, "no such option '--a': a is a param of 'add': did you mean params.a=3?"),
        (["show", "--name", "x", "add", "--b=2"], 1, "did you mean params.b=2?"),
        (["run", "train", "--json", "--width"], 1, "did you mean params.width=VALUE?"),
    ],
    ids=["override", "sweep", "plus", "declared-params", "option", "option=value", "no-value"],
)  # fmt: skip
def test_a_param_named_as_a_field_says_where_it_goes(
    main_in_process, capsys, home: Path, args: list[str], code: int, message: str
) -> None:
    got, _, err = main_in_process(capsys, *args)
    assert (got, message in err) == (code, True), err
    assert not home.exists()


def test_unknown_options_and_keys_that_are_no_params_are_as_before(main_in_process, capsys) -> None:
    code, _, err = main_in_process(capsys, "add", "--nope", "1")
    assert code == 1 and "No such option '--nope'" in err and "params." not in err
    code, _, err = main_in_process(capsys, "show", "add", "repaet=2")
    assert code == 2 and "repaet: unknown key (did you mean 'repeat'?)" in err


def test_a_param_in_a_run_file_or_the_api_says_where_it_goes(project: Path, tmp_path: Path) -> None:
    import runner

    conf = project / "conf"
    (tmp_path / "r.yaml").write_text("workflow: add\na: 4\nrepaet: 2\n")
    with pytest.raises(runner.ValidationError) as raised:
        runner.show(str(tmp_path / "r.yaml"), config_dir=conf)
    assert raised.value.problems == [
        f"a: unknown key (a is a param of 'add': did you mean params: {{a: 4}}?) (from run file {tmp_path / 'r.yaml'})",
        f"repaet: unknown key (did you mean 'repeat'?) (from run file {tmp_path / 'r.yaml'})",
    ]  # fmt: skip
    with pytest.raises(runner.ValidationError, match=r"did you mean params\.a=1\?"):
        runner.launch("add", ["a=1"], config_dir=conf)
    with pytest.raises(runner.UsageError, match=r"no argument 'a'; a workflow's params go in par"):
        runner.launch("add", a=1, config_dir=conf)  # type: ignore[call-arg]
