"""Detached launches: a background process of its own runs the runs a launch already recorded
(its `__main__` is runner.background). Imports nothing of runner: a launching process pays
only for starting it."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

# Where a detached process's own stdout and stderr go (the runs' output goes to their logs).
FOLDER = "detached"


def output_path(home: Path, launch_id: str) -> Path:
    return home / FOLDER / f"{launch_id}.log"


def spawn(home: Path, launch_id: str, *, fail_fast: bool, overwrite_cache: bool = False) -> int:
    """Start the background process of a recorded launch; returns its pid. Its own session
    (no terminal: closing it or logging out sends it nothing), stdin from /dev/null.
    `overwrite_cache`: for a search, whose runs are made (and may be served) there."""
    home = home.resolve()
    out = output_path(home, launch_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "runner.background", str(home), launch_id]
    if fail_fast:
        argv.append("--fail-fast")
    if overwrite_cache:
        argv.append("--overwrite-cache")
    with open(out, "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    # Reaped when it ends if this process lives on (a notebook, the TUI): a zombie would pass
    # for a live launcher, and its runs would never show as lost.
    threading.Thread(target=proc.wait, name=f"runner-detached-{proc.pid}", daemon=True).start()
    return proc.pid
