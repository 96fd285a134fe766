"""The notebooks in notebooks/, run top to bottom by a real Jupyter kernel of this interpreter."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
KERNEL = "runner-tests"  # a name no user kernel has: the spec below, and only it, is found


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec for this interpreter, in a temporary Jupyter path: nothing is installed
    for the user, and the kernel is the venv's whatever `python3` means elsewhere."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "runner tests", "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.delenv("RUNNER_CONFIG_DIR", raising=False)
    return KERNEL


def execute(name: str, cwd: Path, kernel: str) -> object:
    """Run a notebook top to bottom in `cwd`; any cell error fails (CellExecutionError)."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=kernel,
        timeout=300,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return notebook


def test_notebooks_are_committed_without_outputs() -> None:
    nbformat = pytest.importorskip("nbformat")
    found = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert len(found) >= 4
    for path in found:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


def html_outputs(notebook: object) -> list[str]:
    return [
        output["data"]["text/html"]
        for cell in notebook.cells  # type: ignore[attr-defined]
        if cell.cell_type == "code"
        for output in cell.outputs
        if "text/html" in output.get("data", {})
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ["01_quickstart.ipynb", "03_non_blocking.ipynb", "04_cli_runs.ipynb"],
)
def test_notebook_runs_top_to_bottom(name: str, project: Path, home: Path, kernel: str) -> None:
    execute(name, project, kernel)
    assert any(home.iterdir())  # the runs went to RUNNER_HOME
    assert not (project / ".runner").exists()


@pytest.mark.slow
def test_sweep_notebook_renders_its_launch(project: Path, home: Path, kernel: str) -> None:
    import runner

    notebook = execute("02_sweep_repeats.ipynb", project, kernel)
    (launch,) = runner.status(home=home)
    launch = runner.get(launch.id, home=home)
    assert isinstance(launch, runner.Launch) and len(launch.runs) == 20
    htmls = html_outputs(notebook)
    assert all(html.strip() for html in htmls)  # nothing rendered twice or empty (rich's own)
    shown = [html for html in htmls if f"Launch {launch.id}" in html]
    assert shown, "the launch did not render as HTML"
    html = shown[0]
    for run in launch.runs:
        assert run.id[:8] in html
    for samples in ("100", "1000", "10000", "50000"):
        assert f">{samples}<" in html
    figures = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert figures, "the plot was not drawn"
    bars = [
        output["data"]["text/plain"]
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {})
    ]
    # The progress widget's text (what a notebook shows without its widgets) ends finished.
    assert bars and all("20/20" in bar for bar in bars), bars


def outputs_of(notebook: object, code: str) -> list[dict]:
    """The outputs of the code cell whose source holds `code`."""
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and code in c.source]  # type: ignore[attr-defined]
    return cell.outputs


@pytest.mark.slow
def test_metrics_notebook_draws_curves_live_then_reads_the_points(
    project: Path, home: Path, kernel: str
) -> None:
    import re

    import runner

    notebook = execute("05_metrics.ipynb", project, kernel)
    (launch,) = runner.status(home=home)
    assert isinstance(launch, runner.Launch) and launch.status() == "succeeded"
    # The live figure is in its cell (its last drawing), and it was redrawn as points came.
    assert [o for o in outputs_of(notebook, "live=True") if "image/png" in o.get("data", {})]
    printed = "".join(o.get("text", "") for o in outputs_of(notebook, "print(live)"))
    found = re.search(r"<LivePlot loss of launch \w+: (\d+) updates, done>", printed)
    assert found and int(found[1]) >= 1, printed
    # The DataFrame: 4 runs x 30 epochs x 2 metrics, the params that vary as a column.
    (shape,) = outputs_of(notebook, "frame.shape")
    assert shape["data"]["text/plain"] == "(240, 6)"
    (head,) = outputs_of(notebook, "frame.head()")
    for column in ("run", "params.lr", "metric", "step", "value", "time"):
        assert f">{column}<" in head["data"]["text/html"]
    (summary,) = outputs_of(notebook, '.agg(["first", "min", "last"])')
    for lr in ("0.02", "0.05", "0.10", "0.30"):
        assert f">{lr}<" in summary["data"]["text/html"]
    assert any("image/png" in o.get("data", {}) for o in outputs_of(notebook, 'set_yscale("log")'))
    assert len(launch.metrics()) == 240


@pytest.mark.slow
def test_search_notebook_launches_a_search_and_shows_its_best_trials(
    project: Path, home: Path, kernel: str
) -> None:
    pytest.importorskip("optuna")
    import runner

    notebook = execute("06_search.ipynb", project, kernel)
    (launch,) = runner.status(home=home)
    assert isinstance(launch, runner.Launch) and launch.status() == "succeeded"
    search = launch.record.definition["search"]
    assert (search["sampler"], search["n_trials"], search["objectives"]) == ("tpe", 30, ["loss"])
    assert len(launch.runs) == 30
    bars = [
        output["data"]["text/plain"]
        for output in outputs_of(notebook, "max_parallelism=2")
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {})
    ]
    assert bars and all("30/30" in bar for bar in bars), bars  # counted from none done
    printed = "".join(o.get("text", "") for o in outputs_of(notebook, "describe()"))
    assert printed.startswith("search       tpe (Optuna's TPESampler), 30 trials")
    assert "  params.lr      float in [1e-05, 0.1], log scale" in printed
    # The five best trials: the table's HTML, then its DataFrame, sorted by the loss.
    (table,) = outputs_of(notebook, "top=5)")
    losses = sorted(r.result["loss"] for r in launch.runs)
    assert "ResultsTable" in table["data"]["text/plain"]
    (best,) = outputs_of(notebook, "best.to_dataframe()")
    assert best["data"]["text/html"].count("<tr>") == 6  # a header and 5 rows
    assert f"{losses[0]:.6f}"[:6] in best["data"]["text/html"]
    assert any("image/png" in o.get("data", {}) for o in outputs_of(notebook, "cummin()"))
    (again,) = outputs_of(notebook, "search.n_trials=60")
    assert again["data"]["text/plain"] == "(60, ['params.lr', 'params.layers', 'params.opt'])"
