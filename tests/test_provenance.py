"""The cache key covers the code that runs, and every launch records where its runs came
from (code hash, git commit and dirty tree, Python and package versions)."""

from __future__ import annotations

import gc
import importlib.metadata
import json
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

import runner
from runner.cli import main
from runner.entrypoints import code_hash
from runner.provenance import git_state, imported_names

CACHED, SUCCEEDED = runner.RunStatus.CACHED, runner.RunStatus.SUCCEEDED


def _add(project: Path) -> runner.Launch:
    return runner.launch(
        "add:1.0",
        ["params.a=1", "launcher=sequential"],
        config_dir=project / "conf",
        seed=5,
        cache=True,
    )


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """`runner ARGS` in this process: (exit code, stdout)."""
    with pytest.raises(SystemExit) as done:
        main(list(args))
    gc.unfreeze()  # main freezes the heap as a process about to exit; this one goes on
    out = capsys.readouterr()
    assert done.value.code == 0, out.err
    return int(done.value.code or 0), out.out


def test_editing_a_declared_workflows_source_is_not_served_from_the_cache(
    project: Path, home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its typed version stays 1.0: the key holds the hash of its package's source."""
    first = _add(project).runs[0]
    same = _add(project).runs[0]
    assert (first.status, same.status, same.cached_from) == (SUCCEEDED, CACHED, first.id)
    assert same.code == first.code == code_hash("mypkg.flows", project)

    flows = project / "mypkg" / "flows.py"
    flows.write_text(flows.read_text().replace("return a + b", "return b + a"))
    edited = _add(project).runs[0]
    assert edited.status is SUCCEEDED and edited.cached_from is None
    assert edited.workflow_version == "1.0" and edited.code != first.code
    again = _add(project).runs[0]
    assert (again.status, again.cached_from) == (CACHED, edited.id)

    # Any module of the entrypoint's package is code the run may use.
    echo = project / "mypkg" / "echo.py"
    echo.write_text(echo.read_text() + "\n# edited\n")
    assert _add(project).runs[0].status is SUCCEEDED

    monkeypatch.setenv("COLUMNS", "80")
    _, shown = _cli(capsys, "status", again.id)
    assert f"cached    same code {again.code}, params and seed as run {edited.id[:12]}\n" in shown
    assert "git       - (not a git checkout, or git is not installed)\n" in shown
    assert max(len(line) for line in shown.splitlines()[1:]) <= 80


def test_cache_help_says_what_the_key_is(capsys: pytest.CaptureFixture[str]) -> None:
    _, shown = _cli(capsys, "run", "--help")
    assert (
        "--cache / --no-cache Reuse the result of an earlier run of the same workflow version"
        " and code (a hash of its package's source, or its registered version), params and"
        " seed." in " ".join(shown.split())
    )


def _git(project: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def test_every_run_records_its_provenance(
    project: Path, home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A package of its own: this process may hold another test's copy of mypkg.
    (project / "provpkg").mkdir()
    (project / "provpkg" / "__init__.py").write_text("")
    (project / "provpkg" / "uses.py").write_text(
        "import json\nimport yaml\nfrom . import other\nfrom mypkg import echo\n\n\n"
        "def dump(n: int = 1) -> str:\n    import numpy\n\n"
        "    return yaml.safe_dump({'n': n, 'm': int(numpy.int64(n))})\n"
    )
    (project / "provpkg" / "other.py").write_text("")
    (project / "conf" / "workflow" / "uses.yaml").write_text(
        "id: uses\nversion: '1'\nentrypoint: provpkg.uses:dump\n"
    )
    git = shutil.which("git") is not None
    if git:
        _git(project, "init", "-q")
        _git(project, "add", "-A")
        _git(project, "commit", "-q", "-m", "first")
        head = _git(project, "rev-parse", "HEAD")

    def launch() -> runner.Launch:
        return runner.launch("uses", ["launcher=sequential"], config_dir=project / "conf", seed=1)

    clean = launch()
    run = clean.runs[0]
    assert run.status is SUCCEEDED, run.error
    found = run.provenance
    assert found is not None and found == clean.record.provenance
    packages = {
        name.lower(): importlib.metadata.version(name)
        for name in ("numpy", "PyYAML", "runner-launch")
    }
    assert found.packages == packages  # not json (standard), mypkg (the project's own)...
    assert (found.python, found.code) == (
        platform.python_version(),
        {"uses:1": code_hash("provpkg.uses", project)},
    )
    assert run.code == found.code["uses:1"] and len(run.code) == 12
    assert (found.git_commit, found.git_dirty) == ((head, False) if git else (None, None))

    # --json, the run's and its launch's, as `runner status RUN --json` prints them.
    _, out = _cli(capsys, "status", run.id, "--json")
    (shown,) = json.loads(out)
    expected = {
        "code": run.code,
        "git_commit": head if git else None,
        "git_dirty": False if git else None,
        "python": platform.python_version(),
        "packages": packages,
    }
    assert shown["provenance"] == {**expected, "code": {"uses:1": run.code}}
    assert shown["runs"][0]["provenance"] == expected
    assert clean.to_json()["provenance"] == shown["provenance"]

    # The run's view, at 80 columns.
    monkeypatch.setenv("COLUMNS", "80")
    _, out = _cli(capsys, "status", run.id)
    lines = out.splitlines()
    assert f"code      {run.code}" in lines
    assert f"python    {platform.python_version()}" in lines
    listed = ", ".join(f"{name} {version}" for name, version in packages.items())
    assert f"packages  {listed}" in lines
    assert (
        f"git       {head} (clean)"
        if git
        else "git       - (not a git checkout, or git is not installed)"
    ) in lines

    if git:  # a tracked file changed since the commit
        other = project / "provpkg" / "other.py"
        other.write_text("# edited\n")
        dirty = launch().runs[0]
        assert dirty.provenance is not None
        assert (dirty.provenance.git_commit, dirty.provenance.git_dirty) == (head, True)
        _, out = _cli(capsys, "status", dirty.id)
        assert f"git       {head} (uncommitted changes)" in out.splitlines()


def test_git_state_of_no_checkout_and_without_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert git_state(tmp_path) == (None, None)  # not a checkout (or no git)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert git_state(tmp_path) == (None, None)


def test_imported_names_are_read_not_imported(project: Path) -> None:
    (project / "mypkg" / "heavy.py").write_text(
        "raise SystemExit('imported')\nimport os.path, yaml.loader\nfrom numpy import array\n"
        "from .flows import add\nimport mypkg.echo\n\ndef f():\n    import pandas as pd\n"
    )
    assert imported_names("mypkg.heavy:f", project) == {"yaml", "numpy", "pandas"}
    assert imported_names("nowhere_at_all.module:f", project) == set()
