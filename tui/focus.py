"""The focus, moved at once."""

from __future__ import annotations

from textual.widget import Widget


def focus_now(widget: Widget) -> None:
    """Give `widget` the focus before the next key is read. Textual's `Widget.focus()` waits
    for the app's queue: keys typed before it is served (a `/` and the filter text, in one
    burst from the terminal) would go to the widget that had the focus, to its key
    bindings, or nowhere."""
    widget.screen.set_focus(widget)
