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
