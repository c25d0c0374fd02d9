"""A schedule and its unfinished fire, as the use cases and the store see them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

RECENT_ACTIONS = 10


@dataclass(frozen=True)
class PendingFire:
    """A fire whose start failed for a transient reason (its slot is consumed: nextRunAt has
    moved on); a tick from ``retry_at`` on starts it again with the same execution id."""

    scheduled_at: str
    execution_id: str
    retry_at: str  # a dispatcher may re-attempt the start from this time on
    attempts: int
    trigger_type: str = "schedule"  # "trigger"/"backfill" for a buffered fire of those


@dataclass(frozen=True)
class Schedule:
    id: str
    tenant_id: str
    workflow_id: str
    cron_expression: str
    timezone: str
    parameters: dict[str, Any]
    enabled: bool
    next_run_at: str | None  # None while disabled
    created_at: str
    updated_at: str
    revision: int
    last_run_at: str | None = None  # scheduled time of the last fire that started an execution
    last_execution_id: str | None = None
    last_skipped_at: str | None = None  # scheduled time of the last fire skipped (inactive workflow)
    last_error: dict[str, Any] | None = None  # why the last fire started nothing
    pending_fire: PendingFire | None = None
    overlap_policy: str = "allow"  # allow | skip | bufferOne
    catchup_window_seconds: int = 86_400
    start_at: str | None = None  # no fire before this instant
    end_at: str | None = None  # no fire after this instant
    note: str = ""
    # bufferOne: a fire held back while the previous run is active
    # ({"scheduledAt", "executionId", "type"}); the dispatcher starts it once that run ends.
    buffered: dict[str, Any] | None = None
    # The last RECENT_ACTIONS outcomes, oldest first: {"scheduledAt", "executionId", "outcome"}.
    recent_actions: tuple[dict[str, Any], ...] = ()

    @property
    def due_at(self) -> str | None:
        """When the dispatcher must next act on this schedule (None: never, until it changes)."""
        times = []
        if self.enabled and self.next_run_at is not None:
            times.append(self.next_run_at)
        if self.enabled and self.buffered is not None:
            # Due on every tick while buffered: the tick checks whether the previous run ended.
            times.append(self.buffered["scheduledAt"])
        if self.pending_fire is not None:
            times.append(self.pending_fire.retry_at)
        return min(times) if times else None

    def with_changes(self, **changes: Any) -> Schedule:
        return replace(self, **changes)

    def with_action(self, scheduled_at: str, execution_id: str | None, outcome: str) -> Schedule:
        """This schedule with one more entry in ``recent_actions`` (the last RECENT_ACTIONS kept)."""
        action = {"scheduledAt": scheduled_at, "executionId": execution_id, "outcome": outcome}
        return replace(self, recent_actions=(*self.recent_actions, action)[-RECENT_ACTIONS:])
