"""The results table (runner.table) and how `runner compare`, the launch report and status use it."""

from __future__ import annotations

import csv
import io
import json
import statistics
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

import runner
from runner import render
from tests.conftest import popen

SWEEP = ("train", "params.lr=0.1,0.02", "params.width=128,256", "--repeat", "3", "--seed", "7")


def launch_id(cli, *args: str) -> str:
    done = cli(*args, "-q")
    assert done.code == 0, done.err
    return done.out.split()[0]


def run_results(cli, launch: str) -> list[dict]:
    """Every run of a launch, as `runner status --json` gives them (exact values)."""
    (record,) = json.loads(cli("status", launch, "--json").out)
    return record["runs"]


def compare_json(cli, *args: str) -> dict:
    done = cli("compare", *args, "--format", "json")
    assert done.code == 0, done.err
    return json.loads(done.out)


def test_columns_are_the_varying_params_and_the_flattened_result(cli) -> None:
    launch = launch_id(cli, *SWEEP)
    table = compare_json(cli, launch, "--by-run")
    keys = [column["key"] for column in table["columns"]]
    assert keys == [
        "run",
        "status",
        "params.lr",
        "params.width",
        "result.loss",
        "result.acc.train",
        "result.acc.test",
        "result.curve",
        "result.epochs_run",
        "repeat",
        "seed",
        "duration",
    ]
    kinds = {column["key"]: column["kind"] for column in table["columns"]}
    assert kinds["params.lr"] == "number" and kinds["params.width"] == "integer"
    assert kinds["result.curve"] == "json" and kinds["duration"] == "duration"
    groups = {column["key"]: column["group"] for column in table["columns"]}
    assert groups["params.width"] == "params" and groups["result.acc.test"] == "result"
    # Params equal in every run are said once, not as columns.
    assert table["fixed"] == {"epochs": 10}
    runs = run_results(cli, launch)
    assert len(table["rows"]) == len(runs) == 12
    for row, run in zip(table["rows"], runs, strict=True):
        assert row["run"] == run["id"]  # an export carries whole ids
        assert row["params.width"] == run["params"]["width"]
        assert row["result.acc.test"] == run["result"]["acc"]["test"]  # JSON keeps exact values
        assert row["result.curve"] == run["result"]["curve"]
        assert row["repeat"] == run["index"] % 3 and row["seed"] == run["seed"]

    out = cli("compare", launch, "--by-run").out
    assert "fixed: epochs=10" in out

    every = compare_json(cli, launch, "--by-run", "--all-columns")
    assert every["fixed"] == {}
    assert [c["key"] for c in every["columns"]][2:5] == [
        "params.lr",
        "params.width",
        "params.epochs",
    ]
    assert {row["params.epochs"] for row in every["rows"]} == {10}


def test_by_point_aggregates_the_repeats(cli) -> None:
    launch = launch_id(cli, *SWEEP)
    table = compare_json(cli, launch, "--stats")  # by point: the runs repeat
    assert table["by_point"] is True
    runs = run_results(cli, launch)
    assert len(table["rows"]) == 4
    for row in table["rows"]:
        members = [
            run
            for run in runs
            if run["params"]["lr"] == row["params.lr"]
            and run["params"]["width"] == row["params.width"]
        ]
        assert row["n"] == len(members) == 3
        losses = [run["result"]["loss"] for run in members]
        tests = [run["result"]["acc"]["test"] for run in members]
        assert row["result.loss.mean"] == pytest.approx(statistics.fmean(losses), rel=1e-12)
        assert row["result.loss.std"] == pytest.approx(statistics.stdev(losses), rel=1e-12)
        assert row["result.acc.test.min"] == min(tests)
        assert row["result.acc.test.max"] == max(tests)
    # Without --stats: only mean and std.
    plain = compare_json(cli, launch)
    assert {c.get("stat") for c in plain["columns"]} == {None, "mean", "std"}
    text = cli("compare", launch).out
    assert "4 points (12 runs)" in text and " ± " in text


