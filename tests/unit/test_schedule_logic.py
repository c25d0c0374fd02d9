"""Pure parts of schedules: ids of fires, tick times, the due index entry, item mapping, models."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from orchestration_core.schedules import usecases as schedules
from orchestration_core.schedules.api import MAX_PARAMETERS_BYTES, ScheduleCreate, ScheduleUpdate
from orchestration_core.schedules.models import PendingFire, Schedule
from orchestration_core.schedules.store import DUE_SHARDS, due_partition, from_item, shard_of, to_item
from orchestration_core.shared.errors import ValidationFailed
from orchestration_core.shared.pagination import Cursor, decode_cursor, encode_cursor
from pydantic import ValidationError

from orchestration_local.ticker import rate_seconds, scheduled_event


def schedule(**changes: object) -> Schedule:
    base = Schedule(
        id="sc_01m8e9qd34chemgrxb8efwtzfj",
        tenant_id="t1",
        workflow_id="wf_01m8e9qd2s6xc037t13bayaf29",
        cron_expression="@hourly",
        timezone="Europe/Berlin",
        parameters={"n": 1, "nested": {"x": [1, 2]}},
        enabled=True,
        next_run_at="2026-03-01T10:00:00.000Z",
        created_at="2026-03-01T09:30:00.000Z",
        updated_at="2026-03-01T09:30:00.000Z",
        revision=1,
    )
    return base.with_changes(**changes)


# -- fire ids -----------------------------------------------------------------------------------
def test_fire_execution_id_is_a_function_of_schedule_and_slot_only() -> None:
    a = schedules.fire_execution_id("sc_a", "2026-03-01T10:00:00.000Z")
    assert a == schedules.fire_execution_id("sc_a", "2026-03-01T10:00:00.000Z")
    assert a != schedules.fire_execution_id("sc_b", "2026-03-01T10:00:00.000Z")
    assert a != schedules.fire_execution_id("sc_a", "2026-03-01T11:00:00.000Z")
    assert re.fullmatch(r"ex_[0-9a-z]{26}", a)
    assert decode_cursor(encode_cursor(Cursor(0, a))).after_id == a  # usable as a list cursor


def test_fire_ids_sort_by_scheduled_time_like_new_ids() -> None:
    # Executions list newest first by id: a fire's id must sort among new_id()s by its slot.
    from orchestration_core.shared.ids import new_id

    earlier = schedules.fire_execution_id("sc_z", "2026-03-01T10:00:00.000Z")
    between = new_id("ex", int(datetime(2026, 3, 1, 10, 30, tzinfo=UTC).timestamp() * 1000))
    later = schedules.fire_execution_id("sc_a", "2026-03-01T11:00:00.000Z")
    assert earlier < between < later


# -- tick time -----------------------------------------------------------------------------------
FALLBACK = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"time": "2026-03-01T10:00:00Z"}, datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ({"time": "2026-03-01T10:00:00.250Z"}, datetime(2026, 3, 1, 10, 0, 0, 250000, tzinfo=UTC)),
        ({"time": "2026-03-01T11:00:00+01:00"}, datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ({"time": "2026-03-01T10:00:00"}, FALLBACK),  # no offset: not trusted
        ({"time": "yesterday"}, FALLBACK),
        ({"time": 5}, FALLBACK),
        ({}, FALLBACK),
        (None, FALLBACK),
    ],
)
def test_tick_time_reads_the_scheduled_event(event: dict | None, expected: datetime) -> None:
    assert schedules.tick_time(event, FALLBACK) == expected


def test_the_local_rule_sends_what_eventbridge_sends() -> None:
    event = scheduled_event("SchedulerDispatchFunction", datetime(2026, 3, 1, 10, 0, 0, 400000, tzinfo=UTC))
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["time"] == "2026-03-01T10:00:00Z"
    assert schedules.tick_time(event, FALLBACK) == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert rate_seconds("rate(1 minute)") == 60
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(2 hours)") == 7200
    assert rate_seconds("cron(0 12 * * ? *)") == 60


# -- the due index entry -------------------------------------------------------------------------
def test_due_at_is_next_run_or_a_sooner_retry_and_none_when_idle() -> None:
    assert schedule().due_at == "2026-03-01T10:00:00.000Z"
    assert schedule(enabled=False, next_run_at=None).due_at is None
    pending = PendingFire("2026-03-01T10:00:00.000Z", "ex_x", "2026-03-01T10:00:30.000Z", 1)
    assert schedule(next_run_at="2026-03-01T11:00:00.000Z", pending_fire=pending).due_at == pending.retry_at
    minutely = schedule(next_run_at="2026-03-01T10:00:20.000Z", pending_fire=pending)
    assert minutely.due_at == "2026-03-01T10:00:20.000Z"
    # A disabled schedule with a claimed fire stays in the index until that fire is settled.
    assert schedule(enabled=False, next_run_at=None, pending_fire=pending).due_at == pending.retry_at


def test_item_carries_index_attributes_and_round_trips() -> None:
    sc = schedule()
    item = to_item(sc)
    assert item["PK"] == f"T#t1#SC#{sc.id}" and item["SK"] == "SC"
    assert (item["GSI1PK"], item["GSI1SK"]) == ("T#t1#SC", sc.id)
    assert (item["GSI3PK"], item["GSI3SK"]) == (f"T#t1#WF#{sc.workflow_id}#SC", sc.id)
    assert item["GSI2PK"] == due_partition(shard_of(sc.id))
    assert item["GSI2SK"] == f"2026-03-01T10:00:00.000Z#{sc.id}"
    assert "GSI4PK" not in item
    assert from_item({k: v for k, v in item.items() if v is not None}) == sc

    pending = PendingFire("2026-03-01T10:00:00.000Z", "ex_x", "2026-03-01T10:00:30.000Z", 2)
    busy = sc.with_changes(
        pending_fire=pending,
        last_error={"at": "a", "scheduledAt": "b", "status": 422, "title": "t", "detail": "d"},
        last_run_at="2026-03-01T09:00:00.000Z",
    )
    assert from_item({k: v for k, v in to_item(busy).items() if v is not None}) == busy

    idle = to_item(sc.with_changes(enabled=False, next_run_at=None))
    assert idle["GSI2PK"] is None and idle["GSI2SK"] is None  # serialize() drops None attributes


def test_shards_are_stable_and_spread() -> None:
    ids = [f"sc_{i:026d}" for i in range(400)]
    shards = [shard_of(i) for i in ids]
    assert shards == [shard_of(i) for i in ids]
    assert set(shards) == set(range(DUE_SHARDS))
    assert min(shards.count(s) for s in range(DUE_SHARDS)) > 50


def test_due_index_sort_keys_order_by_time_then_id() -> None:
    # The dispatcher queries GSI2SK <= now + "#~": every entry due at or before now is in range.
    bound = "2026-03-01T10:00:00.000Z#~"
    assert bound >= "2026-03-01T10:00:00.000Z#sc_zzzzzzzzzzzzzzzzzzzzzzzzzz"
    assert bound >= "2026-03-01T09:59:59.999Z#sc_0"
    assert bound < "2026-03-01T10:00:00.001Z#sc_0"


# -- validation --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "timezone", "fields"),
    [
        ("0 0 * * * *", "UTC", ["cronExpression"]),
        ("cron(0 12 * * ? *)", "UTC", ["cronExpression"]),
        ("0 0 30 2 *", "UTC", ["cronExpression"]),
        ("@reboot", "UTC", ["cronExpression"]),
        ("", "UTC", ["cronExpression"]),
        ("0 * * * *", "Mars/Olympus", ["timezone"]),
        ("0 * * * *", "", ["timezone"]),
        ("61 * * * *", "EST5EDT ", ["cronExpression", "timezone"]),
    ],
)
def test_timing_errors_name_their_fields(expression: str, timezone: str, fields: list[str]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        schedules._check_timing(expression, timezone)
    assert [e.field for e in caught.value.errors] == fields
    assert all(e.message for e in caught.value.errors)


def test_timing_accepts_standard_expressions() -> None:
    for expression in ("*/5 * * * *", "0 9 * * MON-FRI", "@daily", "0 0 29 2 *"):
        schedules._check_timing(expression, "America/New_York")
    schedules._check_timing(None, None)


def test_models_reject_unknown_fields_wrong_types_and_big_parameters() -> None:
    ok = ScheduleCreate.model_validate({"workflowId": "wf_1", "cronExpression": "@daily"})
    assert (ok.timezone, ok.parameters, ok.enabled) == ("UTC", None, True)
    for bad in (
        {"workflowId": "wf_1", "cronExpression": "@daily", "nextRunAt": "x"},
        {"workflowId": "wf_1", "cronExpression": "@daily", "parameters": [1]},
        {"workflowId": "wf_1", "cronExpression": "@daily", "enabled": "yes"},
        {"workflowId": "", "cronExpression": "@daily"},
        {"cronExpression": "@daily"},
        {"workflowId": "wf_1", "cronExpression": 5},
        {"workflowId": "wf_1", "cronExpression": "@daily", "parameters": {"x": "y" * MAX_PARAMETERS_BYTES}},
    ):
        with pytest.raises(ValidationError):
            ScheduleCreate.model_validate(bad)
    with pytest.raises(ValidationError):
        ScheduleUpdate.model_validate({"workflowId": "wf_2"})  # a schedule keeps its workflow
    assert ScheduleUpdate.model_validate({}).model_dump(exclude_none=True) == {}
