"""Reads that page and stream (issue 14), and big results kept by reference in a file."""

from __future__ import annotations

import json
import sqlite3
import time
import tracemalloc
from pathlib import Path

import numpy
import pytest

import runner
from runner import api, render, result_files
from runner.errors import StoreError
from runner.store import Store
from tests.conftest import launch_record

BIG = """\
\"\"\"Workflows with big results, for tests/test_reads.py.\"\"\"
import threading


def floats(n: int = 131072) -> list:
    return [i / 3 for i in range(n)]


def array(n: int = 20000):
    import numpy

    return numpy.arange(n, dtype="float64") / 7


def mixed(n: int = 20000) -> dict:
    import numpy

    return {"loss": n / 1e5, "weights": numpy.arange(n, dtype="float64"), "name": "m"}


def small(n: int = 3) -> dict:
    return {"values": [1.5] * n}


def unpicklable(n: int = 20000) -> dict:
    return {"data": [0.5] * n, "lock": threading.Lock()}


def chatty(n: int = 0) -> int:
    if n % 2:
        print(f"n is {n}")
    return n
"""
WORKFLOWS = ("floats", "array", "mixed", "small", "unpicklable", "chatty")


@pytest.fixture
def big(project: Path, home: Path) -> Path:
    """The test project plus workflows returning big results; the conf dir."""
    # A top-level module of its own: `mypkg` may already be imported, from another test's
    # copy of the project, where this module is not.
    (project / "reads_big.py").write_text(BIG)
    for name in WORKFLOWS:
        (project / "conf" / "workflow" / f"big_{name}.yaml").write_text(
            f'id: big_{name}\nversion: "1"\ndescription: {name}\nentrypoint: reads_big:{name}\n'
        )
    return project / "conf"


def _launch(conf: Path, name: str, *overrides: str, **options):
    return runner.launch(
        f"big_{name}",
        ["launcher=sequential", *overrides],
        config_dir=conf,
        progress=False,
        **options,
    )


def _row(home: Path, run_id: str) -> tuple[str | None, str | None]:
    with sqlite3.connect(home / "runner.db") as db:
        return db.execute("SELECT result, result_ref FROM runs WHERE id=?", (run_id,)).fetchone()


def test_a_big_list_of_floats_is_kept_in_a_file_and_read_back_equal(big, home, cli) -> None:
    launch = _launch(big, "floats")
    (run,) = launch.runs
    stored, ref = _row(home, run.id)
    assert ref == f"runs/{run.id}/result.pickle" and (home / ref).is_file()
    assert json.loads(stored) == "list of 131,072 floats (1.1 MB)"  # the summary, not the list
    expected = [i / 3 for i in range(131072)]
    assert runner.get(run.id).results == [expected]  # the API reads the file when asked
    assert run.result_file == str(home / ref)
    shown = cli("status", run.id, "--json")  # a run's own JSON: its whole result
    assert shown.code == 0 and json.loads(shown.out)[0]["runs"][0]["result"] == expected
    human = cli("status", run.id, env={"COLUMNS": "400"})
    assert "list of 131,072 floats (1.1 MB)" in human.out and f"{home / ref}" in human.out
    table = api.table(launch.id, home=home)
    assert table.rows[0].values["result"] == "list of 131,072 floats (1.1 MB)"


def test_a_result_file_gone_is_named_and_the_rest_still_shows(big, home, cli) -> None:
    launch = _launch(big, "array")
    path = home / "runs" / launch.id / "result.pickle"
    path.unlink()
    with pytest.raises(runner.RunnerError, match=f"the result file {path} is missing"):
        _ = runner.get(launch.id).runs[0].result
    shown = cli("status", launch.id, "--json")
    assert shown.code == 0
    (run,) = json.loads(shown.out)[0]["runs"]
    assert run["result"] == "array float64 (20000,) (156.4 kB)"
    assert run["result_error"].startswith(f"the result file {path} is missing")


def test_a_numpy_array_comes_back_an_array(big, home) -> None:
    launch = _launch(big, "array")
    run = runner.get(launch.id).runs[0]
    assert run.result_ref and isinstance(run.result, numpy.ndarray)
    numpy.testing.assert_array_equal(run.result, numpy.arange(20000, dtype="float64") / 7)
    assert run.shown_result == "array float64 (20000,) (156.4 kB)"


def test_a_dict_keeps_its_small_values_in_the_table(big, home) -> None:
    launch = _launch(big, "mixed", "params.n=20000,30000")
    table = api.table(launch, by_point=False)
    assert [row.values["result.loss"] for row in table.rows] == [0.2, 0.3]
    assert [row.values["result.weights"] for row in table.rows] == [
        "array float64 (20000,)",
        "array float64 (30000,)",
    ]
    assert table.column("loss").kind == "number"
    weights = runner.get(launch.runs[1].id).result["weights"]
    numpy.testing.assert_array_equal(weights, numpy.arange(30000, dtype="float64"))


def test_a_small_result_stays_in_the_store(big, home) -> None:
    launch = _launch(big, "small")
    stored, ref = _row(home, launch.id)
    assert ref is None and json.loads(stored) == {"values": [1.5, 1.5, 1.5]}
    assert not (home / "runs" / launch.id).exists()  # no folder made for it