def test_sort_top_where_and_columns(cli) -> None:
    launch = launch_id(cli, *SWEEP)
    runs = run_results(cli, launch)
    table = compare_json(
        cli, launch, "--by-run", "--sort", "loss", "--desc", "--top", "4", "--columns", "run,loss"
    )
    assert [c["key"] for c in table["columns"]] == ["run", "result.loss"]
    expected = sorted((run["result"]["loss"] for run in runs), reverse=True)[:4]
    assert [row["result.loss"] for row in table["rows"]] == expected

    wide = compare_json(cli, launch, "--by-run", "--where", "width>=256", "--where", "lr=0.1")
    assert {(r["params.width"], r["params.lr"]) for r in wide["rows"]} == {(256, 0.1)}
    assert len(wide["rows"]) == 3

    threshold = statistics.median(run["result"]["loss"] for run in runs)
    below = compare_json(cli, launch, "--by-run", "--where", f"loss<{threshold!r}")
    assert sorted(r["result.loss"] for r in below["rows"]) == sorted(
        run["result"]["loss"] for run in runs if run["result"]["loss"] < threshold
    )
    # By point, a result's name sorts by its mean.
    points = compare_json(cli, launch, "--sort", "acc.test")
    means = [row["result.acc.test.mean"] for row in points["rows"]]
    assert means == sorted(means)
    # and a filter may name a statistic: it applies to the points.
    lr_high = [row["result.acc.test.mean"] for row in points["rows"] if row["params.lr"] == 0.1]
    kept = compare_json(
        cli, launch, "--where", f"acc.test.mean<{max(lr_high)!r}", "--where", "lr=0.1"
    )
    assert [row["result.acc.test.mean"] for row in kept["rows"]] == [min(lr_high)]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        pytest.param("loss", "expected COLUMN OP VALUE", id="no-operator"),
        pytest.param("loss<", "expected COLUMN OP VALUE", id="no-value"),
        pytest.param("width>>3", "'>>' is not an operator", id="double-operator"),
        pytest.param("lose<1", "no column 'lose' (did you mean 'loss'?)", id="unknown-column"),
        pytest.param("status<3", "column 'status' holds status values, not numbers", id="text"),
        pytest.param("__import__('os')<1", "expected COLUMN OP VALUE", id="no-eval"),
        pytest.param("epochs>3", "one value in every run (epochs=10)", id="fixed-param"),
    ],
)
def test_a_bad_where_exits_1_and_names_the_problem(cli, where: str, message: str) -> None:
    launch = launch_id(cli, "train", "params.lr=0.1,0.2", "--seed", "1")
    done = cli("compare", launch, "--where", where)
    assert done.code == 1
    assert message in done.err, done.err
    assert done.out == ""


def test_csv_reads_back_with_the_csv_module(cli, tmp_path: Path) -> None:
    launch = launch_id(cli, *SWEEP)
    out = tmp_path / "results.csv"
    done = cli("compare", launch, "--by-run", "--format", "csv", "-o", str(out))
    assert done.code == 0 and done.out == ""
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    runs = run_results(cli, launch)
    assert list(rows[0])[:4] == ["run", "status", "params.lr", "params.width"]
    assert len(rows) == 12
    for row, run in zip(rows, runs, strict=True):
        assert float(row["result.loss"]) == run["result"]["loss"]  # exact, not rounded
        assert json.loads(row["result.curve"]) == run["result"]["curve"]
        assert int(row["params.width"]) == run["params"]["width"]


def test_markdown(cli) -> None:
    launch = launch_id(cli, *SWEEP)
    done = cli("compare", launch, "--format", "markdown")
    lines = done.out.splitlines()
    assert lines[0] == "fixed: epochs=10"
    assert lines[2].startswith("| lr | width | n | loss mean | loss std |")
    assert lines[3].startswith("|---:|---:|---:|")
    assert len(lines) == 4 + 4


def test_parquet_without_pyarrow_names_the_extra(monkeypatch, tmp_path: Path) -> None:
    from runner.errors import UsageError
    from runner.export import to_parquet
    from runner.results import build

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    with pytest.raises(UsageError, match=r"pip install 'runner-launch\[parquet\]'"):
        to_parquet(build([]), tmp_path / "x.parquet")


def _launch(project: Path, name: str, overrides: list[str], **options) -> runner.Launch:
    return runner.launch(
        name, [*overrides, "launcher=sequential"], config_dir=project / "conf", **options
    )


