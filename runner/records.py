"""The state of launches and runs: statuses, planned runs and their records."""

from __future__ import annotations

import enum
import hashlib
import itertools
import json
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, overload


class RunStatus(enum.StrEnum):
    PENDING = "pending"  # recorded, not finished yet
    RUNNING = "running"  # handed to a worker
    SUCCEEDED = "succeeded"  # returned a result
    CACHED = "cached"  # reused the result of an earlier identical run (see cached_from)
    FAILED = "failed"  # raised, or its worker died; the error is recorded
    TIMED_OUT = "timed_out"  # ran past its timeout and was stopped
    CANCELLED = "cancelled"  # runner cancel, Ctrl-C, or --fail-fast stopped it before it ended
    LOST = "lost"  # never stored: shown for unfinished runs whose launcher is gone
    PRUNED = "pruned"  # a search's pruner stopped it early (runner.should_prune); metrics kept

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.LOST)

    @property
    def ok(self) -> bool:
        return self is RunStatus.SUCCEEDED or self is RunStatus.CACHED

    @property
    def fine(self) -> bool:
        """It ended as meant: succeeded, served from the cache, or stopped by its search's
        pruner (a launch of such runs exits 0)."""
        return self.ok or self is RunStatus.PRUNED

    @property
    def failure(self) -> bool:
        """The run went wrong (failed, timed out, or its launcher died); cancelled is not."""
        return self in _FAILURES


_FAILURES = frozenset((RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.LOST))

Sets = tuple[tuple[tuple[str, ...], Any], ...]  # (params path, value) of a run's sweep values


def with_sets(base: dict[str, Any], sets: Sets) -> dict[str, Any]:
    """`base` with each value set at its path: dicts along a path are copied, nothing else
    is (so runs of one sweep share everything but what they change)."""
    params = dict(base)
    for path, value in sets:
        set_path(params, path, value)
    return params


