"""The task runner: what each compiled state asks of it, as the state machine runs.

Actions (``action`` in the payload):
- ``start`` / ``finish``: the execution record enters ``running`` / ends (completed or failed).
- ``run``: a task executed here, start to end: noop, http, transform, fail, or a custom type
  (its registered Lambda function, invoked synchronously: exact attempt counts, 6 MB payloads).
- ``prepare`` / ``complete``: around a native step (a ``wait`` task's Wait state, or a
  ``lambda`` task's function invoked by Step Functions itself): mark running and hand out the
  input / store the result.
- ``finish`` with ``status: failed`` also records the failed task: the compiled branch ends
  with a ``TaskFailed`` error whose cause names the task, its attempts and the error.
- ``await``: a gated task (non-series-parallel graphs) parks its task token until its last
  dependency completes.

A later launch of the same execution (a redrive, or a resume after the embedded runtime
restarted) runs the same machine again: a task that already completed is not run again —
``run`` and ``complete`` find it completed and only pass the word on to gated dependents,
``prepare`` answers ``skip`` so the compiled Choice goes round its Wait or Lambda step, and
``await`` lets it through at once. ``start`` refuses a launch that is not the record's
current one, so a superseded machine never touches the record.

Every write is conditional on the task's current status, so a retried or late invocation
never overwrites a result or resurrects a task the execution already gave up on.
"""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from orchestration_core import clock
from orchestration_core.compiler import TRANSIENT_ERROR
from orchestration_core.domain import Execution, ExecutionStatus, TaskDef, TaskStatus
from orchestration_core.engine import Engine
from orchestration_core.errors import Throttled, Unavailable
from orchestration_core.limits import MAX_JSON_DEPTH, json_depth
from orchestration_core.store.executions import ExecutionStore
from orchestration_core.tasktypes import MAX_RESULT_BYTES, TaskError, run_task, task_error

_ACTIVE = {":pending": TaskStatus.PENDING.value, ":running": TaskStatus.RUNNING.value}
_NOT_STARTED_OR_RUNNING = "attribute_not_exists(#status) OR #status IN (:pending, :running)"


class RunnerEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action: Literal["start", "run", "prepare", "complete", "await", "finish"]
    executionId: str
    tenantId: str
    task: str | None = None
    attempt: int = 0
    retries: int | None = None
    result: Any = None
    error: dict[str, Any] | None = None
    token: str | None = None
    function: str | None = None
    status: Literal["completed", "failed"] | None = None
    notify: list[str] = []
    sfnName: str | None = None


class ExecutionCancelled(Exception):
    """The execution was cancelled before its state machine started: stop here."""


class ExecutionSuperseded(Exception):
    """This state machine run is not the record's current launch (a later one replaced it)."""


