"""Metric curves drawn in the terminal: each series cut to the chart's width first, then drawn
by plotext (textual-plotext's widget).

plotext draws every point it is given: 100,000 points take it 0.7 s a chart, where the
terminal shows at most two dots (braille) a character column. So a series is cut into one
bucket per column of the chart, by step, and each bucket gives its min and max: a line
through them draws the curve's envelope (a spike shows, however many points share its
column), in 2 x width points whatever the run logged. `bench/tui_metrics.py` measures it.
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_left
from collections.abc import Sequence
from itertools import islice, pairwise
from typing import NamedTuple

from textual import events
from textual.app import RenderResult
from textual.containers import VerticalScroll
from textual_plotext import PlotextPlot

# Tableau 10, then its lighter half: lines told apart on the dark and the light theme alike.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (78, 121, 167),
    (242, 142, 43),
    (225, 87, 89),
    (118, 183, 178),
    (89, 161, 79),
    (237, 201, 72),
    (176, 122, 161),
    (255, 157, 167),
    (156, 117, 95),
    (186, 176, 172),
    (160, 203, 232),
    (255, 190, 125),
    (140, 209, 125),
    (182, 153, 45),
    (241, 206, 99),
)


def colour(index: int) -> tuple[int, int, int]:
    return PALETTE[index % len(PALETTE)]


def rich_colour(rgb: tuple[int, int, int]) -> str:
    return "rgb({},{},{})".format(*rgb)


def envelope(
    steps: Sequence[int], values: Sequence[float], columns: int
) -> tuple[list[float], list[float]]:
    """The points to draw of a series on a chart `columns` characters wide: the series
    itself (its finite values) when it has at most 2 points a column, else, for each of
    `columns` equal ranges of steps, the min and max of its values there (NaN and infinities
    left out), ordered so that the line goes on from where the previous column ended."""
    columns = max(columns, 1)
    if not _ascending(steps):  # steps given out of order (runner.log(step=...)): by step
        order = sorted(range(len(steps)), key=steps.__getitem__)
        steps = [steps[i] for i in order]
        values = [values[i] for i in order]
    if len(steps) <= 2 * columns:
        kept = [(float(s), v) for s, v in zip(steps, values, strict=True) if math.isfinite(v)]
        return [s for s, _ in kept], [v for _, v in kept]
    first, span = steps[0], steps[-1] - steps[0]
    edges = [bisect_left(steps, first + span * i / columns) for i in range(columns)]
    edges.append(len(steps))
    xs: list[float] = []
    ys: list[float] = []
    for start, end in pairwise(edges):
        if start >= end:
            continue
        bucket = values[start:end]
        if not math.isfinite(sum(bucket)):  # a NaN or an infinity in it (rare): left out
            bucket = [v for v in bucket if math.isfinite(v)]
            if not bucket:
                continue
        low, high = min(bucket), max(bucket)
        x = (steps[start] + steps[end - 1]) / 2
        if low == high:
            xs.append(x)
            ys.append(low)
            continue
        if ys and abs(ys[-1] - high) < abs(ys[-1] - low):
            low, high = high, low  # from the end nearer the previous column's
        xs += (x, x)
        ys += (low, high)
    return xs, ys


def _ascending(steps: Sequence[int]) -> bool:
    return all(map(operator.le, steps, islice(steps, 1, None)))  # in C: 1 ms for 100,000


def number(value: float | None) -> str:
    """A metric's value as the tables and charts say it: 4 significant digits."""
    if value is None:
        return ""
    return f"{value:.4g}"


class Source(NamedTuple):
    """A series as read: every point, in any order."""

    steps: Sequence[int]
    values: Sequence[float]
    colour: tuple[int, int, int]


class Chart(PlotextPlot):
    """One chart of whole series: each is cut to the chart's width (`envelope`) when it is
    drawn at a width not drawn yet, and plotext draws the cut lines."""

    DEFAULT_CSS = """
    Chart {
        height: 1fr;
        min-height: 7;
    }
    """
    MIN_HEIGHT = 7  # a title, the frame, 3 rows of curve and the steps

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.sources: Sequence[Source] = ()
        self.heading = ""
        self._version = 0  # of the sources
        self._drawn: tuple[int, int] | None = None  # (width, version) plotext holds
        # id of a source's values -> (those values, their length, width, the cut line): a
        # live chart of many runs cuts again only the series that grew
        self._cut: dict[int, tuple[Sequence[float], int, int, tuple[list[float], list[float]]]] = {}

    def show(self, sources: Sequence[Source], title: str) -> None:
        self.sources, self.heading = sources, title
        self._version += 1
        self.refresh()

    @property
    def drawn(self) -> bool:
        """Whether plotext drew the latest series at the chart's width."""
        return self._version > 0 and self._drawn == (self.size.width, self._version)

    def render(self) -> RenderResult:
        width = self.size.width
        if self._drawn != (width, self._version):
            self._drawn = (width, self._version)
            plt = self.plt
            plt.clear_data()
            plt.title(self.heading or None)
            low, high = math.inf, -math.inf
            cut = {}
            for source in self.sources:
                kept = self._cut.get(id(source.values))
                if kept and kept[0] is source.values and kept[1:3] == (len(source.values), width):
                    line = kept[3]
                else:
                    line = envelope(source.steps, source.values, width)
                cut[id(source.values)] = (source.values, len(source.values), width, line)
                xs, ys = line
                if xs:
                    plt.plot(xs, ys, color=source.colour, marker="braille")
                    low, high = min(low, xs[0]), max(high, xs[-1])
            if low <= high:  # steps are integers: ticks on round ones (plotext: 4.5, 9.0...)
                at = step_ticks(low, high, max(2, width // 14))
                plt.xticks([float(t) for t in at], [f"{t:,}" for t in at])
            self._cut = cut
        return super().render()


def step_ticks(low: float, high: float, count: int) -> list[int]:
    """At most `count` round integers (1, 2, 2.5 or 5 times a power of ten apart) from `low`
    to `high`."""
    if high - low < 1:
        return [round(low)]
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = max(1, round(next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)))
    first = math.ceil(low / step) * step
    return list(range(first, math.floor(high) + 1, step))


class ChartStack(VerticalScroll):
    """Charts one above the other, sharing the height (at least Chart.MIN_HEIGHT rows each;
    more scroll). In a scrolling container, each chart of `1fr` would take the whole height."""

    def on_resize(self, _event: events.Resize) -> None:
        self.fit()

    def fit(self) -> None:
        charts = list(self.query(Chart).results(Chart))
        if charts:
            height = max(Chart.MIN_HEIGHT, self.scrollable_content_region.height // len(charts))
            for chart in charts:
                chart.styles.height = height