def set_path(params: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set a value in place, copying the dicts along its path (they may be shared)."""
    node = params
    for key in path[:-1]:
        child = node.get(key)
        node[key] = child = dict(child) if isinstance(child, dict) else {}
        node = child
    node[path[-1]] = value


def to_json(value: Any) -> str:
    """JSON for the store: results that JSON cannot hold are kept as their repr."""
    return _ENCODER.encode(value)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy arrays
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return repr(value)


_ENCODER = json.JSONEncoder(
    default=_jsonable
)  # one encoder, not one per call as json.dumps(default=)


@dataclass(frozen=True)
class IndexPlan:
    """What makes any run's params of a launch from its index (plan order): its definition's
    params, and the sweep axes (params path, values) in Hydra's order, each point repeated
    `repeat` times. The store keeps it once per launch (a million runs' params would be a
    million copies); the ids and seeds of its runs follow from it too (plan.run_ids)."""

    params: dict[str, Any]
    axes: tuple[tuple[tuple[str, ...], Sequence[Any]], ...]
    repeat: int
    seeds: tuple[int, ...]  # by repeat index
    id_key: int
    count: int
    entrypoint: str
    cache: bool
    code: str = ""  # the hash of the code the runs run (their cache keys hold it)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IndexPlan:
        return cls(
            params=data["params"],
            axes=tuple(
                (tuple(path), range(*values["range"]) if isinstance(values, dict) else values)
                for path, values in data["axes"]
            ),
            repeat=int(data["repeat"]),
            seeds=tuple(data["seeds"]),
            id_key=int(data["ids"][0]),
            count=int(data["ids"][1]),
            entrypoint=str(data["entrypoint"]),
            cache=bool(data["cache"]),
            code=str(data.get("code", "")),
        )

    def sets(self, index: int) -> Sets:
        """The sweep values of run `index`: the last axis changes fastest (itertools.product)."""
        point = index // self.repeat
        found = []
        for path, values in reversed(self.axes):
            point, place = divmod(point, len(values))
            found.append((path, values[place]))
        return tuple(reversed(found))

    def params_of(self, index: int) -> dict[str, Any]:
        return with_sets(self.params, self.sets(index))


class RunSpec:
    """One planned run: a workflow with concrete params and one seed. Not changed once
    planned. A run of a sweep holds its definition's params (`base`, shared by every run of
    the definition) and its own sweep values (`sets`); its `params` are made when read, so a
    launch's runs cost the same memory whatever the size of the params. A plain class with
    slots: a launch plans one per run, and a frozen dataclass takes four times as long."""

    __slots__ = (
        "base",
        "cache",
        "code",
        "entrypoint",
        "id",
        "index",
        "repeat_index",
        "retries",
        "seed",
        "sets",
        "timeout",
        "workflow_id",
        "workflow_version",
    )

    def __init__(
        self,
        id: str,
        index: int,  # position in plan order
        workflow_id: str,
        workflow_version: str,
        entrypoint: str,
        params: dict[str, Any],
        seed: int,
        repeat_index: int,
        timeout: float | None = None,  # seconds; None = no limit
        retries: int = 0,  # further attempts after a failure, with the same seed
        cache: bool = False,  # reuse an earlier identical run's result
        sets: Sets = (),  # values set on `params` to make this run's params
        code: str = "",  # a hash of the code its workflow runs (entrypoints.code_of)
    ) -> None:
        self.id = id
        self.index = index
        self.workflow_id = workflow_id
        self.workflow_version = workflow_version
        self.entrypoint = entrypoint
        self.base = params
        self.sets = sets
        self.seed = seed
        self.repeat_index = repeat_index
        self.timeout = timeout
        self.retries = retries
        self.cache = cache
        self.code = code

    def __repr__(self) -> str:
        return (
            f"RunSpec(id={self.id!r}, index={self.index}, params={self.params!r}, seed={self.seed})"
        )

    @property
    def params(self) -> dict[str, Any]:
        return with_sets(self.base, self.sets) if self.sets else self.base

    @property
    def cache_key(self) -> str:
        """Identifies identical runs: same workflow version, code, params and seed."""
        blob = json.dumps(
            [self.workflow_id, self.workflow_version, self.code, self.params, self.seed],
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()


class RunBlock:
    """Consecutive runs of one definition in plan order, as columns: run i of the block is
    index start + i, with ids[i], seeds[i] and sets[i]; what they share is `template`'s (any
    run of theirs). A streamed launch records and runs its runs a block at a time, without
    an object per run (plan.index_blocks); `specs` makes the objects where they are needed."""

    __slots__ = ("ids", "repeat", "seeds", "sets", "start", "template")

    def __init__(
        self,
        template: RunSpec,
        start: int,
        ids: list[str],
        seeds: list[int],
        sets: list[Sets],
        repeat: int,  # the launch's: a run's repeat index is its index modulo this
    ) -> None:
        self.template = template
        self.start = start
        self.ids = ids
        self.seeds = seeds
        self.sets = sets
        self.repeat = repeat

    def __len__(self) -> int:
        return len(self.ids)

    def specs(self) -> list[RunSpec]:
        t, repeat = self.template, self.repeat
        return [
            RunSpec(
                run_id,
                index,
                t.workflow_id,
                t.workflow_version,
                t.entrypoint,
                t.base,
                seed,
                index % repeat,
                t.timeout,
                t.retries,
                t.cache,
                sets,
                t.code,
            )
            for index, run_id, seed, sets in zip(
                itertools.count(self.start), self.ids, self.seeds, self.sets
            )
        ]


class Specs(Sequence[RunSpec]):
    """A launch's runs in plan order, made as they are read: iterating a million-run launch
    holds one run at a time. Reading one by index plans up to it, for the first few."""

    def __init__(
        self, count: int, make: Callable[[], Iterator[RunSpec]], kept: list[RunSpec] | None = None
    ) -> None:
        self.size = count
        self.make = make
        self.kept = kept
        # Recorded as they are about to run (a launch of many runs), not before it starts:
        # their ids are announced as they are recorded (api.launch's on_recorded).
        self.streamed = False

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[RunSpec]:
        if self.kept is not None:
            return iter(self.kept)
        return self.make()

    @overload
    def __getitem__(self, index: int) -> RunSpec: ...

    @overload
    def __getitem__(self, index: slice) -> list[RunSpec]: ...

    def __getitem__(self, index: int | slice) -> RunSpec | list[RunSpec]:
        if self.kept is not None:
            return self.kept[index]
        if isinstance(index, slice):
            start, stop, step = index.indices(self.size)
            return list(itertools.islice(iter(self), start, stop, step))
        if index < 0:
            index += self.size
        if not 0 <= index < self.size:
            raise IndexError(index)
        return next(itertools.islice(iter(self), index, None))


@dataclass
class RunOutcome:
    """What a worker sends back for one run."""

    run_id: str
    status: RunStatus
    started: float
    ended: float
    # The result as the store keeps it: JSON made by the worker, so the launcher, which takes
    # in every outcome, only writes it down.
    result_json: str | None = None
    error: str | None = None
    traceback: str | None = None
    run_dir: str | None = None  # set when the run left files (its log, its outputs)
    attempt: int = 1
    cached_from: str | None = None  # the run whose result a cached run reused
    # A big result's file (runner/result_files.py): result_json is then its summary. The
    # worker gives the file's path; the store keeps it relative to its home.
    result_ref: str | None = None
    host: str | None = None  # where a run on a cluster ran (hostname); None for local runs
    worker: str | None = None  # the Dask worker's address that ran it

    @property
    def duration(self) -> float:
        return self.ended - self.started

    @property
    def result(self) -> Any:
        return None if self.result_json is None else json.loads(self.result_json)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Sent back from every worker for every run: a flat tuple pickles in a fifth of the
        # time of the default (which pickles the enum and a field dict).
        return (
            _outcome,
            (
                self.run_id,
                self.status.value,
                self.started,
                self.ended,
                self.result_json,
                self.error,
                self.traceback,
                self.run_dir,
                self.attempt,
                self.cached_from,
                self.result_ref,
                self.host,
                self.worker,
            ),
        )


# A run that succeeded and left nothing behind but its result: (started, ended, result JSON).
# Most runs of a big launch end so; a batch sends them back as these, not as RunOutcomes.
Succeeded = tuple[float, float, str]
Done = RunOutcome | Succeeded


def succeeded(run_id: str, done: Succeeded, attempt: int) -> RunOutcome:
    started, ended, result_json = done
    return RunOutcome(run_id, RunStatus.SUCCEEDED, started, ended, result_json, attempt=attempt)


def _outcome(run_id: str, status: str, *rest: Any) -> RunOutcome:
    return RunOutcome(run_id, _STATUSES[status], *rest)


_STATUSES = {status.value: status for status in RunStatus}


@dataclass(frozen=True)
class Provenance:
    """Where a launch's runs came from, recorded once per launch as MLflow and Guild record
    it: the hash of the code each workflow runs (entrypoints.code_of), the project's git
    commit and whether its tracked files had uncommitted changes (None when it is not a git
    checkout or git is not installed), the Python version, and the versions of runner and of
    the installed distributions the workflows' modules import. Shared by the launch's runs
    (`RunRecord.provenance`; `RunRecord.code` is the run's own code hash)."""

    python: str
    packages: dict[str, str] = field(default_factory=dict)  # distribution -> version
    git_commit: str | None = None
    git_dirty: bool | None = None
    code: dict[str, str] = field(default_factory=dict)  # "workflow:version" -> code hash

    def code_of(self, workflow_id: str, version: str) -> str | None:
        return self.code.get(f"{workflow_id}:{version}")

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "git_commit": self.git_commit,
            "git_dirty": self.git_dirty,
            "python": self.python,
            "packages": self.packages,
        }

    def run_json(self, code: str | None) -> dict[str, Any]:
        """As a run's JSON shows it: its own code hash, not the launch's map of them."""
        return {**self.to_json(), "code": code}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Provenance:
        return cls(
            python=str(data.get("python", "")),
            packages=dict(data.get("packages") or {}),
            git_commit=data.get("git_commit"),
            git_dirty=data.get("git_dirty"),
            code=dict(data.get("code") or {}),
        )


