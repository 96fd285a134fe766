"""Workflows with every input type of the table, run as `runner run typed_flows.py WF`."""

import datetime as dt
import enum
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypedDict

import runner
from mypkg.decorated import scale  # noqa: F401 - imported workflows are listed too


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Inner:
    depth: int = 1


@dataclass
class Opts:
    lr: float = 0.1
    layers: list[int] = field(default_factory=lambda: [2, 2])
    inner: Inner = field(default_factory=Inner)


class Point(TypedDict):
    x: int
    y: int


@runner.workflow
def kinds(
    n: int,
    ratio: float = 0.5,
    name: str = "x",
    color: Color = Color.RED,
    mode: Literal["fast", "slow"] = "fast",
    when: dt.datetime | None = None,
    day: dt.date | None = None,
    wait: dt.timedelta = dt.timedelta(hours=1),
    where: Path | None = None,
    items: list[int] | None = None,
    weights: dict[str, float] | None = None,
    opts: Opts | None = None,
    point: Point | None = None,
    either: int | str = 0,
) -> dict:
    """Echo every input back, as the types it arrived in."""
    return {
        "n": n,
        "ratio": ratio,
        "name": name,
        "color": type(color).__name__ + "." + color.name,
        "mode": mode,
        "when": when.isoformat() if when else None,
        "day": day.isoformat() if day else None,
        "wait": wait.total_seconds(),
        "where": type(where).__name__ if where else None,
        "items": items,
        "weights": weights,
        "opts": [type(opts).__name__, opts.lr, opts.layers, opts.inner.depth] if opts else None,
        "point": point,
        "either": [type(either).__name__, either],
    }


@runner.workflow
def existing(where: runner.ExistingPath) -> str:
    """A path that must exist."""
    return type(where).__name__


@runner.workflow
def flags(a: bool, b: bool = True, c: bool = False) -> list:
    """The boolean matrix."""
    return [a, b, c]


@runner.workflow
def cases(MyInput: str, my_input: int = 1) -> list:
    """Input names with upper case, and one reached with dashes."""
    return [MyInput, my_input]


@runner.workflow
def env_probe(key: str = "RUNNER_FILE_VAR") -> str | None:
    """What one environment variable is inside the run."""
    return os.environ.get(key)


@runner.workflow
def defaults(
    items: list[int] = [1, 2],  # noqa: B006 - defaults of every kind are the point here
    table: dict[str, int] = {"a": 1},  # noqa: B006
    opts: Opts = Opts(lr=0.3),  # noqa: B008
    wait: dt.timedelta = dt.timedelta(minutes=2),
) -> list:
    """List, dict, dataclass and timedelta defaults."""
    return [items, table, [type(opts).__name__, opts.lr, opts.inner.depth], wait.total_seconds()]
