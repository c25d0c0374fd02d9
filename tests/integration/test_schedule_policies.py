"""Schedules an operator steers: overlap policies under doubled and racing ticks, the catch-up
window, startAt/endAt, upcomingRunTimes across DST, trigger and backfill.

Every tick is dispatched with an injected time; a run is held "running" by a gate task until the
test opens it, so nothing here races the clock.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from orchestration_core.schedules import usecases as schedules
from orchestration_core.schedules.api import BackfillRequest
from orchestration_core.services import execution_services, schedule_store
from orchestration_core.shared import clock

from tests.integration.conftest import Api, gate, wait_for
from tests.integration.test_dispatcher import at, dispatch, runs_of, schedule, stored, workflow

HELD = {"name": "held", "tasks": [{"name": "s", "type": "gate"}]}
NOOP = {"name": "quick", "tasks": [{"name": "a", "type": "noop"}]}


def held_schedule(
    api: Api, policy: str, expression: str = "* * * * *", **fields: Any
) -> tuple[str, dict, str]:
    """A schedule whose runs wait at a gate of their own: (workflow id, schedule, gate key)."""
    key = uuid.uuid4().hex
    wid = workflow(api, HELD)
    sc = schedule(api, wid, expression, overlapPolicy=policy, parameters={"key": key}, **fields)
    return wid, sc, key


def get(api: Api, schedule_id: str) -> dict:
    status, _, body = api.call("GET", f"/schedules/{schedule_id}")
    assert status == 200, body
    return body


def outcomes(api: Api, schedule_id: str) -> list[tuple[str, str]]:
    """recentActions oldest first, as (scheduledAt, outcome)."""
    return [(a["scheduledAt"], a["outcome"]) for a in reversed(get(api, schedule_id)["recentActions"])]


def release(key: str, execution_id: str, api: Api) -> None:
    """Let the run held at the gate finish, and wait until it has."""
    gate(key).wait_entered()
    gate(key).open("ok")
    assert wait_for(api, execution_id)["status"] == "completed"


def racing(now: Any, dispatchers: int = 4) -> list[schedules.DispatchReport]:
    barrier = threading.Barrier(dispatchers)
    reports: list[schedules.DispatchReport] = []

    def one() -> None:
        barrier.wait()
        reports.append(dispatch(now, workers=2))

    threads = [threading.Thread(target=one) for _ in range(dispatchers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert len(reports) == dispatchers
    return reports


def plus(slot: str, seconds: float) -> str:
    return clock.iso(at(slot, seconds))


# -- overlap policies ------------------------------------------------------------------------------------
def test_skip_starts_nothing_while_the_previous_run_is_running(api: Api) -> None:
    wid, sc, key = held_schedule(api, "skip")
    s0 = sc["nextRunAt"]
    s1, s2 = plus(s0, 60), plus(s0, 120)
    dispatch(at(s0, 1))
    first = schedules.fire_execution_id(sc["id"], s0)
    # The next fire comes while the first run is held: doubled and racing ticks start nothing.
    dispatch(at(s1, 1))
    racing(at(s1, 1))
    assert runs_of(api, wid)["total"] == 1
    assert outcomes(api, sc["id"]) == [(s0, "started"), (s1, "skipped-overlap")]
    release(key, first, api)
    # Once it has ended, the next fire starts.
    dispatch(at(s2, 1))
    assert runs_of(api, wid)["total"] == 2
    assert outcomes(api, sc["id"])[-1] == (s2, "started")
    release(key, schedules.fire_execution_id(sc["id"], s2), api)


def test_buffer_one_starts_the_held_fire_once_the_previous_run_ends(api: Api, tenant: str) -> None:
    wid, sc, key = held_schedule(api, "bufferOne")
    s0 = sc["nextRunAt"]
    s1, s2 = plus(s0, 60), plus(s0, 120)
    dispatch(at(s0, 1))
    first = schedules.fire_execution_id(sc["id"], s0)
    racing(at(s1, 1))  # buffered, once
    dispatch(at(s1, 1))
    racing(at(s2, 1))  # one is buffered already: skipped
    assert runs_of(api, wid)["total"] == 1
    assert outcomes(api, sc["id"]) == [(s0, "started"), (s1, "buffered"), (s2, "skipped-overlap")]
    assert stored(tenant, sc["id"]).buffered is not None
    # A tick while the first run is still going keeps the buffer.
    dispatch(at(s2, 5))
    assert runs_of(api, wid)["total"] == 1
    release(key, first, api)
    # The first tick after it ended starts the buffered fire, with the id of its slot; racing
    # ticks start it once.
    reports = racing(at(s2, 20))
    assert sum(r.started for r in reports) == 1
    page = runs_of(api, wid)
    assert page["total"] == 2
    buffered_id = schedules.fire_execution_id(sc["id"], s1)
    assert buffered_id in {e["id"] for e in page["executions"]}
    record = execution_services().executions.get(tenant, buffered_id, with_runs=False)
    assert record is not None
    assert record.trigger == {"type": "schedule", "scheduleId": sc["id"], "scheduledAt": s1}
    after = stored(tenant, sc["id"])
    assert after.buffered is None and after.last_execution_id == buffered_id
    assert outcomes(api, sc["id"])[-1] == (s1, "started")
    release(key, buffered_id, api)


def test_allow_starts_every_fire_without_looking_at_the_previous_run(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    wid, sc, key = held_schedule(api, "allow")

    def never(*_: Any) -> bool:
        raise AssertionError("allow must not read the previous run")

    monkeypatch.setattr(schedules, "previous_run_active", never)
    s0 = sc["nextRunAt"]
    dispatch(at(s0, 1))
    racing(at(s0, 61))
    assert runs_of(api, wid)["total"] == 2  # the first is still held: they overlap
    assert [o for _, o in outcomes(api, sc["id"])] == ["started", "started"]
    monkeypatch.undo()
    # Both runs wait at the same gate: keep it open until both ended.
    held = [schedules.fire_execution_id(sc["id"], slot) for slot in (s0, plus(s0, 60))]
    deadline = time.monotonic() + 60
    while not all(api.call("GET", f"/executions/{e}")[2]["status"] == "completed" for e in held):
        assert time.monotonic() < deadline, "the held runs did not complete"
        gate(key).open("ok")
        time.sleep(0.05)


# -- catch-up window, startAt/endAt ----------------------------------------------------------------------
def test_an_overdue_slot_inside_the_window_fires_and_one_outside_is_skipped(api: Api, tenant: str) -> None:
    wid = workflow(api, NOOP)
    sc = schedule(api, wid, "@hourly", catchupWindowSeconds=3600)
    missed = sc["nextRunAt"]
    # Three hours and 30 s later: the first missed slot is older than an hour (skipped), the one
    # 30 s ago is inside the window: it fires, once.
    now = at(missed, 3 * 3600 + 30)
    dispatch(now)
    dispatch(now)
    latest = plus(missed, 3 * 3600)
    assert [e["id"] for e in runs_of(api, wid)["executions"]] == [
        schedules.fire_execution_id(sc["id"], latest)
    ]
    assert outcomes(api, sc["id"]) == [(missed, "skipped-catchup"), (latest, "started")]
    assert stored(tenant, sc["id"]).next_run_at == plus(missed, 4 * 3600)


def test_an_outage_longer_than_the_window_with_no_slot_inside_it_runs_nothing(api: Api, tenant: str) -> None:
    wid = workflow(api, NOOP)
    sc = schedule(api, wid, "@daily", catchupWindowSeconds=3600)
    missed = sc["nextRunAt"]
    dispatch(at(missed, 2 * 3600))
    assert runs_of(api, wid)["total"] == 0
    assert outcomes(api, sc["id"]) == [(missed, "skipped-catchup")]
    assert stored(tenant, sc["id"]).next_run_at == plus(missed, 86_400)


def test_the_default_window_is_a_day(api: Api) -> None:
    wid = workflow(api, NOOP)
    sc = schedule(api, wid, "@hourly")
    assert sc["catchupWindowSeconds"] == 86_400 and sc["overlapPolicy"] == "allow"
    missed = sc["nextRunAt"]
    dispatch(at(missed, 20 * 3600))
    assert outcomes(api, sc["id"]) == [(missed, "started")]


def test_start_at_and_end_at_bound_the_fires(api: Api, tenant: str) -> None:
    wid = workflow(api, NOOP)
    now = clock.now()
    start = (now + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(hours=2, minutes=30)
    sc = schedule(api, wid, "@hourly", startAt=clock.iso(start), endAt=clock.iso(end), note="three fires")
    assert sc["nextRunAt"] == clock.iso(start) and sc["note"] == "three fires"
    expected = [clock.iso(start + timedelta(hours=h)) for h in range(3)]
    assert sc["upcomingRunTimes"] == expected
    for slot in expected:
        dispatch(at(slot, 1))
    assert runs_of(api, wid)["total"] == 3
    after = get(api, sc["id"])
    assert after["nextRunAt"] is None and after["upcomingRunTimes"] == []
    assert stored(tenant, sc["id"]).due_at is None  # out of the due index
    dispatch(at(clock.iso(end), 7200))
    assert runs_of(api, wid)["total"] == 3
    # Moving endAt out reopens it; null removes the bound.
    status, _, moved = api.call("PUT", f"/schedules/{sc['id']}", {"endAt": None})
    assert status == 200 and moved["endAt"] is None and moved["nextRunAt"] is not None


def test_upcoming_run_times_follow_the_dst_rule(api: Api) -> None:
    wid = workflow(api, NOOP)
    # US daylight saving time 2027 starts on 14 March (02:30 does not exist: skipped) ...
    spring = schedule(api, wid, "30 2 * * *", timezone="America/New_York", startAt="2027-03-12T00:00:00Z")
    assert spring["upcomingRunTimes"] == [
        "2027-03-12T07:30:00.000Z",
        "2027-03-13T07:30:00.000Z",
        "2027-03-15T06:30:00.000Z",
        "2027-03-16T06:30:00.000Z",
        "2027-03-17T06:30:00.000Z",
    ]
    # ... and ends on 7 November (01:30 happens twice: it fires once, at the first).
    fall = schedule(api, wid, "30 1 * * *", timezone="America/New_York", startAt="2027-11-06T00:00:00Z")
    assert fall["upcomingRunTimes"] == [
        "2027-11-06T05:30:00.000Z",
        "2027-11-07T05:30:00.000Z",
        "2027-11-08T06:30:00.000Z",
        "2027-11-09T06:30:00.000Z",
        "2027-11-10T06:30:00.000Z",
    ]
    assert fall["nextRunAt"] == fall["upcomingRunTimes"][0]


# -- trigger ---------------------------------------------------------------------------------------------
def test_trigger_allow_starts_a_run_with_trigger_info(api: Api, tenant: str) -> None:
    wid = workflow(api, NOOP)
    sc = schedule(api, wid, "@daily", parameters={"day": 1})
    status, _, body = api.call("POST", f"/schedules/{sc['id']}/trigger")
    assert status == 202 and body["status"] == "started", body
    ex = wait_for(api, body["executionId"])
    assert ex["status"] == "completed" and ex["parameters"] == {"day": 1}
    assert ex["trigger"] == {"type": "trigger", "scheduleId": sc["id"], "scheduledAt": body["scheduledAt"]}
    assert get(api, sc["id"])["lastExecutionId"] == body["executionId"]


def test_trigger_skip_answers_409_while_running_and_allow_overrides(api: Api) -> None:
    wid, sc, key = held_schedule(api, "skip", "@daily")
    status, _, first = api.call("POST", f"/schedules/{sc['id']}/trigger")
    assert status == 202
    status, _, problem = api.call("POST", f"/schedules/{sc['id']}/trigger")
    assert status == 409 and "overlapPolicy" in problem["detail"], problem
    assert runs_of(api, wid)["total"] == 1
    assert [o for _, o in outcomes(api, sc["id"])] == ["started", "skipped-overlap"]
    release(key, first["executionId"], api)
    status, _, forced = api.call("POST", f"/schedules/{sc['id']}/trigger", {"overlapPolicy": "allow"})
    assert status == 202
    release(key, forced["executionId"], api)


def test_trigger_buffer_one_holds_one_run_until_the_previous_ends(api: Api, tenant: str) -> None:
    wid, sc, key = held_schedule(api, "bufferOne", "@daily")
    first = api.call("POST", f"/schedules/{sc['id']}/trigger")[2]
    status, _, held = api.call("POST", f"/schedules/{sc['id']}/trigger")
    assert status == 202 and held["status"] == "buffered"
    assert api.call("POST", f"/schedules/{sc['id']}/trigger")[0] == 409  # one is held already
    assert runs_of(api, wid)["total"] == 1
    release(key, first["executionId"], api)
    dispatch(clock.now())
    record = execution_services().executions.get(tenant, held["executionId"], with_runs=False)
    assert record is not None and record.trigger is not None and record.trigger["type"] == "trigger"
    release(key, held["executionId"], api)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"overlapPolicy": "later"}, "overlapPolicy"),
        ({"extra": 1}, "extra"),
        ({"overlapPolicy": 1}, "overlapPolicy"),
    ],
)
def test_trigger_rejects_bad_input(api: Api, body: dict, field: str) -> None:
    sc = schedule(api, workflow(api, NOOP), "@daily")
    status, _, problem = api.call("POST", f"/schedules/{sc['id']}/trigger", body)
    assert status == 400, problem
    assert field in {e["field"] for e in problem["errors"]}


# -- backfill --------------------------------------------------------------------------------------------
def _hours_ago(hours: int) -> str:
    return clock.iso(clock.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours))


def test_backfill_runs_each_slot_once_and_a_repeat_starts_nothing(api: Api, tenant: str) -> None:
    wid = workflow(api, NOOP)
    sc = schedule(api, wid, "0 * * * *", parameters={"p": 1})
    body = {"startAt": _hours_ago(5), "endAt": _hours_ago(2)}
    status, _, done = api.call("POST", f"/schedules/{sc['id']}/backfill", body)
    assert status == 202, done
    slots = [_hours_ago(h) for h in (5, 4, 3)]
    assert done["slots"] == 3 and done["scheduledAt"] == slots and done["skipped"] == 0
    assert done["executionIds"] == [schedules.fire_execution_id(sc["id"], s) for s in slots]
    for execution_id, slot in zip(done["executionIds"], slots, strict=True):
        ex = wait_for(api, execution_id)
        assert ex["trigger"] == {"type": "backfill", "scheduleId": sc["id"], "scheduledAt": slot}
    again = api.call("POST", f"/schedules/{sc['id']}/backfill", body)
    assert again[0] == 202 and again[2]["executionIds"] == done["executionIds"]
    assert runs_of(api, wid)["total"] == 3


def test_backfill_over_a_slot_the_dispatcher_fired_returns_that_run(api: Api, tenant: str) -> None:
    wid = workflow(api, NOOP)
    sc = schedule(api, wid, "0 * * * *")
    fired = sc["nextRunAt"]
    dispatch(at(fired, 1))
    request = BackfillRequest(startAt=plus(fired, -7200), endAt=plus(fired, 3600))
    done = schedules.backfill_schedule(
        schedule_store(), execution_services(), tenant, sc["id"], request, at(fired, 7200)
    )
    assert done.scheduled_at == [plus(fired, -7200), plus(fired, -3600), fired]
    assert done.execution_ids[-1] == schedules.fire_execution_id(sc["id"], fired)
    assert runs_of(api, wid)["total"] == 3  # not 4


def test_backfill_follows_skip_and_buffer_one(api: Api, tenant: str) -> None:
    wid = workflow(api, NOOP)
    sc = schedule(api, wid, "0 * * * *")
    body = {"startAt": _hours_ago(6), "endAt": _hours_ago(3), "overlapPolicy": "skip"}
    done = api.call("POST", f"/schedules/{sc['id']}/backfill", body)[2]
    first = schedules.fire_execution_id(sc["id"], _hours_ago(6))
    assert done["executionIds"] == [first, None, None] and done["skipped"] == 2
    wait_for(api, first)
    body = {"startAt": _hours_ago(12), "endAt": _hours_ago(9), "overlapPolicy": "bufferOne"}
    done = api.call("POST", f"/schedules/{sc['id']}/backfill", body)[2]
    ids = [schedules.fire_execution_id(sc["id"], _hours_ago(h)) for h in (12, 11)]
    assert done["executionIds"] == [*ids, None] and done["skipped"] == 1
    wait_for(api, ids[0])
    dispatch(clock.now())  # the previous run ended: the buffered slot starts
    assert wait_for(api, ids[1])["trigger"]["type"] == "backfill"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"startAt": "2026-01-02T00:00:00Z", "endAt": "2026-01-01T00:00:00Z"}, "endAt"),
        ({"startAt": "2026-01-01T00:00:00Z", "endAt": "2099-01-01T00:00:00Z"}, "endAt"),
        ({"startAt": "2026-01-01T00:00:00Z", "endAt": "2026-01-03T00:00:00Z"}, "endAt"),  # 2,880 slots
        ({"startAt": "last week", "endAt": "2026-01-01T00:00:00Z"}, "startAt"),
        ({"startAt": "2026-01-01T00:00:00", "endAt": "2026-01-02T00:00:00Z"}, "startAt"),
        ({"startAt": "0001-01-01T00:00:00Z", "endAt": "2026-01-02T00:00:00Z"}, "startAt"),
        ({"endAt": "2026-01-01T00:00:00Z"}, "startAt"),
        (
            {"startAt": "2026-01-01T00:00:00Z", "endAt": "2026-01-01T01:00:00Z", "overlapPolicy": "x"},
            "overlapPolicy",
        ),
    ],
)
def test_backfill_rejects_bad_input(api: Api, body: dict, field: str) -> None:
    sc = schedule(api, workflow(api, NOOP), "* * * * *")
    status, _, problem = api.call("POST", f"/schedules/{sc['id']}/backfill", body)
    assert status == 400, problem
    assert field in {e["field"] for e in problem["errors"]}, problem
    assert runs_of(api, sc["workflowId"])["total"] == 0


# -- validation of the new fields ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"overlapPolicy": "never"}, "overlapPolicy"),
        ({"catchupWindowSeconds": 59}, "catchupWindowSeconds"),
        ({"catchupWindowSeconds": 31_536_001}, "catchupWindowSeconds"),
        ({"catchupWindowSeconds": "600"}, "catchupWindowSeconds"),
        ({"note": "x" * 257}, "note"),
        ({"startAt": "tomorrow"}, "startAt"),
        ({"endAt": "2026-13-01T00:00:00Z"}, "endAt"),
        ({"startAt": "2027-01-02T00:00:00Z", "endAt": "2027-01-01T00:00:00Z"}, "endAt"),
    ],
)
def test_bad_policy_fields_are_400_on_create_and_put(api: Api, fields: dict, field: str) -> None:
    wid = workflow(api, NOOP)
    status, _, problem = api.call(
        "POST", "/schedules", {"workflowId": wid, "cronExpression": "@daily", **fields}
    )
    assert status == 400 and field in {e["field"] for e in problem["errors"]}, problem
    sc = schedule(api, wid, "@daily")
    status, _, problem = api.call("PUT", f"/schedules/{sc['id']}", fields)
    assert status == 400 and field in {e["field"] for e in problem["errors"]}, problem


def test_put_changes_the_policies_and_get_shows_them(api: Api) -> None:
    sc = schedule(api, workflow(api, NOOP), "@daily")
    changes = {"overlapPolicy": "bufferOne", "catchupWindowSeconds": 600, "note": "paused for the migration"}
    status, _, updated = api.call("PUT", f"/schedules/{sc['id']}", {**changes, "enabled": False})
    assert status == 200, updated
    got = get(api, sc["id"])
    assert {k: got[k] for k in changes} == changes
    assert got["upcomingRunTimes"] == [] and got["recentActions"] == []
    listed = api.call("GET", "/schedules")[2]["schedules"][0]
    assert listed["overlapPolicy"] == "bufferOne" and listed["note"] == "paused for the migration"


# -- the task input's context --------------------------------------------------------------------------
def test_a_backfilled_run_knows_its_slot_and_a_redrive_keeps_it(api: Api, tenant: str) -> None:
    key = uuid.uuid4().hex
    tasks = [{"name": "c", "type": "context", "config": {"failFirst": True}}]
    wid = workflow(api, {"name": "ctx", "tasks": tasks})
    sc = schedule(api, wid, "0 * * * *", parameters={"key": key})
    slot = _hours_ago(3)
    done = api.call("POST", f"/schedules/{sc['id']}/backfill", {"startAt": slot, "endAt": _hours_ago(2)})[2]
    execution_id = done["executionIds"][0]
    assert wait_for(api, execution_id)["status"] == "failed"
    status, _, _ = api.call("POST", f"/executions/{execution_id}/redrive")
    assert status in (200, 202)
    ex = wait_for(api, execution_id)
    assert ex["status"] == "completed", ex
    # The second launch's first try is the task's second attempt; the slot is kept.
    assert ex["tasks"][0]["result"] == {
        "executionId": execution_id,
        "workflowId": wid,
        "scheduledAt": slot,
        "attempt": 2,
    }
