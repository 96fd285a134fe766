"""Workflows written in Python with @runner.workflow, reached through conf/ like declared ones."""

from __future__ import annotations

import json
from pathlib import Path

import runner
from runner.decorated import describe, first_paragraph


def test_decorator_defaults_and_options() -> None:
    @runner.workflow
    def plain(a: int = 1) -> int:
        """First paragraph,
        on two lines.

        Not this one."""
        return a

    @runner.workflow(id="named", version="2", description="given", cache=True, timeout=5)
    def other() -> None: ...

    first = describe(plain)
    assert (first.id, first.description) == ("plain", "First paragraph, on two lines.")
    assert len(first.version) == 12 and first.entrypoint.endswith(
        ":test_decorator_defaults_and_options.<locals>.plain"
    )
    second = describe(other)
    assert (second.id, second.version, second.description, second.cache, second.timeout) == (
        "named",
        "2",
        "given",
        True,
        5,
    )
    assert plain(a=3) == 3  # still an ordinary function


def test_first_paragraph() -> None:
    assert first_paragraph(None) == ""
    assert first_paragraph("  One.\n\n  Two.") == "One."


def test_listed_beside_declared_workflows(cli) -> None:
    found = {w["id"]: w for w in json.loads(cli("list", "--json").out)["workflows"]}
    assert found["scale"]["kind"] == "python"
    assert found["scale"]["description"] == "Multiply x by a factor."
    assert found["shout"]["versions"] == ["3.1"]
    assert found["add"]["kind"] == "declared"
    assert "make_loud" not in found and "flows" not in found


def test_sweeps_repeats_and_seed_work_for_decorated(cli) -> None:
    result = cli("+workflow=scale", "params.x=1,2", "--repeat", "2", "--seed", "5", "--json")
    assert result.code == 0, result.err
    runs = json.loads(result.out)["runs"]
    assert [r["result"]["value"] for r in runs] == [2.0, 2.0, 4.0, 4.0]
    assert runs[0]["result"]["seed"] == runs[0]["seed"]
    shout = json.loads(cli("shout:3.1", "params.word=yo", "--json").out)
    assert shout["runs"][0]["result"] == "YO"
    assert shout["definition"]["retries"] == 1  # from the decorator


def test_signature_validates_decorated_params(cli) -> None:
    result = cli("scale", "params.x=abc", "params.factr=3")
    assert result.code == 2
    assert "params.x: 'abc' is not a number (from override 'params.x=abc')" in result.err
    assert "params.factr: unknown key (did you mean 'factor'?)" in result.err


def test_editing_the_module_makes_a_new_version(cli, project: Path) -> None:
    before = json.loads(cli("scale", "params.x=1", "--json").out)
    module = project / "mypkg" / "decorated.py"
    module.write_text(module.read_text().replace("x * factor", "x * factor + 1"))
    after = json.loads(cli("scale", "params.x=1", "--json").out)
    assert after["version"] != before["version"]
    assert (before["runs"][0]["result"]["value"], after["runs"][0]["result"]["value"]) == (2.0, 3.0)


def test_a_broken_modules_pointer_is_reported(cli, project: Path) -> None:
    (project / "conf" / "workflow" / "broken.yaml").write_text("modules: [mypkg.nothing_here]\n")
    found = json.loads(cli("list", "--json").out)
    assert "cannot import module 'mypkg.nothing_here'" in found["broken"]["broken"]
