"""Which process runs a launch: its pid, when it started and on which host, and whether it
is still alive (unfinished runs of a launcher that is gone are shown lost)."""

from __future__ import annotations

import os


def _stat(pid: int) -> tuple[str, str]:
    """(state, start time in clock ticks since boot) of a process; ('', '') where /proc is not."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return fields[0].decode(), fields[19].decode()
    except (OSError, IndexError):
        return "", ""


def this_host() -> str:
    """The machine's name: an owner's pid (always a process on the machine that writes it)
    is recorded with it."""
    import socket

    return socket.gethostname()


def process_start(pid: int) -> str:
    """When a process started (Linux: clock ticks since boot); '' where it cannot be told."""
    return _stat(pid)[1]


def launcher_alive(pid: int, pid_start: str) -> bool:
    """Whether the process that launched is still running (and is not a reuse of its pid, nor
    a zombie: a detached launcher killed while nobody reaps it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state, start = _stat(pid)
    return state not in ("Z", "X") and (not pid_start or start == pid_start)
