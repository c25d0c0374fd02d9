"""Request and response models of the workflow routes (camelCase on the wire)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from orchestration_core.shared.api import Description, Model, RequestModel
from orchestration_core.workflows.models import TaskStatus, Workflow, WorkflowStatus

MAX_CONFIG_BYTES = 32 * 1024

TaskName = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_-]+$")]
TaskType = Annotated[str, StringConstraints(min_length=1, max_length=64)]
WorkflowName = Annotated[str, StringConstraints(min_length=1, max_length=128)]


StatusName = Literal["draft", "active", "inactive"]


class TaskIn(RequestModel):
    name: TaskName
    type: TaskType
    config: dict[str, Any] | None = None
    dependsOn: Annotated[list[TaskName], Field(max_length=500)] | None = None

    @field_validator("config")
    @classmethod
    def _config_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(json.dumps(value, separators=(",", ":"))) > MAX_CONFIG_BYTES:
            raise ValueError(f"config must be at most {MAX_CONFIG_BYTES} bytes of JSON")
        return value


Tasks = Annotated[list[TaskIn], Field(min_length=1, max_length=500)]


class WorkflowCreate(RequestModel):
    name: WorkflowName
    description: Description | None = None
    tasks: Tasks
    status: StatusName = "draft"


class WorkflowUpdate(RequestModel):
    name: WorkflowName | None = None
    description: Description | None = None
    tasks: Tasks | None = None
    status: StatusName | None = None


class WorkflowSummary(Model):
    id: str
    name: str
    description: str
    status: WorkflowStatus
    version: int
    createdAt: str
    updatedAt: str

    @classmethod
    def of(cls, wf: Workflow) -> WorkflowSummary:
        return cls(
            id=wf.id,
            name=wf.name,
            description=wf.description,
            status=wf.status,
            version=wf.version,
            createdAt=wf.created_at,
            updatedAt=wf.updated_at,
        )


class TaskOut(Model):
    id: str
    name: str
    type: str
    config: dict[str, Any]
    dependsOn: list[str]
    status: TaskStatus


class WorkflowDetail(WorkflowSummary):
    tasks: list[TaskOut]

    @classmethod
    def of(cls, wf: Workflow) -> WorkflowDetail:
        from orchestration_core.shared.ids import derived_id

        return cls(
            **WorkflowSummary.of(wf).model_dump(),
            tasks=[
                TaskOut(
                    id=derived_id("tk", wf.id, t.name),
                    name=t.name,
                    type=t.type,
                    config=t.config,
                    dependsOn=list(t.depends_on),
                    status=wf.last_task_status.get(t.name, TaskStatus.PENDING),
                )
                for t in wf.tasks
            ],
        )


class WorkflowList(Model):
    workflows: list[WorkflowSummary]
    total: int
    limit: int
    offset: int
    nextToken: str | None


class DeleteResult(Model):
    success: Literal[True] = True
