"""Launches, run lists and tables from Python: text and HTML, DataFrames, plots, progress."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import runner


def _sweep(project: Path, **options: object) -> runner.Launch:
    return runner.launch(
        "add:1.0",
        ["launcher=sequential"],
        sweep={"a": [1, 10, 100]},
        repeat=2,
        seed=0,
        config_dir=project / "conf",
        **{"progress": False, **options},
    )


def test_a_launch_reads_as_text_and_html(project: Path, home: Path) -> None:
    launch = _sweep(project, name="<b>mine</b>", tags=["x&y"])
    text = repr(launch)
    assert "object at" not in text
    assert launch.id in text and "add:1.0" in text and "6 succeeded" in text

    html = launch._repr_html_()
    for run in launch.runs:
        assert run.id[:8] in html
    for value in (">1<", ">10<", ">100<"):  # the varying param's values, one a cell
        assert value in html
    assert "#1a7f37" in html  # succeeded, in green
    # User data is escaped; the only markup is the table's own (no external CSS).
    assert "<b>mine</b>" not in html and "&lt;b&gt;mine&lt;/b&gt;" in html
    assert "x&amp;y" in html
    assert "<link" not in html and "class=" not in html


def test_run_lists_and_tables_render(project: Path, home: Path) -> None:
    failed = runner.launch(
        "boom", ["launcher=sequential"], sweep={"a": [1, 2]}, config_dir=project / "conf"
    )
    found = runner.runs(launch=failed.id)
    assert isinstance(found, runner.Runs) and len(found) == 2
    assert "object at" not in repr(found) and found[0].id in repr(found)
    html = found._repr_html_()
    assert "#cf222e" in html  # failed, in red
    assert all(run.id[:8] in html for run in found)

    table = runner.table(failed)
    assert repr(table).startswith("ResultsTable: 2 runs")
    assert "<table" in table._repr_html_() and "failed" in table._repr_html_()
    assert isinstance(runner.runs(workflow="nothing-like-it"), runner.Runs)


def test_to_dataframe_aggregates_repeats(project: Path, home: Path) -> None:
    pd = pytest.importorskip("pandas")
    launch = _sweep(project)
    frame = launch.to_dataframe()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.index) == [run.id for run in launch.runs]
    assert str(frame["params.a"].dtype) == "Int64"
    means = frame.groupby("params.a")["result"].mean()
    assert means.to_dict() == {1: 2.0, 10: 11.0, 100: 101.0}

    by_point = launch.table(by_point=True).to_dataframe()
    assert len(by_point) == 3


def test_plot_draws_the_mean_over_repeats(project: Path, home: Path, monkeypatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    pytest.importorskip("matplotlib")
    launch = runner.launch(
        "draw",
        ["launcher=sequential"],
        sweep={"n": [1, 2]},
        repeat=3,
        seed=0,
        config_dir=project / "conf",
        progress=False,
    )
    ax = launch.plot(x="n", y="result.seed")
    (line,) = ax.get_lines()
    frame = launch.to_dataframe()
    expected = frame.groupby("params.n")["result.seed"].mean()
    assert list(line.get_xdata()) == [1, 2]
    assert list(line.get_ydata()) == pytest.approx(list(expected))
    assert ax.get_xlabel() == "n"


def test_a_missing_extra_is_named(project: Path, home: Path, monkeypatch) -> None:
    launch = _sweep(project)
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'runner-launch\[notebook\]'"):
        launch.to_dataframe()


def test_progress_is_shown_or_not(project: Path, home: Path, capfd) -> None:
    _sweep(project, progress=True)
    err = capfd.readouterr().err
    assert "6/6" in err and "failed=0" in err

    _sweep(project, progress=False)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_wait_false_returns_at_once_and_follows_from_the_store(project: Path, home: Path) -> None:
    launch = runner.launch(
        "nap",
        params={"seconds": 30},
        repeat=2,
        max_parallelism=2,
        config_dir=project / "conf",
        wait=False,
    )
    assert launch.status() == "running"
    assert launch.cancel().cancelled == 2
    assert launch.status() == "cancelled"
    assert {run.status for run in launch.runs} == {runner.RunStatus.CANCELLED}

    again = runner.get(launch.id)
    assert isinstance(again, runner.Launch) and again.id == launch.id


def test_resume_reruns_what_failed_into_the_same_launch(
    project: Path, home: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "attempts"
    launch = runner.launch(
        "flaky",
        ["launcher=sequential"],
        params={"marker": str(marker), "fail_times": 1},
        config_dir=project / "conf",
        progress=False,
    )
    assert launch.status() == "failed"
    done = launch.resume(progress=False)
    assert done.id == launch.id and launch.status() == "succeeded"
    assert launch.results == [launch.record.seed]


def test_listed_launches_read_their_runs(project: Path, home: Path) -> None:
    made = _sweep(project)
    (listed,) = runner.status()
    assert listed.id == made.id and [r.id for r in listed.runs] == [r.id for r in made.runs]
    assert len(listed.table(by_point=False).rows) == 6
