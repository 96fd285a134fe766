"""Metrics a run logs while it runs (`runner.log`), on their way from the run to the store.

In the run: `log(step, **values)` keeps the call, its values checked, in the run's `Points`
(half a microsecond a call, no lock, no system call); they are sent on as columns by key
(packed arrays of steps, values and times), a batch at a time: when SEND_CALLS calls wait,
by a thread of the process's own at most SEND_EVERY seconds after they were logged (so a
run that logs then computes for a minute is seen at once), and when the run ends, however
it ends (raised, timed out). A point sent is safe from its worker's death.

Where they go is the run's `Channel`: a worker process appends them to a file of its own
in the launch's worker folder (one `os.write` a batch: the kernel keeps what was written
when the process is killed); a run in the launching process itself (threads, sequential)
puts them in the launch's `Inbox`; a Dask worker sends them with an event to the client
(dask_launcher). The launching process drains the files and the inbox (`Inbox.take`) on
its recorder's thread and writes them to the store in one transaction
(`Store.record_points`), a row of packed arrays per key and batch, and the summary (count,
last, min, max) per run and key that every table reads.

Outside a run, `log` records nothing and warns once: a workflow stays a plain function that
a test or a notebook can call without runner.
"""

from __future__ import annotations

import contextlib
import marshal
import operator
import os
import struct
import threading
import time
import warnings
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from threading import get_ident
from time import time as _now
from typing import Any

SEND_EVERY = 0.1  # seconds a logged point waits at most before it is sent on
SEND_CALLS = 8192  # or this many calls, whichever comes first
POINTS_SUFFIX = ".points"  # a worker process's file of sent points, in the worker folder
_LENGTH = struct.Struct("<I")
_INT64, _DOUBLE = struct.Struct("=q"), struct.Struct("=d")  # one step, one value (as array's)

# What is sent: (run id, the start of its execution, the number of the send in the run,
# [(key, steps, values, times), ...]), the columns as bytes of array('q') and array('d').
# The number orders a run's sends however they travel (a Dask run's last comes back with its
# outcome, the others as events).
Chunk = tuple[str, bytes, bytes, bytes]
Sent = tuple[str, float, int, list[Chunk]]
Send = Callable[[Sent, bool], None]  # (what, whether it is the run's last send)


_STEP, _TIME, _VALUES = operator.itemgetter(0), operator.itemgetter(1), operator.itemgetter(2)


class Points:
    """The points a run logged and has not sent yet, and its steps' counters.

    A call is kept whole, as it came, with its time (one append to a deque: atomic, so no
    lock in the run's thread, and a call cut short by a timeout's signal or a Dask cancel's
    exception is kept whole or not at all); whoever sends (the run's thread, the sender's,
    the run's end) turns the calls into columns by key, numbering the steps not given."""

    __slots__ = (
        "calls",
        "lock",
        "next_step",
        "number",
        "run_id",
        "send",
        "started",
    )

    def __init__(self, run_id: str, started: float, send: Send) -> None:
        self.run_id = run_id
        self.send = send
        self.calls: deque[tuple[int | None, float, dict[str, float]]] = deque()
        self.lock = threading.Lock()  # between those that send
        self.next_step: dict[str, int] = {}
        self.number = 0  # sends so far
        self.started = started
        _sender.start()

    def flush(self, last: bool = False) -> None:
        """Send what waits (from the run's thread, or the sender's); `last`: the run ended."""
        with self.lock:
            calls = self.calls
            taken = [calls.popleft() for _ in range(len(calls))]
            if taken:
                self.send((self.run_id, self.started, self.number, self._chunks(taken)), last)
                self.number += 1

    def _chunks(self, calls: list[tuple[int | None, float, dict[str, float]]]) -> list[Chunk]:
        """The calls as columns by key, steps numbered (a key's counter goes on from the
        last step it was given)."""
        next_step = self.next_step
        if len(calls) == 1:  # (a short run's one call, a slow loop's call of the last 0.1 s)
            step, now, one = calls[0]
            at_time = _DOUBLE.pack(now)
            chunks = []
            for key, value in one.items():
                at = next_step.get(key, 0) if step is None else step
                next_step[key] = at + 1
                chunks.append((key, _INT64.pack(at), _DOUBLE.pack(value), at_time))
            return chunks
        logged = list(map(_VALUES, calls))
        keys = list(logged[0])
        by_key = None
        if sum(map(len, logged)) == len(keys) * len(logged):
            # The common case, the same keys at every call: a column at a time, in C loops
            # (as many values as calls times keys, and every call has the first call's keys).
            with contextlib.suppress(KeyError):
                by_key = [array("d", map(operator.itemgetter(key), logged)) for key in keys]
        if by_key is not None:
            given = list(map(_STEP, calls))
            implicit = given.count(None) == len(given)
            times = array("d", map(_TIME, calls)).tobytes()
            chunks = []
            for key, values in zip(keys, by_key, strict=True):
                at = next_step.get(key, 0)
                if implicit:
                    steps = array("q", range(at, at + len(calls)))
                else:
                    steps = array("q")
                    for step in given:
                        at = at if step is None else step
                        steps.append(at)
                        at += 1
                next_step[key] = steps[-1] + 1
                chunks.append((key, steps.tobytes(), values.tobytes(), times))
            return chunks
        columns: dict[str, tuple[array[int], array[float], array[float]]] = {}
        for step, now, one in calls:
            for key, value in one.items():
                at = next_step.get(key, 0) if step is None else step
                next_step[key] = at + 1
                found = columns.get(key)
                if found is None:
                    found = columns[key] = (array("q"), array("d"), array("d"))
                found[0].append(at)
                found[1].append(value)
                found[2].append(now)
        return [(key, s.tobytes(), v.tobytes(), t.tobytes()) for key, (s, v, t) in columns.items()]


