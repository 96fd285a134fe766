"""runner: launch Python workflows from declarative Hydra configs.

The public API, for notebooks and scripts::

    import runner
    launch = runner.launch("pi", ["params.samples=1000,10000"], repeat=3, seed=42)
    launch.results
    runner.table(launch)      # the results side by side (varying params, flattened results)

and to write a workflow in Python::

    @runner.workflow
    def train(lr: float = 0.01, epochs: int = 10, seed: int = 0) -> dict: ...
"""

from runner.api import Entities, Launch, Preview, entities, launch, show, status, table
from runner.decorated import workflow
from runner.errors import (
    CompositionError,
    DefinitionError,
    Interrupted,
    RunnerError,
    RunsFailed,
    UsageError,
    ValidationError,
    WorkflowError,
)
from runner.inputs import ExistingPath
from runner.results import Column, ResultsTable, Row
from runner.runs import LaunchRecord, RunRecord, RunSpec, RunStatus

__all__ = [
    "Column",
    "CompositionError",
    "DefinitionError",
    "Entities",
    "ExistingPath",
    "Interrupted",
    "Launch",
    "LaunchRecord",
    "Preview",
    "ResultsTable",
    "Row",
    "RunRecord",
    "RunSpec",
    "RunStatus",
    "RunnerError",
    "RunsFailed",
    "UsageError",
    "ValidationError",
    "WorkflowError",
    "entities",
    "launch",
    "show",
    "status",
    "table",
    "workflow",
]