def test_scalar_list_none_and_failed_results(project: Path, home: Path) -> None:
    launch = _launch(project, "shapes", ["params.kind=scalar,list,none,dict,fail"])
    table = runner.table(launch)
    assert not table.by_point
    keys = [column.key for column in table.columns]
    assert keys == [
        "run",
        "status",
        "params.kind",
        "result",
        "result.a",
        "error",
        "seed",
        "duration",
    ]
    by_kind = {row.get("params.kind"): row for row in table.rows}
    assert by_kind["scalar"].get("result") == 2.5
    assert by_kind["list"].get("result") == [1, 2]  # one cell, not flattened
    assert by_kind["none"].get("result") is None and by_kind["none"].get("status") == "succeeded"
    assert by_kind["dict"].get("result.a") == 1
    assert by_kind["fail"].get("status") == "failed"
    assert by_kind["fail"].get("error") == "RuntimeError: shape 'fail' asked to fail"
    assert table.column("result").kind == "json"
    # The same table read back from the store (JSON decoded there, once per run).
    again = runner.table(launch.id)
    assert again.records() == table.records()


def test_a_six_digit_param_is_never_cut_at_80_columns(project: Path, home: Path) -> None:
    launch = _launch(
        project,
        "train",
        ["params.width=100000,250000", "params.lr=0.123456789"],
        notes="x" * 10,
    )
    console = Console(file=io.StringIO(), width=80, highlight=False, soft_wrap=False)
    table = runner.table(launch, by_point=False)
    render.results(console, table, how="runner compare X")
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert "100000" in out and "250000" in out
    header = out.splitlines()[1]
    assert header.split()[:3] == ["run", "status", "width"]
    # What did not fit is named, never silently cut.
    missing = [c.name for c in table.columns if c.name not in header.split()]
    assert missing, out
    names = ", ".join(missing)
    assert out.splitlines()[-1] == f"{len(missing)} more columns: {names} (pick with --columns)"


def test_the_launch_report_at_80_columns(cli) -> None:
    done = cli(
        "train",
        "params.width=100000,250000,999999",
        "params.lr=0.5",
        "--seed",
        "2",
        env={"COLUMNS": "80"},
    )
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    assert "fixed: lr=0.5, epochs=10" in lines
    table = lines[lines.index("fixed: lr=0.5, epochs=10") + 1 :]
    assert table[0].split()[:3] == ["run", "status", "width"]
    for value in ("100000", "250000", "999999"):
        assert any(value in line.split() for line in table), done.out
    assert all(len(line) <= 80 for line in lines)


def test_a_large_launch_shows_its_first_rows_and_its_failures(cli) -> None:
    values = ",".join(str(a) for a in [*range(3, 28), 2])  # the 26th and last run fails
    done = cli("boom", f"params.a={values}", "--seed", "1", env={"COLUMNS": "100"})
    assert done.code == 4
    assert "... 6 more runs" in done.out
    assert "failed runs past the first 20:" in done.out
    failures = done.out.split("failed runs past the first 20:")[1]
    assert "a must not be 2" in failures
    assert "25 succeeded" in done.out.splitlines()[-1]


def test_status_of_a_launch_uses_the_table_and_the_list_says_what_was_swept(cli) -> None:
    launch = launch_id(cli, *SWEEP)
    shown = cli("status", launch[:8], env={"COLUMNS": "100"}).out
    assert "fixed: epochs=10" in shown and "4 points (12 runs)" in shown
    listed = cli("status", env={"COLUMNS": "120"}).out
    assert "lr: 2, width: 2, repeat 3" in listed


def test_two_launches_one_still_running(cli, project: Path, home: Path, elsewhere: Path) -> None:
    done = launch_id(cli, "add", "params.a=1,2", "--seed", "1")
    proc = popen(project, home, elsewhere, "nap", "params.seconds=0.05,30", "--seed", "1")
    try:
        running = proc.stdout.readline().split()[1].rstrip(":")  # "launch ID: 2 runs of..."
        deadline = time.monotonic() + 60
        while True:
            table = compare_json(cli, done, running)
            statuses = [row["status"] for row in table["rows"]]
            if statuses.count("succeeded") == 3 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert [c["key"] for c in table["columns"]][:3] == ["launch", "run", "status"]
        assert [row["launch"] for row in table["rows"]] == [done] * 2 + [running] * 2
        assert statuses[:3] == ["succeeded"] * 3 and statuses[3] in ("pending", "running")
        assert table["rows"][3]["result"] is None
        # Both workflows' params vary across the launches: a and seconds are columns.
        assert {"params.a", "params.seconds"} <= {c["key"] for c in table["columns"]}
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_user_data_is_shown_not_obeyed(project: Path, home: Path) -> None:
    """Rich markup and terminal control sequences in params and results stay text."""
    launches = [
        _launch(project, "typed", [], params={"name": name})
        for name in ("[red]x[/red]", "\x1b[2Jwiped")
    ]
    console = Console(file=io.StringIO(), width=120, force_terminal=True, highlight=False)
    render.results(console, runner.table(launches))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "[red]x[/red]" in out
    assert "\x1b[2J" not in out and "\\x1b[2Jwiped" in out


