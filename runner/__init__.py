"""runner: launch Python workflows from declarative Hydra configs.

The public API, for notebooks and scripts::

    import runner
    launch = runner.launch("pi", ["params.samples=1000,10000"], repeat=3, seed=42)
    launch.results
    runner.table(launch)      # the results side by side (varying params, flattened results)
    launch.to_dataframe()     # pandas (pip install 'runner-launch[notebook]'); launch.plot(x=, y=, by=)
    runner.runs(workflow="pi", status="failed")   # past runs, however they were launched

a launch that outlives the call, followed or stopped from any process::

    launch = runner.launch("pi", ["params.samples=1000,10000"], repeat=50, wait=False)
    runner.wait(launch.id)      # or launch.wait(); runner.cancel([launch.id]), launch.cancel()

and to write a workflow in Python::

    @runner.workflow
    def train(lr: float = 0.01, epochs: int = 10, seed: int = 0) -> dict: ...
"""

import importlib
from typing import TYPE_CHECKING, Any

# Where each public name lives. They are imported when first used, so that a worker process,
# which imports runner.worker and the workflow's module (often `import runner`), does not
# import the API, Hydra and jsonschema with them (35 ms a worker).
_EXPORTS = {
    **dict.fromkeys(
        (
            "Entities",
            "Launch",
            "Preview",
            "ResultsTable",
            "Runs",
            "cancel",
            "compose",
            "entities",
            "get",
            "launch",
            "log_path",
            "metric_series",
            "metric_summaries",
            "rerun",
            "resume",
            "runs",
            "show",
            "status",
            "table",
            "wait",
            "watch",
        ),
        "runner.api",
    ),
    **dict.fromkeys(
        (
            "Param",
            "PresetInfo",
            "WorkflowInfo",
            "Workflows",
            "presets",
            "searches",
            "workflows",
        ),
        "runner.catalog",
    ),
    **dict.fromkeys(
        ("workflow",),
        "runner.decorated",
    ),
    **dict.fromkeys(
        ("SAMPLERS",),
        "runner.search_space",
    ),
    **dict.fromkeys(
        (
            "CompositionError",
            "DefinitionError",
            "Interrupted",
            "LaunchCancelled",
            "RunnerError",
            "RunsFailed",
            "UsageError",
            "ValidationError",
            "WaitTimeout",
            "WorkflowError",
        ),
        "runner.errors",
    ),
    **dict.fromkeys(
        ("ExistingPath",),
        "runner.inputs",
    ),
    **dict.fromkeys(
        ("CancelResult",),
        "runner.lifecycle",
    ),
    **dict.fromkeys(
        ("TrialPruned", "log", "should_prune"),
        "runner.metrics",
    ),
    **dict.fromkeys(
        (
            "clean",
            "clean_lines",
        ),
        "runner.printable",
    ),
    **dict.fromkeys(
        (
            "LaunchRecord",
            "MetricSummary",
            "RunRecord",
            "RunSpec",
            "RunStatus",
            "Series",
        ),
        "runner.records",
    ),
    **dict.fromkeys(
        (
            "Column",
            "Row",
        ),
        "runner.results",
    ),
}

if TYPE_CHECKING:
    from runner.api import (
        Entities,
        Launch,
        Preview,
        ResultsTable,
        Runs,
        cancel,
        compose,
        entities,
        get,
        launch,
        log_path,
        metric_series,
        metric_summaries,
        rerun,
        resume,
        runs,
        show,
        status,
        table,
        wait,
        watch,
    )
    from runner.catalog import (
        Param,
        PresetInfo,
        WorkflowInfo,
        Workflows,
        presets,
        searches,
        workflows,
    )

    __version__: str
    from runner.decorated import workflow
    from runner.errors import (
        CompositionError,
        DefinitionError,
        Interrupted,
        LaunchCancelled,
        RunnerError,
        RunsFailed,
        UsageError,
        ValidationError,
        WaitTimeout,
        WorkflowError,
    )
    from runner.inputs import ExistingPath
    from runner.lifecycle import CancelResult
    from runner.metrics import TrialPruned, log, should_prune
    from runner.printable import clean, clean_lines
    from runner.records import LaunchRecord, MetricSummary, RunRecord, RunSpec, RunStatus, Series
    from runner.results import Column, Row
    from runner.search_space import SAMPLERS

__all__ = [
    "SAMPLERS",
    "CancelResult",
    "Column",
    "CompositionError",
    "DefinitionError",
    "Entities",
    "ExistingPath",
    "Interrupted",
    "Launch",
    "LaunchCancelled",
    "LaunchRecord",
    "MetricSummary",
    "Param",
    "PresetInfo",
    "Preview",
    "ResultsTable",
    "Row",
    "RunRecord",
    "RunSpec",
    "RunStatus",
    "RunnerError",
    "Runs",
    "RunsFailed",
    "Series",
    "TrialPruned",
    "UsageError",
    "ValidationError",
    "WaitTimeout",
    "WorkflowError",
    "WorkflowInfo",
    "Workflows",
    "__version__",
    "cancel",
    "clean",
    "clean_lines",
    "compose",
    "entities",
    "get",
    "launch",
    "log",
    "log_path",
    "metric_series",
    "metric_summaries",
    "presets",
    "rerun",
    "resume",
    "runs",
    "searches",
    "should_prune",
    "show",
    "status",
    "table",
    "wait",
    "watch",
    "workflow",
    "workflows",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":  # read when asked: importlib.metadata costs start-up time
        globals()[name] = _version()
        return globals()[name]
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runner' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def _version() -> str:
    """The installed distribution's version (runner-launch), as pip shows it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("runner-launch")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"