class Runner:
    def __init__(self, executions: ExecutionStore, engine: Engine, lambdas: Any) -> None:
        self.executions = executions
        self.engine = engine
        self.lambdas = lambdas

    def handle(self, event: RunnerEvent) -> dict[str, Any]:
        """Do what the state asks. A transient store error surfaces as ``Orchestration.Transient``,
        which the compiled states retry like a Lambda service error (every write is conditional,
        so a repeat is safe)."""
        try:
            return self._handle(event)
        except (Throttled, Unavailable) as err:
            raise task_error(TRANSIENT_ERROR, err.detail) from None

    def _handle(self, event: RunnerEvent) -> dict[str, Any]:
        ex = self.executions.get(event.tenantId, event.executionId, with_runs=False)
        if ex is None:
            raise ExecutionCancelled(f"execution {event.executionId} has no record")
        out: dict[str, Any] = {"executionId": ex.id, "tenantId": ex.tenant_id}
        action = event.action
        if action == "start":
            self._start(ex, event.sfnName)
        elif action == "finish":
            self._finish(ex, event)
        else:
            task = next(t for t in ex.tasks if t.name == event.task)
            if action == "await":
                self._await(ex, task, event.token or "")
            elif action == "prepare":
                if self._mark_running(ex, task, 0):
                    out["skip"] = False
                    if task.type != "wait":
                        out["input"] = self._input(ex, task)
                else:  # completed by an earlier launch: go round the native step
                    out["skip"] = True
                    out["output"] = {"result": None, "retries": 0}
            elif action == "complete":
                result = (
                    {"waitedSeconds": task.config.get("seconds")} if task.type == "wait" else event.result
                )
                self._complete(ex, task, result, (event.retries or 0) + 1, event.notify)
            else:  # run
                self._run(ex, task, event)
        return out

    # -- execution ---------------------------------------------------------------------------------
    def _start(self, ex: Execution, sfn_name: str | None) -> None:
        if sfn_name is not None and sfn_name != (ex.sfn_name or ex.id):
            raise ExecutionSuperseded(f"{sfn_name} is not the current launch of execution {ex.id}")
        if ex.status == ExecutionStatus.CANCELLED:
            raise ExecutionCancelled(f"execution {ex.id} was cancelled before it started")
        if ex.status == ExecutionStatus.PENDING:
            self.executions.transition(ex, ExecutionStatus.RUNNING, None, None)

    def _finish(self, ex: Execution, event: RunnerEvent) -> None:
        error = None
        if event.status == "failed":
            error = self._record_failure(ex, event.error or {})
        while not ex.status.terminal:
            if event.status == "completed":
                ok = self.executions.transition(ex, ExecutionStatus.COMPLETED, clock.now_iso(), None)
            else:
                ok = self.executions.transition(ex, ExecutionStatus.FAILED, clock.now_iso(), error)
            if ok:
                return
            fresh = self.executions.get(ex.tenant_id, ex.id, with_runs=False)
            if fresh is None:
                return
            ex = fresh

    def _record_failure(self, ex: Execution, caught: dict[str, Any]) -> dict[str, Any]:
        """The failed task's record, and the execution's ``error``: {task, error, cause}."""
        name, cause = caught.get("Error"), caught.get("Cause")
        failure: dict[str, Any] = {}
        if name == "TaskFailed" and cause:
            with suppress(ValueError, TypeError):
                failure = json.loads(cause)
        task = failure.get("task") if isinstance(failure, dict) else None
        if task not in {t.name for t in ex.tasks}:
            return {"task": None, "error": name or "States.Runtime", "cause": cause}
        original = failure.get("error") or {}
        error, detail = str(original.get("Error") or "TaskFailed"), original.get("Cause")
        with suppress(ValueError, TypeError, KeyError):  # a Lambda error's cause is Lambda's JSON
            detail = json.loads(detail)["errorMessage"] if detail else detail
        recorded = self.executions.runs(ex.tenant_id, ex.id, [task]).get(task)
        this_launch = recorded.attempts - recorded.prior_attempts if recorded else 0
        self.executions.update_run(
            ex.tenant_id,
            ex.id,
            task,
            {
                "status": TaskStatus.FAILED.value,
                "completedAt": clock.now_iso(),
                "error": json.dumps({"error": error, "cause": detail}),
            },
            _NOT_STARTED_OR_RUNNING,
            _ACTIVE,
            if_not_exists={"startedAt": clock.now_iso()},
            attempts=max(int(failure.get("attempts") or 1), this_launch),
        )
        return {"task": task, "error": error, "cause": detail}

    # -- tasks -----------------------------------------------------------------------------------
    def _input(self, ex: Execution, task: TaskDef, attempt: int = 0) -> dict[str, Any]:
        """The task's input. ``context.attempt`` counts every launch's attempts (1 on the first
        try; a redrive goes on from the attempts of earlier launches), ``context.scheduledAt``
        is the slot a schedule's run stands for (kept by every launch; null for API runs)."""
        deps = list(task.depends_on)
        runs = self.executions.runs(ex.tenant_id, ex.id, [*deps, task.name])
        own = runs.get(task.name)
        trigger = ex.trigger or {}
        return {
            "parameters": ex.parameters,
            "inputs": {d: runs[d].result if d in runs else None for d in deps},
            "config": task.config,
            "context": {
                "executionId": ex.id,
                "workflowId": ex.workflow_id,
                "scheduledAt": trigger.get("scheduledAt"),
                "attempt": (own.prior_attempts if own else 0) + attempt + 1,
            },
        }

    def _mark_running(self, ex: Execution, task: TaskDef, attempt: int) -> bool:
        """False when the task already ended (a retried invocation after a recorded outcome)."""
        return self.executions.update_run(
            ex.tenant_id,
            ex.id,
            task.name,
            {"status": TaskStatus.RUNNING.value},
            _NOT_STARTED_OR_RUNNING,
            _ACTIVE,
            if_not_exists={"startedAt": clock.now_iso()},
            attempts=attempt + 1,
        )

    def _run(self, ex: Execution, task: TaskDef, event: RunnerEvent) -> None:
        if not self._mark_running(ex, task, event.attempt):
            # Already ended: completed by an earlier launch (its dependents may be waiting on
            # this launch's word), or given up on.
            self._notify(ex, event.notify)
            return
        try:
            task_input = self._input(ex, task, event.attempt)
            result = run_task(task.type, task.config, task_input, event.function, self.lambdas)
        except TaskError as err:
            self.executions.update_run(
                ex.tenant_id,
                ex.id,
                task.name,
                {"error": json.dumps({"error": err.error, "cause": err.cause})},
                "#status = :running",
                {":running": TaskStatus.RUNNING.value},
            )
            raise
        self._complete(ex, task, result, event.attempt + 1, event.notify)

    def _complete(self, ex: Execution, task: TaskDef, result: Any, attempts: int, notify: list[str]) -> None:
        if json_depth(result) > MAX_JSON_DEPTH:
            raise task_error(
                "ResultTooDeep", f"the task's result is nested deeper than {MAX_JSON_DEPTH} levels"
            )
        encoded = json.dumps(result, separators=(",", ":"), default=str)
        if len(encoded.encode()) > MAX_RESULT_BYTES:
            raise task_error("ResultTooLarge", f"the task's result is larger than {MAX_RESULT_BYTES} bytes")
        self.executions.update_run(
            ex.tenant_id,
            ex.id,
            task.name,
            {
                "status": TaskStatus.COMPLETED.value,
                "completedAt": clock.now_iso(),
                "result": encoded,
            },
            "#status = :running",
            {":running": TaskStatus.RUNNING.value},
            remove=["error"],
            attempts=attempts,
        )
        self._notify(ex, notify)

    def _notify(self, ex: Execution, notify: list[str]) -> None:
        for name in notify:
            self._release_if_ready(ex, name)

    def _await(self, ex: Execution, task: TaskDef, token: str) -> None:
        # Park the token first, then look: whichever of this and the last dependency's
        # completion comes second sees the other's write and releases the task.
        parked = self.executions.update_run(
            ex.tenant_id,
            ex.id,
            task.name,
            {"status": TaskStatus.PENDING.value, "waitToken": token},
            "attribute_not_exists(#status) OR #status = :pending",
            {":pending": TaskStatus.PENDING.value},
        )
        if not parked:  # it already ran (an earlier launch): nothing to wait for
            self.engine.release(token)
            return
        self._release_if_ready(ex, task.name)

    def _release_if_ready(self, ex: Execution, name: str) -> None:
        task = next(t for t in ex.tasks if t.name == name)
        runs = self.executions.runs(ex.tenant_id, ex.id, [name, *task.depends_on])
        gated = runs.get(name)
        if gated is None or not gated.wait_token:
            return
        if all(d in runs and runs[d].status == TaskStatus.COMPLETED for d in task.depends_on):
            self.engine.release(gated.wait_token)
