"""Request and response models of the HTTP API (camelCase on the wire, as the seed shows)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from orchestration_core.domain import Execution, ExecutionStatus, TaskStatus, Workflow, WorkflowStatus

MAX_CONFIG_BYTES = 32 * 1024

TaskName = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_-]+$")]
TaskType = Annotated[str, StringConstraints(min_length=1, max_length=64)]
WorkflowName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Description = Annotated[str, StringConstraints(max_length=1024)]
StatusName = Literal["draft", "active", "inactive"]


class Model(BaseModel):
    """Base of every API model. Each function builds only the models it uses: pydantic builds a
    model's validator and serializer when it is first used, not when the module is imported
    (one module holds the models of every endpoint; bench/cold_imports.py measures the import)."""

    model_config = ConfigDict(defer_build=True)


class RequestModel(Model):
    """Unknown fields are rejected and types are not coerced ("5" is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


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
        from orchestration_core.ids import derived_id

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


# -- executions ------------------------------------------------------------------------------------
class ExecuteRequest(RequestModel):
    parameters: dict[str, Any] | None = None


class ExecuteAccepted(Model):
    executionId: str
    status: Literal["started"] = "started"
    startedAt: str


class ExecutionError(Model):
    task: str | None
    error: str
    cause: str | None


class TaskRunOut(Model):
    id: str
    name: str
    status: TaskStatus
    startedAt: str | None
    completedAt: str | None
    attempts: int
    result: Any = None
    error: dict[str, Any] | None = None


class ExecutionSummary(Model):
    id: str
    workflowId: str
    workflowVersion: int
    status: ExecutionStatus
    startedAt: str
    completedAt: str | None
    error: ExecutionError | None
    # What started it: {"type": "api"} or {"type": "schedule", "scheduleId", "scheduledAt"}.
    trigger: dict[str, Any]
    # How often it was redriven (POST /executions/{id}/redrive) and when last.
    redriveCount: int
    redrivenAt: str | None

    @classmethod
    def of(cls, ex: Execution) -> ExecutionSummary:
        return cls(
            id=ex.id,
            workflowId=ex.workflow_id,
            workflowVersion=ex.workflow_version,
            status=ex.status,
            startedAt=ex.started_at,
            completedAt=ex.completed_at,
            error=ExecutionError(**ex.error) if ex.error else None,
            trigger=ex.trigger or {"type": "api"},
            redriveCount=ex.redrive_count,
            redrivenAt=ex.redriven_at,
        )


class ExecutionDetail(ExecutionSummary):
    parameters: dict[str, Any]
    tasks: list[TaskRunOut]

    @classmethod
    def of(cls, ex: Execution) -> ExecutionDetail:
        from orchestration_core.ids import derived_id

        return cls(
            **ExecutionSummary.of(ex).model_dump(),
            parameters=ex.parameters,
            tasks=[
                TaskRunOut(
                    id=derived_id("tk", ex.workflow_id, run.name),
                    name=run.name,
                    status=run.status,
                    startedAt=run.started_at,
                    completedAt=run.completed_at,
                    attempts=run.attempts,
                    result=run.result,
                    error=run.error,
                )
                for run in ex.task_runs()
            ],
        )


class ExecutionList(Model):
    executions: list[ExecutionSummary]
    total: int
    limit: int
    offset: int
    nextToken: str | None


# -- task types ------------------------------------------------------------------------------------
class TaskTypeIn(RequestModel):
    functionArn: Annotated[
        str, StringConstraints(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9:_.$-]+$")
    ]
    description: Description = ""


class TaskTypeOut(Model):
    name: str
    functionArn: str
    description: str
    createdAt: str | None = None
    updatedAt: str | None = None
    # builtin (run by the service; no function), deployment (the stack's TaskTypes) or registered
    source: Literal["builtin", "deployment", "registered"] = "registered"


class TaskTypeList(Model):
    taskTypes: list[TaskTypeOut]
