"""Request and response models of the execution routes (camelCase on the wire)."""

from __future__ import annotations

from typing import Any, Literal

from orchestration_core.executions.models import Execution, ExecutionStatus
from orchestration_core.shared.api import Model, RequestModel
from orchestration_core.workflows.models import TaskStatus


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
        from orchestration_core.shared.ids import derived_id

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
