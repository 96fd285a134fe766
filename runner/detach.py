"""Detached launches: a background process of its own runs the runs a launch already recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

# Where a detached process's own stdout and stderr go (the runs' output goes to their logs).
FOLDER = "detached"


def output_path(home: Path, launch_id: str) -> Path:
    return home / FOLDER / f"{launch_id}.log"


def spawn(home: Path, launch_id: str, *, fail_fast: bool) -> int:
    """Start the background process of a recorded launch; returns its pid. Its own session
    (no terminal: closing it or logging out sends it nothing), stdin from /dev/null."""
    home = home.resolve()
    out = output_path(home, launch_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "runner.detach", str(home), launch_id]
    if fail_fast:
        argv.append("--fail-fast")
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


def _terminated(signum: int, frame: Any) -> None:
    """SIGTERM stops the launch the way Ctrl-C stops an attached one."""
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    """The background process: HOME LAUNCH_ID [--fail-fast]. It owns the launch (its pid is
    the launch's, for `lost`) and runs the runs still pending, as an attached launch would."""
    from runner import lifecycle
    from runner.errors import RunnerError
    from runner.launchers import launch_only_process

    home, launch_id = Path(argv[0]), argv[1]
    signal.signal(signal.SIGTERM, _terminated)
    launch_only_process()
    print(f"launch {launch_id}: background process {os.getpid()}", flush=True)
    try:
        done = lifecycle.run_pending(launch_id, home=home, fail_fast="--fail-fast" in argv[2:])
    except RunnerError as exc:
        print(f"error: {exc}", flush=True)
        return exc.exit_code
    print(f"launch {launch_id}: {done.record.counts}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
