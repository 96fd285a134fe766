"""The CLI's stdout and stderr when they are pipes: a reader that goes away (`runner ... -q |
head -n 1`) must not end a launch midway. Python raises BrokenPipeError on the next write,
and click turns that into `sys.exit(1)`: the launch stopped with its runs left `lost`, and
nothing said why. Here the write is dropped instead, and the launch runs to its end."""

from __future__ import annotations

import io
import os
import sys
from typing import Any

# The streams replaced: kept, since dropping the last reference to one closes its descriptor.
_REPLACED: list[Any] = []


class ReaderGone(io.RawIOBase):
    """A file descriptor written raw; once its reader has gone (EPIPE) writes are dropped."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd
        self.gone = False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return False

    def write(self, data: Any) -> int:
        size = len(memoryview(data))
        if not self.gone:
            try:
                return os.write(self.fd, data)
            except BrokenPipeError:
                self.gone = True
        return size


def survive_closed_readers() -> None:
    """Replace the process's own stdout and stderr, when they are not terminals, by streams
    that drop what they write once their reader has gone. Streams already replaced (pytest's
    capture, a notebook's) are left alone."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not getattr(sys, f"__{name}__") or stream is None:
            continue
        try:
            fd = stream.fileno()
            if os.isatty(fd):
                continue
        except (OSError, ValueError):
            continue
        stream.flush()
        _REPLACED.append(stream)
        wrapped = io.TextIOWrapper(
            io.BufferedWriter(ReaderGone(fd)),
            encoding=stream.encoding,
            errors=stream.errors,
            line_buffering=stream.line_buffering,
        )
        setattr(sys, name, wrapped)
