"""Metric columns in the results table: each metric's summary (runner.log) as `KEY.last`,
`KEY.min`, `KEY.max`, `KEY.count`, in `runner compare`, exports, by point, and the API."""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path
from typing import Any

import pytest

import runner
from runner import results
from runner.errors import UsageError
from runner.records import MetricSummary, RunRecord, RunStatus
from tests.conftest import PROJECT

# The workflow the runs execute; the tests run the same `curve` to know what was logged.
FIT = '''\
import runner


def curve(lr, seed):
    """Down, with bumps: its last value need not be its min; each seed a little apart."""
    shift = (seed % 10007) / 1e5
    return [(1 - lr) ** step + 0.1 * ((step * 7 + seed) % 3) + shift for step in range(6)]


def fit(lr: float = 0.1, seed: int = 0) -> dict:
    values = curve(lr, seed)
    for value in values:
        runner.log(loss=value, acc=1 - value / 2)
    return {"final": values[-1]}
'''
WORKFLOW = 'id: fit\nversion: "1.0"\nentrypoint: metricspkg.fit:fit\nparams:\n  lr: 0.1\n'
namespace: dict[str, Any] = {}
exec(FIT, namespace)  # the constant above
curve = namespace["curve"]


def logged_values(lr: float, seed: int) -> dict[str, list[float]]:
    values = curve(lr, seed)
    return {"loss": values, "acc": [1 - value / 2 for value in values]}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A project with the `fit` workflow and a store holding one launch of it: lr 0.1 and
    0.3, 2 repeats (4 runs, by point by default). (project, home, launch id)"""
    import shutil

    root = tmp_path_factory.mktemp("metrics")
    project = root / "proj"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("__pycache__", ".runner"))
    (project / "metricspkg").mkdir()  # (not the project's mypkg: other tests import theirs)
    (project / "metricspkg" / "__init__.py").write_text("")
    (project / "metricspkg" / "fit.py").write_text(FIT)
    (project / "conf" / "workflow" / "fit.yaml").write_text(WORKFLOW)
    home = root / "home"
    launch = runner.launch(
        "fit",
        ["params.lr=0.1,0.3", "launcher=sequential"],
        config_dir=project / "conf",
        home=home,
        repeat=2,
        progress=False,
    )
    assert launch.record.counts == {"succeeded": 4}
    return project, home, launch.id


@pytest.fixture
def store_env(fitted: tuple[Path, Path, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """RUNNER_HOME at the store of `fitted`, an 80-column output; the launch id."""
    _, home, launch_id = fitted
    monkeypatch.setenv("RUNNER_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "80")
    return launch_id


def compare(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """`runner compare ARGS` in this process (click's own parsing), its stdout."""
    from runner.cli import cli

    capsys.readouterr()
    cli.main(args=["compare", *args], prog_name="runner", standalone_mode=False)
    return capsys.readouterr().out


def expected(table: results.ResultsTable, row: results.Row, key: str) -> dict[str, Any]:
    values = logged_values(row.get("params.lr"), row.get("seed"))[key]
    return {"last": values[-1], "min": min(values), "max": max(values), "count": len(values)}


def test_metric_columns_hold_the_summaries_of_what_was_logged(fitted) -> None:
    _, home, launch_id = fitted
    table = runner.table(launch_id, home=home, by_point=False, all_columns=True)
    metric_columns = [c for c in table.columns if c.group == "metrics"]
    assert [c.key for c in metric_columns] == [
        f"metrics.{key}.{stat}" for key in ("acc", "loss") for stat in results.METRIC_STATS
    ]
    assert [c.name for c in metric_columns][:4] == ["acc.last", "acc.min", "acc.max", "acc.count"]
    assert {c.kind for c in metric_columns if not c.key.endswith(".count")} == {"number"}
    assert table.column("loss.count").kind == "integer"
    assert len(table.rows) == 4
    for row in table.rows:
        for key in ("loss", "acc"):
            for stat, value in expected(table, row, key).items():
                assert row.get(f"metrics.{key}.{stat}") == pytest.approx(value, rel=1e-12)
    # By default each metric shows its last value only.
    shown = runner.table(launch_id, home=home, by_point=False)
    assert [c.key for c in shown.columns if c.group == "metrics"] == [
        "metrics.acc.last",
        "metrics.loss.last",
    ]
    # A page of the launch reads its runs' summaries alone, run by run: the same values.
    page = runner.table(launch_id, home=home, by_point=False, first=2)
    assert page.records() == [shown.records()[0], shown.records()[1]]
    # As do runs listed on their own (runner.runs(...).table(), the TUI's runs table).
    listed = runner.runs(launch=launch_id, home=home).table()
    assert [r["metrics.loss.last"] for r in listed.records()] == [
        r["metrics.loss.last"] for r in shown.records()
    ]


def test_sort_where_and_columns_name_a_metric_statistic(store_env, capsys) -> None:
    launch_id = store_env
    picked = json.loads(
        compare(
            capsys,
            launch_id,
            "--by-run",
            "--columns",
            "lr,seed,loss.min",
            "--sort",
            "loss.min",
            "--format",
            "json",
        )
    )
    assert [c["key"] for c in picked["columns"]] == ["params.lr", "seed", "metrics.loss.min"]
    mins = [min(logged_values(r["params.lr"], r["seed"])["loss"]) for r in picked["rows"]]
    assert [r["metrics.loss.min"] for r in picked["rows"]] == pytest.approx(mins, rel=1e-12)
    assert mins == sorted(mins) and len(set(mins)) == 4
    # --where on a statistic not shown by default: it filters, and it shows.
    cut = statistics.median(mins)
    kept = json.loads(
        compare(capsys, launch_id, "--by-run", "--where", f"loss.min<{cut}", "--format", "json")
    )
    assert "metrics.loss.min" in [c["key"] for c in kept["columns"]]
    assert sorted(r["metrics.loss.min"] for r in kept["rows"]) == pytest.approx(
        [m for m in mins if m < cut], rel=1e-12
    )
    # Sorting by one shows it too, after that metric's last value.
    out = compare(capsys, launch_id, "--by-run", "--sort", "acc.max", "--format", "json")
    keys = [c["key"] for c in json.loads(out)["columns"]]
    assert keys.index("metrics.acc.max") == keys.index("metrics.acc.last") + 1
    # A metric named alone is no column: the message names its columns.
    with pytest.raises(UsageError, match=r"no column 'loss' \(did you mean 'loss\.last'\?\)"):
        compare(capsys, launch_id, "--columns", "lr,loss")
    with pytest.raises(UsageError, match=r"\(and each metric's last, min, max, count\)$"):
        compare(capsys, launch_id, "--columns", "lr,loss")


def test_by_point_gives_mean_and_std_of_metric_columns(store_env, capsys) -> None:
    launch_id = store_env
    table = json.loads(compare(capsys, launch_id, "--sort", "loss.min", "--format", "json"))
    assert table["by_point"] and len(table["rows"]) == 2
    keys = [c["key"] for c in table["columns"]]
    assert {"metrics.loss.last.mean", "metrics.loss.last.std", "metrics.loss.min.mean"} <= set(keys)
    runs = runner.table(launch_id, by_point=False, all_columns=True)
    for point in table["rows"]:
        members = [row for row in runs.rows if row.get("params.lr") == point["params.lr"]]
        lasts = [row.get("metrics.loss.last") for row in members]
        assert point["metrics.loss.last.mean"] == pytest.approx(statistics.mean(lasts))
        assert point["metrics.loss.last.std"] == pytest.approx(statistics.stdev(lasts))
    means = [point["metrics.loss.min.mean"] for point in table["rows"]]
    assert means == sorted(means)
    # A filter of points names a statistic of a metric's column.
    best = min(means)
    kept = json.loads(
        compare(capsys, launch_id, "--where", f"loss.min.mean<={best}", "--format", "json")
    )
    assert [point["metrics.loss.min.mean"] for point in kept["rows"]] == [best]


def test_exports_read_back(store_env, capsys, tmp_path: Path) -> None:
    """CSV and JSON exact, Parquet typed, Markdown as people read them."""
    import pyarrow.parquet as pq

    launch_id = store_env
    args = (launch_id, "--by-run", "--all-columns")
    rows = list(csv.DictReader(io.StringIO(compare(capsys, *args, "--format", "csv"))))
    data = json.loads(compare(capsys, *args, "--format", "json"))
    compare(capsys, *args, "--format", "parquet", "-o", str(tmp_path / "t.parquet"))
    parquet = pq.read_table(tmp_path / "t.parquet").to_pylist()
    assert parquet == data["rows"]
    markdown = compare(capsys, launch_id, "--by-run", "--format", "markdown").splitlines()
    assert markdown[0].split(" | ")[4:6] == ["acc.last", "loss.last"]  # after lr and final
    assert len(rows) == len(data["rows"]) == 4
    groups = {c["key"]: c["group"] for c in data["columns"]}
    assert groups["metrics.loss.last"] == "metrics"
    for row, record in zip(rows, data["rows"], strict=True):
        lr, seed = float(row["params.lr"]), int(row["seed"])
        for key in ("loss", "acc"):
            values = logged_values(lr, seed)[key]
            want = {"last": values[-1], "min": min(values), "max": max(values)}
            for stat, value in want.items():
                column = f"metrics.{key}.{stat}"
                assert float(row[column]) == pytest.approx(value, rel=1e-12)
                assert record[column] == float(row[column])  # both exact
            assert int(row[f"metrics.{key}.count"]) == record[f"metrics.{key}.count"] == 6


def test_at_80_columns_each_metric_shows_its_last_value(store_env, capsys) -> None:
    out = compare(capsys, store_env, "--by-run")
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), out
    header = lines[0].split()  # (no param is fixed: no line of them above)
    assert header[:3] == ["run", "status", "lr"]
    assert "acc.last" in header and "loss.last" in header
    assert not [name for name in header if name.endswith((".min", ".max", ".count"))]
    by_point = compare(capsys, store_env)
    assert "loss.last" in by_point and "± " in by_point


