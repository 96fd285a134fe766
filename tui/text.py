"""User data made safe to show: control characters escaped, markup taken literally."""

from __future__ import annotations

import json
import time
from typing import Any

from rich.text import Text

from runner import clean, clean_lines

__all__ = ["block", "clean", "plain"]


def plain(value: Any, style: str = "") -> Text:
    """A rich Text, never parsed as markup: for names, tags, params and results."""
    return Text(clean(value), style=style)


def block(value: Any) -> Text:
    """Several lines (a traceback, pretty JSON) with controls other than newlines escaped."""
    text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
    return Text(clean_lines(text))


STATUS_STYLE = {
    "succeeded": "green",
    "cached": "green",
    "failed": "red",
    "timed_out": "red",
    "lost": "magenta",
    "cancelled": "yellow",
    "running": "cyan",
    "pending": "dim",
}


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def when(timestamp: float | None) -> str:
    """A time as the tables show it: the time today, the date before."""
    if timestamp is None:
        return ""
    moment = time.localtime(timestamp)
    today = time.localtime()
    if moment[:3] == today[:3]:
        return time.strftime("%H:%M:%S", moment)
    return time.strftime("%Y-%m-%d %H:%M", moment)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def elapsed(seconds: float) -> str:
    """How long a run has been running, to the second: `9s`, `1m05s`, `2h03m`."""
    return f"{max(0, int(seconds))}s" if seconds < 60 else duration(seconds)


def short_path(path: str) -> str:
    """A path relative to the current directory when it is inside it, else as given."""
    import os

    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative
