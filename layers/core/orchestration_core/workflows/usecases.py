"""Workflow use cases: create, read, list, update, delete. Pure logic over a WorkflowRepository
(the DynamoDB WorkflowStore in production, an in-memory fake in unit tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from orchestration_core.shared import clock
from orchestration_core.shared.errors import Conflict, NotFound, PreconditionFailed
from orchestration_core.shared.etags import ANY, entity_tags
from orchestration_core.shared.ids import new_id
from orchestration_core.shared.pagination import Cursor, Page, resolve_position
from orchestration_core.shared.table import retry_on_conflict
from orchestration_core.workflows.api import TaskIn, WorkflowCreate, WorkflowUpdate
from orchestration_core.workflows.dag import validate_tasks
from orchestration_core.workflows.models import TaskDef, Workflow, WorkflowStatus
from orchestration_core.workflows.store import ConditionFailed


class WorkflowRepository(Protocol):
    """What the use cases need of workflow storage (workflows/store.py's WorkflowStore).

    ``create`` raises ConditionFailed if the id exists; ``replace`` and ``delete`` raise it
    unless the stored workflow is still at the revision given; ``page`` lists newest first."""

    def get(self, tenant_id: str, workflow_id: str) -> Workflow | None: ...

    def create(self, wf: Workflow) -> None: ...

    def replace(self, old: Workflow, new: Workflow) -> None: ...

    def delete(self, wf: Workflow) -> None: ...

    def page(
        self, tenant_id: str, status: str | None, limit: int, position: Cursor | int
    ) -> Page[Workflow]: ...


def _task_defs(tasks: list[TaskIn]) -> tuple[TaskDef, ...]:
    defs = tuple(
        TaskDef(name=t.name, type=t.type, config=t.config or {}, depends_on=tuple(t.dependsOn or ()))
        for t in tasks
    )
    validate_tasks(defs)
    return defs


def not_found(workflow_id: str) -> NotFound:
    return NotFound(f"Workflow '{workflow_id}' does not exist.")


def create_workflow(store: WorkflowRepository, tenant_id: str, request: WorkflowCreate) -> Workflow:
    tasks = _task_defs(request.tasks)
    stamp = clock.now_iso()
    wf = Workflow(
        id=new_id("wf"),
        tenant_id=tenant_id,
        name=request.name,
        description=request.description or "",
        status=WorkflowStatus(request.status),
        tasks=tasks,
        version=1,
        revision=1,
        created_at=stamp,
        updated_at=stamp,
    )
    store.create(wf)
    return wf


def get_workflow(store: WorkflowRepository, tenant_id: str, workflow_id: str) -> Workflow:
    wf = store.get(tenant_id, workflow_id)
    if wf is None:
        raise not_found(workflow_id)
    return wf


def list_workflows(
    store: WorkflowRepository,
    tenant_id: str,
    status: str | None,
    limit: int,
    offset: int,
    next_token: str | None,
) -> Page[Workflow]:
    return store.page(tenant_id, status, limit, resolve_position(offset, next_token))


def _check_if_match(wf: Workflow, if_match: str | None) -> None:
    if if_match is None:
        return
    tags = entity_tags(if_match)
    if ANY not in tags and wf.etag not in tags:
        raise PreconditionFailed(
            f"The workflow changed since it was read: its ETag is now {wf.etag}. Read it again and retry."
        )


def update_workflow(
    store: WorkflowRepository, tenant_id: str, workflow_id: str, request: WorkflowUpdate, if_match: str | None
) -> Workflow:
    """Apply the fields given. Without If-Match, a concurrent change is re-read and re-applied
    (no update is lost); with If-Match, any change since that ETag answers 412."""
    tasks = _task_defs(request.tasks) if request.tasks is not None else None
    for _ in retry_on_conflict():
        current = get_workflow(store, tenant_id, workflow_id)
        _check_if_match(current, if_match)
        changes: dict[str, object] = {"revision": current.revision + 1, "updated_at": clock.now_iso()}
        if request.name is not None:
            changes["name"] = request.name
        if request.description is not None:
            changes["description"] = request.description
        if request.status is not None:
            changes["status"] = WorkflowStatus(request.status)
        if tasks is not None and tasks != current.tasks:
            changes["tasks"] = tasks
            changes["version"] = current.version + 1
        updated = current.with_changes(**changes)
        try:
            store.replace(current, updated)
            return updated
        except ConditionFailed:
            if if_match is not None:
                raise PreconditionFailed(
                    "The workflow changed while it was being updated. Read it again and retry."
                ) from None
            continue
    raise Conflict("The workflow is being changed by many writers at once; retry shortly.")


def delete_workflow(
    store: WorkflowRepository,
    tenant_id: str,
    workflow_id: str,
    if_match: str | None,
    before_delete: Callable[[Workflow], object] | None = None,
) -> None:
    """Delete after ``before_delete`` (which removes what depends on the workflow) succeeded, so
    a failure there leaves the workflow in place and the client's retry finishes the job."""
    for _ in retry_on_conflict():
        current = get_workflow(store, tenant_id, workflow_id)
        _check_if_match(current, if_match)
        if before_delete is not None:
            before_delete(current)
        try:
            store.delete(current)
            return
        except ConditionFailed:
            if if_match is not None:
                raise PreconditionFailed("The workflow changed while it was being deleted.") from None
            continue
    raise Conflict("The workflow is being changed by many writers at once; retry shortly.")
