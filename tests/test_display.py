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


def test_plot_by_draws_a_line_per_value_and_says_what_it_averaged(
    project: Path, home: Path, monkeypatch
) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    pytest.importorskip("matplotlib")
    launch = runner.launch(
        "add:1.0",
        ["launcher=sequential"],
        sweep={"a": [1, 10], "b": [0, 5]},
        repeat=2,
        config_dir=project / "conf",
        progress=False,
    )
    ax = launch.plot(x="a", y="result")  # averaged over b too: the title says so
    assert ax.get_title() == "result by a\nmean over 2 seed repeats and b"
    (line,) = ax.get_lines()
    assert list(line.get_ydata()) == [3.5, 12.5]  # (1+0 + 1+5) / 2, (10+0 + 10+5) / 2

    ax = launch.plot(x="a", y="result", by="b")
    assert ax.get_title() == "result by a, one line per b\nmean over 2 seed repeats"
    lines = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert lines == {"b=0": [1.0, 10.0], "b=5": [6.0, 15.0]}
    assert ax.get_legend().get_title().get_text() == "b"

    with pytest.raises(runner.UsageError, match="by='a' is the x axis itself"):
        launch.plot(x="a", y="result", by="a")
    single = runner.launch(
        "add:1.0", ["launcher=sequential"], sweep={"a": [1, 2]}, config_dir=project / "conf"
    )
    assert single.plot(x="a", y="result").get_title() == "result by a\none run per point"

    # A list param (unhashable for pandas) splits lines and is averaged over; yref, which
    # follows x (${params.x}), is not named as averaged.
    echo = runner.launch(
        "echo",
        ["launcher=sequential", "params.x=1,2", "params.items=[1],[2,3]"],
        config_dir=project / "conf",
    )
    ax = echo.plot(x="x", y="result.params.x")
    assert ax.get_title() == "params.x by x\nmean over items"
    ax = echo.plot(x="x", y="result.params.x", by="items")
    assert [line.get_label() for line in ax.get_lines()] == ["items=[1]", "items=[2, 3]"]


def shown_lines(html: str) -> list[str]:
    """The lines a browser shows for some HTML: a new line at each block (div, br, table row)."""
    from html.parser import HTMLParser

    lines = [""]

    class Reader(HTMLParser):
        def handle_starttag(self, tag: str, attrs: object) -> None:
            if tag in ("div", "br", "tr", "table"):
                lines.append("")

        def handle_endtag(self, tag: str) -> None:
            if tag in ("div", "tr", "table"):
                lines.append("")

        def handle_data(self, data: str) -> None:
            lines[-1] += data

    Reader().feed(html)
    return [line.strip() for line in lines if line.strip()]


def test_a_launch_head_shows_its_seed_and_its_run_count_apart(project: Path, home: Path) -> None:
    launch = _sweep(project)
    lines = shown_lines(launch._repr_html_())
    assert lines[1].startswith("created ") and lines[1].endswith("; seed 0"), lines
    assert lines[2] == "6 runs; fixed: b=1", lines  # the table's caption, not "seed 06 runs"


def test_workflows_read_as_a_table(project: Path, home: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    (project / "conf" / "workflow" / "odd.yaml").write_text(
        "id: odd\nversion: '1.0'\ndescription: '<script>x</script> & [bold]y[/bold]'\n"
        "entrypoint: mypkg.flows:add\nparams:\n  a: 1\n  b: 2\n"
    )
    found = runner.workflows(config_dir=project / "conf")
    assert isinstance(found, runner.Workflows) and isinstance(found, list)
    assert [w.id for w in found] == sorted(w.id for w in found)

    text = repr(found)
    assert "WorkflowInfo(" not in text and "params_schema" not in text
    head, columns, *rows = text.splitlines()
    assert head.startswith(f"{len(found)} workflows")
    assert columns.split() == ["workflow", "version", "kind", "params", "description"]
    odd = next(row for row in rows if row.startswith("odd "))
    assert odd.split()[:5] == ["odd", "1.0", "declared", "a,", "b"]
    assert "[bold]y[/bold]" in odd  # shown as written, not as rich markup

    (one,) = [w for w in found if w.id == "odd"]
    assert repr(one).splitlines() == [
        "<WorkflowInfo odd 1.0 (declared)>",
        "<script>x</script> & [bold]y[/bold]",
        f"defined in {project / 'conf' / 'workflow' / 'odd.yaml'}",
        "params:",
        "  a  integer  1",
        "  b  integer  2",
    ]

    html = found._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt; &amp; [bold]" in html
    assert "<link" not in html and "class=" not in html and "<style" not in html
    lines = shown_lines(html)
    assert lines[0] == f"{len(found)} workflows"
    assert "odd1.0declareda, b" in "".join(lines)


def test_runner_has_a_version() -> None:
    from importlib.metadata import version

    assert runner.__version__ == version("runner-launch")
    assert "__version__" in runner.__all__


def test_progress_in_a_notebook_ends_showing_the_finished_count(
    project: Path, home: Path, monkeypatch
) -> None:
    """A notebook keeps the widget's text as first displayed (GitHub and nbconvert show it):
    the display is updated when the launch ends, so that it reads 6/6, not 0/6."""
    pytest.importorskip("ipywidgets")
    import IPython.display
    import tqdm.auto
    import tqdm.notebook

    shown: list[str] = []

    class Handle:
        def update(self, widget: object) -> None:
            shown.append(repr(widget))

    def display(widget: object, display_id: bool = False) -> Handle:
        shown.append(repr(widget))
        return Handle()

    monkeypatch.setattr(tqdm.auto, "tqdm", tqdm.notebook.tqdm)  # as in a Jupyter kernel
    monkeypatch.setattr(IPython.display, "display", display)
    _sweep(project, progress=True)
    assert len(shown) == 2
    assert "0/6" in shown[0] and "6/6" in shown[-1] and "failed=0" in shown[-1]


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
