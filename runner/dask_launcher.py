"""The Dask launcher: runs go to a Dask distributed cluster; their outcomes come back here.

Dask does the scheduling, the transport and the worker protocol; runner only submits one
task per run (worker.execute, the same code a local worker runs), ships the workflow's
code, caps the runs in flight and turns what Dask reports into outcomes. Imported only for
a launch on a cluster: `import runner` never loads dask.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import os
import random
import shutil
import socket
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner import metrics
from runner.errors import ClusterUnreachable
from runner.records import RunOutcome, RunStatus
from runner.worker import Task, execute

CONNECT_TIMEOUT = 5.0  # seconds to reach the scheduler before the launch is refused (exit 5)
CLOSE_TIMEOUT = 2.0  # seconds to close the client (the scheduler may be gone)
# Runs in flight on the cluster when --max-parallelism does not say (or the cluster's
# threads, if more): enough that the workers never wait for runs to reach them, few enough
# that a plan of a million runs is handed over as the earlier ones finish.
IN_FLIGHT = 1000
COPY_MODES = ("auto", "all")
# Never shipped with --copy all: caches, environments and version control.
_SKIPPED = {"__pycache__", "node_modules", "build", "dist"}
_HOST = socket.gethostname()  # the launching machine, which the workers compare to theirs


@dataclass
class DaskLauncher:
    """A connection to a Dask scheduler (distributed.Client), made when the launcher is."""

    name: str
    address: str
    n_jobs: int  # runs in flight at most; 0: IN_FLIGHT (or the cluster's threads, if more)
    copy: str = "auto"  # auto: the workflow's package; all: the whole project root
    connect_timeout: float = CONNECT_TIMEOUT
    _client: Any = field(default=None, repr=False)
    _shipped: dict[tuple[str, str], str | None] = field(default_factory=dict, repr=False)
    _futures: dict[str, Any] = field(default_factory=dict, repr=False)  # run id -> in flight
    _stopped: set[str] = field(default_factory=set, repr=False)  # runs cancelled (runner cancel)
    _stop_all: bool = field(default=False, repr=False)
    _lost: str | None = field(default=None, repr=False)  # why the scheduler is gone, once it is
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def isolated(self) -> bool:
        # Dask, not runner, deals with a dying worker: it reruns the task elsewhere, up to
        # the scheduler's allowed-failures, then fails it with KilledWorker.
        return False

    def connect(self) -> None:
        """Reach the scheduler now: an unreachable one fails the launch before anything is
        recorded (exit 5, naming the address and the error)."""
        if self._client is not None:
            return
        from distributed import Client

        try:
            self._client = Client(self.address, timeout=self.connect_timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterUnreachable(
                f"cannot reach the Dask scheduler at {self.address}: {exc}",
                hint="start one (`runner cluster`, or `dask scheduler` and `dask worker`)"
                " or fix --addr / RUNNER_ADDR / the run file's addr",
            ) from None

    def prepare(self, runs: int) -> None:
        self.connect()

    def threads(self) -> int:
        """How many runs the cluster runs at once: its workers' threads (a search asks as
        many trials at a time, by default)."""
        self.connect()
        return max(sum(self._client.nthreads().values()), 1)

    def release(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close(timeout=CLOSE_TIMEOUT)

    def run(self, tasks: Iterable[Task], marker_dir: str | None = None) -> Iterator[RunOutcome]:
        """Submit the runs as earlier ones finish, never more in flight than the cap; yield
        each outcome as Dask reports it. `tasks` may be lazy: it is read once, in order."""
        from distributed import as_completed

        source = iter(tasks)
        if self._lost:
            yield from (self._failed(task, self._lost) for task in source)
            return
        self.connect()
        client = self._client
        window = self.n_jobs or max(IN_FLIGHT, sum(client.nthreads().values()))
        running: dict[Any, Task] = {}
        finished = as_completed(loop=client.loop, with_results=True, raise_errors=False)
        token = uuid.uuid4().hex[:8]  # keys stay unique when a run is submitted again
        # The runs tell the launch, through the scheduler, when they start and what they log.
        inbox = metrics.inbox_of(marker_dir)
        topic = f"runner-{token}" if inbox is not None else None
        if inbox is not None:
            client.subscribe_topic(topic, functools.partial(_heard, inbox))

        def submit(free: int) -> None:
            """Up to `free` more runs, in one message to the scheduler (a message per run
            costs the scheduler several times more)."""
            batch: list[Task] = []
            while len(batch) < free and not self._stop_all:
                task = next(source, None)
                if task is None:
                    break
                if task.run_id not in self._stopped:
                    batch.append(task)
            if not batch:
                return
            futures = client.map(
                run_on_worker,
                batch,
                [self._ship(task) for task in batch],
                [_HOST] * len(batch),
                [topic] * len(batch),
                key=[f"runner-{task.run_id}-{task.attempt}-{token}" for task in batch],
                pure=False,
            )
            with self._lock:
                self._futures.update(
                    (task.run_id, future) for task, future in zip(batch, futures, strict=True)
                )
            running.update(zip(futures, batch, strict=True))
            finished.update(futures)

        try:
            submit(window)
            for done in finished.batches():
                for future, result in done:
                    task = running.pop(future)
                    with self._lock:
                        self._futures.pop(task.run_id, None)
                    if inbox is not None:
                        inbox.running.pop(task.run_id, None)
                        if future.status == "finished" and result[2] is not None:
                            inbox.put(result[2], True)  # its last points, with its outcome
                    yield self._outcome(task, future, result)
                if self._lost:  # the runs not yet submitted cannot be either
                    yield from (self._failed(task, self._lost) for task in source)
                    continue
                submit(window - len(running))
        finally:
            # Closed early (Ctrl-C, a cancelled launch, --fail-fast): the cluster drops the rest.
            if running and not self._lost:
                client.cancel(list(running), force=True)
                self._interrupt([task.run_id for task in running.values()])
            if topic is not None and not self._lost:
                with contextlib.suppress(Exception):  # (the scheduler may be gone)
                    client.unsubscribe_topic(topic)
                    # The scheduler keeps a topic's last 1,000 events (points and all) for
                    # as long as it runs: the launch's go with it.
                    client.run_on_scheduler(_forgetting(topic))

    def stop(self, run_ids: set[str] | None) -> None:
        """Cancel runs on the cluster (None: all of this launch's), from the cancel watcher's
        thread: their futures are cancelled and their calls interrupted in the workers."""
        with self._lock:
            if run_ids is None:
                self._stop_all = True
            wanted = self._futures if run_ids is None else run_ids
            targets = {
                run_id: self._futures[run_id]
                for run_id in wanted
                if run_id in self._futures and run_id not in self._stopped
            }
            self._stopped.update(targets)
        if targets and self._client is not None and not self._lost:
            self._client.cancel(list(targets.values()), force=True)
            self._interrupt(list(targets))

    def prune(self, run_ids: list[str]) -> None:
        """A search's pruner stops these runs: `runner.should_prune()` says so in the workers
        that run them (from the recorder's thread)."""
        if self._client is not None and not self._lost:
            with contextlib.suppress(Exception):  # a worker gone meanwhile: its run went too
                self._client.run(metrics.prune_here, run_ids)

    def _interrupt(self, run_ids: list[str]) -> None:
        """Dask cancels a future but lets its call run on in the worker's thread: raise
        RunCancelled in that thread, as Ctrl-C would in a local worker."""
        with contextlib.suppress(Exception):  # a worker gone meanwhile: its run went with it
            self._client.run(interrupt_runs, run_ids)

    def _outcome(self, task: Task, future: Any, result: Any) -> RunOutcome:
        if future.status == "finished":
            outcome, files, _ = result
            if files:
                outcome.run_dir = _write_back(task.run_dir, files)
            if outcome.result_ref and not os.path.isabs(outcome.result_ref):
                # A big result's file, sent back from another host with the run's folder.
                outcome.result_ref = os.path.join(task.run_dir, outcome.result_ref)
            return outcome
        if future.status == "cancelled" or future.status == "lost":
            if task.run_id in self._stopped or self._stop_all:
                return self._failed(task, "cancelled", RunStatus.CANCELLED)
            self._lost = (
                f"the Dask scheduler at {self.address} was lost while the run was on the"
                f" cluster ({_reason(result)}); `runner resume` runs it again"
            )
            return self._failed(task, self._lost)
        return self._failed(task, _error_text(result, self.address))

    @staticmethod
    def _failed(task: Task, error: str, status: RunStatus = RunStatus.FAILED) -> RunOutcome:
        now = time.time()
        return RunOutcome(task.run_id, status, now, now, error=error, attempt=task.attempt)

    def _ship(self, task: Task) -> str | None:
        """The file name of the code zip the workers import the workflow from (uploaded
        once per project root and launcher), or None when there is nothing to ship."""
        root = task.sys_path[0] if task.sys_path else ""
        top = task.entrypoint.split(":")[0].split(".")[0]
        key = (root, top)
        if key not in self._shipped:
            self._shipped[key] = self._upload(Path(root), top) if root else None
        return self._shipped[key]

    def _upload(self, root: Path, top: str) -> str | None:
        if self.copy == "all" and root.is_dir():
            files = list(_project_files(root))
        elif (root / top).is_dir():
            files = list(_project_files(root / top))
        elif (root / f"{top}.py").is_file():
            files = [root / f"{top}.py"]
        else:  # an installed package: the workers have it (or say which module they lack)
            return None
        digest = hashlib.sha256()
        for path in files:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
        name = f"runner-code-{digest.hexdigest()[:16]}.zip"
        with tempfile.TemporaryDirectory(prefix="runner-ship-") as folder:
            archive = os.path.join(folder, name)
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
                for path in files:
                    zipped.write(path, str(path.relative_to(root)))
            # load=False: a module that fails to import fails its runs, with their error,
            # rather than the upload.
            self._client.upload_file(archive, load=False)
        return name


def _project_files(folder: Path) -> Iterator[Path]:
    """The files under `folder` worth shipping: no hidden ones, caches or environments."""
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name in _SKIPPED or entry.suffix == ".pyc":
            continue
        if entry.is_dir():
            if (entry / "pyvenv.cfg").exists() or (entry / "runner.db").exists():
                continue  # a virtual environment, or a run store
            yield from _project_files(entry)
        elif entry.is_file():
            yield entry


def _reason(result: Any) -> str:
    text = str(result).strip() if result is not None else ""
    return text or "connection lost"


def _error_text(result: Any, address: str) -> str:
    """What a Dask failure of the run's task means, in a sentence."""
    from distributed.scheduler import KilledWorker

    exc = result[1] if isinstance(result, tuple) and len(result) > 1 else result
    if isinstance(exc, KilledWorker):
        return (
            f"KilledWorker: the Dask workers running it died {exc.allowed_failures + 1} times"
            f" (last {getattr(exc.last_worker, 'address', exc.last_worker)});"
            f" the scheduler at {address} gave up on it"
        )
    if isinstance(exc, RunCancelled):
        return "cancelled"
    return f"{type(exc).__name__}: {exc}".strip()


def _write_back(run_dir: str, files: dict[str, bytes]) -> str:
    """The files a run left on a worker of another machine, put where a local run's go."""
    for relative, content in files.items():
        path = Path(run_dir, relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return run_dir


# -- on the workers --------------------------------------------------------------------------


class RunCancelled(BaseException):
    """Raised in a worker's thread whose run was cancelled (BaseException: `except Exception`
    in the workflow must not swallow it)."""


_threads: dict[str, int] = {}  # run id -> the worker thread running it (in each worker)
# Held to interrupt a thread, and by a thread to leave the table: an interrupt never reaches
# a thread that has moved on from its run (to Dask's own code, or the next run).
_threads_lock = threading.Lock()


def run_on_worker(
    task: Task, shipped: str | None, origin: str, topic: str | None = None
) -> tuple[RunOutcome, dict[str, bytes] | None, metrics.Sent | None]:
    """One run in a Dask worker, through worker.execute as in any local worker. The shipped
    code is imported from its zip (as a registered snapshot is: the cache of imported
    entrypoints keys on it, so a new version of the code is imported afresh). A worker on
    another machine than the launcher's writes the run's folder in a scratch folder and
    sends its files back with the outcome. With a `topic`, the launch hears through it when
    the run starts and what it logs (its last points come back with the outcome)."""
    from distributed import get_worker

    worker = get_worker()
    if shipped:
        code = os.path.join(worker.local_directory, shipped)
        task = task._replace(sys_path=(code, *task.sys_path[1:]), registered=True)
    channel = None
    if topic is not None:
        channel = _Events(worker, topic)
        worker.log_event(
            topic, ("start", task.run_id, time.time(), socket.gethostname(), worker.address)
        )
    metrics.sending_to(channel)
    try:
        outcome, files = run_here(
            task, worker.address, same_host=origin == _HOST, scratch=worker.local_directory
        )
    finally:
        metrics.sending_to(None)
    return outcome, files, channel.last if channel is not None else None


class _Events:
    """A run's points sent to the launch as events of its topic; the run's last send is
    kept to go back with its outcome (an event may arrive after the outcome)."""

    def __init__(self, worker: Any, topic: str) -> None:
        self.worker = worker
        self.topic = topic
        self.last: metrics.Sent | None = None

    def __call__(self, sent: metrics.Sent, last: bool = False) -> None:
        if last:
            self.last = sent
        else:
            self.worker.log_event(self.topic, ("points", sent))


def _forgetting(topic: str) -> Callable[..., None]:
    """A function for client.run_on_scheduler that drops the events a scheduler keeps of a
    topic. Made here, nested, so that it travels by value: the scheduler need not have runner
    installed. (distributed has no public call for it; a scheduler without it keeps them.)"""

    def forget(dask_scheduler: Any) -> None:
        broker = getattr(dask_scheduler, "_broker", None)
        if broker is not None:
            broker.truncate(topic)

    return forget


def _heard(inbox: metrics.Inbox, event: tuple[float, Any]) -> None:
    """An event of a launch's runs, on the client's event loop."""
    message = event[1]
    if message[0] == "start":
        _, run_id, since, host, address = message
        inbox.running[run_id] = (run_id, since, None, host, address)
    elif message[0] == "points":
        inbox.put(message[1])


def run_here(
    task: Task, address: str, *, same_host: bool, scratch: str
) -> tuple[RunOutcome, dict[str, bytes] | None]:
    """The part of run_on_worker that needs no Dask worker around it."""
    folder = None
    if not same_host:
        folder = tempfile.mkdtemp(prefix="runner-run-", dir=scratch)
        task = task._replace(run_dir=os.path.join(folder, task.run_id))
    _isolate_random()
    _run_random.generator = random.Random()
    with _threads_lock:
        _threads[task.run_id] = threading.get_ident()
    try:
        outcome = execute(task)
    finally:
        with _threads_lock:
            _threads.pop(task.run_id, None)
        _run_random.generator = None
    outcome.host = socket.gethostname()
    outcome.worker = address
    if outcome.error and outcome.error.startswith("ModuleNotFoundError"):
        outcome.error += f" (on the Dask worker {address} at {outcome.host}: install it there)"
    files = None
    if folder is not None:
        run_dir = Path(task.run_dir)
        if run_dir.is_dir():
            files = {
                str(path.relative_to(run_dir)): path.read_bytes()
                for path in run_dir.rglob("*")
                if path.is_file()
            }
        if outcome.result_ref:  # in the folder sent back: where it is in there
            outcome.result_ref = os.path.relpath(outcome.result_ref, task.run_dir)
        shutil.rmtree(folder, ignore_errors=True)
        outcome.run_dir = None
    return outcome, files


_run_random = threading.local()  # .generator: the `random` of the run this thread runs


def _isolate_random() -> None:
    """Give each run its own `random` generator. A Dask worker's own threads draw from the
    `random` module too (tornado's jittered callbacks, the choice of a peer to fetch data
    from): between a run's seeding and its draws they would change its numbers. The
    module's functions (random.random, random.seed, ...) become calls to the calling
    thread's run generator, or to the shared one for any other thread. Once per worker."""
    with _threads_lock:
        shared: random.Random = getattr(random, "_inst", None) or random.Random()
        if getattr(random, "_runner_isolated", False):
            return
        for name, value in list(vars(random).items()):
            if getattr(value, "__self__", None) is shared:
                setattr(random, name, _per_run(name, shared))
        random._runner_isolated = True  # type: ignore[attr-defined]


def _per_run(name: str, shared: random.Random) -> Callable[..., Any]:
    method = getattr(shared, name)

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(getattr(_run_random, "generator", None) or shared, name)(*args, **kwargs)

    return call


def interrupt_runs(run_ids: list[str]) -> int:
    """In each worker (client.run): interrupt the threads running these runs."""
    stopped = 0
    with _threads_lock:
        for run_id in run_ids:
            ident = _threads.get(run_id)
            if ident is not None:
                stopped += ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(ident), ctypes.py_object(RunCancelled)
                )
    return stopped
