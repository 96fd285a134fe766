"""The background process of a detached launch (`python -m runner.background HOME LAUNCH_ID
[--fail-fast] [--overwrite-cache]`, started by runner.detach.spawn): it runs the runs its
launch recorded."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any


def _terminated(signum: int, frame: Any) -> None:
    """SIGTERM stops the launch the way Ctrl-C stops an attached one."""
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    """The background process: HOME LAUNCH_ID [--fail-fast] [--overwrite-cache]. It owns the launch (its pid is
    the launch's, for `lost`) and runs the runs still pending, as an attached launch would."""
    from runner import execution
    from runner.errors import RunnerError
    from runner.launchers import launch_only_process

    home, launch_id = Path(argv[0]), argv[1]
    signal.signal(signal.SIGTERM, _terminated)
    launch_only_process()
    print(f"launch {launch_id}: background process {os.getpid()}", flush=True)
    try:
        done = execution.run_pending(
            launch_id,
            home=home,
            fail_fast="--fail-fast" in argv[2:],
            overwrite_cache="--overwrite-cache" in argv[2:],
        )
    except RunnerError as exc:
        print(f"error: {exc}", flush=True)
        return exc.exit_code
    print(f"launch {launch_id}: {done.record.counts}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
