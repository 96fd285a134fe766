"""The exception hierarchy: every error a user can cause carries its exit code."""

from __future__ import annotations


class RunnerError(Exception):
    """Base of every error runner reports; ``exit_code`` is what the CLI exits with."""

    exit_code: int = 5

    def __init__(
        self, message: str, *, problems: list[str] | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        # One line per problem, for errors that found several (validation).
        self.problems = problems or []
        self.hint = hint  # what to do about it, when the problems alone do not say

    def __str__(self) -> str:
        lines = [self.message, *(f"  - {p}" for p in self.problems)]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)


class UsageError(RunnerError):
    """Bad command line: arguments, options or environment variables that do not fit."""

    exit_code = 1


class DefinitionError(RunnerError):
    """Invalid run definition: it cannot be composed, or it fails validation."""

    exit_code = 2


class CompositionError(DefinitionError):
    """Hydra could not compose the config (unknown group option, malformed override...)."""


class ValidationError(DefinitionError):
    """The run definition or a run's params break a JSON Schema."""


class WorkflowError(DefinitionError):
    """A workflow cannot be found, its version does not exist, or its entrypoint won't import."""


class RunsFailed(RunnerError):
    """The launch waited for its runs and one or more did not succeed."""

    exit_code = 4


class StoreUnusable(RunnerError):
    """The run store cannot be used as it is (unreadable, not a database, tables missing, pages
    corrupt, or a schema newer than this runner): runner refuses to read or write it."""

    exit_code = 3


class StoreError(RunnerError):
    """The SQLite store cannot be opened or written."""

    exit_code = 5


class ClusterUnreachable(RunnerError):
    """The cluster a launch goes to (--addr: a Dask scheduler) cannot be reached; nothing
    was recorded."""

    exit_code = 5


class Interrupted(RunnerError):
    """Ctrl-C or SIGTERM: no new runs started; unfinished ones are recorded as cancelled."""

    exit_code = 130


class LaunchCancelled(RunnerError):
    """The launch was cancelled (runner cancel, from any process): what `runner wait` and an
    attached launch exit with."""

    exit_code = 130


class WaitTimeout(RunnerError):
    """`runner wait --timeout` gave up waiting; the launch goes on untouched."""

    exit_code = 124  # as timeout(1)


EXIT_CODES = {
    0: "success",
    1: "bad command line (arguments, options, environment)",
    2: "invalid run definition (composition or validation failed; nothing was stored)",
    3: "the run store is unusable (damaged, not a database, or from a newer runner;"
    " runner store check says more)",
    4: "one or more runs failed (the launch waited for them)",
    5: "internal error, or the cluster (--addr) cannot be reached (nothing was recorded)",
    124: "runner wait --timeout: gave up waiting (the launch goes on)",
    130: "interrupted (Ctrl-C / SIGTERM) or cancelled (runner cancel); unfinished runs recorded as cancelled",
}
