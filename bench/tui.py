"""TUI benchmark: a store of 100,000 runs in 100 launches and a project of 200 workflows.

Times, with Textual's Pilot (headless, the app's own event loop and threads): start to
interactive (workflows listed and launches shown), selecting the 10,000-run launch to its
first rows, the next page of rows, and the CPU the live refresh costs while idle.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

RUNS = 100_000
LAUNCHES = 100
BIG = 10_000  # the runs of the launch that is selected
WORKFLOWS = 200
IDLE_SECONDS = 10.0
TARGETS = {  # seconds, or share of one core
    "start to interactive": 1.5,
    "10,000-run launch: first rows": 0.5,
    "idle refresh CPU": 0.05,
}


def make_project(root: Path) -> Path:
    conf = root / "conf" / "workflow"
    conf.mkdir(parents=True)
    for i in range(WORKFLOWS):
        (conf / f"w{i:03d}.yaml").write_text(
            f"id: w{i:03d}\nversion: '1.0'\ndescription: Workflow number {i}.\n"
            "entrypoint: runner.demos:count_primes\nparams: {below: 100}\n"
        )
    return root / "conf"


def make_store(home: Path) -> tuple[str, set[str]]:
    """100 finished launches of the pi workflow; the newest holds BIG runs. Returns its id
    and its runs' ids."""
    from runner.plan import new_id
    from runner.records import LaunchRecord, RunOutcome, RunSpec, RunStatus
    from runner.store import Store

    store = Store(home)
    sizes = [BIG] + [(RUNS - BIG) // (LAUNCHES - 1)] * (LAUNCHES - 1)
    now = time.time()
    big, big_ids = "", set()
    for n, size in enumerate(reversed(sizes)):
        launch_id = new_id()
        created = now - (LAUNCHES - n) * 60
        specs = [
            RunSpec(
                id=new_id(),
                index=i,
                workflow_id="pi",
                workflow_version="2.0",
                entrypoint="runner.demos:estimate_pi",
                params={"samples": 1000 * (1 + i % 10)},
                seed=i // 10,
                repeat_index=i // 10,
            )
            for i in range(size)
        ]
        record = LaunchRecord(
            id=launch_id,
            created=created,
            workflow_id="pi",
            workflow_version="2.0",
            name=f"launch {n}",
            tags=["bench"],
            notes=None,
            seed=1,
            repeat=size // 10,
            labels={},
            annotations={},
            env={},
            launcher="local",
            addr=None,
            definition={"params": {"samples": 1000}, "repeat": size // 10},
            pid=0,
            run_count=size,
        )
        store.record_launch(record, specs)
        store.record_outcomes(
            RunOutcome(
                run_id=spec.id,
                status=RunStatus.SUCCEEDED,
                started=created,
                ended=created + 0.01,
                result_json=json.dumps({"pi": 3.14 + i * 1e-6, "error": 1e-3}),
            )
            for i, spec in enumerate(specs)
        )
        if size == BIG:
            big, big_ids = launch_id, {spec.id for spec in specs}
    return big, big_ids


async def measure(config_dir: Path, home: Path, big: str, big_ids: set[str]) -> dict[str, float]:
    from textual.widgets import DataTable, OptionList

    from runner.tui import make_app

    figures: dict[str, float] = {}
    started = time.perf_counter()
    app = make_app(config_dir=config_dir, home=home)
    async with app.run_test(size=(120, 40)) as pilot:

        async def until(condition) -> float:
            while not condition():
                await pilot.pause(0.005)
            return time.perf_counter()

        listing = lambda: app.screen.query_one("#wf-list", OptionList)  # noqa: E731
        launches = lambda: app.screen.query_one("#launch-table", DataTable)  # noqa: E731
        runs = lambda: app.screen.query_one("#run-table", DataTable)  # noqa: E731
        ready = await until(lambda: listing().option_count >= WORKFLOWS and launches().row_count)
        figures["start to interactive"] = ready - started

        await pilot.press("2")
        pane = app.screen.query_one("LaunchesPane")
        other = app.screen.query_one("#launch-table", DataTable).get_row_at(5)[0]
        pane.select_launch(next(r.id for r in pane.records if r.id.startswith(str(other))))  # type: ignore[attr-defined]
        await until(lambda: runs().row_count > 0 and pane.launch_id != big)  # type: ignore[attr-defined]
        await pilot.pause(0.5)
        asked = time.perf_counter()
        pane.select_launch(big)  # type: ignore[attr-defined]
        shown = await until(
            lambda: pane.launch_id == big and bool(pane.rows) and pane.rows[0].run_id in big_ids  # type: ignore[attr-defined]
        )
        figures["10,000-run launch: first rows"] = shown - asked

        first_page = runs().row_count
        runs().focus()
        asked = time.perf_counter()
        runs().move_cursor(row=first_page - 1)
        await until(lambda: runs().row_count > first_page)
        figures["the next page of rows"] = time.perf_counter() - asked

        await pilot.pause(1.0)
        cpu, wall = time.process_time(), time.perf_counter()
        await pilot.pause(IDLE_SECONDS)
        figures["idle refresh CPU"] = (time.process_time() - cpu) / (time.perf_counter() - wall)
    return figures


def run(quick: bool = False) -> str:
    repeat = 1 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config_dir = make_project(root / "project")
        home = root / "home"
        built = time.perf_counter()
        big, big_ids = make_store(home)
        build = time.perf_counter() - built
        os.chdir(root)
        samples: dict[str, list[float]] = {}
        for _ in range(repeat):
            for name, value in asyncio.run(measure(config_dir, home, big, big_ids)).items():
                samples.setdefault(name, []).append(value)
    lines = [
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python"
        f" {platform.python_version()}; store of {RUNS:,} runs in {LAUNCHES} launches (built in"
        f" {build:.1f} s), {WORKFLOWS} workflows; {repeat} repetition(s), medians.",
        "",
        "| measure | median | target | |",
        "|---|---:|---:|---|",
    ]
    for name, values in samples.items():
        value = statistics.median(values)
        target = TARGETS.get(name)
        shown = f"{value:.1%} of a core" if "CPU" in name else f"{value:.3f} s"
        goal = "" if target is None else (f"{target:.0%}" if "CPU" in name else f"{target} s")
        verdict = "" if target is None else ("PASS" if value <= target else "MISS")
        lines.append(f"| {name} | {shown} | {goal} | {verdict} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one repetition")
    print(run(parser.parse_args().quick))


if __name__ == "__main__":
    sys.exit(main())
