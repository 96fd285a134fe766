"""Hostile and broken input: each is refused with its exit code and a short message naming
it, within a time and memory bound, with no traceback and nothing stored."""

from __future__ import annotations

import os
import resource
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUNNER, snapshot

LIMIT_SECONDS = 30  # a hang fails the test instead of CI
LIMIT_BYTES = 2 << 30  # address space: an input that eats memory fails instead of the machine

BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['x'] * 9)}]\n"
    for prev, name in zip(["", "a", "b", "c", "d", "e", "f", "g", "h"], "abcdefghi", strict=True)
)


def run_bounded(
    args: list[str], project: Path, home: Path, cwd: Path, stdin: Any = None
) -> subprocess.CompletedProcess:
    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))

    env = {**os.environ, "RUNNER_HOME": str(home), "RUNNER_CONFIG_DIR": str(project / "conf")}
    assert RUNNER
    return subprocess.run(
        [RUNNER, *args],
        cwd=cwd,
        env=env,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=LIMIT_SECONDS,
        preexec_fn=limits,
    )


OVERRIDES = [
    # 1. cost is bounded before any work is done
    pytest.param(["params.a=range(0,inf)"], 2, "range() takes finite numbers", id="range-to-inf"),
    pytest.param(["params.a=range(1,1e30)"], 2, "--max-runs", id="range-1e30"),
    pytest.param(["repeat=18446744073709551616"], 2, "more than the limit", id="repeat-2**64"),
    pytest.param(["repeat=100000000"], 2, "100,000,000 runs", id="repeat-1e8"),
    pytest.param(["params.a=range(0,11)", "--max-runs", "10"], 2, "11 values", id="max-runs"),
    pytest.param(["params.a=" + "[" * 300 + "]" * 300], 2, "nested more than 64", id="deep-list"),
    # 3. every field is validated before anything is recorded
    pytest.param(["~repeat"], 2, "'~repeat': repeat is part of every", id="del-repeat"),
    pytest.param(["~params"], 2, "'~params'", id="del-params"),
    pytest.param(["~workflow"], 2, "'~workflow': the workflow cannot be deleted", id="del-wf"),
    pytest.param(["~launcher"], 2, "'~launcher'", id="del-launcher"),
    pytest.param(["launcher=null"], 2, "launcher is a config group", id="launcher-null"),
    pytest.param(["launcher=1"], 2, "choose one of its options (dask, local", id="launcher-1"),
    pytest.param(["hydra=1"], 2, "'hydra=1': hydra is a config group", id="hydra-1"),
    pytest.param(["repeat=2.0"], 2, "repeat: 2.0 is not an integer", id="repeat-float"),
    pytest.param(["repeat=choice(1,2),3"], 2, "cannot be a sweep itself", id="repeat-nested"),
    pytest.param(["timeout=nan"], 2, "timeout: NaN is not a number", id="timeout-nan"),
    pytest.param(["timeout=inf"], 2, "numbers must be finite", id="timeout-inf"),
    pytest.param(["timeout=1e400"], 2, "timeout: Infinity", id="timeout-1e400"),
    pytest.param(["seed=5.0"], 2, "seed: 5.0 is not an integer", id="seed-float"),
    pytest.param(
        ["launcher.backend=multiprocessing"], 2, "'multiprocessing' is not one of", id="mp"
    ),
    pytest.param(["params.a=range(1,10,0)"], 2, "step must not be 0", id="range-step-0"),
    pytest.param(["params.a=range(nan,0.5,1.5)"], 2, "finite numbers", id="range-nan"),
    # 4. parsers never crash, and name the input whole
    pytest.param(["params.a=" + "9" * 5000], 2, "4300 digits", id="int-5000-digits"),
    pytest.param(["+workflow={a:1}"], 2, "'+workflow={a:1}': a workflow is named", id="wf-dict"),
    pytest.param(
        ["params.a=${nope}"], 2, "params.a (from override 'params.a=${nope}')", id="interp"
    ),
]


