"""Handing what a worker thread read over to the widgets that show it."""

from __future__ import annotations

from textual.widget import Widget


def still_shown(widget: Widget, *selectors: str) -> bool:
    """Whether a worker thread's result can still be shown in `widget`: it is attached and
    holds the children the result goes into. A read that ends while the app closes (Textual
    removes widgets children first) finds them gone; the result is dropped, not raised."""
    return widget.is_attached and all(widget.query(selector) for selector in selectors)
