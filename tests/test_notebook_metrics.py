"""Metrics from a notebook: `Launch.metrics()` as a long DataFrame, `Launch.plot_metric()`, and
its live form redrawn while a launch runs (the DataFrame and the drawing in runner/frames.py)."""

from __future__ import annotations

import threading
import time
import uuid
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runner
from runner import frames
from runner.records import Series

pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

# Two keys a call at explicit steps (10, 20, ...), one more at its own counter (0, 1, ...).
FLOWS = """
import time

import runner


@runner.workflow
def fit(lr: float = 0.1, epochs: int = 3, width: int = 8, pause: float = 0.0) -> float:
    for epoch in range(epochs):
        runner.log(step=10 * (epoch + 1), loss=1 / (1 + lr * epoch), acc=lr * epoch)
        runner.log(lr_now=lr / (1 + epoch))
        time.sleep(pause)
    return lr
"""


def logged(lr: float, epochs: int = 3) -> list[tuple[str, int, float]]:
    """(metric, step, value) as `fit` logs them, in the frame's order: by metric, then step."""
    points = {
        "acc": [(10 * (e + 1), lr * e) for e in range(epochs)],
        "loss": [(10 * (e + 1), 1 / (1 + lr * e)) for e in range(epochs)],
        "lr_now": [(e, lr / (1 + e)) for e in range(epochs)],
    }
    return [(key, step, value) for key in sorted(points) for step, value in points[key]]


