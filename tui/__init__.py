"""runner's terminal UI (Textual): browse workflows, fill a launch form, launch, watch runs live.

Shipped inside the distribution as `runner.tui`; it uses only the public `runner` API.
"""

from __future__ import annotations

from pathlib import Path

from runner.tui.app import RunnerApp


def make_app(config_dir: str | Path | None = None, home: str | Path | None = None) -> RunnerApp:
    """The app as `runner tui` starts it; the tests build it the same way."""
    return RunnerApp(config_dir=config_dir, home=home)


def main(config_dir: str | Path | None = None, home: str | Path | None = None) -> None:
    make_app(config_dir, home).run()


__all__ = ["RunnerApp", "main", "make_app"]
