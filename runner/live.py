"""A launch's curves redrawn in a notebook while it runs (`Launch.plot_metric(live=True)`):
a thread reads the store, frames.py draws, IPython's display id shows each drawing in place."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from runner.errors import UsageError
from runner.reads import metric_series
from runner.records import Series
from runner.store import Store

if TYPE_CHECKING:
    from runner.handles import Watch
    from runner.results import Column


class LivePlot:
    """A launch's curves of one metric redrawn in a notebook cell while the launch runs: what
    `Launch.plot_metric(key, live=True)` returns. A thread of its own reads the store on a
    connection of its own every `every` seconds, redraws when a run logged more points, and
    ends after the launch has (once nothing more was written); the figure is a PNG in the
    cell, replaced in place through an IPython display id, so the kernel runs other cells
    meanwhile and the notebook keeps the last drawing::

        live = launch.plot_metric("loss", by="lr", live=True)
        live.updates      # how many times it was redrawn
        live.stop()       # stop redrawing (the launch goes on)
    """

    def __init__(
        self,
        launch_id: str,
        key: str,
        by: Column | None,
        values: dict[str, Any],
        *,
        watch: Watch,
        every: float = 1.0,
    ) -> None:
        """Follow launch `launch_id` in the store `watch` looks at; `by` and `values` (run id
        -> value) colour the curves, as `frames.plot_metric` takes them."""
        from runner.frames import require

        require("matplotlib", "plot_metric(live=True)")
        ipython = require("IPython", "plot_metric(live=True)")
        import IPython.display
        from matplotlib.figure import Figure

        if getattr(ipython.get_ipython(), "kernel", None) is None:
            raise UsageError(
                "plot_metric(live=True) redraws a figure in a notebook (a Jupyter kernel);"
                " here, draw it once the launch has ended: launch.wait();"
                f" launch.plot_metric({key!r})"
            )
        self.launch_id, self.key, self.by, self.every = launch_id, key, by, every
        self.home = watch.home
        self._watch = watch
        self.figure = Figure()
        self.updates = 0  # redrawings shown after the first
        self._values = values
        self._points: dict[str, tuple[int, list[Series]]] = {}  # run id -> (count, series)
        series = metric_series(launch_id, [key], home=self.home)
        for run_id in dict.fromkeys(s.run_id for s in series):
            mine = [s for s in series if s.run_id == run_id]
            self._points[run_id] = (sum(len(s.steps) for s in mine), mine)
        self._shown = IPython.display.display(self._image(series), display_id=True)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="runner-live-plot", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        state = "redrawing" if self.running else "done"
        return f"<LivePlot {self.key} of launch {self.launch_id[:12]}: {self.updates} updates, {state}>"

    @property
    def ax(self) -> Any:
        """The Axes last drawn."""
        return self.figure.axes[0]

    @property
    def running(self) -> bool:
        """Whether it still follows the launch."""
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop redrawing (the launch goes on); the last drawing stays in the cell."""
        self._stop.set()
        self._thread.join()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until it has stopped (the launch ended, or `stop`); whether it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _image(self, series: Sequence[Series]) -> Any:
        from IPython.display import Image

        from runner.frames import figure_png, plot_metric

        self.figure.clear()
        plot_metric(self.figure.add_subplot(), series, self.key, by=self.by, values=self._values)
        return Image(data=figure_png(self.figure), format="png")

    def _follow(self) -> None:
        store = Store.existing(self.home)
        ended = False
        while store is not None and not self._stop.is_set():
            if self._watch.changed():
                record = store.launch(self.launch_id)
                ended = record is None or record.status != "running"
                if self._read(store):
                    series = [s for _, mine in self._points.values() for s in mine]
                    self._shown.update(self._image(series))
                    self.updates += 1
            elif ended:  # ended, and nothing written since: its last points are in
                break
            self._stop.wait(self.every)

    def _read(self, store: Store) -> bool:
        """Read again the points of the runs that logged more; whether any did."""
        more = False
        for summary in store.metric_summaries(launch_id=self.launch_id, keys=[self.key]):
            count = self._points.get(summary.run_id, (-1, []))[0]
            if count != summary.count:
                more = True
                self._points[summary.run_id] = (
                    summary.count,
                    store.metric_series(summary.run_id, [self.key]),
                )
        return more