@pytest.mark.slow  # one subprocess per case: CI runs them, the quick suite does not
@pytest.mark.parametrize(("args", "code", "message"), OVERRIDES)
def test_bad_overrides(
    args: list[str], code: int, message: str, project: Path, home: Path, elsewhere: Path
) -> None:
    before = snapshot(home)
    done = run_bounded(["add", *args], project, home, elsewhere)
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert len(done.stderr) < 1200 and done.stdout == ""
    assert snapshot(home) == before


RUN_FILES = [
    pytest.param("bomb.yaml", BOMB + "workflow: add\n", "alias bomb", id="billion-laughs"),
    pytest.param(
        "deep.json",
        '{"workflow": "add", "params": {"a": ' + "[" * 5000 + "]" * 5000 + "}}",
        "nested more than 64",
        id="deep-json",
    ),
    pytest.param(
        "deep.yaml",
        "workflow: add\nparams: {a: " + "[" * 500 + "]" * 500 + "}\n",
        "nested more than 64",
        id="deep-yaml",
    ),
    pytest.param(
        "latin1.yaml",
        "workflow: add\nname: caf\xe9\n".encode("latin-1"),
        "not UTF-8 text (byte 0xe9",
        id="latin-1",
    ),
    pytest.param("utf16.yaml", "workflow: add\n".encode("utf-16"), "not UTF-8 text", id="utf-16"),
    pytest.param("binary.yaml", bytes(range(256)), "not UTF-8 text", id="binary"),
    pytest.param(
        "sweep.yaml",
        "workflow: add\nsweep: {params.a: 'range(1,10,0)'}\n",
        "step must not be 0",
        id="file-sweep-step-0",
    ),
    pytest.param(
        "nan.yaml",
        "workflow: add\nsweep: {params.a: 'range(nan,0.5,1.5)'}\n",
        "finite numbers",
        id="file-sweep-nan",
    ),
    pytest.param(
        "float.yaml",
        "workflow: add\nrepeat: 2.0\n",
        "repeat: 2.0 is not an integer",
        id="file-repeat-float",
    ),
]


@pytest.mark.slow  # one subprocess per case: CI runs them, the quick suite does not
@pytest.mark.parametrize(("name", "content", "message"), RUN_FILES)
def test_bad_run_files(
    name: str, content: str | bytes, message: str, project: Path, home: Path, elsewhere: Path
) -> None:
    path = elsewhere / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    before = snapshot(home)
    done = run_bounded([f"./{name}"], project, home, elsewhere)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and name in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr) < 1200
    assert snapshot(home) == before


def test_a_directory_as_run_file(project: Path, home: Path, elsewhere: Path) -> None:
    (elsewhere / "defs.yaml").mkdir()
    done = run_bounded(["./defs.yaml"], project, home, elsewhere)
    assert done.returncode == 2 and "is a directory" in done.stderr


def test_twenty_thousand_unknown_keys_give_a_short_message(
    project: Path, home: Path, elsewhere: Path
) -> None:
    import json

    params = {f"k{i}": i for i in range(20000)}
    (elsewhere / "many.json").write_text(json.dumps({"workflow": "add", "params": params}))
    done = run_bounded(["./many.json"], project, home, elsewhere)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) < 30 and "... and 19,98" in done.stderr


INPUTS = [
    pytest.param("bomb.yaml", BOMB, "alias bomb", id="billion-laughs"),
    pytest.param(
        "latin1.yaml", "table: {caf\xe9: 1}\n".encode("latin-1"), "not UTF-8", id="latin-1"
    ),
    pytest.param(
        "deep.json", '{"table": ' + "[" * 5000 + "]" * 5000 + "}", "nested more", id="deep"
    ),
]