def _number(key: str, value: Any) -> float:
    """A logged value as a float, or a TypeError naming the key (bool, int, numpy and torch
    scalars are numbers; text is not, even when it reads as one)."""
    if isinstance(value, (str, bytes)) or not hasattr(type(value), "__float__"):
        raise TypeError(
            f"runner.log: {key}={value!r} is not a number ({type(value).__name__});"
            " log numbers, one keyword each"
        )
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError) as exc:  # an array, an int past float's range
        raise TypeError(f"runner.log: {key}={value!r} cannot be logged as a float: {exc}") from None


# The runs this process executes now, by the thread that runs each, from `enter` to `leave`:
# [run id, start, worker folder, its Points or None, the thread's ident]. The Points
# are made at the run's first point: a run that logs nothing costs a dict's write and pop.
# A thread that is not a run's own (one the run started: a data loader's) logs to the
# process's run executing when there is one only (as in a worker process), and from then on
# to that run only: once it ended, what the thread logs is recorded nowhere (a thread a run
# left behind must not log into the runs after it).
_executing: dict[int, list[Any]] = {}
_sends: dict[int, Send] = {}  # a channel set by the code around a thread's runs (a Dask worker's)
_adopted = threading.local()  # .run: in a thread not a run's own, the run it logs to
_making = threading.Lock()
_warned = False


def log(step: int | None = None, **values: Any) -> None:
    """Record metrics of the run under way: `runner.log(loss=0.31, acc=0.9)`, or with the
    step they belong to, `runner.log(step=epoch, val_loss=v)`. Without `step`, each key
    counts its own steps from 0. Values are numbers (NaN and infinities are kept; min and
    max leave NaN out). Buffered: a call costs about a microsecond, and the points reach
    the store within a fraction of a second, including those of a run that then fails,
    times out, is cancelled or whose worker dies.

    Outside a run (a workflow called as a plain function, in a test or a notebook) nothing
    is recorded and a warning says so, once: the same code runs with and without runner."""
    run = _executing.get(get_ident())
    points: Points | None = run[3] if run is not None else None
    if points is None:
        points = _points()
        if points is None:
            _outside_a_run()
            return
    if step is not None and type(step) is not int:
        step = _step(step)
    if not values:
        return
    # Every value is checked before the call is kept: a call refused keeps nothing. (What
    # follows is Points' own, here to spare a call: kept whole, with its time.)
    for value in values.values():
        if type(value) is not float:
            for key, value in values.items():
                values[key] = _number(key, value)
            break
    calls = points.calls
    calls.append((step, _now(), values))
    if len(calls) >= SEND_CALLS:
        points.flush()


def _step(step: Any) -> int:
    if isinstance(step, bool):
        raise TypeError(f"runner.log: step={step!r} is not an integer")
    try:
        return operator.index(step)
    except TypeError:
        raise TypeError(
            f"runner.log: step={step!r} is not an integer ({type(step).__name__})"
        ) from None


def _points() -> Points | None:
    """The Points of the run this thread runs, made at its first point; in a thread the run
    started itself, those of the run it logged to first (the process's one run executing,
    then). None outside a run."""
    run = _executing.get(get_ident())
    if run is None:
        adopted: list[Any] | None = getattr(_adopted, "run", None)
        if adopted is None:
            runs = list(_executing.values())
            if len(runs) != 1:
                return None
            adopted = _adopted.run = runs[0]
        if _executing.get(adopted[4]) is not adopted:  # that run ended
            return None
        run = adopted
    with _making:
        points: Points | None = run[3]
        if points is None:
            send = _sends.get(run[4]) or _channel(run[2])
            if send is None:
                return None
            points = run[3] = Points(run[0], run[1], send)
    return points


