"""Schedule items: the domain object, its DynamoDB item and the due index the dispatcher reads.

- Schedule: ``PK = T#<tenant>#SC#<id>``, ``SK = SC``. Member of two list partitions with
  exact counters, on the same index numbers as workflows and executions:
  GSI1 ``T#<tenant>#SC`` (GET /schedules) and GSI3 ``T#<tenant>#WF#<workflowId>#SC``
  (``?workflowId=``, and deleting a workflow's schedules without a scan).
- Due index (GSI2, no counter): ``GSI2PK = DUE#<shard>``, ``GSI2SK = <dueAt>#<id>``.
  ``shard`` is a stable hash of the id modulo :data:`DUE_SHARDS` (4), so the dispatcher
  reads four small partitions (one ``GSI2SK <= now`` Query each, oldest first) instead of
  one hot one, and never scans. ``dueAt`` is when the dispatcher must next look at the
  schedule: ``nextRunAt`` while it is enabled, or the retry time of an unfinished fire
  (``pendingFire``) if that is sooner; a schedule with neither has no GSI2 attributes.
- ``cronExpression`` is stored as the user sent it (trimmed; ``@daily`` stays ``@daily``);
  cron.py normalises it whenever it computes a fire time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from orchestration_core.schedules.models import RECENT_ACTIONS, PendingFire, Schedule
from orchestration_core.shared.pagination import Cursor, Page
from orchestration_core.shared.table import ConditionFailed, Table, index_attributes, serialize

ENTITY = "schedule"
SK = "SC"
DUE_SHARDS = 4
DUE_INDEX = 2
# Sorts after every "<dueAt>#<id>" whose dueAt is the bound itself ('~' > any id character).
_BOUND_SUFFIX = "#~"


def pk(tenant_id: str, schedule_id: str) -> str:
    return f"T#{tenant_id}#SC#{schedule_id}"


def memberships(tenant_id: str, workflow_id: str) -> dict[int, str]:
    return {1: f"T#{tenant_id}#SC", 3: f"T#{tenant_id}#WF#{workflow_id}#SC"}


def list_partition(tenant_id: str, workflow_id: str | None) -> tuple[int, str]:
    index = 3 if workflow_id else 1
    return index, memberships(tenant_id, workflow_id or "")[index]


def shard_of(schedule_id: str) -> int:
    """Stable across processes (Python's hash() is not)."""
    return int.from_bytes(hashlib.sha256(schedule_id.encode()).digest()[:4], "big") % DUE_SHARDS


def due_partition(shard: int) -> str:
    return f"DUE#{shard}"


def to_item(sc: Schedule) -> dict[str, Any]:
    pending = sc.pending_fire
    due = sc.due_at
    return {
        "PK": pk(sc.tenant_id, sc.id),
        "SK": SK,
        "entity": ENTITY,
        "id": sc.id,
        "tenantId": sc.tenant_id,
        "workflowId": sc.workflow_id,
        "cronExpression": sc.cron_expression,
        "timezone": sc.timezone,
        "parameters": json.dumps(sc.parameters, separators=(",", ":")),
        "enabled": sc.enabled,
        "nextRunAt": sc.next_run_at,
        "createdAt": sc.created_at,
        "updatedAt": sc.updated_at,
        "revision": sc.revision,
        "lastRunAt": sc.last_run_at,
        "lastExecutionId": sc.last_execution_id,
        "lastSkippedAt": sc.last_skipped_at,
        "lastError": json.dumps(sc.last_error, separators=(",", ":")) if sc.last_error else None,
        "pendingFire": {
            "scheduledAt": pending.scheduled_at,
            "executionId": pending.execution_id,
            "retryAt": pending.retry_at,
            "attempts": pending.attempts,
            "type": pending.trigger_type,
        }
        if pending
        else None,
        "overlapPolicy": sc.overlap_policy,
        "catchupWindowSeconds": sc.catchup_window_seconds,
        "startAt": sc.start_at,
        "endAt": sc.end_at,
        "note": sc.note or None,
        "buffered": json.dumps(sc.buffered, separators=(",", ":")) if sc.buffered else None,
        "recentActions": json.dumps(list(sc.recent_actions), separators=(",", ":"))
        if sc.recent_actions
        else None,
        **index_attributes(memberships(sc.tenant_id, sc.workflow_id), sc.id),
        # The due index sorts by time, so its attributes are written here, not by index_attributes.
        f"GSI{DUE_INDEX}PK": due_partition(shard_of(sc.id)) if due else None,
        f"GSI{DUE_INDEX}SK": f"{due}#{sc.id}" if due else None,
    }


def from_item(item: Mapping[str, Any]) -> Schedule:
    pending = item.get("pendingFire")
    return Schedule(
        id=item["id"],
        tenant_id=item["tenantId"],
        workflow_id=item["workflowId"],
        cron_expression=item["cronExpression"],
        timezone=item["timezone"],
        parameters=json.loads(item["parameters"]),
        enabled=bool(item["enabled"]),
        next_run_at=item.get("nextRunAt"),
        created_at=item["createdAt"],
        updated_at=item["updatedAt"],
        revision=int(item["revision"]),
        last_run_at=item.get("lastRunAt"),
        last_execution_id=item.get("lastExecutionId"),
        last_skipped_at=item.get("lastSkippedAt"),
        last_error=json.loads(item["lastError"]) if item.get("lastError") else None,
        pending_fire=PendingFire(
            scheduled_at=pending["scheduledAt"],
            execution_id=pending["executionId"],
            retry_at=pending["retryAt"],
            attempts=int(pending["attempts"]),
            trigger_type=pending.get("type") or "schedule",
        )
        if pending
        else None,
        overlap_policy=item.get("overlapPolicy") or "allow",
        catchup_window_seconds=int(item.get("catchupWindowSeconds") or 86_400),
        start_at=item.get("startAt"),
        end_at=item.get("endAt"),
        note=item.get("note") or "",
        buffered=json.loads(item["buffered"]) if item.get("buffered") else None,
        recent_actions=tuple(json.loads(item["recentActions"])) if item.get("recentActions") else (),
    )


class ScheduleStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, tenant_id: str, schedule_id: str) -> Schedule | None:
        item = self.table.get(pk(tenant_id, schedule_id), SK)
        return from_item(item) if item else None

    def create(self, sc: Schedule) -> None:
        self.table.transact(
            [
                self.table.put_op(to_item(sc), "attribute_not_exists(PK)"),
                *self.table.counter_ops({}, memberships(sc.tenant_id, sc.workflow_id)),
            ]
        )

    def save(
        self,
        old: Schedule,
        new: Schedule,
    ) -> Schedule:
        """Write what changed from ``old`` to ``new`` (one UpdateItem) if the stored item is still
        at ``old.revision``; else ConditionFailed. Returns ``new`` at its
        new revision. Memberships never change (a schedule keeps its tenant and workflow)."""
        new = replace(new, revision=old.revision + 1)
        before, after = to_item(old), to_item(new)
        attr_names: dict[str, str] = {"#rev": "revision"}
        attr_values: dict[str, Any] = {":rev": old.revision}
        sets, removes = [], []
        for n, key in enumerate(sorted(set(before) | set(after))):
            value = after.get(key)
            if value == before.get(key):
                continue
            attr_names[f"#u{n}"] = key
            if value is None:
                removes.append(f"#u{n}")
            else:
                attr_values[f":u{n}"] = value
                sets.append(f"#u{n} = :u{n}")
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        self.table.transact(
            [
                self.table.update_op(
                    pk(old.tenant_id, old.id), SK, expression, attr_values, attr_names, "#rev = :rev"
                )
            ]
        )
        return new

    def delete(self, sc: Schedule) -> None:
        """Delete if the stored item is still at ``sc.revision``; else ConditionFailed."""
        self.table.transact(
            [
                self.table.delete_op(pk(sc.tenant_id, sc.id), SK, "revision = :r", {":r": sc.revision}),
                *self.table.counter_ops(memberships(sc.tenant_id, sc.workflow_id), {}),
            ]
        )

    def page(
        self, tenant_id: str, workflow_id: str | None, limit: int, position: Cursor | int
    ) -> Page[Schedule]:
        index, partition = list_partition(tenant_id, workflow_id)
        return self.table.list_page(
            index, partition, limit, position, lambda sid: {"PK": pk(tenant_id, sid), "SK": SK}, from_item
        )

    def of_workflow(self, tenant_id: str, workflow_id: str) -> Iterator[Schedule]:
        """Every schedule of one workflow (one GSI3 partition, paged; no scan)."""
        index, partition = list_partition(tenant_id, workflow_id)
        for items in self.table.query_pages(
            IndexName=f"GSI{index}",
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": f"GSI{index}PK"},
            ExpressionAttributeValues=serialize({":pk": partition}),
        ):
            yield from (from_item(item) for item in items)

    def due_pages(self, shard: int, now_iso: str, page_size: int = 500) -> Iterator[list[Schedule]]:
        """Pages of the schedules of one shard due at ``now_iso`` (dueAt <= now), oldest first,
        each read consistently.

        The index is eventually consistent and the dispatcher starts a run before the write
        that records it, so the index gives keys only (``PK``/``SK``: a small answer) and the
        schedules themselves come from one consistent BatchGetItem per 100; an entry the
        schedule has moved on from (no longer due, or deleted) is left out.
        """
        pages = self.table.query_pages(
            IndexName=f"GSI{DUE_INDEX}",
            KeyConditionExpression="#pk = :pk AND #sk <= :bound",
            ProjectionExpression="PK, SK",
            ExpressionAttributeNames={"#pk": f"GSI{DUE_INDEX}PK", "#sk": f"GSI{DUE_INDEX}SK"},
            ExpressionAttributeValues=serialize(
                {":pk": due_partition(shard), ":bound": now_iso + _BOUND_SUFFIX}
            ),
            ScanIndexForward=True,
            Limit=page_size,
        )
        for items in pages:
            keys = [(k["PK"], k["SK"]) for k in items]
            fresh = [from_item(item) for item in self.table.get_many(keys)] if keys else []
            due = [sc for sc in fresh if sc.due_at is not None and sc.due_at <= now_iso]
            if due:
                yield due


__all__ = ["DUE_SHARDS", "RECENT_ACTIONS", "ConditionFailed", "PendingFire", "Schedule", "ScheduleStore"]
