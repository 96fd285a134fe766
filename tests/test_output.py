"""Output a person reads (issue 21, part 3): errors on one line in tables and whole in the run
view, cancelled runs apart from failures, one line a launch at 80 columns, a drawn seed as a
number, None as null, exact means and counts with separators, whole ids in exports, and
the process that runs a launch. Stores are written directly: no run is executed here."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import sqlite3
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

import runner
from runner import api, display, render
from runner.cli import main
from runner.records import RunOutcome, RunStatus
from runner.results import build, format_value, one_line, points
from runner.store import MIGRATIONS, Store, process_start, this_host
from tests.conftest import launch_record

SKLEARN = (
    "ValueError: \nAll the 5 fits failed.\nIt is very likely that your model is misconfigured."
    "\nYou can try to debug the error by setting error_score='raise'.\n"
)


def stored(
    home: Path,
    runs: list[dict[str, Any]],
    *,
    repeat: int = 1,
    name: str | None = None,
    swept: dict[str, int] | None = None,
    workflow: str = "fit",
    pid: int = 0,
    pid_start: str = "",
    host: str = "",
) -> str:
    """A launch written straight into the store. Each run: params (dict), and optionally
    status (default succeeded), result, error; returns the launch id."""
    store = Store(home)
    launch_id = uuid.uuid4().hex
    store.record_launch(
        launch_record(
            id=launch_id,
            created=time.time(),
            workflow_id=workflow,
            name=name,
            repeat=repeat,
            definition={"swept": swept or {}},
            pid=pid,
            run_count=len(runs),
            pid_start=pid_start,
            host=host,
        ),
        [],
    )
    store.close()
    now = time.time()
    rows = [
        (
            uuid.uuid4().hex,
            launch_id,
            launch_id,
            i,
            workflow,
            "1.0",
            json.dumps(run["params"]),
            i % repeat,
            run.get("status", "succeeded"),
            now,
            now,
            now + 0.5,
            None if "result" not in run else json.dumps(run["result"]),
            run.get("error"),
        )
        for i, run in enumerate(runs)
    ]
    with sqlite3.connect(home / "runner.db") as db:
        db.executemany(
            "INSERT INTO runs (id, launch_id, parent_id, idx, workflow_id, workflow_version,"
            " params, seed, status, created, started, ended, result, error)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    db.close()
    return launch_id


def run_ids(home: Path, launch_id: str, status: str | None = None) -> list[str]:
    with sqlite3.connect(home / "runner.db") as db:
        rows = db.execute(
            "SELECT id FROM runs WHERE launch_id=?1 AND (?2 IS NULL OR status=?2) ORDER BY idx",
            (launch_id, status),
        ).fetchall()
    db.close()
    return [row[0] for row in rows]


def cli_out(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`runner ARGS` in this process: exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as done:
        main(list(args))
    captured = capsys.readouterr()
    return int(done.value.code or 0), captured.out, captured.err


@pytest.fixture
def columns80(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output as a pipe gets it: no COLUMNS, while the terminal behind it is wide."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(os, "get_terminal_size", lambda *_: os.terminal_size((200, 50)))


# -- 1. an error's first line in tables, its lines in the run view -----------------------------


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        pytest.param(SKLEARN, "ValueError: All the 5 fits failed.", id="sklearn"),
        pytest.param("KeyError: 'C'", "KeyError: 'C'", id="one-line"),
        pytest.param(
            "\n\n  RuntimeError: boom\nmore", "RuntimeError: boom", id="blank-lines-first"
        ),
        pytest.param("ValueError: \n\n\n  deep\n", "ValueError: deep", id="blank-lines-between"),
        pytest.param("ValueError:", "ValueError:", id="type-alone"),
        pytest.param("ValueError: \n   \n", "ValueError:", id="type-and-blanks"),
        pytest.param(
            "sklearn.exceptions.NotFittedError: \nnot fitted",
            "sklearn.exceptions.NotFittedError: not fitted",
            id="dotted-type",
        ),
        pytest.param("note: first\nsecond", "note: first", id="text-after-colon"),
        pytest.param("a: b:\nc", "a: b:", id="not-a-type"),
        pytest.param("", "", id="empty"),
        pytest.param(" \n\t\n", "", id="blank"),
        pytest.param("line one\r\nline two", "line one", id="crlf"),
    ],
)
def test_one_line_is_the_first_non_empty_line(error: str, shown: str) -> None:
    assert one_line(error) == shown
    assert format_value(error, "string") == shown


def test_tables_show_an_errors_first_line(home: Path, capsys, columns80) -> None:
    launch_id = stored(
        home,
        [
            {"params": {"C": 1}, "result": {"acc": 0.9}},
            {"params": {"C": 10}, "status": "failed", "error": SKLEARN},
            {"params": {"C": 100}, "status": "failed", "error": "ZeroDivisionError: division"},
        ],
    )
    table = api.table(launch_id, home=home)
    errors = [row.values.get("error") for row in table.rows]
    assert errors == [None, "ValueError: All the 5 fits failed.", "ZeroDivisionError: division"]
    for shown in (display.table_html(table), display.table_text(table), repr(table)):
        assert "ValueError: All the 5 fits failed." in shown and "\\n" not in shown
    runs = runner.runs(launch=launch_id, home=home)
    assert "ValueError: All the 5 fits failed." in display.runs_text(runs)
    assert "misconfigured" not in display.runs_text(runs)
    code, out, _ = cli_out(capsys, "compare", launch_id[:8], "--by-run")
    assert code == 0
    line = next(line for line in out.splitlines() if "ValueError" in line)
    assert "ValueError: All the" in line and "\\n" not in out


def test_the_run_view_prints_an_errors_own_lines(home: Path, capsys, columns80) -> None:
    launch_id = stored(home, [{"params": {"C": 10}, "status": "failed", "error": SKLEARN}])
    (run_id,) = run_ids(home, launch_id)
    code, out, _ = cli_out(capsys, "status", run_id[:10])
    assert code == 0 and "\\n" not in out
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("error"))
    assert lines[at].split() == ["error", "ValueError:"]
    indent = lines[at].index("ValueError")
    assert [line[:indent].strip() for line in lines[at + 1 : at + 4]] == ["", "", ""]
    assert [line[indent:] for line in lines[at + 1 : at + 4]] == [
        "All the 5 fits failed.",
        "It is very likely that your model is misconfigured.",
        "You can try to debug the error by setting error_score='raise'.",
    ]


def test_the_live_first_failure_line_is_one_line(capsys) -> None:
    watch = render.Watch(quiet=False, as_json=False)
    watch.outcome(RunOutcome("c" * 32, RunStatus.CANCELLED, 0.0, 1.0, error="cancelled (x)"))
    assert capsys.readouterr().err == ""  # a cancel is no failure to report
    watch.outcome(RunOutcome("a" * 32, RunStatus.FAILED, 0.0, 1.0, error=SKLEARN))
    watch.outcome(RunOutcome("b" * 32, RunStatus.FAILED, 0.0, 1.0, error="other"))
    assert capsys.readouterr().err == f"run {'a' * 12} failed: ValueError: All the 5 fits failed.\n"


# -- 2. cancelled runs are not failures; every hint finds what it names -------------------------


def _sweep(statuses: list[str], repeat: int = 3) -> list[dict[str, Any]]:
    """Runs of two points (C=1, C=2) in plan order, each with the status given."""
    return [
        {
            "params": {"C": 1 + i // repeat},
            "status": status,
            **({"result": {"acc": 0.5}} if status == "succeeded" else {"error": f"{status} x"}),
        }
        for i, status in enumerate(statuses)
    ]


@pytest.mark.parametrize(
    ("statuses", "failed", "cancelled"),
    [
        pytest.param(["succeeded"] * 2 + ["cancelled"] * 4, None, [1, 3], id="cancelled-only"),
        pytest.param(["succeeded"] * 5 + ["failed"], [0, 1], None, id="failed-only"),
        pytest.param(
            ["failed", "timed_out", "cancelled", "succeeded", "cancelled", "cancelled"],
            [2, 0],
            [1, 2],
            id="both",
        ),
        pytest.param(["succeeded"] * 6, None, None, id="neither"),
    ],
)
def test_points_count_failed_and_cancelled_runs_apart(
    home: Path, statuses: list[str], failed: list[int] | None, cancelled: list[int] | None
) -> None:
    launch_id = stored(home, _sweep(statuses), repeat=3)
    table = api.table(launch_id, home=home, by_point=True)
    keys = [column.key for column in table.columns]
    assert ("failed" in keys, "cancelled" in keys) == (failed is not None, cancelled is not None)
    if failed is not None:
        assert [row.values["failed"] for row in table.rows] == failed
    if cancelled is not None:
        assert [row.values["cancelled"] for row in table.rows] == cancelled


def _cancelled_launch(home: Path, repeat: int = 3) -> str:
    """Two points of three repeats: two runs succeeded, then `runner cancel` (the rest were
    pending; the launcher is this process, so nothing is taken for lost)."""
    statuses = ["succeeded", "succeeded"] + ["pending"] * 4
    launch_id = stored(
        home, _sweep(statuses), repeat=repeat, pid=os.getpid(), pid_start=process_start(os.getpid())
    )
    Store(home).cancel(launch_id, None, "cancelled (runner cancel)")
    return launch_id


def test_runner_wait_after_a_cancel_reports_cancelled_runs(home: Path, capsys, columns80) -> None:
    launch_id = _cancelled_launch(home)
    code, out, err = cli_out(capsys, "wait", launch_id[:12])
    assert code == 130  # the launch was cancelled
    assert out.splitlines()[0] == f"launch {launch_id}: 6 runs of fit:1.0 (seed 1)"
    assert not any(line.startswith("  run ") for line in out.splitlines())  # no ids again
    assert "failed" not in out  # no failed column, no "failed runs:" list
    header = next(line for line in out.splitlines() if line.lstrip().startswith("C "))
    assert header.split() == ["C", "n", "cancelled", "acc"]
    assert out.splitlines()[-1].startswith("4 cancelled, 2 succeeded")
    assert "failed" not in err and "was cancelled (4 cancelled, 2 succeeded)" in err
    # runner status LAUNCH and the report after an attached launch read it the same way.
    code, shown, _ = cli_out(capsys, "status", launch_id[:12])
    assert "failed" not in shown, shown
    assert "cancelled" in shown.splitlines()[3]
    render.summary(runner.status([launch_id], home=home)[0])
    assert "failed" not in capsys.readouterr().out


def test_runner_wait_q_still_prints_the_run_ids(home: Path, capsys) -> None:
    launch_id = _cancelled_launch(home)
    _, out, _ = cli_out(capsys, "wait", launch_id, "-q")
    assert out.split() == [launch_id, *run_ids(home, launch_id)]


@pytest.mark.parametrize(
    "statuses",
    [
        pytest.param(["failed"] * 25 + ["succeeded"] * 5 + ["cancelled"] * 5, id="failed"),
        pytest.param(["timed_out"] * 22 + ["cancelled"] * 3, id="timed-out"),
        pytest.param(
            ["failed"] * 12 + ["timed_out"] * 12 + ["succeeded"] * 3 + ["cancelled"] * 3,
            id="failed-and-timed-out",
        ),
        pytest.param(["failed"] * 11 + ["timed_out"] * 11, id="every-run-went-wrong"),
    ],
)
def test_the_failed_runs_hint_finds_them(home: Path, capsys, monkeypatch, statuses) -> None:
    """After a launch with repeats, "failed runs:" lists what went wrong (never a cancel),
    and the command it names for the rest finds exactly those runs."""
    monkeypatch.setenv("COLUMNS", "300")  # the hint on one line
    runs = [dict(run, params={"C": i // 2}) for i, run in enumerate(_sweep(statuses, 2))]
    launch_id = stored(home, runs, repeat=2)
    render.summary(runner.status([launch_id], home=home)[0])
    out = capsys.readouterr().out
    listed = out.split("failed runs:\n")[1].splitlines()
    assert not any("cancelled" in line for line in listed[:-2])
    hint = re.search(r"more rows \((runner compare .*) for all\)", out)
    assert hint is not None, out
    args = shlex.split(hint.group(1))[1:]
    code, found, _ = cli_out(capsys, *args)
    assert code == 0
    wrong = {RunStatus(s) for s in statuses if RunStatus(s).failure}
    rows = list(csv.DictReader(io.StringIO(found)))
    assert sorted(row["run"] for row in rows) == sorted(
        run_id for s in wrong for run_id in run_ids(home, launch_id, s.value)
    )


def test_every_more_rows_hint_shows_every_row(home: Path, capsys, monkeypatch) -> None:
    """A table cut at its first rows names a command that prints them all."""
    monkeypatch.setenv("COLUMNS", "300")  # the hint on one line
    launch_id = stored(home, [{"params": {"x": i}, "result": i} for i in range(60)])
    render.summary(runner.status([launch_id], home=home)[0])
    hint = re.search(
        r"\.\.\. 40 more runs \((runner compare .*) for all\)", capsys.readouterr().out
    )
    assert hint is not None
    _, found, _ = cli_out(capsys, *shlex.split(hint.group(1))[1:])
    assert len(list(csv.DictReader(io.StringIO(found)))) == 60
    code, out, _ = cli_out(capsys, "status", launch_id[:12])
    hint = re.search(r"\.\.\. 10 more rows \((runner compare .*) for all\)", out)
    assert code == 0 and hint is not None
    _, found, _ = cli_out(capsys, *shlex.split(hint.group(1))[1:])
    assert len(list(csv.DictReader(io.StringIO(found)))) == 60


def test_the_ids_hint_after_a_launch_lists_every_id(home: Path, capsys) -> None:
    launch_id = stored(home, [{"params": {"x": i}, "result": i} for i in range(25)])
    (launch,) = runner.status([launch_id], home=home)
    render.created(launch.record, launch.runs)
    hint = re.search(r"\.\.\. and 5 more \((runner status .*)\)", capsys.readouterr().out)
    assert hint is not None
    _, out, _ = cli_out(capsys, *shlex.split(hint.group(1))[1:])
    assert out.split() == [launch_id, *run_ids(home, launch_id)]


def test_live_progress_counts_cancelled_runs_apart() -> None:
    class Bar:
        def __init__(self) -> None:
            self.printed: list[str] = []
            self.console = self  # the first failure's line is printed above the bar

        def print(self, line: str, **_: Any) -> None:
            self.printed.append(line)

        def update(self, task: Any, **fields: Any) -> None:
            self.fields = fields

    watch = render.Watch(quiet=True, as_json=False)
    watch.progress, watch.task, watch.started, watch.total = Bar(), 0, time.monotonic(), 1500
    for i, status in enumerate(["succeeded"] * 1200 + ["failed", "cancelled", "cancelled"]):
        watch.outcome(RunOutcome(f"{i:032x}", RunStatus(status), 0.0, 1.0, error="x"))
    assert watch.progress.fields["counts"] == "1,200 done, 1 failed, 2 cancelled, 297 to go"
    assert watch.progress.printed == [f"run {0:012x} failed: x"]  # the id's first 12


# -- 3. runner status: one line a launch at 80 columns; piped output is 80 columns --------------


def _launches(home: Path) -> list[str]:
    return [
        stored(home, [{"params": {}}], workflow="nap"),
        stored(
            home,
            [
                {"params": {"C": i % 2}, "status": "failed" if i % 3 else "succeeded"}
                for i in range(6)
            ],
            name="pi-convergence-study",
            swept={"params.C": 2},
            repeat=3,
        ),
        stored(
            home,
            [{"params": {"s": i}} for i in range(12)],
            name="a launch with a rather long name indeed",
            swept={"params.samples": 30_000, "params.seed": 10_000},
            repeat=3,
            workflow="digits_py:4027f04d72d0",
        ),
    ]


@pytest.mark.parametrize("width", [None, 60, 80, 100, 200])
def test_status_lists_one_line_a_launch(home: Path, capsys, columns80, monkeypatch, width) -> None:
    if width is not None:
        monkeypatch.setenv("COLUMNS", str(width))
    ids = _launches(home)
    render.status(runner.status(home=home), expand=False)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + len(ids)
    headers = ["launch", "created", "workflow", "name", "runs", "swept", "status"]
    # statuses stay whole at any width: they are what the list is read for
    assert "4 failed, 2 succeeded" in lines[2]
    if (width or 80) >= 80:  # narrower, the name, workflow and sweep give way first
        shown = lines[0].split()
        assert all(h.startswith(s.rstrip("…")) for h, s in zip(headers, shown, strict=True))
    assert lines[0].split()[-1] == "status"
    assert [line[:12] for line in lines[1:]] == [launch_id[:12] for launch_id in reversed(ids)]
    assert max(len(line) for line in lines) <= (width or 80)
    assert all(re.search(r" (\d{4}-)?\d\d-\d\d \d\d:\d\d ", line) for line in lines[1:])
    if width == 200:  # room for everything: nothing is cut
        assert "samples: 30,000, seed: 10,000, repeat 3" in lines[1]
        assert "pi-convergence-study" in lines[2] and "4 failed, 2 succeeded" in lines[2]


def test_piped_output_is_80_columns_unless_columns_says(capsys, columns80, monkeypatch) -> None:
    from rich.table import Table

    table = Table()
    table.add_column("x")
    assert render._console().width == 80
    monkeypatch.setenv("COLUMNS", "132")
    assert render._console().width == 132


# -- 4. runner show: a drawn seed is a number ---------------------------------------------------


@pytest.mark.parametrize(
    ("args", "drawn"),
    [
        pytest.param([], True, id="drawn"),
        pytest.param(["params.a=1,2", "--repeat", "2"], True, id="drawn-sweep"),
        pytest.param(["--seed", "5"], False, id="given"),
    ],
)
def test_show_prints_the_seed_as_a_number(project: Path, home: Path, capsys, args, drawn) -> None:
    code, out, _ = cli_out(capsys, "show", "add", *args, "--config-dir", str(project / "conf"))
    assert code == 0
    definition = yaml.safe_load(out.split("planned runs")[0].rsplit("\n", 2)[0])
    assert isinstance(definition["seed"], int)
    (line,) = [line for line in out.splitlines() if line.startswith("seed:")]
    if drawn:
        assert line == (
            f"seed: {definition['seed']}  # drawn now; a launch draws its own unless --seed is given"
        )
    else:
        assert line == "seed: 5" and definition["seed"] == 5


# -- 5. None is null wherever a person reads it -------------------------------------------------


def test_none_reads_null(home: Path, capsys, columns80) -> None:
    launch_id = stored(
        home,
        [
            {"params": {"C": 1, "max_depth": None, "k": None}, "result": {"acc": 1.0, "d": None}},
            {"params": {"C": 2, "max_depth": None, "k": 3}, "result": {"acc": 0.5, "d": 4}},
            {"params": {"C": 3, "max_depth": None}, "status": "failed", "error": "E: x"},
        ],
    )
    table = api.table(launch_id, home=home)
    assert table.fixed_text() == "max_depth=null"
    cells = [{c.key: table.cell(row, c) for c in table.columns} for row in table.rows]
    assert [row["params.k"] for row in cells] == ["null", "3", ""]  # the third has no k
    assert [row["result.d"] for row in cells] == ["null", "4", ""]  # nor a result
    assert [row["duration"] for row in cells] == ["0.50s"] * 3
    for shown in (display.table_html(table), display.table_text(table)):
        assert "max_depth=null" in shown and "None" not in shown
    _, out, _ = cli_out(capsys, "compare", launch_id[:8])
    assert out.splitlines()[0] == "fixed: max_depth=null"
    assert "None" not in out and out.splitlines()[1].split()[:3] == ["run", "status", "C"]
    assert out.splitlines()[2].split()[3:5] == ["null", "1"]
    _, out, _ = cli_out(capsys, "compare", launch_id[:8], "--format", "markdown")
    assert out.startswith("fixed: max_depth=null\n") and "| null |" in out
    # CSV: an empty cell is None or missing alike, as pandas reads both.
    _, out, _ = cli_out(capsys, "compare", launch_id[:8], "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["params.k"] for row in rows] == ["", "3", ""]
    _, out, _ = cli_out(capsys, "status", run_ids(home, launch_id)[0])
    assert '"max_depth": null' in out and "None" not in out


# -- 6. exact means, counts with separators, whole ids in exports, --where counts, wait ---------


@pytest.mark.parametrize(
    "values",
    [
        pytest.param([0.9276] * 3, id="0.9276x3"),
        pytest.param([0.7] * 3, id="0.7x3"),
        pytest.param([0.9833] * 5, id="0.9833x5"),
        pytest.param([0.1] * 7, id="0.1x7"),
        pytest.param([3] * 2, id="ints"),
        pytest.param([-1e-300] * 4, id="tiny"),
    ],
)
def test_a_mean_of_equal_values_is_exact(values: list[float]) -> None:
    runs = [
        ("l" * 32, f"{i:032x}", i, {"x": 1}, 7, RunStatus.SUCCEEDED, 0.0, 1.0, {"acc": v}, None, i)
        for i, v in enumerate(values)
    ]
    row = points(build(runs, by_point=False)).rows[0]
    assert row.values["result.acc.mean"] == values[0]
    assert row.values["result.acc.std"] == 0.0
    assert render._mean_std(values[0], 0.0, format_value).endswith(" ± 0")


def test_a_mean_of_different_values_is_as_statistics_computes_it() -> None:
    values = [0.9276, 0.9301, 0.9276, 0.95]
    runs = [
        ("l" * 32, f"{i:032x}", i, {"x": 1}, 7, RunStatus.SUCCEEDED, 0.0, 1.0, {"acc": v}, None, i)
        for i, v in enumerate(values)
    ]
    row = points(build(runs, by_point=False), stats=True).rows[0]
    assert row.values["result.acc.mean"] == pytest.approx(statistics.fmean(values), rel=1e-15)
    assert row.values["result.acc.std"] == pytest.approx(statistics.stdev(values), rel=1e-12)
    assert (row.values["result.acc.min"], row.values["result.acc.max"]) == (0.9276, 0.95)


def test_counts_have_thousands_separators(home: Path, capsys, columns80) -> None:
    assert render._counts({"succeeded": 300_000, "failed": 1_234}) == (
        "1,234 failed, 300,000 succeeded"
    )
    assert display.counts_text({"succeeded": 300_000}) == "300,000 succeeded"
    assert "1,234 " in display.counts_html({"failed": 1_234})
    runs = [
        ("l" * 32, f"{i:032x}", i, {"x": i % 2}, 7, RunStatus(s), 0.0, 1.0, 1, None, i // 2)
        for i, s in enumerate(["succeeded"] * 2400 + ["failed"] * 2002 + ["cancelled"] * 1100)
    ]
    table = points(build(runs, by_point=False))
    cells = {c.key: [table.cell(row, c) for row in table.rows] for c in table.columns}
    assert cells["n"] == ["2,751", "2,751"]
    assert cells["failed"] == ["1,001", "1,001"] and cells["cancelled"] == ["550", "550"]
    assert table.rows[0].values["n"] == 2751  # the value itself stays a number
    console = render._console()
    render.results(console, table)
    assert "2 points (5,502 runs)" in capsys.readouterr().out


def test_exports_carry_whole_ids(home: Path, capsys) -> None:
    first = stored(home, [{"params": {"C": c}, "result": c} for c in (1, 2)])
    second = stored(home, [{"params": {"C": c}, "result": c} for c in (3, 4)])
    _, out, _ = cli_out(capsys, "compare", first[:8], "--format", "csv", "--by-run")
    assert [row["run"] for row in csv.DictReader(io.StringIO(out))] == run_ids(home, first)
    _, out, _ = cli_out(capsys, "compare", first[:8], second[:8], "--format", "csv", "--by-run")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["launch"] for row in rows] == [first, first, second, second]
    assert [row["run"] for row in rows] == run_ids(home, first) + run_ids(home, second)
    _, out, _ = cli_out(capsys, "compare", first[:8], second[:8], "--format", "json")
    assert [row["launch"] for row in json.loads(out)["rows"]] == [first, first, second, second]
    _, out, _ = cli_out(capsys, "compare", first[:8], second[:8], "--by-run")
    assert first not in out and first[:8] in out  # a table shows them short


@pytest.mark.parametrize(
    ("where", "said"),
    [
        pytest.param(["C=1"], "1 point (3 of 6 runs match --where)", id="one-point"),
        pytest.param(["C>=1"], "2 points (6 of 6 runs match --where)", id="all"),
        pytest.param(["status=failed"], "1 point (1 of 6 runs match --where)", id="some-runs"),
        pytest.param(["acc.mean>0.6"], "1 point (3 of 6 runs match --where)", id="of-points"),
        pytest.param(["C=5"], "0 points (0 of 6 runs match --where)", id="none"),
        pytest.param([], "2 points (6 runs)", id="no-where"),
    ],
)
def test_where_by_point_says_how_many_runs_matched(home: Path, capsys, columns80, where, said):
    runs = [
        {"params": {"C": 1 + i // 3}, "result": {"acc": 0.9 if i < 3 else 0.5}} for i in range(5)
    ]
    runs.append({"params": {"C": 2}, "status": "failed", "error": "E: x"})
    launch_id = stored(home, runs, repeat=3)
    args = [arg for text in where for arg in ("--where", text)]
    code, out, _ = cli_out(capsys, "compare", launch_id[:8], *args)
    assert code == 0 and said in out.splitlines()[0]


# -- 7. the process that runs a launch --------------------------------------------------------


def test_status_names_the_process_that_runs_a_launch(home: Path, capsys, columns80) -> None:
    me = os.getpid()
    launch_id = stored(
        home,
        [{"params": {"x": 1}, "status": "running"}, {"params": {"x": 2}, "status": "pending"}],
        pid=me,
        pid_start=process_start(me),
    )
    _, out, _ = cli_out(capsys, "status", launch_id[:12])
    assert out.splitlines()[2] == f"  running in pid {me} on {this_host()}" or (
        f"  running in pid {me} on {this_host()}" in out.splitlines()
    )
    _, out, _ = cli_out(capsys, "status", launch_id[:12], "--json")
    (shown,) = json.loads(out)
    assert shown["status"] == "running"
    assert shown["process"] == {"pid": me, "host": this_host()}
    _, out, _ = cli_out(capsys, "status", "--json")  # the listing too
    assert json.loads(out)[0]["process"] == {"pid": me, "host": this_host()}
    Store(home).cancel(launch_id, None, "cancelled (runner cancel)")  # ended: no process
    _, out, _ = cli_out(capsys, "status", launch_id[:12], "--json")
    assert json.loads(out)[0]["process"] is None
    _, out, _ = cli_out(capsys, "status", launch_id[:12])
    assert "running in pid" not in out


def test_an_owner_is_recorded_with_its_host(home: Path) -> None:
    launch_id = stored(home, [{"params": {}}], pid=1, host="elsewhere")
    store = Store(home)
    record = store.launch(launch_id)
    assert record is not None and record.host == "elsewhere"
    store.set_owner(launch_id, os.getpid(), process_start(os.getpid()))
    record = store.launch(launch_id)
    assert record is not None and (record.pid, record.host) == (os.getpid(), this_host())


def test_a_store_of_schema_6_gains_the_hosts_column(tmp_path: Path) -> None:
    home = tmp_path / "old"
    home.mkdir()
    db = sqlite3.connect(home / "runner.db")
    for migration in MIGRATIONS[:6]:
        db.executescript(migration)
    db.execute("PRAGMA user_version = 6")
    db.execute(
        "INSERT INTO launches (id, created, workflow_id, workflow_version, tags, seed, repeat,"
        " labels, annotations, env, launcher, definition, pid, run_count)"
        " VALUES ('ab', 1.0, 'w', '1', '[]', 1, 1, '{}', '{}', '{}', 'local', '{}', 1, 0)"
    )
    db.commit()
    db.close()
    record = Store(home).launch("ab")
    assert record is not None and record.host == ""
    assert record.to_json()["process"] is None


def test_a_workflows_html_writes_a_none_default_as_null(project: Path, home: Path) -> None:
    (typed,) = [w for w in runner.workflows(config_dir=project / "conf") if w.id == "typed"]
    html = typed._repr_html_()
    assert "<td>items</td><td>array | null</td><td>null</td>" in html and "None" not in html
    assert "<td>count</td><td>integer</td><td>2</td>" in html


def test_the_tui_forms_run_count_has_separators() -> None:
    from types import SimpleNamespace

    from runner.tui.form_values import summary

    preview = SimpleNamespace(specs=range(300_000), definition={"repeat": 3}, search=None)
    assert summary(preview) == "100,000 points x 3 repeats = 300,000 runs"