def _channel(worker_dir: str | None) -> Send | None:
    if not worker_dir:
        return None
    inbox = _inboxes.get(worker_dir)
    return inbox.put if inbox is not None else file_channel(worker_dir)


def _outside_a_run() -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(
            "runner.log called outside a run: nothing is recorded (launch the workflow with"
            " runner to record its metrics)",
            RuntimeWarning,
            stacklevel=3,
        )


def enter(run_id: str, started: float, worker_dir: str | None) -> None:
    """This thread runs this run from now on: what it logs goes to its launch."""
    ident = get_ident()
    _executing[ident] = [run_id, started, worker_dir, None, ident, False]


def leave() -> bool:
    """The thread's run ended (however: call it in a `finally`): what it logged and has not
    sent is sent now. Returns whether should_prune told the run to stop."""
    run = _executing.pop(get_ident(), None)
    if run is None:
        return False
    if run[3] is not None:
        with contextlib.suppress(OSError):
            run[3].flush(last=True)
    _pruned.discard(run[0])
    return bool(run[5])


# -- pruning (a search's pruner stops a run early) ----------------------------------------------

PRUNED_DIR = "pruned"  # in a launch's worker folder: an empty file a run the pruner stopped
_pruned: set[str] = set()  # runs of this process told to stop (in-process runs, Dask workers')


class TrialPruned(Exception):
    """Raise it when `runner.should_prune()` says so: the run ends `pruned`, what it logged
    kept (Optuna's own `optuna.TrialPruned` does the same)."""


def should_prune() -> bool:
    """Whether the search this run is a trial of wants it to stop now: its pruner compared
    the values the run logged (runner.log) with those of the other trials. Call it after
    logging a step's value; when it says True, return (or raise runner.TrialPruned): the run
    ends `pruned`. Outside a search (or a run), always False. Costs a file's stat."""
    run = _executing.get(get_ident())
    if run is None:
        return False
    run_id, worker_dir, points = run[0], run[2], run[3]
    if points is not None and points.calls:
        with contextlib.suppress(OSError):
            points.flush()  # what it logged reaches the pruner the sooner
    told = run_id in _pruned or bool(
        worker_dir and os.path.exists(os.path.join(worker_dir, PRUNED_DIR, run_id))
    )
    if told:
        run[5] = True
    return told


def prune_here(run_ids: Iterable[str]) -> int:
    """Tell this process's runs to stop (a Dask worker's, through client.run)."""
    _pruned.update(run_ids)
    return len(_pruned)


def prune(worker_dir: str, run_ids: Iterable[str]) -> None:
    """Tell a launch's runs to stop, wherever they run on this machine: an empty file each
    in its worker folder (worker processes), and this process's own runs."""
    run_ids = list(run_ids)
    folder = os.path.join(worker_dir, PRUNED_DIR)
    os.makedirs(folder, exist_ok=True)
    for run_id in run_ids:
        with open(os.path.join(folder, run_id), "w"):
            pass
    prune_here(run_ids)


def sending_to(send: Send | None) -> None:
    """Runs this thread runs from now on send their points here (None: by their worker folder)."""
    if send is None:
        _sends.pop(get_ident(), None)
    else:
        _sends[get_ident()] = send


class _Sender:
    """The thread that sends points waiting longer than SEND_EVERY; started by the first
    point a process logs, asleep while nothing waits."""

    def __init__(self) -> None:
        self.started = False
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self.started:
                return
            threading.Thread(target=self._loop, name="runner-metrics", daemon=True).start()
            self.started = True

    def _loop(self) -> None:
        while True:
            time.sleep(SEND_EVERY / 2)
            now = time.time()
            for run in list(_executing.values()):
                points = run[3]
                try:
                    oldest = points.calls[0][1]  # (the time of the oldest call waiting)
                except (AttributeError, IndexError):  # nothing logged, or nothing waits
                    continue
                if now - oldest >= SEND_EVERY:
                    # (OSError: the folder went with its launch, nothing to send to)
                    with contextlib.suppress(OSError):
                        points.flush()
            drain()  # the last sends of runs ended meanwhile


_sender = _Sender()


# -- channels: from a run to its launching process ----------------------------------------------


class Inbox:
    """A launch's points and running runs, for runs in the launching process itself
    (threads, sequential) and those a Dask client hears of: filled from any thread,
    drained by the recorder's."""

    def __init__(self) -> None:
        self.sent: deque[Sent] = deque()
        # slot (a thread, or a Dask run) -> (run id, started, pid, host, worker)
        self.running: dict[Any, tuple[str, float, int | None, str | None, str | None]] = {}

    def put(self, sent: Sent, last: bool = False) -> None:
        self.sent.append(sent)

    def take(self) -> list[Sent]:
        sent = self.sent
        return [sent.popleft() for _ in range(len(sent))]


_inboxes: dict[str, Inbox] = {}  # worker folder -> the inbox of the launch using it


