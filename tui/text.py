"""User data made safe to show: control characters escaped, markup taken literally."""

from __future__ import annotations

import json
import time
from typing import Any

from rich.text import Text

# C0 and C1 controls (ESC starts terminal sequences) shown as escapes, as repr() would.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))}
_CONTROLS[ord("\n")] = "\\n"
_CONTROLS[ord("\t")] = "\\t"


def clean(value: Any) -> str:
    """A value as one line of text with its control characters escaped."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text.translate(_CONTROLS)


def plain(value: Any, style: str = "") -> Text:
    """A rich Text, never parsed as markup: for names, tags, params and results."""
    return Text(clean(value), style=style)


def block(value: Any) -> Text:
    """Several lines (a traceback, pretty JSON) with controls other than newlines escaped."""
    text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
    lines = [line.translate(_CONTROLS) for line in text.splitlines()]
    return Text("\n".join(lines))


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


def short_path(path: str) -> str:
    """A path relative to the current directory when it is inside it, else as given."""
    import os

    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative
