"""Request and response models of the schedules API (camelCase on the wire, as the seed shows).

``cronExpression`` and ``timezone`` are plain strings here: cron.py validates them (in
schedules.py) so that the messages are its clear ones, with ``field`` set to
``cronExpression`` or ``timezone``.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from orchestration_core.schedules.cron import DEFAULT_TIMEZONE
from orchestration_core.schedules.models import Schedule
from orchestration_core.shared import clock
from orchestration_core.shared.api import Model, RequestModel

MAX_PARAMETERS_BYTES = 256 * 1024

WorkflowId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
OverlapPolicy = Literal["allow", "skip", "bufferOne"]
CatchupWindow = Annotated[int, Field(ge=60, le=31_536_000)]
Note = Annotated[str, StringConstraints(max_length=256)]
MAX_BACKFILL_SLOTS = 1000


def _check_instant(value: str | None) -> str | None:
    """An ISO 8601 instant with an offset (``Z`` or ``+hh:mm``), normalised to the service's form."""
    if value is None:
        return None
    try:
        moment = clock.parse_iso(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 date-time such as 2026-01-31T00:00:00Z") from None
    if moment.utcoffset() is None:
        raise ValueError("must carry a UTC offset (end it with Z or +hh:mm)")
    if not 1970 <= moment.year <= 9998:
        raise ValueError("must lie between the years 1970 and 9998")
    return clock.iso(moment.astimezone(UTC))


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
    overlapPolicy: OverlapPolicy = "allow"
    catchupWindowSeconds: CatchupWindow = 86_400
    startAt: str | None = None
    endAt: str | None = None
    note: Note = ""

    _parameters_size = field_validator("parameters")(_check_parameters)
    _instants = field_validator("startAt", "endAt")(_check_instant)


class ScheduleUpdate(RequestModel):
    """PUT: the fields given replace the stored ones; omitted fields keep their value
    (``startAt``/``endAt`` sent as null remove the bound)."""

    cronExpression: str | None = None
    timezone: str | None = None
    parameters: dict[str, Any] | None = None
    enabled: bool | None = None
    overlapPolicy: OverlapPolicy | None = None
    catchupWindowSeconds: CatchupWindow | None = None
    startAt: str | None = None
    endAt: str | None = None
    note: Note | None = None

    _parameters_size = field_validator("parameters")(_check_parameters)
    _instants = field_validator("startAt", "endAt")(_check_instant)


class TriggerRequest(RequestModel):
    """POST /schedules/{id}/trigger: ``overlapPolicy`` overrides the schedule's for this run."""

    overlapPolicy: OverlapPolicy | None = None


class TriggerAccepted(Model):
    executionId: str
    status: Literal["started", "buffered"]
    scheduledAt: str


class BackfillRequest(RequestModel):
    """POST /schedules/{id}/backfill: one run per cron slot in [startAt, endAt), both in the past."""

    startAt: str
    endAt: str
    overlapPolicy: OverlapPolicy = "allow"

    _instants = field_validator("startAt", "endAt")(_check_instant)


class BackfillAccepted(Model):
    """``executionIds[i]`` is the run of ``scheduledAt[i]`` (started now, started before, or
    buffered), or null where the overlap policy skipped the slot."""

    slots: int
    executionIds: list[str | None]
    scheduledAt: list[str]
    skipped: int


class ScheduleAction(Model):
    scheduledAt: str
    executionId: str | None
    outcome: Literal["started", "skipped-overlap", "skipped-inactive", "skipped-catchup", "buffered"]


class ScheduleError(Model):
    """Why the last fire started nothing (e.g. 422: the workflow uses unregistered task types)."""

    at: str
    scheduledAt: str
    status: int
    title: str
    detail: str


class ScheduleSummary(Model):
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
    overlapPolicy: OverlapPolicy
    catchupWindowSeconds: int
    startAt: str | None
    endAt: str | None
    note: str
    createdAt: str
    updatedAt: str

    @classmethod
    def of(cls, sc: Schedule) -> ScheduleSummary:
        return cls(**_fields(sc))


class ScheduleOut(ScheduleSummary):
    parameters: dict[str, Any]
    upcomingRunTimes: list[str]
    recentActions: list[ScheduleAction]

    @classmethod
    def of(cls, sc: Schedule, upcoming: list[str] | None = None) -> ScheduleOut:
        return cls(
            **_fields(sc),
            parameters=sc.parameters,
            upcomingRunTimes=upcoming or [],
            recentActions=[ScheduleAction(**a) for a in reversed(sc.recent_actions)],
        )


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
        "overlapPolicy": sc.overlap_policy,
        "catchupWindowSeconds": sc.catchup_window_seconds,
        "startAt": sc.start_at,
        "endAt": sc.end_at,
        "note": sc.note,
        "createdAt": sc.created_at,
        "updatedAt": sc.updated_at,
    }


class ScheduleList(Model):
    schedules: list[ScheduleSummary]
    total: int
    limit: int
    offset: int
    nextToken: str | None
