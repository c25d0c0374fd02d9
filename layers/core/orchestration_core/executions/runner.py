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

Requests per task (DynamoDB): one conditional UpdateItem marks it running and returns its
attempts; one BatchGetItem reads its dependencies' results (none for a task without
dependencies); one conditional UpdateItem records the outcome. Nothing else is read: ``start``
puts the execution's context (workflow id, scheduled slot, small parameters) into the state,
and the compiled state carries the task's definition (``spec``). What the state leaves out is
read from the execution record, in the same BatchGetItem where the dependencies are known.
A gate is one item: the gated task's ``await`` parks its token and the number of dependencies
it waits for (``gate``), each dependency adds its name to ``gateDone`` as it completes; each
write returns the item, and whichever write completes the pair releases the token.
"""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from orchestration_core.engine.compiler import TRANSIENT_ERROR
from orchestration_core.executions.models import Execution, ExecutionStatus, TaskRun
from orchestration_core.shared import clock
from orchestration_core.shared.errors import TransientFailure
from orchestration_core.shared.limits import MAX_JSON_DEPTH, json_depth
from orchestration_core.tasktypes.registry import MAX_RESULT_BYTES, TaskError, run_task, task_error
from orchestration_core.workflows.models import TaskDef, TaskStatus


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
    # The execution's context, as ``start`` returned it into the state. Machines compiled
    # before it existed send none: the runner then reads the record and gates the old way.
    execution: dict[str, Any] | None = None
    # The task's definition (``type``, ``dependsOn``, ``config``) as far as the compiled state
    # carries it; the rest comes from the record.
    spec: dict[str, Any] | None = None
    # An ``await``: how many of the task's dependencies hold its gate.
    gate: int | None = None


class RunRecords(Protocol):
    """What the runner needs of execution storage (executions/store.py's ExecutionStore; an
    in-memory fake in unit tests): reads, and task run writes named by intent, each of which
    answers whether its condition held and what the run item holds."""

    def get(self, tenant_id: str, execution_id: str, with_runs: bool = True) -> Execution | None: ...

    def read(
        self, tenant_id: str, execution_id: str, names: list[str], with_record: bool
    ) -> tuple[Execution | None, dict[str, TaskRun]]: ...

    def runs(self, tenant_id: str, execution_id: str, names: list[str]) -> dict[str, TaskRun]: ...

    def transition(
        self, ex: Execution, status: ExecutionStatus, completed_at: str | None, error: dict[str, Any] | None
    ) -> bool: ...

    def mark_run_running(
        self, tenant_id: str, execution_id: str, name: str, attempts: int, now: str
    ) -> tuple[bool, TaskRun | None]: ...

    def fail_run_unless_ended(
        self, tenant_id: str, execution_id: str, name: str, error: str, attempts: int, now: str
    ) -> None: ...

    def record_run_error_if_running(
        self, tenant_id: str, execution_id: str, name: str, error: str
    ) -> None: ...

    def complete_run_if_running(
        self, tenant_id: str, execution_id: str, name: str, result: str, attempts: int, now: str
    ) -> tuple[bool, TaskRun | None]: ...

    def park_run_if_pending(
        self, tenant_id: str, execution_id: str, name: str, token: str, gate: int | None
    ) -> tuple[bool, TaskRun | None]: ...

    def mark_dependency_done(
        self, tenant_id: str, execution_id: str, name: str, dependency: str
    ) -> TaskRun | None: ...


class TaskTokens(Protocol):
    """What the runner needs of Step Functions (engine/stepfunctions.py's Engine): let a gated
    task start by its token."""

    def release(self, token: str) -> None: ...


# Parameters up to this size travel in the state (``execution.parameters``); larger ones are
# read from the record by each task that needs them (Step Functions' payload limit is 256 KiB).
PARAMETERS_IN_STATE_BYTES = 8 * 1024


class ExecutionCancelled(Exception):
    """The execution was cancelled before its state machine started: stop here."""


class ExecutionSuperseded(Exception):
    """This state machine run is not the record's current launch (a later one replaced it)."""


class _Call:
    """One task action: what the state carries, and the record, read only if that falls short."""

    def __init__(self, store: RunRecords, event: RunnerEvent) -> None:
        self.store = store
        self.event = event
        self.name = event.task or ""
        self.spec = event.spec or {}
        self.context = event.execution
        self.record: Execution | None = None
        self.legacy = event.execution is None  # a machine compiled before the state carried it

    def load(self) -> Execution:
        if self.record is None:
            self.record = self.store.get(self.event.tenantId, self.event.executionId, with_runs=False)
            if self.record is None:
                raise ExecutionCancelled(f"execution {self.event.executionId} has no record")
        return self.record

    def from_record(self) -> TaskDef:
        return next(t for t in self.load().tasks if t.name == self.name)

    @property
    def type(self) -> str:
        kind = self.spec.get("type")
        return str(kind) if kind is not None else self.from_record().type

    def depends_on(self) -> list[str]:
        if "dependsOn" in self.spec:
            return [str(d) for d in self.spec["dependsOn"]]
        return list(self.from_record().depends_on)

    def needs_record(self) -> bool:
        return self.record is None and (
            self.context is None
            or "parameters" not in self.context
            or any(key not in self.spec for key in ("type", "dependsOn", "config"))
        )

    def task_input(self, attempt: int) -> dict[str, Any]:
        """The task's input. ``context.attempt`` counts every launch's attempts (1 on the first
        try; a redrive goes on from the attempts of earlier launches), ``context.scheduledAt``
        is the slot a schedule's run stands for (kept by every launch; null for API runs)."""
        deps = self.depends_on()
        runs: dict[str, TaskRun] = {}
        if deps or self.needs_record():
            record, runs = self.store.read(
                self.event.tenantId, self.event.executionId, deps, with_record=self.needs_record()
            )
            if record is not None:
                self.record = record
        if self.needs_record() or self.context is None or "parameters" not in self.context:
            ex = self.load()
            context: dict[str, Any] = execution_context(ex, limit=None)
        else:
            context = self.context
        config = self.spec["config"] if "config" in self.spec else self.from_record().config
        return {
            "parameters": context.get("parameters"),
            "inputs": {d: runs[d].result if d in runs else None for d in deps},
            "config": config,
            "context": {
                "executionId": self.event.executionId,
                "workflowId": context.get("workflowId"),
                "scheduledAt": context.get("scheduledAt"),
                "attempt": attempt,
            },
        }


def execution_context(ex: Execution, limit: int | None = PARAMETERS_IN_STATE_BYTES) -> dict[str, Any]:
    """What ``start`` puts into the state for every task: the parameters only when small."""
    context: dict[str, Any] = {
        "workflowId": ex.workflow_id,
        "scheduledAt": (ex.trigger or {}).get("scheduledAt"),
    }
    if limit is None or len(json.dumps(ex.parameters, separators=(",", ":"))) <= limit:
        context["parameters"] = ex.parameters
    return context


class Runner:
    def __init__(self, executions: RunRecords, engine: TaskTokens, lambdas: Any) -> None:
        self.executions = executions
        self.engine = engine
        self.lambdas = lambdas

    def handle(self, event: RunnerEvent) -> dict[str, Any]:
        """Do what the state asks. A transient store error surfaces as ``Orchestration.Transient``,
        which the compiled states retry like a Lambda service error (every write is conditional,
        so a repeat is safe)."""
        try:
            return self._handle(event)
        except TransientFailure as err:
            raise task_error(TRANSIENT_ERROR, err.detail) from None

    def _handle(self, event: RunnerEvent) -> dict[str, Any]:
        out: dict[str, Any] = {"executionId": event.executionId, "tenantId": event.tenantId}
        if event.execution is not None:
            out["execution"] = event.execution
        action = event.action
        if action in {"start", "finish"}:
            ex = self.executions.get(event.tenantId, event.executionId, with_runs=False)
            if ex is None:
                raise ExecutionCancelled(f"execution {event.executionId} has no record")
            if action == "start":
                self._start(ex, event.sfnName)
                out["execution"] = execution_context(ex)
            else:
                self._finish(ex, event)
            return out
        call = _Call(self.executions, event)
        if action == "await":
            self._await(call, event.token or "")
        elif action == "prepare":
            marked, run = self._mark_running(call, 0)
            if marked:
                out["skip"] = False
                if call.type != "wait":
                    out["input"] = call.task_input(run.attempts if run else 1)
            else:  # completed by an earlier launch: go round the native step
                out["skip"] = True
                out["output"] = {"result": None, "retries": 0}
        elif action == "complete":
            if call.legacy and call.type == "wait":
                result = {"waitedSeconds": call.from_record().config.get("seconds")}
            else:
                result = event.result
            self._complete(call, result, (event.retries or 0) + 1)
        else:  # run
            self._run(call, event)
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
        self.executions.fail_run_unless_ended(
            ex.tenant_id,
            ex.id,
            task,
            json.dumps({"error": error, "cause": detail}),
            max(int(failure.get("attempts") or 1), this_launch),
            clock.now_iso(),
        )
        return {"task": task, "error": error, "cause": detail}

    # -- tasks -----------------------------------------------------------------------------------
    def _mark_running(self, call: _Call, attempt: int) -> tuple[bool, TaskRun | None]:
        """(True, the run as marked) or (False, the run) when the task already ended (a retried
        invocation after a recorded outcome, or a task an earlier launch completed)."""
        return self.executions.mark_run_running(
            call.event.tenantId, call.event.executionId, call.name, attempt + 1, clock.now_iso()
        )

    def _run(self, call: _Call, event: RunnerEvent) -> None:
        marked, run = self._mark_running(call, event.attempt)
        if not marked:
            # Already ended: completed by an earlier launch (its dependents may be waiting on
            # this launch's word), or given up on.
            self._notify(call, self._is_completed(call, run))
            return
        try:
            task_input = call.task_input(run.attempts if run else event.attempt + 1)
            result = run_task(call.type, task_input["config"], task_input, event.function, self.lambdas)
        except TaskError as err:
            self.executions.record_run_error_if_running(
                call.event.tenantId,
                call.event.executionId,
                call.name,
                json.dumps({"error": err.error, "cause": err.cause}),
            )
            raise
        self._complete(call, result, event.attempt + 1)

    def _complete(self, call: _Call, result: Any, attempts: int) -> None:
        if json_depth(result) > MAX_JSON_DEPTH:
            raise task_error(
                "ResultTooDeep", f"the task's result is nested deeper than {MAX_JSON_DEPTH} levels"
            )
        encoded = json.dumps(result, separators=(",", ":"), default=str)
        if len(encoded.encode()) > MAX_RESULT_BYTES:
            raise task_error("ResultTooLarge", f"the task's result is larger than {MAX_RESULT_BYTES} bytes")
        written, run = self.executions.complete_run_if_running(
            call.event.tenantId, call.event.executionId, call.name, encoded, attempts, clock.now_iso()
        )
        # A repeat of a completion that was written (a retried invocation) passes the word on
        # again; a task given up on meanwhile (timed out, failed) releases nothing.
        self._notify(call, written or self._is_completed(call, run))

    def _is_completed(self, call: _Call, run: TaskRun | None) -> bool:
        if run is None:  # the store did not say what the item holds: read it
            run = self.executions.runs(call.event.tenantId, call.event.executionId, [call.name]).get(
                call.name
            )
        return run is not None and run.status == TaskStatus.COMPLETED

    def _notify(self, call: _Call, completed: bool) -> None:
        """Pass the word on to the gated tasks that wait on this one."""
        if call.legacy:  # each gated task checks its dependencies' records
            for name in call.event.notify:
                self._release_if_ready(call, name)
            return
        if not completed:
            return
        for name in call.event.notify:
            gated = self.executions.mark_dependency_done(
                call.event.tenantId, call.event.executionId, name, call.name
            )
            self._release_if_open(gated)

    def _release_if_open(self, gated: TaskRun | None) -> None:
        if gated and gated.wait_token and gated.gate and len(gated.gate_done) >= gated.gate:
            self.engine.release(gated.wait_token)

    def _await(self, call: _Call, token: str) -> None:
        # Park the token, then look: whichever of this and the last dependency's report comes
        # second sees the other's write (both write the same item) and releases the task.
        parked, gated = self.executions.park_run_if_pending(
            call.event.tenantId, call.event.executionId, call.name, token, call.event.gate
        )
        if not parked:  # it already ran (an earlier launch): nothing to wait for
            self.engine.release(token)
        elif call.event.gate is None:  # a machine compiled before gates were counted
            self._release_if_ready(call, call.name)
        else:
            self._release_if_open(gated)

    def _release_if_ready(self, call: _Call, name: str) -> None:
        """The gate of machines compiled before gates were counted: read the dependencies."""
        ex = call.load()
        task = next(t for t in ex.tasks if t.name == name)
        runs = self.executions.runs(ex.tenant_id, ex.id, [name, *task.depends_on])
        gated = runs.get(name)
        if gated is None or not gated.wait_token:
            return
        if all(d in runs and runs[d].status == TaskStatus.COMPLETED for d in task.depends_on):
            self.engine.release(gated.wait_token)