def test_a_launch_without_metrics_is_unchanged(fitted, tmp_path: Path) -> None:
    """In a store whose other runs logged, a launch that logged nothing reads as before:
    no metric column, the same table as one built without summaries."""
    project, home, _ = fitted
    plain = runner.launch(
        "add",
        ["params.a=1,2", "launcher=sequential"],
        config_dir=project / "conf",
        home=home,
        progress=False,
    )
    table = runner.table(plain.id, home=home)
    assert not [c for c in table.columns if c.group == "metrics"]
    rows = results.rows_of(runner.runs(launch=plain.id, home=home))
    assert table.to_json() == results.build(rows).to_json()


def test_cached_runs_show_their_sources_metrics(fitted) -> None:
    project, home, _ = fitted
    launches = [
        runner.launch(
            "fit",
            ["params.lr=0.2", "launcher=sequential"],
            config_dir=project / "conf",
            home=home,
            cache=True,
            seed=11,
            progress=False,
        )
        for _ in range(2)
    ]
    source, cached = (runner.table(launch.id, home=home, all_columns=True) for launch in launches)
    assert cached.rows[0].status is RunStatus.CACHED
    (row,) = source.rows
    values = logged_values(0.2, row.get("seed"))["loss"]
    for table in (source, cached):
        assert table.rows[0].get("metrics.loss.min") == pytest.approx(min(values), rel=1e-12)
        assert table.rows[0].get("metrics.loss.count") == 6


def test_a_nan_last_value_is_an_empty_cell_and_numbers_read_as_numbers() -> None:
    """The store keeps NaN as NULL (None): a metric's cell is then empty, never `null`."""
    runs = [
        RunRecord(
            id=f"{i:032x}",
            launch_id="f" * 32,
            parent_id=None,
            index=i,
            workflow_id="w",
            workflow_version="1",
            params={"x": i},
            seed=1,
            status=RunStatus.SUCCEEDED,
            created=0.0,
            result=None,
        )
        for i in range(2)
    ]
    summaries = [
        MetricSummary(runs[0].id, "loss", 3, None, 2, 0.5, 0.9, 0.0),
        MetricSummary(runs[1].id, "loss", 3, 0.25, 2, 0.25, 0.8, 0.0),
    ]
    table = results.build(results.rows_of(runs), metrics=summaries, where=["loss.last<1"])
    assert [row.get("params.x") for row in table.rows] == [1]
    table = results.build(results.rows_of(runs), metrics=summaries, sort="loss.last")
    column = table.column("loss.last")
    assert [table.cell(row, column) for row in table.rows] == ["0.25", ""]