@pytest.fixture
def conf(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose one module holds `fit` (a module name of its own: runs in this process
    import it)."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    module = f"curves_{uuid.uuid4().hex[:8]}"
    (tmp_path / "proj" / "conf" / "workflow").mkdir(parents=True)
    (tmp_path / "proj" / "conf" / "workflow" / "curves.yaml").write_text(f"modules: [{module}]\n")
    (tmp_path / "proj" / f"{module}.py").write_text(FLOWS)
    return tmp_path / "proj" / "conf"


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def sweep(conf: Path, lrs: list[float], **options: Any) -> runner.Launch:
    return runner.launch(
        "fit",
        ["launcher=sequential"],
        sweep={"lr": lrs},
        config_dir=conf,
        progress=False,
        **options,
    )


def test_metrics_is_every_point_logged_with_the_params_that_vary(conf: Path) -> None:
    launch = sweep(conf, [0.1, 0.5])
    frame = launch.metrics()
    # width and epochs are the same in every run: not columns
    assert list(frame.columns) == ["run", "params.lr", "metric", "step", "value", "time"]
    expected = [
        (run.id, run.params["lr"], key, step, value)
        for run in launch.runs
        for key, step, value in logged(run.params["lr"])
    ]
    columns = ["run", "params.lr", "metric", "step", "value"]
    assert [tuple(row) for row in frame[columns].itertuples(index=False)] == expected
    assert [str(frame[c].dtype) for c in frame.columns[2:]] == [
        "category",
        "int64",
        "float64",
        "float64",
    ]
    for run in launch.runs:  # logged while it ran
        times = frame[frame["run"] == run.id]["time"]
        assert run.started is not None and run.ended is not None
        assert times.between(run.started - 1, run.ended + 1).all()

    loss = launch.metrics("loss")
    assert list(loss["metric"].unique()) == ["loss"] and len(loss) == 6
    two = launch.metrics(["acc", "lr_now"])
    assert sorted(two["metric"].unique()) == ["acc", "lr_now"] and len(two) == 12

    second = launch.runs[1]
    for run in (second, second.id, second.id[:10].upper()):
        one = launch.metrics(run=run)
        assert set(one["run"]) == {second.id}
        assert list(one.columns) == list(frame.columns)  # the launch's varying params
        assert [tuple(r) for r in one[columns].itertuples(index=False)] == expected[9:]


def test_metrics_says_what_was_logged_and_which_runs_there_are(conf: Path) -> None:
    launch = sweep(conf, [0.1, 0.5])
    with pytest.raises(runner.UsageError, match=r"logged no 'los': it logged acc, loss, lr_now;"):
        launch.metrics("los")
    with pytest.raises(runner.UsageError, match="did you mean 'loss'"):
        launch.plot_metric("los")
    other = sweep(conf, [0.2])
    with pytest.raises(runner.UsageError, match=r"no run of launch \w+ starts with it"):
        launch.metrics(run=other.runs[0])
    with pytest.raises(runner.UsageError, match=r"2 runs of launch \w+ start with it"):
        launch.metrics(run="")
    # Outside a notebook, live=True says where it works.
    with pytest.raises(runner.UsageError, match="redraws a figure in a notebook"):
        launch.plot_metric("loss", live=True)
    with pytest.raises(runner.UsageError, match="every=0: the seconds between two reads"):
        launch.plot_metric("loss", live=True, every=0)

    quiet = sweep(conf, [0.1, 0.2], params={"epochs": 0})
    assert len(quiet.metrics()) == 0
    assert list(quiet.metrics().columns) == list(launch.metrics().columns)
    with pytest.raises(runner.UsageError, match="logged no metric"):
        quiet.plot_metric("loss")


def test_plot_metric_draws_a_line_per_run_with_a_legend_by_the_param(conf: Path) -> None:
    launch = sweep(conf, [0.5, 0.1, 0.2], repeat=2)
    ax = launch.plot_metric("loss", by="lr")
    lines = ax.get_lines()
    assert len(lines) == 6  # one per run, repeats too
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["lr=0.1", "lr=0.2", "lr=0.5"]
    assert ax.get_legend().get_title().get_text() == "lr"
    by_run = dict(zip([run.id for run in launch.runs], lines, strict=True))
    for run in launch.runs:
        line = by_run[run.id]
        assert list(line.get_xdata()) == [10, 20, 30]
        assert list(line.get_ydata()) == [v for k, _, v in logged(run.params["lr"]) if k == "loss"]
    colours = {run.params["lr"]: set() for run in launch.runs}
    for run in launch.runs:
        colours[run.params["lr"]].add(tuple(by_run[run.id].get_color()))
    assert all(len(c) == 1 for c in colours.values())  # repeats share their value's colour
    assert len({next(iter(c)) for c in colours.values()}) == 3
    assert ax.get_title() == "loss: 6 runs, coloured by lr"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("step", "loss")

    ax = launch.plot_metric("lr_now")  # no by: a colour and a legend entry per run
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [r.id[:8] for r in launch.runs]
    with pytest.raises(runner.UsageError, match="did you mean 'lr'"):
        launch.plot_metric("loss", by="lrr")


def series(run: str, values: list[float], key: str = "loss") -> Series:
    n = len(values)
    return Series(run, key, array("q", range(n)), array("d", values), array("d", [0.0] * n))


def test_many_numbers_get_a_colour_bar_and_others_the_colour_cycle() -> None:
    import matplotlib.pyplot as plt

    runs = [f"{n:032x}" for n in range(12)]
    values = {run: 10.0**n for n, run in enumerate(runs)}  # 12 values over 12 decades
    _, ax = plt.subplots()
    frames.plot_metric(
        ax, [series(r, [1.0, 2.0]) for r in runs], "loss", by=_column(), values=values
    )
    assert ax.get_legend() is None
    (bar,) = [a for a in ax.figure.axes if a is not ax]
    assert bar.get_ylabel() == "lr" and bar.get_yscale() == "log"

    words = {run: ["adam", "sgd"][n % 2] for n, run in enumerate(runs[:4])}
    _, ax = plt.subplots()
    frames.plot_metric(ax, [series(r, [1.0]) for r in runs[:4]], "loss", by=_column(), values=words)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["lr=adam", "lr=sgd"]
    assert [line.get_color() for line in ax.get_lines()] == ["C0", "C1", "C0", "C1"]


def _column() -> Any:
    from runner.results import Column

    return Column(key="params.lr", name="lr", group="params", kind="number")


def test_long_curves_are_thinned_keeping_their_extremes(monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.pyplot as plt
    import numpy as np

    values = np.sin(np.arange(100_000) / 1000.0)
    values[31_337] = 50.0  # a spike
    values[77_777] = np.nan
    steps, kept = frames.thinned(np.arange(100_000), values, 2_000)
    assert 1_900 <= len(kept) <= 2_100
    assert steps[0] == 0 and steps[-1] == 99_999 and (np.diff(steps) > 0).all()
    assert 31_337 in steps and np.nanmax(kept) == 50.0 and np.nanmin(kept) == np.nanmin(values)

    one = series("a" * 32, list(values))
    _, ax = plt.subplots()
    frames.plot_metric(ax, [one], "loss")  # under the budget: drawn whole
    assert len(ax.get_lines()[0].get_xdata()) == 100_000
    monkeypatch.setattr(frames, "DRAWN", 10_000)
    _, ax = plt.subplots()
    frames.plot_metric(ax, [one, series("b" * 32, list(values))], "loss")
    assert [len(line.get_xdata()) <= frames.THINNED_TO + 2 for line in ax.get_lines()] == [
        True,
        True,
    ]
    assert "thinned" in ax.get_title()


class Shown:
    """What IPython.display.display returns for a display id: the images it was updated with."""

    def __init__(self, image: Any) -> None:
        self.images = [image.data]
        self.when: list[float] = []

    def update(self, image: Any) -> None:
        self.images.append(image.data)
        self.when.append(time.time())


def test_live_plot_redraws_while_the_launch_runs_and_returns_at_once(
    conf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import IPython
    import IPython.display

    shown: list[Shown] = []

    def display(image: Any, display_id: bool = False) -> Shown:
        assert display_id is True
        shown.append(Shown(image))
        return shown[-1]

    monkeypatch.setattr(IPython, "get_ipython", lambda: type("Kernel", (), {"kernel": object()}))
    monkeypatch.setattr(IPython.display, "display", display)

    # The launch runs in a thread of this process (as a notebook's detached launch runs in a
    # process of its own): the live plot follows it through the store alone.
    created = threading.Event()
    ids: list[str] = []

    def on_created(record: runner.LaunchRecord, _: object) -> None:
        ids.append(record.id)
        created.set()

    launching = threading.Thread(
        target=sweep,
        args=(conf, [0.1, 0.5]),
        kwargs={"params": {"epochs": 6, "pause": 0.08}, "on_created": on_created},
    )
    launching.start()
    assert created.wait(60)
    launch = runner.get(ids[0])
    assert isinstance(launch, runner.Launch)

    live = launch.plot_metric("loss", by="lr", live=True, every=0.05)
    assert live.running and launch.status() == "running"  # the call returned at once
    assert live.join(timeout=60), "the redrawing did not end with the launch"
    launching.join()
    assert launch.status() == "succeeded"

    (display_id,) = shown
    ended = max(run.ended or 0.0 for run in launch.runs)
    assert live.updates == len(display_id.when)
    assert sum(when < ended for when in display_id.when) >= 2  # updated while it ran
    assert len(set(display_id.images)) == len(display_id.images)  # each a new drawing
    assert display_id.images[0].startswith(b"\x89PNG")
    assert [line.get_ydata()[-1] for line in live.ax.get_lines()] == [
        pytest.approx(1 / (1 + lr * 5)) for lr in (0.1, 0.5)
    ]
    assert "done" in repr(live)
