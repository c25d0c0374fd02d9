"""Request and response models of the schedules API (camelCase on the wire, as the seed shows).

``cronExpression`` and ``timezone`` are plain strings here: cron.py validates them (in
schedules.py) so that the messages are its clear ones, with ``field`` set to
``cronExpression`` or ``timezone``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, StringConstraints, field_validator

from orchestration_core.api_models import RequestModel
from orchestration_core.cron import DEFAULT_TIMEZONE
from orchestration_core.store.schedules import Schedule

MAX_PARAMETERS_BYTES = 256 * 1024

WorkflowId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


def _check_parameters(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(json.dumps(value, separators=(",", ":")).encode()) > MAX_PARAMETERS_BYTES:
        raise ValueError(f"parameters must be at most {MAX_PARAMETERS_BYTES} bytes of JSON")
    return value


class ScheduleCreate(RequestModel):
    workflowId: WorkflowId
    cronExpression: str
    timezone: str = DEFAULT_TIMEZONE
    parameters: dict[str, Any] | None = None
    enabled: bool = True

    _parameters_size = field_validator("parameters")(_check_parameters)


class ScheduleUpdate(RequestModel):
    """PUT: the fields given replace the stored ones; omitted fields keep their value."""

    cronExpression: str | None = None
    timezone: str | None = None
    parameters: dict[str, Any] | None = None
    enabled: bool | None = None

    _parameters_size = field_validator("parameters")(_check_parameters)


class ScheduleError(BaseModel):
    """Why the last fire started nothing (e.g. 422: the workflow uses unregistered task types)."""

    at: str
    scheduledAt: str
    status: int
    title: str
    detail: str


class ScheduleSummary(BaseModel):
    """A list item: everything but ``parameters`` (up to 256 KiB each; read them with GET)."""

    id: str
    workflowId: str
    cronExpression: str
    timezone: str
    enabled: bool
    nextRunAt: str | None
    lastRunAt: str | None
    lastExecutionId: str | None
    lastSkippedAt: str | None
    lastError: ScheduleError | None
    createdAt: str
    updatedAt: str

    @classmethod
    def of(cls, sc: Schedule) -> ScheduleSummary:
        return cls(**_fields(sc))


class ScheduleOut(ScheduleSummary):
    parameters: dict[str, Any]

    @classmethod
    def of(cls, sc: Schedule) -> ScheduleOut:
        return cls(**_fields(sc), parameters=sc.parameters)


def _fields(sc: Schedule) -> dict[str, Any]:
    return {
        "id": sc.id,
        "workflowId": sc.workflow_id,
        "cronExpression": sc.cron_expression,
        "timezone": sc.timezone,
        "enabled": sc.enabled,
        "nextRunAt": sc.next_run_at,
        "lastRunAt": sc.last_run_at,
        "lastExecutionId": sc.last_execution_id,
        "lastSkippedAt": sc.last_skipped_at,
        "lastError": ScheduleError(**sc.last_error) if sc.last_error else None,
        "createdAt": sc.created_at,
        "updatedAt": sc.updated_at,
    }


class ScheduleList(BaseModel):
    schedules: list[ScheduleSummary]
    total: int
    limit: int
    offset: int
    nextToken: str | None
