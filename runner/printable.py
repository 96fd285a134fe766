"""User data made safe for a terminal: control characters and escape sequences shown escaped."""

from __future__ import annotations

import json
from typing import Any

# C0 and C1 controls (ESC and CSI start terminal sequences) shown as repr() would show them,
# and the bidirectional overrides that make text read other than it is.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))}
_CONTROLS.update({c: f"\\u{c:04x}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})
_CONTROLS[ord("\n")] = "\\n"
_CONTROLS[ord("\t")] = "\\t"
_CONTROLS[ord("\r")] = "\\r"


def clean(value: Any) -> str:
    """A value as one line of text with its control characters escaped (JSON if not a str)."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text.translate(_CONTROLS)


def clean_lines(text: str) -> str:
    """Several lines (a message, a traceback) with every control but the newline escaped."""
    return "\n".join(line.translate(_CONTROLS) for line in text.split("\n"))


def clipped(text: str, limit: int = 2000) -> str:
    """Each line at most `limit` characters: a message quoting a 100 kB input stays readable."""
    return "\n".join(
        line if len(line) <= limit else f"{line[:limit]}... ({len(line) - limit:,} more characters)"
        for line in text.split("\n")
    )
