"""`runner register`: a workflow's code kept as a version that runs after the code changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.mark.slow  # quick suite under 5 minutes; CI runs it
def test_registered_version_runs_the_old_code(cli, project: Path) -> None:
    first = cli("register", "add:1.0", "-q")
    assert first.code == 0, first.err
    version = first.out.strip()
    assert version.startswith("r") and len(version) == 13
    again = cli("register", "add:1.0")
    assert again.out.startswith(f"add:{version} already registered")

    flows = project / "mypkg" / "flows.py"
    flows.write_text(flows.read_text().replace("return a + b", "return a + b + 1000"))
    on_disk = json.loads(cli("add:1.0", "params.a=1", "--json").out)
    snapshot = json.loads(cli(f"add:{version}", "params.a=1", "--json").out)
    assert on_disk["runs"][0]["result"] == 1002
    assert (snapshot["version"], snapshot["runs"][0]["result"]) == (version, 2)
    # A registered version's runs carry its own hash, not one of the code on disk.
    assert snapshot["provenance"]["code"] == {f"add:{version}": version}
    assert snapshot["runs"][0]["provenance"]["code"] == version
    cached = json.loads(cli(f"add:{version}", "params.a=1", "--cache", "--seed", "3", "--json").out)
    again = json.loads(cli(f"add:{version}", "params.a=1", "--cache", "--seed", "3", "--json").out)
    assert again["runs"][0]["cached_from"] == cached["runs"][0]["id"]
    rerun = json.loads(cli("rerun", snapshot["runs"][0]["id"], "--json").out)
    assert rerun["runs"][0]["result"] == 2  # a rerun runs the snapshot too

    changed = cli("register", "add:1.0", "-q").out.strip()
    assert changed != version  # new content, new version
    listed = {w["id"]: w for w in json.loads(cli("list", "--json").out)["workflows"]}
    assert listed["add"]["registered"] == [version, changed]
    assert version in cli("list", "--versions").out


@pytest.mark.slow
def test_decorated_workflows_register_too(cli, project: Path) -> None:
    version = cli("register", "scale", "-q").out.strip()
    module = project / "mypkg" / "decorated.py"
    module.write_text(module.read_text().replace("x * factor", "x * factor * 10"))
    old = json.loads(cli(f"scale:{version}", "params.x=1", "--json").out)
    new = json.loads(cli("scale", "params.x=1", "--json").out)
    assert (old["runs"][0]["result"]["value"], new["runs"][0]["result"]["value"]) == (2.0, 20.0)


def test_unknown_registered_version_is_exit_2(cli) -> None:
    result = cli("add:r000000000000")
    assert result.code == 2
    assert "workflow 'add' has no registered version 'r000000000000'" in result.err
