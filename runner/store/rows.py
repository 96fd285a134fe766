"""A run store's rows decoded: launches and runs as records, a run's params made from its
launch's plan, what runs of a launch planned by index share, unfinished runs shown lost."""

from __future__ import annotations

import json
from typing import Any

from runner.errors import StoreUnusable
from runner.records import (
    UNLOADED,
    IndexPlan,
    LaunchRecord,
    Provenance,
    RunRecord,
    RunStatus,
    to_json,
)
from runner.store.processes import launcher_alive
from runner.store.schema import Database


class Rows(Database):
    """Rows as records (launches and runs), with what decoding them reads once per store."""

    def _marked_lost(self, runs: list[RunRecord]) -> list[RunRecord]:
        """Unfinished runs whose launcher is gone are shown as lost (never written so)."""
        unfinished = [r for r in runs if not r.status.finished]
        if unfinished:
            launch = self._db.execute(
                "SELECT pid, pid_start FROM launches WHERE id=?", (unfinished[0].launch_id,)
            ).fetchone()
            if launch and not launcher_alive(*launch):
                for run in unfinished:
                    run.status = RunStatus.LOST
        return runs

    @staticmethod
    def _launch(row: tuple[Any, ...]) -> LaunchRecord:
        """A launches row (LAUNCH_COLUMNS, then when it was cancelled) as a record."""
        (
            launch_id,
            created,
            workflow_id,
            workflow_version,
            name,
            tags,
            notes,
            seed,
            repeat,
            labels,
            annotations,
            env,
            launcher,
            addr,
            definition,
            pid,
            run_count,
            project_root,
            pid_start,
            host,
            provenance,
            cancelled,
        ) = row
        return LaunchRecord(
            id=launch_id,
            created=created,
            workflow_id=workflow_id,
            workflow_version=workflow_version,
            name=name,
            tags=json.loads(tags),
            notes=notes,
            seed=seed,
            repeat=repeat,
            labels=json.loads(labels),
            annotations=json.loads(annotations),
            env=json.loads(env),
            launcher=launcher,
            addr=addr,
            definition=json.loads(definition),
            pid=pid,
            run_count=run_count,
            project_root=project_root,
            pid_start=pid_start,
            host=host,
            provenance=None if provenance is None else Provenance.from_json(json.loads(provenance)),
            cancelled=cancelled,
        )

    def _plan(self, launch_id: str) -> IndexPlan | None:
        """What makes the launch's runs' params from their indexes (read once per store)."""
        if launch_id not in self._plans:
            found = self._db.execute(
                "SELECT plan FROM launches WHERE id=?", (launch_id,)
            ).fetchone()
            self._plans[launch_id] = (
                IndexPlan.from_json(json.loads(found[0])) if found and found[0] else None
            )
        return self._plans[launch_id]

    def _params_text(self, launch_id: str, index: int, text: str) -> str:
        """A run's params as JSON: stored whole, or made from its launch's plan ('')."""
        if text:
            return text
        plan = self._plan(launch_id)
        if plan is None:
            raise StoreUnusable(
                f"the run store {self.path}: run {index} of launch {launch_id} has no params"
                " and its launch no plan to make them from",
                hint="runner store check tells what is wrong",
            )
        return to_json(plan.params_of(index))

    def _params(self, launch_id: str, index: int, text: str) -> dict[str, Any]:
        if text:
            return dict(json.loads(text))
        return json.loads(self._params_text(launch_id, index, text))

    def _shared(self, launch_id: str) -> tuple[str | None, str, str, str]:
        """(parent id, workflow id, version, entrypoint) of the runs of a launch planned by
        index, which their rows leave empty (see writes._insert_runs)."""
        shared = self._shares.get(launch_id)
        if shared is None:
            found = self._db.execute(
                "SELECT workflow_id, workflow_version, run_count FROM launches WHERE id=?",
                (launch_id,),
            ).fetchone()
            plan = self._plan(launch_id)
            if found is None or plan is None:
                raise StoreUnusable(
                    f"the run store {self.path}: runs of launch {launch_id} have no workflow"
                    " and their launch no plan to take it from",
                    hint="runner store check tells what is wrong",
                )
            workflow_id, version, run_count = found
            parent = launch_id if run_count > 1 else None
            shared = self._shares[launch_id] = (parent, workflow_id, version, plan.entrypoint)
        return shared

    def _run(self, row: tuple[Any, ...]) -> RunRecord:
        """A runs row (RUN_COLUMNS) as a record; a big result stays in its file until asked
        for, its summary at hand."""
        (
            run_id,
            launch_id,
            parent_id,
            index,
            workflow_id,
            version,
            params,
            seed,
            status,
            created,
            started,
            ended,
            result,
            error,
            traceback,
            run_dir,
            entrypoint,
            attempts,
            cached_from,
            ref,
            host,
            worker,
            pid,
        ) = row
        result = None if result is None else json.loads(result)
        if not workflow_id:
            parent_id, workflow_id, version, entrypoint = self._shared(launch_id)
        origin = self._origins.get((launch_id, workflow_id, version)) or self._origin(
            launch_id, workflow_id, version
        )
        return RunRecord(
            id=run_id,
            launch_id=launch_id,
            parent_id=parent_id,
            index=index,
            workflow_id=workflow_id,
            workflow_version=version,
            params=self._params(launch_id, index, params),
            seed=seed,
            status=RunStatus(status),
            created=created,
            started=started,
            ended=ended,
            result=UNLOADED if ref else result,
            error=error,
            traceback=traceback,
            run_dir=run_dir,
            entrypoint=entrypoint,
            attempts=attempts,
            cached_from=cached_from,
            result_ref=ref,
            summary=result if ref else None,
            home=str(self.home),
            host=host,
            worker=worker,
            pid=pid,
            code=origin[1],
            provenance=origin[0],
        )

    def _origin(
        self, launch_id: str, workflow_id: str, version: str
    ) -> tuple[Provenance | None, str | None]:
        """(the launch's provenance, the code hash of the workflow's runs), read once per
        launch: one lookup a run."""
        found = self._db.execute(
            "SELECT provenance FROM launches WHERE id=?", (launch_id,)
        ).fetchone()
        provenance = Provenance.from_json(json.loads(found[0])) if found and found[0] else None
        code = provenance.code_of(workflow_id, version) if provenance else None
        self._origins[launch_id, workflow_id, version] = (provenance, code)
        return provenance, code