def test_parquet_keeps_types_and_values(cli, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    launch = launch_id(cli, *SWEEP)
    out = tmp_path / "results.parquet"
    done = cli("compare", launch, "--by-run", "--format", "parquet", "-o", str(out))
    assert done.code == 0, done.err
    data = pq.read_table(out).to_pylist()
    runs = run_results(cli, launch)
    assert [row["result.loss"] for row in data] == [run["result"]["loss"] for run in runs]
    assert [row["params.width"] for row in data] == [run["params"]["width"] for run in runs]
    assert json.loads(data[0]["result.curve"]) == runs[0]["result"]["curve"]
    assert cli("compare", launch, "--format", "parquet").code == 1  # needs -o FILE


@pytest.mark.slow
def test_launches_picked_by_workflow_tag_and_last(cli) -> None:
    first = launch_id(cli, "add", "params.a=1,2", "--tags", "keep", "--seed", "1")
    second = launch_id(cli, "add", "params.a=3,4", "--seed", "1")
    launch_id(cli, "train", "params.lr=0.1,0.2", "--tags", "keep", "--seed", "1")

    def launches(*args: str) -> list[str]:
        table = compare_json(cli, *args)
        return list(dict.fromkeys(row.get("launch") for row in table["rows"]))

    assert launches("--workflow", "add") == [first, second]  # oldest first
    assert launches("--workflow", "add", "--last", "1") == [None]  # one launch: no column
    table = compare_json(cli, "--workflow", "add", "--last", "1")
    assert [row["params.a"] for row in table["rows"]] == [3, 4]
    assert len(launches("--tag", "keep")) == 2
    missing = cli("compare", "--tag", "nope")
    assert missing.code == 1 and "no recorded launch matches tag nope" in missing.err


def test_a_launch_with_repeats_reports_its_points_then_its_failures(cli) -> None:
    done = cli("boom", "params.a=1,2", "--repeat", "2", "--seed", "1", env={"COLUMNS": "100"})
    assert done.code == 4
    points, failures = done.out.split("failed runs:\n")
    assert "2 points (4 runs)" in points
    header = points.splitlines()[
        points.splitlines().index("2 points (4 runs); results: mean ± std over n runs") + 1
    ]
    assert header.split()[:3] == ["a", "n", "failed"]
    assert failures.count("a must not be 2") == 2 and "2 failed, 2 succeeded" in failures


def test_a_result_key_named_like_a_run_column() -> None:
    """pi's result has an `error` key; with a failed run the table also has the run's error."""
    from runner.errors import UsageError
    from runner.records import RunRecord, RunStatus
    from runner.results import build, rows_of

    runs = [
        RunRecord(
            id=f"{i:032x}",
            launch_id="f" * 32,
            parent_id=None,
            index=i,
            workflow_id="pi",
            workflow_version="1",
            params={"samples": 10**i},
            seed=1,
            status=RunStatus.FAILED if i == 0 else RunStatus.SUCCEEDED,
            created=0.0,
            result=None if i == 0 else {"error": 0.1 / i},
            error="ValueError: no samples" if i == 0 else None,
        )
        for i in range(3)
    ]
    table = build(rows_of(runs))
    names = {column.key: column.name for column in table.columns}
    assert names["error"] == "error" and names["result.error"] == "result.error"
    with pytest.raises(UsageError, match=r"did you mean 'result\.error'\?"):
        build(rows_of(runs), where=["error<0.01"])
    kept = build(rows_of(runs), where=["result.error<0.07"])
    assert [row.get("params.samples") for row in kept.rows] == [100]
