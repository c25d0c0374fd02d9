"""Workflow items: the mapping between the domain object and its DynamoDB item."""

from __future__ import annotations

import json
from typing import Any

from orchestration_core.shared.pagination import Cursor, Page
from orchestration_core.shared.table import ConditionFailed, Table, index_attributes
from orchestration_core.workflows.models import TaskDef, TaskStatus, Workflow, WorkflowStatus

ENTITY = "workflow"


def _pk(tenant_id: str, workflow_id: str) -> str:
    return f"T#{tenant_id}#WF#{workflow_id}"


def _memberships(tenant_id: str, status: WorkflowStatus | str) -> dict[int, str]:
    return {1: f"T#{tenant_id}#WF", 2: f"T#{tenant_id}#WF#S#{status}"}


def list_partition(tenant_id: str, status: str | None) -> tuple[int, str]:
    memberships = _memberships(tenant_id, status or "")
    return (2, memberships[2]) if status else (1, memberships[1])


def to_item(wf: Workflow) -> dict[str, Any]:
    return {
        "PK": _pk(wf.tenant_id, wf.id),
        "SK": "WF",
        "entity": ENTITY,
        "id": wf.id,
        "tenantId": wf.tenant_id,
        "name": wf.name,
        "description": wf.description,
        "status": wf.status.value,
        "tasks": json.dumps(
            [
                {"name": t.name, "type": t.type, "config": t.config, "dependsOn": list(t.depends_on)}
                for t in wf.tasks
            ],
            separators=(",", ":"),
        ),
        "version": wf.version,
        "revision": wf.revision,
        "createdAt": wf.created_at,
        "updatedAt": wf.updated_at,
        "lastTaskStatus": json.dumps({k: v.value for k, v in wf.last_task_status.items()})
        if wf.last_task_status
        else None,
        **index_attributes(_memberships(wf.tenant_id, wf.status), wf.id),
    }


def from_item(item: dict[str, Any]) -> Workflow:
    return Workflow(
        id=item["id"],
        tenant_id=item["tenantId"],
        name=item["name"],
        description=item.get("description", ""),
        status=WorkflowStatus(item["status"]),
        tasks=tuple(
            TaskDef(name=t["name"], type=t["type"], config=t["config"], depends_on=tuple(t["dependsOn"]))
            for t in json.loads(item["tasks"])
        ),
        version=int(item["version"]),
        revision=int(item["revision"]),
        created_at=item["createdAt"],
        updated_at=item["updatedAt"],
        last_task_status={
            k: TaskStatus(v) for k, v in json.loads(item.get("lastTaskStatus") or "{}").items()
        },
    )


class WorkflowStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, tenant_id: str, workflow_id: str) -> Workflow | None:
        item = self.table.get(_pk(tenant_id, workflow_id), "WF")
        return from_item(item) if item else None

    def create(self, wf: Workflow) -> None:
        self.table.transact(
            [
                self.table.put_op(to_item(wf), "attribute_not_exists(PK)"),
                *self.table.counter_ops({}, _memberships(wf.tenant_id, wf.status)),
            ]
        )

    def replace(self, old: Workflow, new: Workflow) -> None:
        """Write ``new`` if the stored item is still at ``old.revision``; else ConditionFailed."""
        self.table.transact(
            [
                self.table.put_op(to_item(new), "revision = :r", {":r": old.revision}),
                *self.table.counter_ops(
                    _memberships(old.tenant_id, old.status), _memberships(new.tenant_id, new.status)
                ),
            ]
        )

    def delete(self, wf: Workflow) -> None:
        self.table.transact(
            [
                self.table.delete_op(_pk(wf.tenant_id, wf.id), "WF", "revision = :r", {":r": wf.revision}),
                *self.table.counter_ops(_memberships(wf.tenant_id, wf.status), {}),
            ]
        )

    def page(self, tenant_id: str, status: str | None, limit: int, position: Cursor | int) -> Page[Workflow]:
        index, partition = list_partition(tenant_id, status)
        return self.table.list_page(
            index, partition, limit, position, lambda wid: {"PK": _pk(tenant_id, wid), "SK": "WF"}, from_item
        )


__all__ = ["ConditionFailed", "WorkflowStore"]
