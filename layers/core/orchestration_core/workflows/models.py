"""A workflow and its tasks, as the use cases and stores see them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class WorkflowStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    INACTIVE = "inactive"


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class TaskDef:
    name: str
    type: str
    config: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Workflow:
    id: str
    tenant_id: str
    name: str
    description: str
    status: WorkflowStatus
    tasks: tuple[TaskDef, ...]
    version: int
    revision: int
    created_at: str
    updated_at: str
    # Status of each task in the workflow's most recent execution (task name -> status).
    last_task_status: dict[str, TaskStatus] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return f'"{self.revision}"'

    def with_changes(self, **changes: Any) -> Workflow:
        return replace(self, **changes)