def test_a_big_result_that_cannot_be_pickled_stays_json_and_says_why(big, home, cli) -> None:
    launch = _launch(big, "unpicklable")
    stored, ref = _row(home, launch.id)
    assert ref is None
    result = json.loads(stored)
    assert result["data"] == [0.5] * 20000 and result["lock"].startswith("<unlocked _thread.lock")
    log = cli("logs", launch.id)
    assert log.code == 0
    assert "could not be pickled (TypeError: cannot pickle '_thread.lock' object)" in log.out
    assert "kept as JSON in the store" in log.out


def test_a_cached_run_shares_the_file_of_the_run_it_reuses(big, home) -> None:
    first = _launch(big, "floats", "params.n=20000", seed=1, cache=True)
    again = _launch(big, "floats", "params.n=20000", seed=1, cache=True)
    run = again.runs[0]
    assert run.status.value == "cached" and run.cached_from == first.id
    assert _row(home, again.id)[1] == _row(home, first.id)[1]
    assert runner.get(again.id).results == [[i / 3 for i in range(20000)]]


def test_reads_of_a_launch_with_big_results_open_no_result_file(big, home, monkeypatch, capsys):
    launch = _launch(big, "mixed", "params.n=20000,30000", repeat=2)

    def refuse(*args: object) -> None:
        raise AssertionError("a read decoded a result file it does not show")

    monkeypatch.setattr(result_files, "load", refuse)
    found = api.status([launch.id], home=home)
    render.status_ids(found, expand=True)
    assert capsys.readouterr().out.split() == [launch.id, *(r.id for r in launch.runs)]
    render.status_json(found, expand=True)
    shown = json.loads(capsys.readouterr().out)[0]["runs"]
    assert shown[0]["result"]["weights"] == "array float64 (20000,)"
    assert shown[0]["result_file"] == str(home / "runs" / launch.runs[0].id / "result.pickle")
    render.status(found, expand=True)
    assert "loss" in capsys.readouterr().out
    api.table(launch.id, home=home, by_point=False).to_json()
    list(runner.runs(launch=launch.id, home=home))


# -- a big launch, synthesized straight into SQLite --------------------------------------------


