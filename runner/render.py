"""How the CLI shows things: rich tables for people, ids for scripts, pretty JSON for both."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from rich.console import Console

    from runner.api import Entities, Launch, Preview
    from runner.records import LaunchRecord, RunRecord, RunSpec

SHOWN_IDS = 20  # run ids printed on creation before "... and N more"
SHOWN_ROWS = 50  # table rows before "... N more; runner status ID --json for all"
SUMMARY_ROWS = 20  # after a launch: every run up to this many, else only the failed ones


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def snippet(launch: Launch) -> None:
    """Python that loads this launch and its results through the public API (--dump-snippet)."""
    from runner.store import default_home

    home = str(default_home().resolve())
    print(
        "import runner\n"
        f"(launch,) = runner.status([{launch.id!r}], home={home!r})\n"
        "for run in launch.runs:\n"
        "    print(run.id, run.status.value, run.params, run.result)",
        file=sys.stderr,
    )


def as_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def ids(record: LaunchRecord, specs: list[RunSpec]) -> None:
    lines = ([record.id] if record.has_parent else []) + [spec.id for spec in specs]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def created(record: LaunchRecord, specs: list[RunSpec]) -> None:
    what = f"{record.workflow_id}:{record.workflow_version}"
    if record.has_parent:
        print(f"launch {record.id}: {len(specs)} runs of {what} (seed {record.seed})")
        for spec in specs[:SHOWN_IDS]:
            print(f"  run {spec.id}")
        if len(specs) > SHOWN_IDS:
            print(f"  ... and {len(specs) - SHOWN_IDS} more (runner status {record.id[:12]})")
    else:
        print(f"run {specs[0].id}: {what} (seed {specs[0].seed})")
    sys.stdout.flush()


def summary(launch: Launch) -> None:
    console = _console()
    runs = launch.runs
    if len(runs) == 1:
        _run_detail(console, runs[0])
        return
    if len(runs) <= SUMMARY_ROWS:
        console.print(_runs_table(runs))
    else:
        failed = [run for run in runs if not run.status.ok]
        if failed:
            console.print(_runs_table(failed[:SUMMARY_ROWS]))
            _more(console, len(failed), f"runner status {launch.id[:12]}", shown=SUMMARY_ROWS)
    total = sum(r.duration or 0.0 for r in runs)
    console.print(
        f"{_counts(launch.record.counts)}; {total:.2f}s of run time"
        f" (runner status {launch.id[:12]} for every run)"
    )


def preview(p: Preview) -> None:
    console = _console()
    definition = dict(p.definition)
    if p.seed_drawn:
        definition["seed"] = f"{p.seed}  # drawn now; a launch draws its own unless --seed is given"
    sys.stdout.write(yaml.safe_dump(definition, sort_keys=False, default_flow_style=False))
    if len(p.specs) > 1:
        from rich.table import Table

        table = Table(title=f"{len(p.specs)} planned runs", title_justify="left")
        for column in ("#", "params", "repeat", "seed"):
            table.add_column(column)
        for spec in p.specs[:SHOWN_ROWS]:
            table.add_row(
                str(spec.index), _compact(spec.params), str(spec.repeat_index), str(spec.seed)
            )
        console.print(table)
        _more(console, len(p.specs), "runner show ... --json")


def entities(found: Entities, *, registered: bool = False) -> None:
    from rich.table import Table

    console = _console()
    table = Table(title="workflows", title_justify="left")
    for column in ("id", "kind", "latest", "versions", "description"):
        table.add_column(column)
    for wf in found.workflows:
        versions = ", ".join(wf["versions"] + (wf.get("registered", []) if registered else []))
        table.add_row(wf["id"], wf["kind"], wf["latest"], versions, wf["description"])
    console.print(table)
    if found.presets:
        presets = Table(
            title="saved run definitions (runner NAME or +run=NAME)", title_justify="left"
        )
        for column in ("name", "workflow", "description"):
            presets.add_column(column)
        for preset in found.presets:
            presets.add_row(preset["name"], preset["workflow"] or "", preset["description"])
        console.print(presets)
    for option, problem in found.broken.items():
        console.print(f"[red]broken declaration[/red] workflow/{option}: {problem}")


def status(found: list[Any], *, expand: bool) -> None:
    from rich.table import Table

    from runner.api import Launch

    console = _console()
    if not found:
        console.print("no launches recorded yet")
        return
    if not expand:
        table = Table()
        for column in ("launch", "created", "workflow", "name", "runs", "status"):
            table.add_column(column)
        for item in found:
            record = item.record
            table.add_row(
                record.id[:12],
                _when(record.created),
                f"{record.workflow_id}:{record.workflow_version}",
                record.name or "",
                str(record.run_count),
                _counts(record.counts),
            )
        console.print(table)
        return
    for item in found:
        if isinstance(item, Launch):
            record = item.record
            console.print(
                f"launch {record.id}  {record.workflow_id}:{record.workflow_version}  "
                f"{record.status}  created {_when(record.created)}  seed {record.seed}"
            )
            for key in ("name", "notes"):
                if getattr(record, key):
                    console.print(f"  {key}: {getattr(record, key)}")
            if record.tags:
                console.print(f"  tags: {', '.join(record.tags)}")
            for key in ("labels", "annotations", "env"):
                if getattr(record, key):
                    console.print(f"  {key}: {_compact(getattr(record, key))}")
            if len(item.runs) == 1:
                _run_detail(console, item.runs[0])
            else:
                console.print(_runs_table(item.runs))
                _more(console, len(item.runs), f"runner status {record.id[:12]} --json")
        else:
            _run_detail(console, item)


def status_ids(found: list[Any], *, expand: bool) -> None:
    from runner.api import Launch

    lines: list[str] = []
    for item in found:
        if isinstance(item, Launch):
            lines.append(item.record.id)
            if expand and item.record.has_parent:
                lines.extend(run.id for run in item.runs)
        else:
            lines.append(item.id)
    sys.stdout.write("".join(line + "\n" for line in lines))


def _run_detail(console: Console, run: RunRecord) -> None:
    rows = [
        ("run", run.id),
        ("parent", run.parent_id or "-"),
        ("workflow", f"{run.workflow_id}:{run.workflow_version}"),
        ("params", _compact(run.params)),
        ("seed", str(run.seed)),
        ("status", run.status.value),
        ("duration", f"{run.duration:.3f}s" if run.duration is not None else "-"),
        ("result", _compact(run.result)),
    ]
    if run.error:
        rows.append(("error", run.error))
    if run.cached_from:
        rows.append(("cached from", run.cached_from))
    if run.attempts > 1:
        rows.append(("attempts", str(run.attempts)))
    if run.run_dir:
        rows.append(("folder", run.run_dir))
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        console.print(f"{key:<{width}}  {value}", markup=False)
    if run.traceback:
        console.print(run.traceback.rstrip(), markup=False, style="dim")


def _runs_table(runs: list[RunRecord]) -> Any:
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    for column, width in (("#", 1), ("run", 8), ("status", 9), ("time", 5), ("seed", 8)):
        table.add_column(column, no_wrap=True, min_width=width)
    table.add_column("params", no_wrap=True, overflow="ellipsis", max_width=30)
    table.add_column("result / error", no_wrap=True, overflow="ellipsis", max_width=60)
    for run in runs[:SHOWN_ROWS]:
        style = {"failed": "red", "timed_out": "red", "lost": "red", "cancelled": "yellow"}.get(
            run.status.value
        )
        outcome = run.error if run.error else _compact(run.result)
        table.add_row(
            str(run.index),
            run.id[:8],
            run.status.value,
            f"{run.duration:.2f}s" if run.duration is not None else "-",
            str(run.seed)[:8],
            " ".join(f"{k}={_compact(v, 30)}" for k, v in run.params.items()),
            _compact(outcome, 60),
            style=style,
        )
    return table


def _more(console: Console, total: int, how: str, shown: int = SHOWN_ROWS) -> None:
    if total > shown:
        console.print(f"... {total - shown} more ({how} for all)")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def _compact(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


class Watch:
    """What a launch shows while it runs: ids on creation, then (on a terminal) live progress
    with the first failure's reason as soon as it happens. Silent for -q's ids and --json."""

    def __init__(self, *, quiet: bool, as_json: bool) -> None:
        self.quiet = quiet
        self.as_json = as_json
        self.live = not quiet and not as_json and sys.stdout.isatty()
        self.progress: Any = None
        self.counts: dict[str, int] = {}
        self.total = 0
        self.first_failure_shown = False

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def created(self, record: LaunchRecord, specs: list[RunSpec]) -> None:
        if self.quiet:
            ids(record, specs)
        elif not self.as_json:
            created(record, specs)
        self.total = len(specs)
        if self.live and self.total:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(
                BarColumn(),
                TextColumn("{task.fields[counts]}"),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                console=_console(),
                transient=True,
            )
            self.task = self.progress.add_task("runs", total=self.total, counts="", rate="")
            self.started = time.monotonic()
            self.progress.start()
            self._refresh()

    def outcome(self, outcome: Any) -> None:
        if self.progress is None and (self.first_failure_shown or outcome.status.ok):
            return  # nothing to show: called for every run, so the common case is kept short
        status = outcome.status.value
        self.counts[status] = self.counts.get(status, 0) + 1
        if not outcome.status.ok and not self.first_failure_shown and not self.as_json:
            self.first_failure_shown = True
            line = f"run {outcome.run_id[:12]} {status}: {outcome.error}"
            if self.progress is not None:
                self.progress.console.print(line, style="red", markup=False)
            elif not self.quiet:
                print(line, file=sys.stderr, flush=True)
        if self.progress is not None:
            self._refresh()

    def _refresh(self) -> None:
        done = sum(self.counts.values())
        failed = done - self.counts.get("succeeded", 0) - self.counts.get("cached", 0)
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.progress.update(
            self.task,
            completed=done,
            counts=f"{done - failed} done, {failed} failed, {self.total - done} to go",
            rate=f"{done / elapsed:,.1f} runs/s",
        )


# -- launches that outlive the command: --detach, runner cancel --------------------------------


def counts(launch: Launch) -> str:
    """'3 cancelled, 2 succeeded': a launch's runs by status."""
    return _counts(launch.record.counts)


def detached(launch: Launch) -> None:
    """After --detach: where the launch runs and how to follow it."""
    from runner import detach

    record, short = launch.record, launch.id[:12]
    if not any(record.counts.get(s) for s in ("pending", "running")):
        print(f"launch {short}: nothing left to run ({counts(launch)})")
        return
    out = detach.output_path(launch.home, launch.id) if launch.home else None
    print(
        f"detached: background process {record.pid}"
        + (f", its output in {out}" if out else "")
        + f"\nfollow: runner wait {short}   stop: runner cancel {short}"
    )
    sys.stdout.flush()


def cancelled(results: list[Any]) -> None:
    """What `runner cancel` did, one line per id."""
    for result in results:
        what = f"{result.kind} {result.id[:12]}"
        if result.cancelled:
            runs = "run" if result.cancelled == 1 else "runs"
            print(f"{what}: {result.cancelled} {runs} cancelled ({_counts(result.counts)})")
        else:
            print(f"{what} had ended ({_counts(result.counts)}); nothing to cancel")
