"""Shell completion through click's own protocol: `_RUNNER_COMPLETE` and `COMP_WORDS`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import runner
from runner import cli
from tests.conftest import RUNNER


@pytest.fixture
def complete(project: Path, home: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    """Ask `runner` for completions as a shell does; the values it answers, in order."""
    monkeypatch.setenv("RUNNER_CONFIG_DIR", str(project / "conf"))
    monkeypatch.chdir(project.parent)

    def ask(words: str, shell: str = "bash") -> list[str]:
        monkeypatch.setenv("_RUNNER_COMPLETE", f"{shell}_complete")
        split = words.split(" ")
        if shell == "fish":  # fish hands the current word itself as COMP_CWORD
            monkeypatch.setenv("COMP_WORDS", words)
            monkeypatch.setenv("COMP_CWORD", split[-1])
        else:
            monkeypatch.setenv("COMP_WORDS", words)
            monkeypatch.setenv("COMP_CWORD", str(len(split) - 1))
        with pytest.raises(SystemExit) as done:
            cli.main([])
        out = capsys.readouterr()
        assert done.value.code == 0, out
        assert out.err == ""
        lines = [line for line in out.out.splitlines() if line]
        if lines and lines[0] in ("plain", "file", "dir"):  # zsh (and fish since click 8.4)
            return lines[1::3]  # type, value, help: three lines a completion
        return [line.split(",", 1)[1].split("\t")[0] for line in lines]  # type,value[\thelp]

    return ask


def test_first_word_completes_commands_without_the_help(complete) -> None:
    assert complete("runner st") == ["status", "store", "stubborn"]
    assert complete("runner stat") == ["status"]


def test_files_are_completed_when_nothing_else_is(complete, monkeypatch, capsys) -> None:
    """The shell completes file names then (a run file, FILE.py); bash would drop every
    other completion given with them."""
    assert complete("runner proj/mypkg/fl") == ["proj/mypkg/fl"]
    assert complete("runner run proj/") == ["proj/"]
    monkeypatch.setenv("COMP_WORDS", "runner proj/mypkg/fl")
    monkeypatch.setenv("COMP_CWORD", "1")
    with pytest.raises(SystemExit):
        cli.main([])
    assert capsys.readouterr().out == "file,proj/mypkg/fl\n"


def test_first_word_completes_declared_and_decorated_workflows_and_saved_definitions(
    complete,
) -> None:
    assert complete("runner tr") == ["train"]  # declared in conf/workflow/train.yaml
    assert complete("runner sc") == ["scale"]  # @runner.workflow in a `modules:` module
    assert complete("runner sho") == ["show", "shout"]  # its id given to the decorator
    assert complete("runner ni") == ["nightly"]  # conf/run/nightly.yaml
    assert complete("runner run ni") == ["nightly"]
    assert complete("runner register sc") == ["scale"]
    assert complete("runner compare --workflow tr") == ["train"]


def test_workflow_versions_complete_after_a_colon(complete) -> None:
    assert complete("runner add:", shell="zsh") == ["add:1.0", "add:2.0"]
    # bash splits `add:` into `add` and `:`, and replaces only what follows the colon
    assert complete("runner add : 2") == ["2.0"]


def test_options_complete(complete) -> None:
    assert complete("runner --") == ["--version", "--help"]
    assert complete("runner train --re") == ["--repeat", "--retries"]
    assert complete("runner status --j") == ["--json"]


def test_config_group_options_complete(complete) -> None:
    expected = ["launcher=local", "launcher=dask", "launcher=sequential", "launcher=threads"]
    assert complete("runner train launcher=", shell="zsh") == expected
    assert complete("runner train launcher=th", shell="fish") == ["launcher=threads"]
    assert complete("runner train la") == expected
    # bash: `launcher=th` arrives split at the `=`, and only `th` is replaced
    assert complete("runner train launcher = th") == ["threads"]
    assert complete("runner train launcher =") == [e.split("=")[1] for e in expected]


def test_param_keys_complete_from_the_workflows_params(complete) -> None:
    assert complete("runner train params.") == ["params.lr=", "params.width=", "params.epochs="]
    # one key left: its default too, so that bash completes `params.factor=` with no space
    assert complete("runner scale params.f") == ["params.factor=", "params.factor=2.0"]
    assert complete("runner show train params.e") == ["params.epochs=", "params.epochs=10"]
    after_a_space = complete("runner train params.epochs = ")  # bash: a new word after `=`
    assert "launcher=local" in after_a_space and "10" not in after_a_space
    assert complete("runner train params.epochs =") == ["10"]
    assert complete("runner typed params.flag=", shell="zsh") == [
        "params.flag=true",
        "params.flag=false",
    ]
    assert complete("runner typed params.count =") == ["2"]  # its default
    # a saved run definition: its workflow's params
    assert complete("runner nightly params.") == ["params.a=", "params.b="]
    assert complete("runner +workflow=shout params.", shell="zsh") == [
        "params.word=",
        "params.word=hi",
    ]


def test_launch_and_run_ids_complete_most_recent_first(complete, project: Path) -> None:
    assert complete("runner status ") == []  # no store yet
    conf = project / "conf"
    first = runner.launch(
        "add", ["params.a=1,2", "launcher=sequential"], config_dir=conf, progress=False
    )
    second = runner.launch("add", ["launcher=sequential"], config_dir=conf, progress=False)
    for command in ("status", "logs", "cancel"):
        offered = complete(f"runner {command} ")
        assert offered[:2] == [second.id, first.id]  # launches first, then their runs
        assert offered[2] == second.runs[0].id
        assert sorted(offered[3:]) == sorted(r.id for r in first.runs)
    for command in ("wait", "resume", "compare"):
        assert complete(f"runner {command} ") == [second.id, first.id]
    assert complete(f"runner rerun {first.runs[1].id[:6]}") == [first.runs[1].id]
    assert complete(f"runner compare {first.id[:8]}") == [first.id]
    assert complete("runner status x[") == []


def test_completing_through_the_real_command_imports_no_hydra(project, home, tmp_path) -> None:
    """The first word is completed on every TAB: from the config files, never Hydra."""
    env = {
        **os.environ,
        "RUNNER_HOME": str(home),
        "RUNNER_CONFIG_DIR": str(project / "conf"),
        "_RUNNER_COMPLETE": "bash_complete",
        "COMP_WORDS": "runner s",
        "COMP_CWORD": "1",
    }
    assert RUNNER
    done = subprocess.run([RUNNER], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "plain,show",
        "plain,status",
        "plain,store",
        "plain,scale",
        "plain,shapes",
        "plain,shout",
        "plain,slow",
        "plain,stubborn",
    ]
    probe = (
        "import sys, json\n"
        "from runner import cli\n"
        "try:\n    cli.main([])\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('hydra', 'omegaconf', 'jsonschema', 'mypkg'))), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []
