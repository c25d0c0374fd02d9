"""Execution use cases: start (execute), read with reconciliation, list, cancel, and launch
again (redrive an ended execution; resume one whose state machine is gone; sweep)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from orchestration_core.engine.compiler import MAX_DEFINITION_BYTES, compile_definition
from orchestration_core.engine.stepfunctions import ExecutionMissing, MachineMissing
from orchestration_core.executions.models import Execution, ExecutionStatus
from orchestration_core.executions.store import ACTIVE_SHARDS
from orchestration_core.shared import changes, clock
from orchestration_core.shared.errors import (
    Conflict,
    FieldError,
    NotFound,
    ProblemError,
    TransientFailure,
    Unprocessable,
)
from orchestration_core.shared.etags import ANY
from orchestration_core.shared.ids import new_id
from orchestration_core.shared.pagination import Cursor, Page, resolve_position
from orchestration_core.shared.table import ConditionFailed
from orchestration_core.tasktypes.builtins import BUILTIN_TYPES
from orchestration_core.workflows.models import TaskDef, TaskStatus, Workflow, WorkflowStatus

if TYPE_CHECKING:
    from orchestration_core.workflows.usecases import WorkflowRepository

# A record whose state machine never started (a crash between write and start) is declared
# lost after this long; until then a start may still be on its way.
START_GRACE_SECONDS = 60


class ExecutionRepository(Protocol):
    """What the execution use cases, the machine collector and the dispatcher need of execution
    storage (executions/store.py's ExecutionStore; an in-memory fake in unit tests).

    ``create`` raises ConditionFailed (index 0: the idempotency key is taken, or with no key the
    id exists; index 1: the id exists); ``transition``, ``rename_run`` and ``relaunch`` answer
    False when the record moved on from what ``ex`` holds."""

    def create(self, ex: Execution, idempotency_key: str | None = None) -> None: ...

    def idempotent_match(self, tenant_id: str, key: str) -> dict[str, Any] | None: ...

    def delete(self, ex: Execution, idempotency_key: str | None = None) -> None: ...

    def partition(self, tenant_id: str, execution_id: str) -> str: ...

    def get(self, tenant_id: str, execution_id: str, with_runs: bool = True) -> Execution | None: ...

    def transition(
        self, ex: Execution, status: ExecutionStatus, completed_at: str | None, error: dict[str, Any] | None
    ) -> bool: ...

    def rename_run(self, ex: Execution, sfn_name: str) -> bool: ...

    def relaunch(self, ex: Execution, machine_arn: str, sfn_name: str, now: str, redrive: bool) -> bool: ...

    def reset_unfinished(self, ex: Execution) -> None: ...

    def due_for_check(self, shard: int, now: str, limit: int) -> list[Execution]: ...

    def active(self, shard: int) -> Iterator[Execution]: ...

    def check_later(self, ex: Execution, check_at: str) -> None: ...

    def page(
        self, tenant_id: str, workflow_id: str | None, status: str | None, limit: int, position: Cursor | int
    ) -> Page[Execution]: ...

    def latest_for_workflow(self, tenant_id: str, workflow_id: str) -> Execution | None: ...


class StateMachines(Protocol):
    """What the use cases need of Step Functions (engine/stepfunctions.py's Engine; a fake in
    unit tests). ``describe`` raises ExecutionMissing, ``start`` MachineMissing."""

    prefix: str

    def ensure_state_machine(self, definition: dict[str, Any]) -> str: ...

    def start(self, state_machine_arn: str, execution_id: str, payload: dict[str, Any]) -> bool: ...

    def describe(self, execution_arn: str) -> dict[str, Any]: ...

    def stop(self, execution_arn: str) -> None: ...

    def forget(self, state_machine_arn: str) -> None: ...

    def delete_machine(self, machine_arn: str) -> None: ...

    def executions_of(
        self, machine_arn: str, running_only: bool = False, limit: int = 1
    ) -> list[dict[str, Any]]: ...

    def list_machines(self, token: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]: ...


class TaskTypeLookup(Protocol):
    """The functions of a tenant's custom task types (tasktypes/store.py's TaskTypeRegistry)."""

    def resolve(self, tenant_id: str, names: set[str]) -> dict[str, str]: ...


@dataclass
class Services:
    """What the use cases work with, wired by services.py (the composition root) or by a test."""

    workflows: WorkflowRepository
    executions: ExecutionRepository
    registry: TaskTypeLookup
    engine: StateMachines
    runner_arn: str


def not_found(execution_id: str) -> NotFound:
    return NotFound(f"Execution '{execution_id}' does not exist.")


def start_execution(
    svc: Services,
    tenant_id: str,
    workflow_id: str,
    parameters: dict[str, Any],
    idempotency_key: str | None = None,
    execution_id: str | None = None,
    trigger: dict[str, Any] | None = None,
) -> Execution:
    """Record and start an execution of the workflow's current version.

    Exactly once: with an ``idempotency_key`` (24 h) or a caller-chosen ``execution_id`` (the
    scheduler derives one from schedule and time), a repeat returns the first execution. The
    Step Functions execution is named by the execution id, so starting twice starts nothing.
    """
    if idempotency_key is not None:
        seen = svc.executions.idempotent_match(tenant_id, idempotency_key)
        if seen is not None:
            return _replay(svc, tenant_id, workflow_id, seen)
    wf = svc.workflows.get(tenant_id, workflow_id)
    if wf is None:
        raise NotFound(f"Workflow '{workflow_id}' does not exist.")
    if wf.status == WorkflowStatus.INACTIVE:
        raise Conflict("The workflow is inactive; set its status to draft or active to run it.")
    definition = _definition(svc, tenant_id, wf.tasks)
    machine = svc.engine.ensure_state_machine(definition)
    ex = Execution(
        id=execution_id or new_id("ex"),
        tenant_id=tenant_id,
        workflow_id=wf.id,
        workflow_version=wf.version,
        status=ExecutionStatus.PENDING,
        tasks=wf.tasks,
        parameters=parameters,
        started_at=clock.now_iso(),
        state_machine_arn=machine,
        trigger=trigger,
    )
    try:
        svc.executions.create(ex, idempotency_key)
    except ConditionFailed as lost:
        if idempotency_key is not None and lost.index == 0:
            seen = svc.executions.idempotent_match(tenant_id, idempotency_key)
            if seen is not None:
                return _replay(svc, tenant_id, workflow_id, seen)
        existing = svc.executions.get(tenant_id, ex.id, with_runs=False)
        if existing is None:
            raise
        _ensure_started(svc, existing)
        return existing
    try:
        started = _start(svc, definition, machine, ex)
    except (ProblemError, TransientFailure):
        # Nothing may be left behind that never runs: unless the machine did start after all
        # (an error answer to a start that went through), remove the record and let the client
        # retry. A record the machine already moved on is kept and returned.
        with suppress(ExecutionMissing, ProblemError, TransientFailure):
            svc.engine.describe(ex.sfn_execution_arn)
            return ex
        try:
            svc.executions.delete(ex, idempotency_key)
        except ConditionFailed:
            return ex
        raise
    for attempt in range(2, 5):
        if started:
            break
        # A start that failed went through later, after its record was given up on: that
        # Step Functions execution (which found no record and stopped) holds the name. Run
        # this record under the next name instead, so the fire is not lost.
        name = f"{ex.id}.{attempt}"
        if not svc.executions.rename_run(ex, name):
            break
        ex = replace(ex, sfn_name=name)
        started = _start(svc, definition, machine, ex)
    return ex


def _definition(svc: Services, tenant_id: str, tasks: tuple[TaskDef, ...]) -> dict[str, Any]:
    definition = compile_definition(tasks, svc.runner_arn, _custom_functions(svc, tenant_id, tasks))
    size = len(json.dumps(definition, separators=(",", ":")))
    if size > MAX_DEFINITION_BYTES:
        raise Unprocessable(
            f"The workflow compiles to a {size:,}-byte state machine; Step Functions accepts at most "
            f"{MAX_DEFINITION_BYTES:,}. Split it into smaller workflows."
        )
    return definition


def _start(svc: Services, definition: dict[str, Any], machine: str, ex: Execution) -> bool:
    payload = {"executionId": ex.id, "tenantId": ex.tenant_id}
    name = ex.sfn_name or ex.id
    try:
        return svc.engine.start(machine, name, payload)
    except MachineMissing:
        svc.engine.forget(machine)
        return svc.engine.start(svc.engine.ensure_state_machine(definition), name, payload)


def _replay(svc: Services, tenant_id: str, workflow_id: str, seen: dict[str, Any]) -> Execution:
    if seen["workflowId"] != workflow_id:
        raise Conflict("This Idempotency-Key was already used to execute another workflow.")
    existing = svc.executions.get(tenant_id, seen["executionId"], with_runs=False)
    if existing is None:
        raise Conflict("This Idempotency-Key belongs to an execution that no longer exists.")
    _ensure_started(svc, existing)
    return existing


def _ensure_started(svc: Services, ex: Execution) -> None:
    """A replayed request restarts what a crash may have left unstarted (a no-op otherwise)."""
    if ex.status == ExecutionStatus.PENDING:
        # A machine deleted meanwhile cannot be restarted from here; reading the record
        # reconciles it (ExecutionLost) instead.
        with suppress(MachineMissing):
            payload = {"executionId": ex.id, "tenantId": ex.tenant_id}
            svc.engine.start(ex.state_machine_arn, ex.sfn_name or ex.id, payload)


def _custom_functions(svc: Services, tenant_id: str, tasks: tuple[TaskDef, ...]) -> dict[str, str]:
    custom = {t.type for t in tasks} - BUILTIN_TYPES
    found = svc.registry.resolve(tenant_id, custom)
    missing = sorted(custom - set(found))
    if missing:
        errors = [
            FieldError(f"tasks[{i}].type", f"task type '{t.type}' is not registered")
            for i, t in enumerate(tasks)
            if t.type in missing
        ]
        raise Unprocessable(
            "The workflow uses task types that are not registered: "
            + ", ".join(missing)
            + ". Nothing was started.",
            errors,
        )
    return found


def get_execution(svc: Services, tenant_id: str, execution_id: str) -> Execution:
    ex = svc.executions.get(tenant_id, execution_id)
    if ex is None:
        raise not_found(execution_id)
    if not ex.status.terminal:
        ex = reconcile(svc, ex)
    return ex


# GET /executions/{id}?waitSeconds=: how long a request may be held (API Gateway ends an
# integration at 29 s), and what a held one reads. Deployed, it looks every 100 ms
# (``changes.POLL_INTERVAL``): it reads the record's status (one small GetItem), so the end of a
# run is seen within about that; then the task runs (the partition's Query, one item per task)
# if the status moved or if their turn came: every look while the workflow has at most 25
# tasks, every 100 ms per 25 tasks for larger ones, at least once a second. So a held request
# reads at most about 25 task items per 100 ms. Where the runtime tells of each write (the
# embedded one), it reads the execution once per write and nothing in between.
MAX_WAIT_SECONDS = 20
WATCH_TASKS_PER_LOOK = 25
WATCH_TASKS_INTERVAL_MAX = 1.0


def tasks_interval(ex: Execution) -> float:
    """Seconds between two reads of the task runs while a polling request is held for ``ex``."""
    looks = -(-len(ex.tasks) // WATCH_TASKS_PER_LOOK)  # ceil
    return min(WATCH_TASKS_INTERVAL_MAX, changes.POLL_INTERVAL * max(1, looks))


def watch_execution(
    svc: Services,
    tenant_id: str,
    execution_id: str,
    seen: Collection[str],
    wait_seconds: float,
    monotonic: Callable[[], float] = time.monotonic,
) -> tuple[Execution, bool]:
    """The execution as ``get_execution`` reads it, but while its ETag is one of ``seen`` (the
    client's If-None-Match; ``*``: whatever it is now) wait up to ``wait_seconds`` for it to
    change: a long poll, so a watcher learns of a change (above all, the end) at once, without
    asking again and again. Returns the execution as it is when it changed or the time was up,
    and whether it still matches ``seen`` (304). How it waits: ``changes.current()``."""
    if not seen or wait_seconds <= 0:
        ex = get_execution(svc, tenant_id, execution_id)
        return ex, ex.etag in seen or (ANY in seen)
    with changes.current().subscribe(svc.executions.partition(tenant_id, execution_id)) as writes:
        ex = get_execution(svc, tenant_id, execution_id)
        if ANY in seen:
            seen = {ex.etag}
        deadline = monotonic() + min(wait_seconds, MAX_WAIT_SECONDS)
        tasks_read = monotonic()
        while ex.etag in seen:
            left = deadline - monotonic()
            if left <= 0:
                break
            change = writes.wait(left)
            if change is changes.Change.QUIET:
                continue
            if change is changes.Change.MAYBE:
                head = svc.executions.get(tenant_id, execution_id, with_runs=False)
                if head is None:
                    raise not_found(execution_id)
                moved = head.status != ex.status or head.redrive_count != ex.redrive_count
                if not moved and monotonic() - tasks_read < tasks_interval(ex) - 1e-9:
                    continue
            current = svc.executions.get(tenant_id, execution_id)
            if current is None:
                raise not_found(execution_id)
            ex, tasks_read = current, monotonic()
    return ex, ex.etag in seen


def reconcile(svc: Services, ex: Execution) -> Execution:
    """Never report ``running`` for a machine that has ended: if it ended without writing the
    record (aborted, timed out, crashed), write what Step Functions says."""
    try:
        described = svc.engine.describe(ex.sfn_execution_arn)
    except ExecutionMissing:
        # The latest launch may still be starting: a redrive's start follows its claim.
        started = clock.parse_iso(max(ex.started_at, ex.redriven_at or ""))
        if (clock.now() - started).total_seconds() < START_GRACE_SECONDS:
            return ex
        described = {"status": "LOST"}
    outcome = {
        "SUCCEEDED": (ExecutionStatus.COMPLETED, None),
        "FAILED": (ExecutionStatus.FAILED, "failed"),
        "TIMED_OUT": (ExecutionStatus.FAILED, "timed out"),
        "ABORTED": (ExecutionStatus.CANCELLED, None),
        "LOST": (ExecutionStatus.FAILED, "lost"),
    }.get(str(described.get("status")))
    if outcome is None:
        return ex
    status, how = outcome
    error = None
    if how is not None:
        error = {
            "task": None,
            "error": described.get("error") or ("ExecutionLost" if how == "lost" else "States.Timeout"),
            "cause": described.get("cause") or f"the state machine {how} before recording a result",
        }
    stopped = described.get("stopDate")
    completed_at = clock.iso(stopped) if stopped is not None else clock.now_iso()
    svc.executions.transition(ex, status, completed_at, error)
    fresh = svc.executions.get(ex.tenant_id, ex.id)
    return fresh or ex


def list_executions(
    svc: Services,
    tenant_id: str,
    workflow_id: str | None,
    status: str | None,
    limit: int,
    offset: int,
    next_token: str | None,
) -> Page[Execution]:
    return svc.executions.page(tenant_id, workflow_id, status, limit, resolve_position(offset, next_token))


def cancel_execution(svc: Services, tenant_id: str, execution_id: str) -> Execution:
    ex = get_execution(svc, tenant_id, execution_id)
    while not ex.status.terminal:
        # Not started yet (ExecutionMissing): the runner's start step sees the cancellation.
        with suppress(ExecutionMissing):
            svc.engine.stop(ex.sfn_execution_arn)
        if svc.executions.transition(ex, ExecutionStatus.CANCELLED, clock.now_iso(), None):
            return get_execution(svc, tenant_id, execution_id)
        ex = get_execution(svc, tenant_id, execution_id)
    raise Conflict(f"The execution already ended ({ex.status.value}).")


def latest_task_status(svc: Services, wf: Workflow) -> Workflow:
    """The workflow with each task's status in its most recent execution."""
    latest = svc.executions.latest_for_workflow(wf.tenant_id, wf.id)
    if latest is None:
        return wf
    statuses: dict[str, TaskStatus] = {run.name: run.status for run in latest.task_runs()}
    return wf.with_changes(last_task_status=statuses)


# -- launching again: redrive, resume, sweep ------------------------------------------------------
REDRIVABLE = frozenset({ExecutionStatus.FAILED, ExecutionStatus.CANCELLED})
# How often the sweep looks at an execution that is still running (Step Functions' word is
# the truth; the sweep only catches a record its machine never wrote, e.g. after a timeout).
SWEEP_INTERVAL_SECONDS = 300
SWEEP_BATCH = 100


def redrive_execution(svc: Services, tenant_id: str, execution_id: str) -> Execution:
    """Run a failed or cancelled execution again from where it stopped, under the same id.

    Completed tasks keep their results and do not run again; every other task runs again with
    the execution's own workflow version and parameters (the record holds both), its attempts
    counting on. Of two racing redrives one wins; the other gets 409.
    """
    ex = get_execution(svc, tenant_id, execution_id)
    if ex.status not in REDRIVABLE:
        state = f"is still {ex.status.value}" if not ex.status.terminal else "already completed"
        raise Conflict(f"The execution {state}; only a failed or cancelled execution can be redriven.")
    wf = svc.workflows.get(tenant_id, ex.workflow_id)
    if wf is not None and wf.status == WorkflowStatus.INACTIVE:
        raise Conflict("The workflow is inactive; set its status to draft or active to redrive its runs.")
    if not relaunch(svc, ex, redrive=True):
        fresh = get_execution(svc, tenant_id, execution_id)
        raise Conflict(f"The execution changed meanwhile ({fresh.status.value}); it was not redriven.")
    return get_execution(svc, tenant_id, execution_id)


def relaunch(svc: Services, ex: Execution, redrive: bool) -> bool:
    """Launch ``ex`` again on the machine compiled from its own tasks: claim the next launch
    (False if another claim won), make every unfinished task pending, start the machine.

    One mechanism for a redrive (an ended execution, by request) and a resume (a pending or
    running execution whose machine is gone, e.g. the embedded runtime restarted). If the
    start fails, the execution ends ``failed`` saying so (a redrive can try again) and the
    error is raised.
    """
    definition = _definition(svc, ex.tenant_id, ex.tasks)
    machine = svc.engine.ensure_state_machine(definition)
    name = ex.next_launch_name()
    if not svc.executions.relaunch(ex, machine, name, clock.now_iso(), redrive):
        return False
    svc.executions.reset_unfinished(ex)
    launched = replace(
        ex,
        state_machine_arn=machine,
        sfn_name=name,
        status=ExecutionStatus.RUNNING if redrive else ex.status,
    )
    try:
        _start(svc, definition, machine, launched)
    except (ProblemError, TransientFailure) as err:
        error = {"task": None, "error": "LaunchFailed", "cause": err.detail}
        svc.executions.transition(launched, ExecutionStatus.FAILED, clock.now_iso(), error)
        raise
    return True


def resume_stranded(svc: Services) -> list[str]:
    """Launch again every pending or running execution whose state machine run no longer
    exists (the embedded runtime's Step Functions lives in memory: after a restart, none do).
    Completed tasks keep their results; a task that was running runs again and counts the
    attempt. An execution that cannot be launched again (its custom task type is no longer
    registered) ends ``failed`` naming why. Returns the ids resumed."""
    resumed: list[str] = []
    for shard in range(ACTIVE_SHARDS):
        for head in svc.executions.active(shard):
            ex = svc.executions.get(head.tenant_id, head.id)
            if ex is None or ex.status.terminal:
                continue
            try:
                svc.engine.describe(ex.sfn_execution_arn)
                continue  # its machine still runs (or ended: the sweep and reads reconcile it)
            except ExecutionMissing:
                pass
            try:
                if relaunch(svc, ex, redrive=False):
                    resumed.append(ex.id)
            except Unprocessable as err:
                error = {"task": None, "error": "ResumeFailed", "cause": err.detail}
                svc.executions.transition(ex, ExecutionStatus.FAILED, clock.now_iso(), error)
    return resumed


def sweep(svc: Services, now: datetime) -> int:
    """Reconcile the executions stored as pending/running whose check is due, so a list never
    shows ``running`` for a machine that has ended (GET reconciles on read; lists do not).
    Each tick looks at up to ``SWEEP_BATCH`` per shard, oldest check first. Returns how many
    ended."""
    ended = 0
    later = clock.iso(now + timedelta(seconds=SWEEP_INTERVAL_SECONDS))
    for shard in range(ACTIVE_SHARDS):
        for head in svc.executions.due_for_check(shard, clock.iso(now), SWEEP_BATCH):
            ex = reconcile(svc, head)
            if ex.status.terminal:
                ended += 1
            else:
                svc.executions.check_later(ex, later)
    return ended
