"""The public API that notebooks use: its names, and launches from one long-lived process."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import runner


def test_public_names_are_pinned() -> None:
    assert sorted(runner.__all__) == [
        "CancelResult",
        "Column",
        "CompositionError",
        "DefinitionError",
        "Entities",
        "ExistingPath",
        "Interrupted",
        "Launch",
        "LaunchCancelled",
        "LaunchRecord",
        "MetricSummary",
        "Param",
        "PresetInfo",
        "Preview",
        "ResultsTable",
        "Row",
        "RunRecord",
        "RunSpec",
        "RunStatus",
        "RunnerError",
        "Runs",
        "RunsFailed",
        "SAMPLERS",
        "Series",
        "TrialPruned",
        "UsageError",
        "ValidationError",
        "WaitTimeout",
        "WorkflowError",
        "WorkflowInfo",
        "Workflows",
        "__version__",
        "cancel",
        "clean",
        "clean_lines",
        "compose",
        "entities",
        "get",
        "launch",
        "log",
        "log_path",
        "metric_series",
        "metric_summaries",
        "presets",
        "rerun",
        "resume",
        "runs",
        "searches",
        "should_prune",
        "show",
        "status",
        "table",
        "wait",
        "watch",
        "workflow",
        "workflows",
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


def test_sweep_takes_python_values_and_hydra_strings(project: Path, home: Path) -> None:
    conf = project / "conf"
    launch = runner.launch(
        "echo",
        ["launcher=sequential"],
        sweep={"x": [1, 2], "s": "a,'b,c'", "d": [{"a": 5}], "items": [[1, "1"]]},
        config_dir=conf,
        seed=4,
    )
    received = [(r["params"]["x"], r["params"]["s"], r["params"]["d"]) for r in launch.results]
    # The first key is the outermost, as on the command line.
    assert received == [
        (1, "a", {"a": 5, "b": 2}),
        (1, "b,c", {"a": 5, "b": 2}),
        (2, "a", {"a": 5, "b": 2}),
        (2, "b,c", {"a": 5, "b": 2}),
    ]
    assert {str(r["params"]["items"]) for r in launch.results} == {"[1, '1']"}
    assert runner.get(launch.id).id == launch.id
    run = runner.get(launch.runs[0].id[:10])
    assert isinstance(run, runner.RunRecord) and run.params["yref"] == 1
    with pytest.raises(runner.DefinitionError, match=r"sweep=\{'x': \[...\]\}: the sweep"):
        runner.compose("echo", sweep={"x": []}, config_dir=conf)
    preview = runner.compose("echo", sweep={"x": "range(3)"}, repeat=2, config_dir=conf)
    assert [(s.params["x"], s.repeat_index) for s in preview.specs] == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
        (2, 0),
        (2, 1),
    ]


def test_no_hydra_state_leaks_between_config_dirs(
    project: Path, home: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other" / "conf" / "workflow"
    other.mkdir(parents=True)
    (other / "add.yaml").write_text(
        "id: add\nversion: '9.0'\nentrypoint: runner.demos:count_primes\nparams: {below: 10}\n"
    )
    from hydra.core.global_hydra import GlobalHydra

    first = runner.launch("add", ["launcher=sequential"], config_dir=project / "conf")
    second = runner.launch("add", ["launcher=sequential"], config_dir=other.parent)
    third = runner.launch("add", ["launcher=sequential"], config_dir=project / "conf")
    assert [first.results, second.results, third.results] == [[15], [4], [15]]
    assert [first.record.workflow_version, second.record.workflow_version] == ["2.0", "9.0"]
    assert not GlobalHydra.instance().is_initialized()  # nothing left behind for the user's Hydra
