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
