"""TUI metrics benchmark: charts of big series and metric columns of a big launch.

A store holding one run that logged 100,000 points of `loss`, a launch of 50 runs that
logged 10,000 points each (lr swept), and a launch of 10,000 runs that logged 3 metrics
each, written as a launch writes them (Store.record_points, packed arrays of 8,192 points).

Times, in-process: reading the 100,000 points (runner.metric_series), cutting them to an
80-column chart (min and max per column: runner.tui.charts.envelope), and what drawing
them costs with plotext as they are, with plotext once cut, and with Textual's Sparkline
(which buckets by index and shows each bucket's max, with no axes). Then, with Textual's
Pilot at 80x24: opening the run's detail to its chart drawn, opening the 50-run launch's
curves to its chart drawn, and selecting the 10,000-run launch to its first rows, then to
their metric columns (the rows are shown first, the summaries read after them).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

POINTS = 100_000  # the big run's
CURVES_RUNS, CURVES_POINTS = 50, 10_000  # the launch drawn as curves
TABLE_RUNS, TABLE_KEYS = 10_000, ("acc", "loss", "lr_now")  # the launch shown as a table
CHUNK = 8192  # points a worker sends at most at a time (runner.metrics.SEND_SIZE)
WIDTH = 80
TARGETS = {  # seconds
    "run detail: open to its 100,000-point chart drawn": 1.0,
    "launch curves: open to 50 runs x 10,000 points drawn": 1.0,
    "10,000-run launch with 3 metrics: first rows": 0.5,
    "10,000-run launch with 3 metrics: their metric columns": 1.0,
}


def _launch(
    store: Any, runs: int, params: Callable[[int], dict[str, Any]]
) -> tuple[str, list[str]]:
    from runner.plan import new_id
    from runner.records import LaunchRecord, RunOutcome, RunSpec, RunStatus

    launch_id = new_id()
    specs = [
        RunSpec(
            id=launch_id if runs == 1 else new_id(),
            index=i,
            workflow_id="train",
            workflow_version="1.0",
            entrypoint="flows:train",
            params=params(i),
            seed=1,
            repeat_index=0,
        )
        for i in range(runs)
    ]
    now = time.time()
    store.record_launch(
        LaunchRecord(
            id=launch_id,
            created=now,
            workflow_id="train",
            workflow_version="1.0",
            name=None,
            tags=[],
            notes=None,
            seed=1,
            repeat=1,
            labels={},
            annotations={},
            env={},
            launcher="local",
            addr=None,
            definition={},
            pid=0,
            run_count=runs,
        ),
        specs,
    )
    store.record_outcomes(
        RunOutcome(s.id, RunStatus.SUCCEEDED, now, now + 60, result_json="1") for s in specs
    )
    return launch_id, [s.id for s in specs]


def _points(store: Any, run_ids: list[str], keys: tuple[str, ...], count: int) -> None:
    """`count` points of each key for each run, sent as a worker sends them."""
    series: dict[tuple[str, str], list[Any]] = {}
    sent = []
    for n, run_id in enumerate(run_ids):
        for seq, start in enumerate(range(0, count, CHUNK)):
            steps = array("q", range(start, min(start + CHUNK, count)))
            chunks = []
            for k, key in enumerate(keys):
                values = array(
                    "d",
                    (
                        math.exp(-s / (count / 3)) * (1 + n / 20 + k) + 0.05 * math.sin(s / 7 + n)
                        for s in steps
                    ),
                )
                times = array("d", [time.time()]) * len(steps)
                chunks.append((key, steps.tobytes(), values.tobytes(), times.tobytes()))
            sent.append((run_id, 1.0, seq, chunks))
        if len(sent) >= 500:
            store.record_points(sent, series)
            sent = []
    if sent:
        store.record_points(sent, series)


def make_store(home: Path) -> dict[str, Any]:
    from runner.store import Store

    store = Store(home)
    table, table_runs = _launch(store, TABLE_RUNS, lambda i: {"lr": 0.01 * (1 + i % 10)})
    first = table_runs[0]
    _points(store, table_runs, TABLE_KEYS, 20)
    curves, curves_runs = _launch(store, CURVES_RUNS, lambda i: {"lr": 0.01 * (1 + i % 5)})
    _points(store, curves_runs, ("loss",), CURVES_POINTS)
    big, _ = _launch(store, 1, lambda i: {"lr": 0.1})
    _points(store, [big], ("loss",), POINTS)
    store.close()
    return {"big": big, "curves": curves, "table": table, "table_first": first}


def in_process(home: Path, ids: dict[str, Any]) -> dict[str, float]:
    from rich.console import Console
    from textual.renderables.sparkline import Sparkline
    from textual_plotext.plot import Plot

    import runner
    from runner.tui.charts import envelope

    figures: dict[str, float] = {}
    started = time.perf_counter()
    (series,) = runner.metric_series(ids["big"], home=home)
    figures["runner.metric_series: 100,000 points read"] = time.perf_counter() - started

    started = time.perf_counter()
    xs, ys = envelope(series.steps, series.values, WIDTH)
    figures["envelope: 100,000 points to 80 columns"] = time.perf_counter() - started

    def plotext(x: Any, y: Any) -> float:
        plot = Plot()
        plot.plotsize(WIDTH, 20)
        begun = time.perf_counter()
        plot.plot(x, y, marker="braille")
        plot.build()
        return time.perf_counter() - begun

    figures["plotext: 100,000 points drawn as they are"] = plotext(
        list(series.steps), list(series.values)
    )
    figures[f"plotext: the {len(xs)} points of the envelope drawn"] = plotext(xs, ys)

    console = Console(width=WIDTH, file=open(os.devnull, "w"), color_system="truecolor")  # noqa: SIM115
    begun = time.perf_counter()
    console.print(Sparkline(series.values, width=WIDTH, height=20))
    figures["Sparkline: 100,000 points (max a bucket, no axes)"] = time.perf_counter() - begun

    started = time.perf_counter()
    found = runner.metric_summaries(ids["table"], home=home)
    assert len(found) == TABLE_RUNS * len(TABLE_KEYS)
    figures["runner.metric_summaries: 10,000 runs x 3 metrics"] = time.perf_counter() - started
    return figures


async def with_pilot(home: Path, ids: dict[str, Any]) -> dict[str, float]:
    from textual.widgets import DataTable

    from runner.tui import make_app
    from runner.tui.charts import Chart
    from runner.tui.launch_curves import LaunchCurvesScreen
    from runner.tui.run_detail import RunScreen

    figures: dict[str, float] = {}
    app = make_app(home=home)
    async with app.run_test(size=(WIDTH, 24)) as pilot:

        async def until(condition: Callable[[], bool]) -> float:
            while not condition():
                await pilot.pause(0.005)
            return time.perf_counter()

        def drawn() -> bool:
            charts = list(app.screen.query(Chart).results(Chart))
            return bool(charts) and all(c.sources and c.drawn for c in charts)

        await pilot.pause(0.5)
        asked = time.perf_counter()
        app.push_screen(RunScreen(ids["big"]))
        figures["run detail: open to its 100,000-point chart drawn"] = await until(drawn) - asked
        app.pop_screen()
        await pilot.pause(0.3)

        asked = time.perf_counter()
        app.push_screen(LaunchCurvesScreen(ids["curves"]))
        done = await until(
            lambda: drawn() and len(app.screen.query_one(Chart).sources) == CURVES_RUNS
        )
        figures["launch curves: open to 50 runs x 10,000 points drawn"] = done - asked
        app.pop_screen()
        await pilot.pause(0.3)

        await pilot.press("2")
        pane: Any = app.screen.query_one("LaunchesPane")
        runs = app.screen.query_one("#run-table", DataTable)
        await pilot.pause(0.5)
        asked = time.perf_counter()
        pane.select_launch(ids["table"])
        done = await until(lambda: bool(pane.rows) and pane.rows[0].run_id == ids["table_first"])
        figures["10,000-run launch with 3 metrics: first rows"] = done - asked
        done = await until(lambda: runs.row_count > 0 and any(c.metric for c in pane.columns))
        figures["10,000-run launch with 3 metrics: their metric columns"] = done - asked
    return figures


def run(repeat: int) -> str:
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        built = time.perf_counter()
        ids = make_store(home)
        build = time.perf_counter() - built
        os.chdir(tmp)
        for _ in range(repeat):
            for name, value in in_process(home, ids).items():
                samples.setdefault(name, []).append(value)
            for name, value in asyncio.run(with_pilot(home, ids)).items():
                samples.setdefault(name, []).append(value)
    lines = [
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python"
        f" {platform.python_version()}; store built in {build:.1f} s; {repeat} repetition(s),"
        " medians; charts 80 columns wide.",
        "",
        "| measure | median | target | |",
        "|---|---:|---:|---|",
    ]
    for name, values in samples.items():
        value = statistics.median(values)
        target = TARGETS.get(name)
        goal = "" if target is None else f"{target} s"
        verdict = "" if target is None else ("PASS" if value <= target else "MISS")
        lines.append(f"| {name} | {value:.3f} s | {goal} | {verdict} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (medians)")
    print(run(parser.parse_args().repeat))


if __name__ == "__main__":
    sys.exit(main())