def open_inbox(worker_dir: str) -> Inbox:
    inbox = _inboxes[worker_dir] = Inbox()
    return inbox


def close_inbox(worker_dir: str) -> None:
    _inboxes.pop(worker_dir, None)


def inbox_of(worker_dir: str | None) -> Inbox | None:
    """The launch's inbox when this process launched it (its runs run here), else None."""
    return _inboxes.get(worker_dir) if worker_dir else None


class FileChannel:
    """A worker process's file of sent points in a launch's worker folder: length-prefixed
    marshal records. Named by the process and a token of its own: a worker started later
    with a dead one's pid writes a file of its own, never after a record the dead one left
    cut short. A send during a run is written at once (one write); a run's last send waits
    for the next few runs' (a short run's one write less, most of its cost), written when
    the worker's batch of runs ends, or by the sender thread within SEND_EVERY: the runs
    whose last sends a dead worker took with it are run again, as is its batch."""

    def __init__(self, worker_dir: str) -> None:
        self.pid = os.getpid()
        self.path = os.path.join(worker_dir, f"{self.pid}-{os.urandom(4).hex()}{POINTS_SUFFIX}")
        self._fd: int | None = None
        self._lock = threading.Lock()
        self._waiting: list[bytes] = []  # last sends not written yet
        self._size = 0

    def __call__(self, sent: Sent, last: bool = False) -> None:
        data = marshal.dumps(sent)
        record = _LENGTH.pack(len(data)) + data
        with self._lock:
            if last and self._size < _WAITING_MOST:
                self._waiting.append(record)
                self._size += len(record)
                return
            self._write(record)

    def drain(self) -> None:
        """Write the last sends waiting."""
        with self._lock:
            if self._waiting:
                self._write(b"")

    def _write(self, record: bytes) -> None:
        if self._waiting:
            record = b"".join(self._waiting) + record
            self._waiting, self._size = [], 0
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(self._fd, record)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


_WAITING_MOST = 1 << 20  # bytes of last sends a channel holds back at most


def drain() -> None:
    """Write every last send this process holds back (a worker's batch of runs ended)."""
    for channel in list(_files.values()):
        with contextlib.suppress(OSError):  # (its folder went with its launch)
            channel.drain()


_files: dict[str, FileChannel] = {}


def file_channel(worker_dir: str) -> FileChannel:
    """This process's channel to a launch's worker folder. A worker serves launch after
    launch (loky keeps it for a notebook's next one): the files of those whose folder went
    with them are closed as it takes up a new one."""
    channel = _files.get(worker_dir)
    if channel is None or channel.pid != os.getpid():  # (a forked process: a file of its own)
        for folder in [folder for folder in _files if not os.path.isdir(folder)]:
            _files.pop(folder).close()
        channel = _files[worker_dir] = FileChannel(worker_dir)
    return channel


class Files:
    """The launching side of the worker processes' files: what each holds past what was read."""

    def __init__(self, worker_dir: str) -> None:
        self.worker_dir = worker_dir
        self._read: dict[str, int] = {}  # file name -> bytes read (whole records)

    def take(self) -> list[Sent]:
        found: list[Sent] = []
        try:
            names = [n for n in os.listdir(self.worker_dir) if n.endswith(POINTS_SUFFIX)]
        except FileNotFoundError:
            return found
        for name in names:
            offset = self._read.get(name, 0)
            path = os.path.join(self.worker_dir, name)
            try:
                if os.path.getsize(path) <= offset:
                    continue
                with open(path, "rb") as file:
                    file.seek(offset)
                    data = file.read()
            except FileNotFoundError:
                continue
            used = 0
            try:
                for sent, end in _records(data):
                    found.append(sent)
                    used = end
            except (ValueError, EOFError, TypeError):
                # Not a record of runner's: the file is damaged (or not ours). What it holds
                # from there is lost; the launch goes on, and its other files are read.
                used = _UNREADABLE
            self._read[name] = offset + used
        return found


_UNREADABLE = 1 << 62  # an offset past any file's end: a damaged file is not read again


def _records(data: bytes) -> Iterator[tuple[Sent, int]]:
    """Whole records and where each ends; a record cut short (its writer died writing it,
    or is writing it now) waits for the next read."""
    at, size = 0, len(data)
    while at + 4 <= size:
        (length,) = _LENGTH.unpack_from(data, at)
        end = at + 4 + length
        if end > size:
            return
        yield marshal.loads(data[at + 4 : end]), end
        at = end


def _forked() -> None:
    """In a child process a run forked (multiprocessing's way on Linux): the run is its
    parent's, not the child's; what the child logs is recorded nowhere (and never in the
    parent's files, under the parent's numbers)."""
    global _sender
    _executing.clear()
    _sends.clear()
    _files.clear()
    _inboxes.clear()
    _sender = _Sender()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)