def synthesize(home: Path, runs: int, *, repeat: int = 1, failed: int | None = None) -> str:
    """A finished launch of `runs` runs sweeping params.x, written straight into the store
    (fast SQL); every 100th run's result is 'in a file' that does not exist, so a read that
    opens one fails; run `failed` failed. Returns the launch id."""
    store = Store(home)
    launch_id = f"{runs:08x}".rjust(32, "a")
    now = time.time()
    definition = {"launcher": {"name": "sequential"}, "seed": 1, "swept": {"params.x": runs}}
    store.record_launch(
        launch_record(
            id=launch_id,
            created=now,
            workflow_id="add",
            repeat=repeat,
            launcher="sequential",
            definition=definition,
            pid=1,
            run_count=runs,
        ),
        [],
    )
    rows = (
        (
            f"{i:032x}",
            launch_id,
            launch_id,
            i,
            "add",
            "1.0",
            f'{{"x": {i // repeat}, "b": 1}}',
            i % repeat,
            "failed" if i == failed else "succeeded",
            now,
            now,
            now + 0.001,
            json.dumps("list of 9 floats" if i % 100 == 0 else i * 2),
            f"runs/{i:032x}/result.pickle" if i % 100 == 0 else None,
        )
        for i in range(runs)
    )
    with store._transaction() as db:
        db.executemany(
            "INSERT INTO runs (id, launch_id, parent_id, idx, workflow_id, workflow_version,"
            " params, seed, status, created, started, ended, result, result_ref)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    store.close()
    return launch_id


class _Null:
    """stdout that keeps only how much it was given, and its first line."""

    def __init__(self) -> None:
        self.size = 0
        self.head = ""

    def write(self, text: str) -> int:
        if not self.head:
            self.head = text.split("\n", 1)[0]
        self.size += len(text)
        return len(text)

    def isatty(self) -> bool:
        return False

    def flush(self) -> None:
        pass


def _peak(call) -> int:
    """Bytes allocated at most (tracemalloc) while `call` runs, above where it started."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        call()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_reads_of_200000_runs_hold_a_page_not_the_launch(home, monkeypatch) -> None:
    launch_id = synthesize(home, 200_000)
    out = _Null()
    monkeypatch.setattr("sys.stdout", out)

    def ids() -> None:
        render.status_ids(api.status([launch_id], home=home), expand=True)

    assert _peak(ids) < 3_000_000  # the launch's ids alone, held at once, would be ~16 MB
    assert out.head == launch_id and out.size == 33 * 200_001

    found = api.status([launch_id], home=home)
    assert found[0].record.counts == {"succeeded": 200_000}
    assert _peak(lambda: render.status(found, expand=True)) < 3_000_000


@pytest.mark.slow
def test_json_of_a_launch_is_streamed(home, monkeypatch) -> None:
    launch_id = synthesize(home, 20_000)
    out = _Null()
    monkeypatch.setattr("sys.stdout", out)
    found = api.status([launch_id], home=home)
    # The runs' JSON is ~8 MB: written a page at a time, never held whole.
    assert _peak(lambda: render.status_json(found, expand=True)) < 3_000_000
    assert out.size > 20_000 * 400


def test_status_json_reads_as_it_did(home, capsys) -> None:
    launch_id = synthesize(home, 3)
    (launch,) = api.status([launch_id], home=home)
    render.status_json([launch], expand=True)
    streamed = capsys.readouterr().out
    render.as_json([launch.to_json()])
    assert json.loads(streamed) == json.loads(capsys.readouterr().out)
    (uncounted,) = api.status([launch_id], home=home, counts=False)
    assert uncounted.record.counts == {}
    render.status_json([uncounted], expand=True)  # counted after its runs are written
    assert json.loads(capsys.readouterr().out) == json.loads(streamed)
    render.status_json([launch], expand=False)
    listing = capsys.readouterr().out
    render.as_json([launch.to_json(runs=False)])
    assert listing == capsys.readouterr().out
    render.status_json([], expand=False)
    assert capsys.readouterr().out == "[]\n"


def test_a_big_launch_shows_its_first_page_and_its_counts(home, capsys) -> None:
    launch_id = synthesize(home, render.WHOLE_RUNS + 1)
    render.status(api.status([launch_id], home=home), expand=True)
    out = capsys.readouterr().out
    assert f"the first 50 of {render.WHOLE_RUNS + 1:,} runs" in out
    assert f"succeeded; runs: {render.WHOLE_RUNS + 1:,} succeeded" in out
    assert "fixed: b=1" in out
    lines = [line for line in out.splitlines() if line.startswith("000")]
    assert len(lines) == 50  # one row per run of the first page, x varying
    table = api.table(launch_id, home=home, first=3)
    assert [row.values["params.x"] for row in table.rows] == [0, 1, 2]


def test_the_report_after_a_big_launch_finds_its_failures_past_the_first_page(home, capsys) -> None:
    launch_id = synthesize(home, render.WHOLE_RUNS + 1, failed=1500)
    (launch,) = api.status([launch_id], home=home)
    render.summary(launch)
    out = capsys.readouterr().out
    assert "the first 50 of 2,001 runs" in out
    assert "failed runs (the first 20):" in out and f"{1500:032x}"[:8] in out
    assert "1 failed, 2,000 succeeded" in out


def test_a_big_launch_by_point_shows_whole_points(home, capsys) -> None:
    launch_id = synthesize(home, 3000, repeat=3)
    render.status(api.status([launch_id], home=home), expand=True)
    out = capsys.readouterr().out
    assert "50 points (150 runs)" in out and "the first 150 of 3,000 runs" in out


def test_compare_refuses_more_runs_than_it_reads_at_once(home, cli, monkeypatch) -> None:
    launch_id = synthesize(home, 10)
    monkeypatch.setattr("runner.cli.COMPARE_RUNS", 5)
    from click.testing import CliRunner

    from runner.cli import cli as command

    done = CliRunner().invoke(command, ["compare", launch_id[:12]])
    assert "runner compare reads every run of what it compares: 10 runs" in str(done.exception)
    assert f"runner status {launch_id[:12]} --json streams every run" in str(done.exception)


def test_logs_of_a_launch_stream_each_run_that_printed(big, home, cli) -> None:
    launch = _launch(big, "chatty", "params.n=1,2,3")
    first, _, third = (run.id for run in launch.runs)
    shown = cli("logs", launch.id)
    assert shown.code == 0
    assert shown.out == (
        f"==> run {first} (succeeded) <==\nn is 1\n\n==> run {third} (succeeded) <==\nn is 3\n"
    )


def test_logs_of_a_launch_where_nothing_printed(cli, home) -> None:
    launch_id = synthesize(home, 3)
    shown = cli("logs", launch_id)
    assert (shown.code, shown.out) == (0, "")
    assert shown.err == f"launch {launch_id}: none of its 3 runs printed anything\n"


def test_status_of_a_big_launch_counts_it_while_its_first_page_shows(home, capsys) -> None:
    launch_id = synthesize(home, 3000, failed=7)
    with sqlite3.connect(home / "runner.db") as db:
        db.execute("UPDATE runs SET status='pending' WHERE launch_id=? AND idx>=2000", (launch_id,))
    Store(home).cancel(launch_id, None, "cancelled by user")  # as from another process
    found = api.status([launch_id], home=home, counts=False)
    render.status(found, expand=True)
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "failed; runs: 1,000 cancelled, 1 failed, 1,999 succeeded"
    assert any(line.startswith("... the first 50 of 3,000 runs") for line in out)


def test_counting_in_a_thread_raises_what_counting_raised(home, monkeypatch) -> None:
    (launch,) = api.status([synthesize(home, 3)], home=home, counts=False)

    def damaged(self, launches) -> None:
        raise StoreError("cannot read the run store")

    monkeypatch.setattr(Store, "fill_counts", damaged)
    counted = launch.counting()
    with pytest.raises(StoreError, match="cannot read"):
        counted()