class _LazyResult:
    """`RunRecord.result`: a value set as usual, or, for a result kept in a file of its own
    (runner/result_files.py), read from that file the first time it is asked for, so that
    reading runs never opens files nobody looks at."""

    def __get__(self, run: RunRecord | None, owner: type | None = None) -> Any:
        if run is None:
            return None  # the dataclass's default
        value = run.__dict__.get("_result")
        if value is UNLOADED:
            from runner.result_files import load

            value = load(Path(run.home or "."), run.result_ref or "")
            run.__dict__["_result"] = value
        return value

    def __set__(self, run: RunRecord, value: Any) -> None:
        run.__dict__["_result"] = value


UNLOADED: Any = object()  # a result in a file, not read yet


@dataclass
class RunRecord:
    """One run as the store holds it. A big result (`result_ref` set) is read from its file
    when `result` is first asked for; `shown_result` is what listings show without reading
    it (the summary the store keeps)."""

    id: str
    launch_id: str
    parent_id: str | None
    index: int
    workflow_id: str
    workflow_version: str
    params: dict[str, Any]
    seed: int
    status: RunStatus
    created: float
    started: float | None = None
    ended: float | None = None
    result: Any = _LazyResult()
    error: str | None = None
    traceback: str | None = None
    run_dir: str | None = None
    entrypoint: str = ""
    attempts: int = 0
    cached_from: str | None = None
    result_ref: str | None = None  # a big result's file, relative to the store's home
    summary: Any = None  # what the store shows of a big result (result_files.summary)
    home: str | None = field(default=None, repr=False, compare=False)  # the store's home
    host: str | None = None  # where it ran, for runs on a Dask cluster (None: this machine)
    worker: str | None = None  # the Dask worker's address
    pid: int | None = None  # the process it runs in, once seen running (runs that end fast are not)
    code: str | None = None  # a hash of the code it ran (its launch's provenance says it)
    # Its launch's, shared by the launch's runs (None: recorded before runner kept it).
    provenance: Provenance | None = field(default=None, repr=False, compare=False)

    @property
    def duration(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started

    @property
    def shown_result(self) -> Any:
        """The result as listings show it: the value, or for a big one its summary (its
        file is not read)."""
        return self.summary if self.result_ref else self.result

    @property
    def result_file(self) -> str | None:
        """The path of a big result's file; None when the result is in the store."""
        if not self.result_ref:
            return None
        return str(Path(self.home or ".") / self.result_ref)

    def to_json(self, *, load: bool = True) -> dict[str, Any]:
        """The run as `--json` prints it. `load=False`: a big result as its summary and
        `result_file`, its file not read (a launch's listing). A result file that cannot be
        read gives its summary and `result_error` (why), not an error: the rest is shown."""
        result, unreadable = self.shown_result, None
        if load and self.result_ref:
            from runner.errors import RunnerError

            try:
                result = self.result
            except RunnerError as exc:
                unreadable = str(exc)
        elif load:
            result = self.result
        return {
            "id": self.id,
            "launch_id": self.launch_id,
            "parent_id": self.parent_id,
            "index": self.index,
            "workflow": self.workflow_id,
            "version": self.workflow_version,
            "params": self.params,
            "seed": self.seed,
            "status": self.status.value,
            "created": self.created,
            "started": self.started,
            "ended": self.ended,
            "duration": self.duration,
            "result": result,
            **({"result_file": self.result_file} if self.result_ref else {}),
            **({"result_error": unreadable} if unreadable else {}),
            "error": self.error,
            "traceback": self.traceback,
            "run_dir": self.run_dir,
            "attempts": self.attempts,
            "cached_from": self.cached_from,
            "host": self.host,
            "worker": self.worker,
            "pid": self.pid,
            # (a launch's JSON holds its provenance once, not with each run)
            **({"provenance": self.provenance_json()} if load else {}),
        }

    def provenance_json(self) -> dict[str, Any] | None:
        return None if self.provenance is None else self.provenance.run_json(self.code)


class RunRow(NamedTuple):
    """One run as the results table reads it (results.build). The store hands params and
    result over as JSON text, decoded there once per run; records from a Launch hand them
    over decoded."""

    launch_id: str
    run_id: str
    run_index: int
    params: Any
    seed: int
    status: RunStatus
    started: float | None
    ended: float | None
    result: Any
    error: str | None
    repeat: int  # which repeat of its sweep point the run is (its index % the launch's repeat)


@dataclass
class LaunchRecord:
    """One launch: the validated definition and the runs it created."""

    id: str
    created: float
    workflow_id: str
    workflow_version: str
    name: str | None
    tags: list[str]
    notes: str | None
    seed: int
    repeat: int
    labels: dict[str, Any]
    annotations: dict[str, Any]
    env: dict[str, Any]
    launcher: str
    addr: str | None
    definition: dict[str, Any]
    pid: int
    run_count: int
    project_root: str = ""  # importable by the runs; resume and rerun need it again
    pid_start: str = ""  # the launcher's start time, so a reused pid is not taken for it
    host: str = ""  # the machine the launcher (pid) runs on
    counts: dict[str, int] = field(default_factory=dict)  # status -> number of runs
    cancelled: float | None = None  # when the whole launch was cancelled (runner cancel, Ctrl-C)
    provenance: Provenance | None = None  # None: recorded before runner kept it

    @property
    def has_parent(self) -> bool:
        """Like Accio: a single run has no parent; several runs hang under the launch."""
        return self.run_count > 1

    @property
    def status(self) -> str:
        for status in ("running", "lost", "failed", "timed_out", "cancelled"):
            if self.counts.get(status):
                return status
        if self.counts.get(RunStatus.PENDING.value):
            return "running"
        return "succeeded"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": self.created,
            "workflow": self.workflow_id,
            "version": self.workflow_version,
            "name": self.name,
            "tags": self.tags,
            "notes": self.notes,
            "seed": self.seed,
            "repeat": self.repeat,
            "labels": self.labels,
            "annotations": self.annotations,
            "env": self.env,
            "launcher": self.launcher,
            "addr": self.addr,
            "status": self.status,
            "run_count": self.run_count,
            "counts": self.counts,
            "cancelled": self.cancelled,
            "process": self.process,
            "definition": self.definition,
            "provenance": None if self.provenance is None else self.provenance.to_json(),
        }

    @property
    def process(self) -> dict[str, Any] | None:
        """The process that runs the launch, {pid, host}, while it runs; None once it ended."""
        if self.status != "running":
            return None
        return {"pid": self.pid, "host": self.host or None}


# -- metrics (runner.log) ---------------------------------------------------------------------


class MetricSummary(NamedTuple):
    """One run's one metric as every table shows it, without reading its points. NaN is
    left out of min and max; `last` is None when the last value was NaN."""

    run_id: str
    key: str
    count: int  # type: ignore[assignment]  # (a field, where tuple has a method of that name)
    last: float | None
    last_step: int
    min: float | None
    max: float | None
    updated: float  # when its last points were recorded


class Series(NamedTuple):
    """One run's points of one metric, in the order logged."""

    run_id: str
    key: str
    steps: array[int]
    values: array[float]
    times: array[float]


def unpack_points(
    steps: bytes, values: bytes, times: bytes
) -> tuple[array[int], array[float], array[float]]:
    """A batch of points as arrays: steps (int64), values and times (float64)."""
    s, v, t = array("q"), array("d"), array("d")
    s.frombytes(steps)
    v.frombytes(values)
    t.frombytes(times)
    return s, v, t


def low_high(values: Iterable[float]) -> tuple[float | None, float | None]:
    """(min, max), NaN left out (None when every value is NaN)."""
    finite = [v for v in values if v == v]
    if not finite:
        return None, None
    return min(finite), max(finite)
