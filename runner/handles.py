"""The handles the public API returns: a launch (`Launch`), a list of runs (`Runs`), what a
launch would make (`Preview`), what a project offers (`Entities`), a store's changes (`Watch`).
They call down into the services and render through the views."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner import execution, lifecycle, reads, results
from runner.errors import UsageError
from runner.reads import Recorded, counting, launches, table
from runner.records import RunOutcome, RunRecord, RunSpec, RunStatus, Series
from runner.store import Store

if TYPE_CHECKING:
    from runner.plan import Plan
    from runner.records import LaunchRecord
    from runner.search_space import SearchConfig
    from runner.studies import Best, SearchStatus


class Launch:
    """A launch and its runs, as recorded; the runs are read from the store when first asked.

    In a notebook it renders as HTML (its runs, status in colour, the params that vary and
    the results); in a console as one line::

        launch = runner.launch("pi", sweep={"samples": [100, 1000]}, repeat=3)
        launch                  # <Launch 3f2a...: pi:1.0, 6 runs (6 succeeded)>
        launch.to_dataframe()   # one row per run (pandas: the `notebook` extra)
    """

    def __init__(
        self, record: LaunchRecord, runs: list[RunRecord] | None = None, store: Store | None = None
    ) -> None:
        self.record = record
        self._runs = runs
        self._store = store

    @classmethod
    def of(cls, found: Recorded) -> Launch:
        """The handle on a launch a service returned as recorded."""
        return cls(found.record, found.runs, found.store)

    def __repr__(self) -> str:
        from runner.display import launch_text
        from runner.studies import about

        return launch_text(self.record, about(self.record))

    def _repr_html_(self) -> str:
        from runner.display import first_page, launch_html

        # A big launch shows its first page (what HTML shows anyway), never its whole table.
        first = first_page(self.record)
        table = self.table(by_point=False, first=first)
        return launch_html(self.record, table, first, self.search_status())

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def runs(self) -> Runs:
        """Its runs in plan order (read once; `status()` reads them again)."""
        if self._runs is None:
            self._runs = self._store.runs(self.id) if self._store else []
        return Runs(self._runs)

    def iter_runs(self) -> Iterator[RunRecord]:
        """Its runs in plan order, read a page at a time: memory for a page whatever the
        launch's size (a million runs). Big results stay in their files until asked for::

            for run in launch.iter_runs():
                if run.status.value == "failed":
                    print(run.id, run.error)
        """
        if self._runs is not None or self._store is None:
            yield from self.runs
        else:
            yield from self._store.every_run(self.id)

    def run_ids(self) -> Iterator[str]:
        """Its run ids in plan order, streamed (nothing else is read)."""
        if self._runs is not None or self._store is None:
            yield from (run.id for run in self.runs)
        else:
            yield from self._store.run_ids(self.id)

    def count(self) -> dict[str, int]:
        """Its runs by status, read again from the store into `record.counts` (every run
        read: 0.27 s for a million)."""
        if self._store is not None:
            self._store.fill_counts([self.record])
        return self.record.counts

    def counting(self) -> Callable[[], dict[str, int]]:
        """`count` started in a thread, on a connection of its own (SQLite reads without
        holding the GIL), for a reader to show the first runs meanwhile; what it returns
        waits for the counts and returns them (or raises what counting raised)."""
        if self._store is None:
            return self.count
        return counting(self._store.home, self.record)

    def first_run(self) -> RunRecord | None:
        """Its first run in plan order (one row read)."""
        if self._runs is not None or self._store is None:
            return self._runs[0] if self._runs else None
        return self._store.first_run(self.id)

    @property
    def ok(self) -> bool:
        """Every run fine, and no search stopped early (by its failures, or its pruner)."""
        return all(RunStatus(status).fine for status in self.record.counts) and not (
            self.record.definition.get("search_stopped")
        )

    @property
    def failed(self) -> int:
        """How many runs did not succeed (nor were served from the cache, nor pruned)."""
        return sum(n for status, n in self.record.counts.items() if not RunStatus(status).fine)

    @property
    def results(self) -> list[Any]:
        return [run.result for run in self.runs]

    @property
    def cancelled(self) -> bool:
        """The launch as a whole was cancelled (runner cancel, Launch.cancel(), Ctrl-C)."""
        return self.record.cancelled is not None

    @property
    def home(self) -> Path | None:
        return self._store.home if self._store else None

    def status(self) -> str:
        """The launch's status read again from the store (running, succeeded, failed,
        timed_out, cancelled, lost), its record and runs refreshed with it::

            launch = runner.launch("nap", repeat=4, wait=False)
            launch.status()          # 'running'
            launch.record.counts     # {'succeeded': 1, 'running': 2, 'pending': 1}
        """
        if self._store is not None:
            record = self._store.launch(self.id)
            assert record is not None
            self.record, self._runs = record, None
        return self.record.status

    def cancel(self) -> lifecycle.CancelResult:
        """Cancel this launch, from any process: pending runs never start, running ones are
        stopped, both recorded cancelled; finished runs are kept::

            launch = runner.launch("nap", repeat=20, wait=False)
            launch.cancel().cancelled    # how many runs it stopped
        """
        (done,) = lifecycle.cancel([self.id], home=self.home)
        self.status()
        return done

    def wait(
        self,
        *,
        poll_interval: float = 0.5,
        timeout: float | None = None,
        on_outcome: Callable[[RunOutcome], None] | None = None,
        progress: bool | None = None,
    ) -> Launch:
        """This launch once it has ended (it may run in another process); see `runner.wait`.
        `progress`: a live bar (tqdm.auto) of done, failed and running runs with an ETA;
        None shows it unless `on_outcome` follows the launch. The launch itself is
        refreshed too::

            launch = runner.launch("pi", sweep={"samples": [100, 1000]}, wait=False)
            launch.wait(timeout=60).results
        """
        done = Launch.of(
            lifecycle.wait(
                self.id,
                home=self.home,
                poll_interval=poll_interval,
                timeout=timeout,
                on_outcome=on_outcome,
                progress=progress,
            )
        )
        self.record, self._runs, self._store = done.record, None, done._store
        return done

    def resume(self, *, wait: bool = True, progress: bool | None = None) -> Launch:
        """Run again, into this launch, the runs that did not succeed (same params and
        seeds); see `runner.resume`::

            launch.cancel()
            launch.resume(wait=False)
        """
        done = Launch.of(execution.resume(self.id, home=self.home, wait=wait, progress=progress))
        self.record, self._runs, self._store = done.record, None, done._store
        return done

    @property
    def best(self) -> Best | None:
        """A search's best trial so far, read now (None: no trial ended with a value yet, or
        the launch is no search): its run, its searched params and its value (the mean over
        the trial's runs; a list, the first objective deciding, for several)::

            launch = runner.launch("train", ["search=tpe", "params.lr=interval(1e-4, 1e-1)"])
            launch.best.params      # {'lr': 0.0031...}
            launch.best.run.result
        """
        found = self.search_status()
        return None if found is None else found.best

    def search_status(self) -> SearchStatus | None:
        """How far a search got, read now: its trials by state (finished, failed, running
        ...) of `n_trials`, and its best so far; None for a launch that is no search."""
        from runner.studies import search_status

        if self._store is None or not self.record.definition.get("search"):
            return None
        return search_status(self._store, self.record)

    def study(self) -> Any:
        """A search's study as an `optuna.Study`, rebuilt from the store (its trials are this
        launch's trials, each with its runs' ids in `user_attrs["run_ids"]`), for Optuna's
        own plots and analyses; read now, so a running search gives its trials so far::

            import optuna
            optuna.visualization.matplotlib.plot_optimization_history(launch.study())
            optuna.importance.get_param_importances(launch.study())
        """
        from runner.studies import study

        if self._store is None:
            raise UsageError(f"launch {self.id[:12]} is not stored: it has no study to read")
        return study(self._store, self.record)

    def table(self, **options: Any) -> ResultsTable:
        """Its results table (`runner.table`: the params that vary, results flattened, by
        sweep point when runs repeat); `options` as `runner.table` takes them::

            launch.table(by_point=True, stats=True, sort="pi")
        """
        return results_table(self, home=self.home, **options)

    def to_dataframe(self, *, by_point: bool = False, **options: Any) -> Any:
        """Its results as a pandas DataFrame, one row per run by default (index: run id;
        columns `params.x`, `result.y`, `status`, `seed`, `repeat`, `duration`), to
        aggregate with pandas. Needs the `notebook` extra
        (pip install 'runner-launch[notebook]')::

            frame = launch.to_dataframe()
            frame.groupby("params.samples")["result.pi"].agg(["mean", "std"])
        """
        return self.table(by_point=by_point, **options).to_dataframe()

    def plot(self, x: str, y: str, *, by: str | None = None, ax: Any = None) -> Any:
        """Plot result `y` against param `x`: the mean over the runs at each x with a band of
        one standard deviation, one line per value of the param `by` if given. The title says
        what each mean is over (repeats, and any other param that varies); returns the
        matplotlib Axes. Needs the `notebook` extra::

            launch.plot(x="samples", y="error")
            launch.plot(x="C", y="accuracy", by="kernel")   # one line per kernel
        """
        from runner.frames import plot

        return plot(self.table(by_point=False, all_columns=True), x, y, by=by, ax=ax)

    def metrics(self, keys: str | Sequence[str] = (), *, run: RunRecord | str | None = None) -> Any:
        """The points its runs logged (`runner.log`) as a long pandas DataFrame, one row a
        point: `run` (its id), the params that vary in the launch (`params.lr`, as
        `to_dataframe` names them), `metric`, `step`, `value`, `time` (Unix seconds when
        logged); in run order, then by metric, each in the order logged. `keys`: only those
        metrics; `run`: only that run (a RunRecord of this launch, or its id or a prefix),
        still with the launch's varying params. Reads the points as they are now: a running
        launch gives what was recorded so far. Needs the `notebook` extra::

            frame = launch.metrics("loss")
            frame.groupby("params.lr")["value"].min()
            launch.metrics(run=launch.runs[0])     # one run's points, every metric
        """
        from runner.frames import metrics_frame

        wanted = (keys,) if isinstance(keys, str) else tuple(keys)
        found = self.table(by_point=False)
        ids = None if run is None else [self._run_id(run, found)]
        series = self._series(wanted, ids)
        self._check_logged(wanted, series, ids)
        params = [column for column in found.columns if column.group == "params"]
        return metrics_frame(series, {row.run_id or "": row.values for row in found.rows}, params)

    def plot_metric(
        self,
        key: str,
        *,
        by: str | None = None,
        ax: Any = None,
        live: bool = False,
        every: float = 1.0,
    ) -> Any:
        """Draw metric `key` (what runs logged with `runner.log(key=...)`): value against
        step, one curve per run, coloured by the run's value of `by` (a param, or another
        column of the results table, such as `seed`) with a legend of its values, or a colour bar
        for more than 10 numbers (a logarithmic one when they span two orders of magnitude).
        Returns the matplotlib Axes. Curves are drawn whole up to 200,000 points in all;
        past that (for speed) each is thinned to about 2,000 points: its first and last, and
        the lowest and highest of each of 1,000 parts, so spikes stay and it looks the same.
        Needs the `notebook` extra::

            launch.plot_metric("loss", by="lr")

        `live=True`, while the launch runs (`runner.launch(..., wait=False)`, or one started
        elsewhere): the figure is shown in the cell at once and redrawn in place (an
        IPython display id) by a thread of its own that reads the store every `every`
        seconds, only when something was written, until the launch ends (one last drawing
        then); the call returns at once and the kernel runs other cells meanwhile. Returns a
        `LivePlot` (`.stop()` ends the redrawing, `.join()` waits for it; `ax=` is for a
        drawing made once)::

            launch = runner.launch("train", sweep={"lr": [0.01, 0.1]}, wait=False)
            live = launch.plot_metric("loss", by="lr", live=True)
        """
        from runner.frames import plot_metric, require

        if live and ax is not None:
            raise UsageError("plot_metric(live=True) draws a figure of its own: leave out ax=")
        if live and not every > 0:
            raise UsageError(f"every={every!r}: the seconds between two reads, more than 0")
        found = self.table(by_point=False, all_columns=True)
        column = found.column(by) if by is not None else None
        values = (
            {} if column is None else {row.run_id or "": row.get(column.key) for row in found.rows}
        )
        if live:
            from runner.live import LivePlot

            return LivePlot(self.id, key, column, values, watch=Watch(self.home), every=every)
        series = self._series((key,))
        self._check_logged((key,), series)
        require("matplotlib", "plot_metric()")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        return plot_metric(ax, series, key, by=column, values=values)

    def _series(self, keys: Sequence[str], runs: Sequence[str] | None = None) -> list[Series]:
        """The points of these runs (default: every run of the launch that logged)."""
        if runs is None:
            return reads.metric_series(self.id, keys, home=self.home)
        return [s for run in runs for s in reads.metric_series(run, keys, home=self.home)]

    def _run_id(self, run: RunRecord | str, found: ResultsTable) -> str:
        """The id of one of its runs, named by its record, its id or a prefix of it."""
        prefix = (run.id if isinstance(run, RunRecord) else run).strip().lower()
        ids = [row.run_id for row in found.rows if row.run_id and row.run_id.startswith(prefix)]
        if len(ids) == 1:
            return ids[0]
        what = f"{len(ids)} runs" if ids else "no run"
        verb = "start" if ids else "starts"
        raise UsageError(f"run={prefix!r}: {what} of launch {self.id[:12]} {verb} with it")

    def _check_logged(
        self, keys: Sequence[str], series: Sequence[Series], runs: Sequence[str] | None = None
    ) -> None:
        """A UsageError for a metric no run logged, once the launch has ended (a running one
        may log it yet), naming those they did log."""
        missing = [key for key in keys if key not in {s.key for s in series}]
        if not missing or self.status() == "running":
            return
        ident = runs[0] if runs else self.id
        logged = sorted({m.key for m in reads.metric_summaries(ident, home=self.home)})
        whose = f"run {runs[0][:12]}" if runs else f"launch {self.id[:12]}"
        if not logged:
            raise UsageError(f"{whose} logged no metric (runner.log in the workflow)")
        import difflib

        near = difflib.get_close_matches(missing[0], logged, n=1)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        raise UsageError(f"{whose} logged no '{missing[0]}': it logged {', '.join(logged)}{hint}")

    def to_json(self, *, runs: bool = True) -> dict[str, Any]:
        """The launch as `--json` prints it; `runs=False`: its runs left out (a listing).
        Big results are shown by their summary and `result_file`, their files not read
        (`runner status LAUNCH --json` streams the same runs a page at a time); a one-run
        launch's JSON holds its whole result; a search's says how far it got (`search`)."""
        whole = self.record.run_count == 1
        found = {
            **self.record.to_json(),
            "runs": [run.to_json(load=whole) for run in self.iter_runs()] if runs else [],
        }
        search = self.search_status() if runs else None
        if search is not None:  # how far a search got, and its best trial
            found["search"] = search.to_json()
        return found


class Runs(list[RunRecord]):
    """A list of runs that reads well: HTML in a notebook (status in colour, the params that
    vary, results), one line a run in a console. What `runner.runs` and `Launch.runs` return::

        failed = runner.runs(workflow="pi", status="failed")
        failed.table()          # the core results table of these runs
    """

    def __repr__(self) -> str:
        from runner.display import runs_text

        return runs_text(self)

    def _repr_html_(self) -> str:
        from runner.display import table_html

        return table_html(self.table())

    def table(self) -> ResultsTable:
        """These runs as the core results table, one row per run (with the last value of
        each metric they logged)::

        runner.runs(status="failed").table()
        """
        return ResultsTable.of(table(list(self), by_point=False))

    def to_dataframe(self) -> Any:
        """These runs as a pandas DataFrame, one row per run (the `notebook` extra)::

        runner.runs(workflow="pi", limit=500).to_dataframe()["result.error"].describe()
        """
        return self.table().to_dataframe()


@dataclass
class Preview:
    """What `show` returns: the composed definition and the runs a launch would make."""

    definition: dict[str, Any]
    seed: int
    seed_drawn: bool
    specs: Sequence[RunSpec]  # made as they are read (a sweep may be huge)
    params_schema: dict[str, Any]
    axes: list[str] = field(default_factory=list)
    # A search's config and space (search=tpe ...): its trials are drawn as it runs, so no
    # runs are planned; its definition's params show each dimension as written.
    search: SearchConfig | None = None

    @classmethod
    def of(cls, the_plan: Plan) -> Preview:
        """What a plan would launch: its definition (with what it sweeps), seed and runs."""
        base = the_plan.base
        definition = dict(base.fields)
        if the_plan.axes:
            definition["sweep"] = {
                axis.key: list(axis.values if axis.is_params else axis.shown)
                for axis in the_plan.axes
            }
        if base.search is not None:
            definition["params"] = base.trial_params({d.key: d.written for d in base.search.space})
        return cls(
            definition=definition,
            seed=the_plan.seed,
            seed_drawn=base.fields.get("seed") is None,
            specs=the_plan.specs if base.search is None else [],
            params_schema=base.params_validator.schema,
            search=base.search,
        )

    def to_json(self) -> dict[str, Any]:
        found = {
            "definition": self.definition,
            "seed": self.seed,
            "seed_drawn": self.seed_drawn,
            "runs": [
                {"index": s.index, "params": s.params, "seed": s.seed, "repeat": s.repeat_index}
                for s in self.specs
            ],
        }
        if self.search is not None:
            found["search"] = self.search.to_json()
        return found


@dataclass
class Entities:
    """What `runner list` shows: workflows (every version) and saved run definitions."""

    workflows: list[dict[str, Any]]
    presets: list[dict[str, Any]]
    broken: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"workflows": self.workflows, "presets": self.presets, "broken": self.broken}


class Watch:
    """Tells cheaply whether a store changed since the last look, so that a live view reads
    only when something was written (SQLite's data_version, one query on a kept connection)::

        watch = runner.watch()
        if watch.changed():
            ...read runner.status(), runner.runs(...)

    A launcher that dies writes nothing, yet its unfinished runs become `lost`: `changed`
    also answers True every `recheck` seconds.
    """

    def __init__(self, home: str | Path | None = None, recheck: float = 5.0) -> None:
        self.home = home
        self.recheck = recheck
        self._store: Store | None = None
        self._version: int | None = None
        self._looked = 0.0

    def changed(self) -> bool:
        if self._store is None:
            self._store = Store.existing(self.home)
            if self._store is None:
                return False
        version = self._store.data_version()
        now = time.monotonic()
        if version != self._version or now - self._looked >= self.recheck:
            self._version, self._looked = version, now
            return True
        return False


class ResultsTable(results.ResultsTable):
    """Runs side by side (runner.results.ResultsTable) as the API returns them: HTML in a
    notebook, text in a console, a pandas DataFrame when asked::

        runner.table(launch, by_point=True)     # rendered by the notebook
    """

    @classmethod
    def of(cls, table: results.ResultsTable) -> ResultsTable:
        """The handle on a table the results model built (its rows shared, not copied)."""
        return cls(**{f.name: getattr(table, f.name) for f in dataclasses.fields(table)})

    def to_dataframe(self) -> Any:
        """The table as a pandas DataFrame: columns keyed `params.x`, `result.y` (statistics
        by point: `result.y mean`), typed by kind; indexed by run id when rows are runs.
        Needs the `notebook` extra (pip install 'runner-launch[notebook]')::

            runner.table(launch, by_point=True).to_dataframe()
        """
        from runner.frames import to_dataframe

        return to_dataframe(self)

    def __repr__(self) -> str:
        from runner.display import table_text

        return table_text(self)

    def _repr_html_(self) -> str:
        from runner.display import table_html

        return table_html(self)


def results_table(
    source: Launch | RunRecord | str | Iterable[Launch | RunRecord | str],
    *,
    home: str | Path | None = None,
    **options: Any,
) -> ResultsTable:
    """The results table of launches (handles or id prefixes) and runs; `options` as
    `runner.table` takes them."""
    items = [source] if isinstance(source, Launch | RunRecord | str) else list(source)
    found: list[Recorded | RunRecord] = []
    for item in items:
        if isinstance(item, str):
            found.append(launches([item], home=home)[0])
        elif isinstance(item, RunRecord):
            found.append(item)
        else:
            found.append(Recorded(item.record, item._store, item._runs))
    return ResultsTable.of(table(found, **options))
