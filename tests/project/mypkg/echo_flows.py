"""Workflows that return each input they were given with the name of the type it arrived as."""

import dataclasses
import datetime as dt
import enum
from pathlib import Path
from typing import Any, Literal, TypedDict

import runner


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.Enum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class Box:
    x: int = 0
    tag: str = "none"


class Pair(TypedDict):
    a: int
    b: str


def _plain(value: Any) -> Any:
    """The value as JSON can hold it, to be returned (its type is returned beside it)."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def echo(**inputs: Any) -> dict[str, list[Any]]:
    """{input: [the name of its type, its value]} for every input."""
    return {name: [type(value).__name__, _plain(value)] for name, value in inputs.items()}


@runner.workflow
def switches(a_b: bool = False, c_d_e: bool = True, plain: bool = False, must_x: bool = True):
    """Booleans named with one, several and no underscores; defaults False and True."""
    return echo(a_b=a_b, c_d_e=c_d_e, plain=plain, must_x=must_x)


@runner.workflow
def replaced(
    table: dict[str, int] = {"a": 1},  # noqa: B006 - the defaults the inputs must replace
    anything: dict = {"a": {"deep": 1}, "b": 2},  # noqa: B006
    items: list[int] = [1, 2, 3],  # noqa: B006
    box: Box = Box(x=5, tag="default"),  # noqa: B008
):
    """Dict, list and dataclass inputs with non-empty defaults."""
    return echo(table=table, anything=anything, items=items, box=box)


@runner.workflow
def unions(
    mixed: int | Path | dt.datetime | Color | None = None,
    obj: int | Box | None = None,
    text_first: str | int | None = None,
    flag_or_number: bool | float | None = None,
    number_or_flag: int | bool | None = None,
    day_or_wait: dt.date | dt.timedelta | None = None,
    level_or_text: Level | str | None = None,
    choice_or_count: Literal["auto", "off"] | int | None = None,
    pair_or_list: Pair | list[int] | None = None,
    table_or_none: dict[str, int] | None = None,
    ratio: float | None = 1.5,
    path_or_names: Path | list[str] | None = None,
    when_or_day: dt.datetime | dt.date | None = None,
    number_box_list: float | Box | list[int] | None = None,
    text: str | None = "default",
):
    """Unions of every kind of member, each X | None."""
    return echo(
        mixed=mixed,
        obj=obj,
        text_first=text_first,
        flag_or_number=flag_or_number,
        number_or_flag=number_or_flag,
        day_or_wait=day_or_wait,
        level_or_text=level_or_text,
        choice_or_count=choice_or_count,
        pair_or_list=pair_or_list,
        table_or_none=table_or_none,
        ratio=ratio,
        path_or_names=path_or_names,
        when_or_day=when_or_day,
        number_box_list=number_box_list,
        text=text,
    )


@runner.workflow
def ambiguous(wait: float | dt.timedelta = 0.0):
    """A union whose members share a JSON form (a number)."""
    return echo(wait=wait)