@pytest.mark.slow  # one subprocess per case: CI runs them, the quick suite does not
@pytest.mark.parametrize(
    "way", ["file.py --inputs-file", "file.py stdin", "declared --inputs-file"]
)
@pytest.mark.parametrize(("name", "content", "message"), INPUTS)
def test_bad_inputs(
    way: str,
    name: str,
    content: str | bytes,
    message: str,
    project: Path,
    home: Path,
    elsewhere: Path,
) -> None:
    """Inputs files and stdin are read as run files are: UTF-8, bounded, named."""
    data = content.encode() if isinstance(content, str) else content
    (elsewhere / name).write_bytes(data)
    target = {
        "file.py --inputs-file": [str(project / "mypkg/echo_flows.py"), "replaced"],
        "file.py stdin": [str(project / "mypkg/echo_flows.py"), "replaced", "-"],
        "declared --inputs-file": ["typed"],
    }[way]
    args = ["run", *target] + (["--inputs-file", name] if "inputs-file" in way else [])
    before = snapshot(home)
    with open(elsewhere / name, "rb") as stdin:
        done = run_bounded(args, project, home, elsewhere, stdin=stdin)
    assert done.returncode == 2, done.stderr
    label = "stdin" if way.endswith("stdin") else f"inputs file {name}"
    assert f"error: {label} " in done.stderr and message in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr) < 400
    assert snapshot(home) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status", "-n", str(2**63)], "'-n' / '--limit': 9223372036854775808 is not in the range"),
        (["wait", "abcd", "--timeout", "nan"], "'--timeout': 'nan' is not a finite number"),
        (["wait", "abcd", "--timeout", "1e400"], "'--timeout': '1e400' is not a finite"),
        (["wait", "abcd", "--poll-interval", "inf"], "'--poll-interval': 'inf' is not a finite"),
    ],
    ids=["status-limit-2**63", "wait-timeout-nan", "wait-timeout-1e400", "poll-inf"],
)
def test_numbers_a_command_cannot_use_are_usage_errors(
    args: list[str], message: str, project: Path, home: Path, elsewhere: Path
) -> None:
    done = run_bounded(args, project, home, elsewhere)
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args",
    [["add", "--name", "caf\u00e9\udcff"], ["add", "params.a=\udce9"], ["status", "\udcff"]],
    ids=["name", "override", "id"],
)
def test_arguments_that_are_not_utf8(
    args: list[str], project: Path, home: Path, elsewhere: Path
) -> None:
    """Bytes that are not UTF-8 on the command line (lone surrogates to Python) are exit 1."""
    before = snapshot(home)
    done = run_bounded(args, project, home, elsewhere)
    assert done.returncode == 1, done.stderr
    assert "is not UTF-8 text (byte 0x" in done.stderr and "Traceback" not in done.stderr
    assert snapshot(home) == before


@pytest.mark.parametrize(
    "args",
    [["add", f"params.k{'a' * 100_000}=1"], ["status", "f" * 100_000]],
    ids=["long-key", "long-id"],
)
def test_a_message_quoting_a_huge_input_is_bounded(
    args: list[str], project: Path, home: Path, elsewhere: Path
) -> None:
    done = run_bounded(args, project, home, elsewhere)
    assert done.returncode in (1, 2) and 0 < len(done.stderr) < 5000
    assert "Traceback" not in done.stderr
    if args[0] == "add":  # quoted, then clipped
        assert "more characters)" in done.stderr


# -- values no store, file or terminal can hold: cheap, in this process -----------------------

BIG = "1" + "0" * 4400  # past Python's 4,300 digits of int <-> str

