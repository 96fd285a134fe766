"""The public API that notebooks use: its names, and launches from one long-lived process."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import runner


def test_public_names_are_pinned() -> None:
    assert sorted(runner.__all__) == [
        "Column",
        "CompositionError",
        "DefinitionError",
        "Entities",
        "ExistingPath",
        "Interrupted",
        "Launch",
        "LaunchRecord",
        "Preview",
        "ResultsTable",
        "Row",
        "RunRecord",
        "RunSpec",
        "RunStatus",
        "RunnerError",
        "RunsFailed",
        "UsageError",
        "ValidationError",
        "WorkflowError",
        "entities",
        "launch",
        "show",
        "status",
        "table",
        "workflow",
    ]
    for name in runner.__all__:
        assert getattr(runner, name) is not None


def test_launch_twice_in_one_process_and_from_a_thread(project: Path, home: Path) -> None:
    conf = project / "conf"
    first = runner.launch("add:1.0", ["params.a=1,2", "launcher=sequential"], config_dir=conf)
    second = runner.launch(
        "add:1.0", ["params.a=5", "launcher=sequential"], config_dir=conf, seed=3
    )
    assert first.results == [2, 3] and second.results == [6]
    assert second.record.seed == 3

    out: list[runner.Launch] = []
    thread = threading.Thread(
        target=lambda: out.append(runner.launch("add:1.0", ["launcher=threads"], config_dir=conf))
    )
    thread.start()
    thread.join(60)
    assert out and out[0].results == [2]
    recorded = runner.status()
    assert [launch.id for launch in recorded] == [out[0].id, second.id, first.id]


def test_api_takes_params_as_a_dict(project: Path, home: Path) -> None:
    launch = runner.launch(
        "typed",
        ["launcher=sequential"],
        params={"name": "x", "items": [1, 2]},
        config_dir=project / "conf",
    )
    assert launch.ok, launch.runs[0].error
    assert launch.results[0]["items"] == [1, 2]


def test_failed_runs_are_returned_not_raised(project: Path, home: Path) -> None:
    launch = runner.launch(
        "boom", ["params.a=2", "launcher=sequential"], config_dir=project / "conf"
    )
    assert not launch.ok
    assert launch.runs[0].status is runner.RunStatus.FAILED


def test_bad_definitions_raise_before_storing(project: Path, home: Path) -> None:
    with pytest.raises(runner.ValidationError) as caught:
        runner.launch("add", ["params.a=x"], config_dir=project / "conf")
    assert caught.value.exit_code == 2
    assert not (home / "runner.db").exists()


def test_an_invalid_later_sweep_point_stores_nothing(project: Path, home: Path) -> None:
    """The launcher's workers start with the first valid run; the launch still fails whole."""
    with pytest.raises(runner.ValidationError, match=r"sweep point params\.a=x"):
        runner.launch("add", ["params.a=1,2,x"], config_dir=project / "conf")
    assert not (home / "runner.db").exists()


def test_a_launch_served_whole_from_the_cache(project: Path, home: Path) -> None:
    """Its prepared workers are never given a run: the warm-up is waited for, with no joblib
    warning about unused results."""
    conf = project / "conf"
    first = runner.launch("add", ["params.a=1,2"], config_dir=conf, seed=5, cache=True)
    again = runner.launch("add", ["params.a=1,2"], config_dir=conf, seed=5, cache=True)
    assert [run.status for run in again.runs] == [runner.RunStatus.CACHED] * 2
    assert again.results == first.results and len(first.results) == 2


def test_entities(project: Path) -> None:
    found = runner.entities(config_dir=project / "conf")
    ids = [w["id"] for w in found.workflows]
    assert ids == sorted(ids) and {"add", "hello", "pi"} <= set(ids)
