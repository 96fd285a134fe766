"""Start-up stays cheap: the light commands do not import the heavy libraries."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("textual", "joblib", "dask", "distributed", "pandas", "optuna")


def imported(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    return set(out)


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("import runner", id="import"),
        pytest.param(
            "from runner.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
            id="help",
        ),
        pytest.param(
            "from runner.cli import main\ntry:\n    main(['status'])\nexcept SystemExit:\n    pass",
            id="status",
        ),
        pytest.param(
            "from runner.cli import main\ntry:\n    main(['list'])\nexcept SystemExit:\n    pass",
            id="list",
        ),
    ],
)
def test_light_commands_skip_heavy_imports(code: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNNER_HOME", str(tmp_path / "home"))
    modules = imported(code)
    assert "runner" in modules
    assert not modules & set(HEAVY)


def test_import_runner_skips_hydra() -> None:
    assert "hydra" not in imported("import runner")