UNHOLDABLE_FILES = [
    pytest.param("s.json", f'{{"workflow": "add", "seed": {BIG}}}', "seed", id="json-seed"),
    pytest.param("s.yaml", f"workflow: add\nseed: {BIG}\n", "seed", id="yaml-seed"),
    pytest.param("r.yaml", f"workflow: add\nrepeat: -{BIG}\n", "repeat", id="yaml-repeat"),
    pytest.param(
        "p.json",
        f'{{"workflow": "add", "params": {{"a": [{BIG}]}}}}',
        "params.a[0]",
        id="json-param-list",
    ),
    pytest.param("n.json", '{"workflow": "add", "name": "x\\ud800"}', "name", id="json-name"),
    pytest.param("t.yaml", 'workflow: add\ntags: [a, "\\udfff"]\n', "tags[1]", id="yaml-tag"),
    pytest.param("k.yaml", 'workflow: add\nparams: {"\\ud800": 1}\n', "params", id="yaml-key"),
    pytest.param(
        "l.json", '{"workflow": "add", "labels": {"a": "\\udc80"}}', "labels.a", id="json-label"
    ),
]


@pytest.mark.parametrize(("name", "content", "where"), UNHOLDABLE_FILES)
def test_run_files_holding_what_nothing_can_hold(
    name: str, content: str, where: str, project: Path, home: Path, elsewhere: Path
) -> None:
    """A 4,400-digit integer or an escaped lone surrogate in a run file is exit 2, naming the
    key (it was an internal error, exit 5)."""
    import runner

    (elsewhere / name).write_text(content)
    with pytest.raises(runner.DefinitionError) as raised:
        runner.show(str(elsewhere / name), config_dir=project / "conf")
    message = str(raised.value)
    assert raised.value.exit_code == 2
    assert message.startswith(f"run file {elsewhere / name} holds ")
    assert f" at {where}: " in message or f" at {where}" in message
    message.encode("utf-8")  # printable as it is
    assert not home.exists()


@pytest.mark.parametrize(
    "content", [f"a: {BIG}\n", '{"a": "\\ud800"}'], ids=["big-int", "surrogate"]
)
def test_inputs_holding_what_nothing_can_hold(content: str, tmp_path: Path) -> None:
    from runner.inputs import InputError, read_inputs, read_inputs_file

    (tmp_path / "in.yaml").write_text(content)
    with pytest.raises(InputError, match=r"^stdin holds .* at a: "):
        read_inputs(content, "stdin")
    with pytest.raises(InputError, match=r"^inputs file in.yaml holds .* at a: "):
        read_inputs_file(str(tmp_path / "in.yaml"), "inputs file in.yaml")


SURROGATE = "\ud800"
UNHOLDABLE_ARGUMENTS = [
    pytest.param(([f"{SURROGATE}=1"],), {}, "overrides[0]", id="override-key"),
    pytest.param((["params.a=" + SURROGATE],), {}, "overrides[0]", id="override-value"),
    pytest.param((), {"name": SURROGATE}, "name", id="name"),
    pytest.param((), {"tags": ("a", SURROGATE)}, "tags[1]", id="tags"),
    pytest.param((), {"notes": "n" + SURROGATE}, "notes", id="notes"),
    pytest.param((), {"params": {"a": SURROGATE}}, "params.a", id="params-value"),
    pytest.param((), {"params": {SURROGATE: 1}}, "params", id="params-key"),
    pytest.param((), {"params": [f"a={SURROGATE}"]}, "params[0]", id="params-pairs"),
    pytest.param((), {"labels": {"k": SURROGATE}}, "labels.k", id="labels"),
    pytest.param((), {"env": {"K": SURROGATE}}, "env.K", id="env"),
    pytest.param((), {"sweep": {"a": [1, SURROGATE]}}, "sweep.a[1]", id="sweep-list"),
    pytest.param((), {"seed": 10**4400}, "seed", id="seed-int"),
    pytest.param((), {"repeat": -(10**4400)}, "repeat", id="repeat-int"),
    pytest.param((), {"params": {"a": 10**4400}}, "params.a", id="params-int"),
    pytest.param((), {"sweep": {"a": (1, 10**4400)}}, "sweep.a[1]", id="sweep-int"),
]


@pytest.mark.parametrize("call", ["show", "launch"])
@pytest.mark.parametrize(("args", "kwargs", "where"), UNHOLDABLE_ARGUMENTS)
def test_api_arguments_holding_what_nothing_can_hold(
    call: str, args: tuple, kwargs: dict, where: str, project: Path, home: Path
) -> None:
    """runner.show / runner.launch refuse them (exit 1, the argument named) before any work,
    as the CLI refuses an argument that is not UTF-8; they were exit 5 or stored."""
    import runner

    with pytest.raises(runner.UsageError) as raised:
        getattr(runner, call)("add", *args, config_dir=project / "conf", **kwargs)
    message = str(raised.value)
    assert message.startswith(f"argument {where}: ") and raised.value.exit_code == 1
    message.encode("utf-8")
    assert not home.exists()


def test_api_target_is_a_string(project: Path) -> None:
    import runner

    with pytest.raises(runner.UsageError, match="overrides go second"):
        runner.show([f"{SURROGATE}=1"])  # type: ignore[arg-type]
    with pytest.raises(runner.UsageError, match="a list of strings, not one string"):
        runner.show("add", "params.a=1", config_dir=project / "conf")  # type: ignore[arg-type]
    with pytest.raises(runner.UsageError, match=r"--config-dir: '\\ud800' is no path"):
        runner.show("add", config_dir=SURROGATE)


def test_a_huge_sweep_is_checked_to_its_last_value() -> None:
    """The check walks every value an API call hands over: a million-value sweep list is
    one pass (about 0.1 s), and a range is not walked at all."""
    from runner.documents import unusable

    assert unusable({"sweep": {"a": list(range(1_000_000)), "b": ["x"] * 1000}}) is None
    found = unusable({"sweep": {"a": [*range(1000), 10**5000]}})
    assert found is not None and found.where == "sweep.a[1000]"


@pytest.mark.parametrize(
    "args",
    [["show", f"{SURROGATE}=1"], ["show", "add", "--name", SURROGATE], ["status", "\udfff"]],
    ids=["override", "option", "id"],
)
def test_main_called_with_a_lone_surrogate(
    args: list[str], project: Path, home: Path, monkeypatch, capsys
) -> None:
    """runner.cli.main called from Python with a surrogate no byte stands for: exit 1 (was 5)."""
    from runner.cli import main

    monkeypatch.setenv("RUNNER_CONFIG_DIR", str(project / "conf"))
    with pytest.raises(SystemExit) as done:
        main(args)
    err = capsys.readouterr().err
    assert done.value.code == 1, err
    assert "holds a lone surrogate" in err and "internal error" not in err
    assert not home.exists()


def test_a_declaration_holding_a_huge_integer_is_broken_not_a_crash(project: Path) -> None:
    import runner

    (project / "conf/workflow/huge.yaml").write_text(
        f"id: huge\nversion: '1'\nentrypoint: mypkg.flows:add\nparams:\n  a: {BIG}\n"
    )
    with pytest.raises(runner.DefinitionError) as raised:
        runner.show("huge", config_dir=project / "conf")
    assert raised.value.exit_code == 2
    assert "huge.yaml holds an integer of 4,401 digits at params.a" in str(raised.value)
    assert runner.show("add", ["params.a=1"], config_dir=project / "conf").specs  # others work


def test_a_saved_definition_holding_a_huge_integer_or_latin1_is_named(project: Path) -> None:
    import runner

    (project / "conf/run/huge.yaml").write_text(f"workflow: add\nseed: {BIG}\n")
    (project / "conf/run/latin.yaml").write_bytes(
        "workflow: add\nname: caf\xe9\n".encode("latin-1")
    )
    for name, problem in [
        ("huge", "holds an integer of 4,401 digits at seed"),
        ("latin", "is not UTF-8"),
    ]:
        with pytest.raises(runner.DefinitionError) as raised:
            runner.show(name, config_dir=project / "conf")
        assert f"saved run definition {project / 'conf/run'}/{name}.yaml {problem}" in str(
            raised.value
        )
