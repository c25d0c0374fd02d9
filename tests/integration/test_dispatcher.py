"""The dispatcher on moto with an injected clock: exactly-once fires, outages, crashes, refusals,
and the embedded runtime's ticker invoking the template's scheduled function."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from orchestration_core.executions import usecases as executions
from orchestration_core.schedules import cron
from orchestration_core.schedules import usecases as schedules
from orchestration_core.schedules.models import Schedule
from orchestration_core.services import execution_services, schedule_store, workflow_store
from orchestration_core.shared import clock
from orchestration_core.shared.errors import EngineUnavailable

from orchestration_local.runtime import Runtime
from orchestration_local.ticker import Ticker, scheduled_event
from tests.integration.conftest import ETL, Api

NOOP = {
    "name": "nightly",
    "tasks": [{"name": "a", "type": "noop"}, {"name": "b", "type": "noop", "dependsOn": ["a"]}],
}


class Crash(BaseException):
    """The dispatcher process dying (not an error it could catch and record)."""


def workflow(api: Api, body: dict | None = None, **changes: object) -> str:
    status, _, wf = api.call("POST", "/workflows", {**(body or NOOP), **changes})
    assert status == 201, wf
    return str(wf["id"])


def schedule(api: Api, workflow_id: str, expression: str = "*/5 * * * *", **fields: object) -> dict:
    status, _, sc = api.call(
        "POST", "/schedules", {"workflowId": workflow_id, "cronExpression": expression, **fields}
    )
    assert status == 201, sc
    return sc


def dispatch(now: datetime, **kwargs: Any) -> schedules.DispatchReport:
    return schedules.dispatch_due(now, schedule_store(), execution_services(), **kwargs)


def stored(tenant: str, schedule_id: str) -> Schedule:
    sc = schedule_store().get(tenant, schedule_id)
    assert sc is not None
    return sc


def runs_of(api: Api, workflow_id: str) -> dict:
    status, _, page = api.call("GET", "/executions", query=f"workflowId={workflow_id}&limit=100")
    assert status == 200
    return page


def wait_for_end(api: Api, execution_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, _, ex = api.call("GET", f"/executions/{execution_id}")
        assert status == 200, ex
        if ex["status"] in {"completed", "failed", "cancelled"}:
            return ex
        assert time.monotonic() < deadline, f"execution {execution_id} did not end within {timeout}s: {ex}"
        time.sleep(0.05)


def at(text: str, seconds: float = 0) -> datetime:
    return clock.parse_iso(text) + timedelta(seconds=seconds)


def test_a_due_schedule_starts_one_execution_and_advances(api: Api, tenant: str) -> None:
    wid = workflow(api, status="active")
    sc = schedule(api, wid, parameters={"day": "today"})
    slot = sc["nextRunAt"]
    assert dispatch(at(slot, -1)).started == 0  # one second early: not due
    assert runs_of(api, wid)["total"] == 0

    now = at(slot, 7)
    report = dispatch(now)
    assert report.started >= 1 and report.tick == clock.iso(now)
    page = runs_of(api, wid)
    assert page["total"] == 1
    execution_id = page["executions"][0]["id"]
    assert execution_id == schedules.fire_execution_id(sc["id"], slot)

    record = execution_services().executions.get(tenant, execution_id, with_runs=False)
    assert record is not None
    assert record.trigger == {"type": "schedule", "scheduleId": sc["id"], "scheduledAt": slot}
    ex = wait_for_end(api, execution_id)
    assert ex["status"] == "completed" and ex["parameters"] == {"day": "today"}
    assert ex["trigger"] == {"type": "schedule", "scheduleId": sc["id"], "scheduledAt": slot}

    _, _, after = api.call("GET", f"/schedules/{sc['id']}")
    assert after["lastRunAt"] == slot and after["lastExecutionId"] == execution_id
    assert after["nextRunAt"] == clock.iso(cron.next_run_at("*/5 * * * *", "UTC", now))
    assert after["lastError"] is None
    assert stored(tenant, sc["id"]).pending_fire is None


def test_the_same_tick_twice_starts_nothing_more(api: Api) -> None:
    wid = workflow(api)
    sc = schedule(api, wid)
    now = at(sc["nextRunAt"], 1)
    dispatch(now)
    again = dispatch(now)
    assert again.started == 0 and again.recovered == 0
    assert runs_of(api, wid)["total"] == 1
    # And the next tick, a minute later, has nothing of ours to do either (*/5).
    dispatch(now + timedelta(minutes=1))
    assert runs_of(api, wid)["total"] == 1


def test_racing_dispatchers_start_each_fire_once(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = executions.start_execution
    attempts: list[str] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        attempts.append(kwargs["execution_id"])
        return real(*args, **kwargs)

    monkeypatch.setattr(executions, "start_execution", counting)
    wid = workflow(api)
    scs = [schedule(api, wid, "* * * * *", parameters={"i": i}) for i in range(5)]
    now = at(max(s["nextRunAt"] for s in scs), 2)
    gate = threading.Barrier(6)
    reports: list[schedules.DispatchReport] = []

    def racer() -> None:
        gate.wait()
        reports.append(dispatch(now, workers=2))

    threads = [threading.Thread(target=racer) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(300)  # a deadline that fails below, not a wait that is assumed long enough
    assert not any(th.is_alive() for th in threads), "a racing dispatcher did not finish in 300 s"
    assert len(reports) == 6
    page = runs_of(api, wid)
    assert page["total"] == 5
    assert {e["id"] for e in page["executions"]} == {
        schedules.fire_execution_id(s["id"], s["nextRunAt"]) for s in scs
    }
    for s in scs:
        after = stored(tenant, s["id"])
        assert after.last_run_at == s["nextRunAt"]
        # Recorded once: of the racing writes that follow the (idempotent) starts, one won.
        assert [a["outcome"] for a in after.recent_actions] == ["started"]
    assert set(attempts) == {e["id"] for e in page["executions"]}
    assert sum(r.started for r in reports) == 5
    # And Step Functions ran each fire once, under its own name (no second launch of any).
    engine = execution_services().engine
    record = execution_services().executions.get(tenant, page["executions"][0]["id"], with_runs=False)
    assert record is not None
    ids = {e["id"] for e in page["executions"]}
    names = [
        e["name"]
        for e in engine.sfn.list_executions(stateMachineArn=record.state_machine_arn)["executions"]
        if e["name"].split(".")[0] in ids  # the machine is shared with other tests' runs
    ]
    assert sorted(names) == sorted(ids)


def test_after_an_outage_an_hourly_schedule_fires_once(api: Api, tenant: str) -> None:
    wid = workflow(api)
    sc = schedule(api, wid, "@hourly")
    missed = sc["nextRunAt"]
    now = at(missed, 3 * 3600 + 30)  # three hours and 30 s later: four slots missed
    report = dispatch(now)
    assert report.started >= 1
    assert runs_of(api, wid)["total"] == 1
    after = stored(tenant, sc["id"])
    assert after.last_run_at == missed  # the catch-up run stands for the first missed slot
    assert after.next_run_at == clock.iso(at(missed, 4 * 3600))  # the next fire after now, not a missed one
    dispatch(now + timedelta(minutes=1))
    assert runs_of(api, wid)["total"] == 1


def test_an_inactive_workflow_advances_without_running(api: Api, tenant: str) -> None:
    wid = workflow(api, status="inactive")
    sc = schedule(api, wid)
    now = at(sc["nextRunAt"], 1)
    report = dispatch(now)
    assert report.skipped >= 1
    assert runs_of(api, wid)["total"] == 0
    after = stored(tenant, sc["id"])
    assert after.last_skipped_at == sc["nextRunAt"] and after.last_run_at is None
    assert after.next_run_at == clock.iso(cron.next_run_at("*/5 * * * *", "UTC", now))
    assert after.pending_fire is None
    # Active again: the next slot runs.
    assert api.call("PUT", f"/workflows/{wid}", {"status": "active"})[0] == 200
    dispatch(at(after.next_run_at, 1))
    assert runs_of(api, wid)["total"] == 1


def test_a_disabled_schedule_does_not_fire(api: Api) -> None:
    wid = workflow(api)
    sc = schedule(api, wid, enabled=False)
    assert sc["nextRunAt"] is None
    dispatch(datetime.now(UTC) + timedelta(days=2))
    assert runs_of(api, wid)["total"] == 0


def _unavailable_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """start_execution answers 503 once (Step Functions refused), then starts as usual."""
    real = executions.start_execution
    failures = iter([EngineUnavailable("Step Functions refused the request (ServiceUnavailable)")])

    def flaky(*args: Any, **kwargs: Any) -> Any:
        err = next(failures, None)
        if err is not None:
            raise err
        return real(*args, **kwargs)

    monkeypatch.setattr(executions, "start_execution", flaky)


def _crash_once(monkeypatch: pytest.MonkeyPatch, after_start: bool) -> list[str]:
    """start_execution dies once: before it does anything, or right after it started the run."""
    real = executions.start_execution
    calls: list[str] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["execution_id"])
        if len(calls) == 1:
            if after_start:
                real(*args, **kwargs)
            raise Crash
        return real(*args, **kwargs)

    monkeypatch.setattr(executions, "start_execution", flaky)
    return calls


@pytest.mark.parametrize("after_start", [False, True], ids=["before-start", "after-start"])
def test_a_crash_around_the_start_is_recovered_without_a_double_start(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch, after_start: bool
) -> None:
    wid = workflow(api)
    sc = schedule(api, wid, "@hourly")
    slot = sc["nextRunAt"]
    expected_id = schedules.fire_execution_id(sc["id"], slot)
    calls = _crash_once(monkeypatch, after_start)
    now = at(slot, 2)
    before = stored(tenant, sc["id"])

    with pytest.raises(Crash):
        dispatch(now, workers=1)
    # The run is started before the write that records the fire: the schedule is untouched.
    untouched = stored(tenant, sc["id"])
    assert untouched.next_run_at == slot and untouched.pending_fire is None
    assert untouched.last_run_at is None and untouched.revision == before.revision
    assert runs_of(api, wid)["total"] == (1 if after_start else 0)

    # A retried delivery of the same tick fires the slot again, with the same execution id:
    # if the run had started, the start finds it and starts nothing new.
    report = dispatch(now)
    assert report.started == 1
    assert calls == [expected_id, expected_id]
    page = runs_of(api, wid)
    assert page["total"] == 1 and page["executions"][0]["id"] == expected_id
    assert wait_for_end(api, expected_id)["status"] == "completed"
    done = stored(tenant, sc["id"])
    assert done.pending_fire is None and done.last_run_at == slot and done.last_execution_id == expected_id
    assert done.next_run_at == clock.iso(at(slot, 3600))
    assert [a["outcome"] for a in done.recent_actions] == ["started"]

    dispatch(now + timedelta(minutes=1))
    assert runs_of(api, wid)["total"] == 1 and len(calls) == 2


def test_a_crash_inside_start_after_the_record_is_written_is_recovered(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The execution record exists (pending) but Step Functions never heard of it.
    wid = workflow(api)
    sc = schedule(api, wid, "@hourly")
    engine = execution_services().engine
    real_start = engine.start
    calls: list[str] = []

    def dying_start(machine: str, execution_id: str, payload: dict) -> None:
        calls.append(execution_id)
        if len(calls) == 1:
            raise Crash
        real_start(machine, execution_id, payload)

    monkeypatch.setattr(type(engine), "start", lambda self, *a: dying_start(*a))
    now = at(sc["nextRunAt"], 1)
    with pytest.raises(Crash):
        dispatch(now, workers=1)
    assert runs_of(api, wid)["executions"][0]["status"] == "pending"
    dispatch(now + timedelta(seconds=schedules.PENDING_RETRY_SECONDS + 1))
    page = runs_of(api, wid)
    assert page["total"] == 1 and len(calls) == 2
    assert wait_for_end(api, page["executions"][0]["id"])["status"] == "completed"
    assert stored(tenant, sc["id"]).pending_fire is None


def test_a_transient_start_failure_is_retried_by_a_later_tick(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    wid = workflow(api)
    sc = schedule(api, wid, "@hourly")
    _unavailable_once(monkeypatch)
    now = at(sc["nextRunAt"], 1)
    first = dispatch(now)
    assert first.retrying >= 1 and first.started == 0
    assert stored(tenant, sc["id"]).pending_fire is not None
    assert runs_of(api, wid)["total"] == 0
    second = dispatch(now + timedelta(minutes=1))
    assert second.recovered >= 1
    assert runs_of(api, wid)["total"] == 1
    assert stored(tenant, sc["id"]).last_run_at == sc["nextRunAt"]


def test_a_start_that_keeps_failing_gives_up_with_last_error(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    wid = workflow(api)
    sc = schedule(api, wid, "@daily")

    def down(*args: Any, **kwargs: Any) -> Any:
        raise EngineUnavailable("Step Functions refused the request (ServiceUnavailable)")

    monkeypatch.setattr(executions, "start_execution", down)
    now = at(sc["nextRunAt"], 1)
    for minute in range(schedules.MAX_START_ATTEMPTS + 1):
        dispatch(now + timedelta(minutes=minute))
    after = stored(tenant, sc["id"])
    assert after.pending_fire is None and after.last_run_at is None
    assert after.last_error is not None and after.last_error["status"] == 503
    assert after.last_error["scheduledAt"] == sc["nextRunAt"]


def test_an_unregistered_task_type_records_last_error_and_the_tick_goes_on(api: Api, tenant: str) -> None:
    broken = workflow(api, ETL)  # custom types nobody registered
    fine = workflow(api)
    bad = schedule(api, broken, "*/10 * * * *")
    good = schedule(api, fine, "*/10 * * * *")
    now = at(max(bad["nextRunAt"], good["nextRunAt"]), 1)
    report = dispatch(now, workers=1)
    assert report.failed >= 1 and report.started >= 1
    assert runs_of(api, broken)["total"] == 0 and runs_of(api, fine)["total"] == 1

    _, _, shown = api.call("GET", f"/schedules/{bad['id']}")
    assert shown["lastError"]["status"] == 422 and "data-extraction" in shown["lastError"]["detail"]
    assert shown["lastError"]["scheduledAt"] == bad["nextRunAt"]
    assert shown["lastRunAt"] is None and shown["nextRunAt"] > clock.iso(now)
    assert stored(tenant, bad["id"]).pending_fire is None
    # Fixed (the types are now built-ins): the next fire runs and clears the error.
    tasks = [{"name": t["name"], "type": "noop", "dependsOn": t.get("dependsOn", [])} for t in ETL["tasks"]]
    assert api.call("PUT", f"/workflows/{broken}", {"tasks": tasks})[0] == 200
    dispatch(at(shown["nextRunAt"], 1))
    _, _, healed = api.call("GET", f"/schedules/{bad['id']}")
    assert healed["lastError"] is None and healed["lastRunAt"] == shown["nextRunAt"]
    assert runs_of(api, broken)["total"] == 1


def test_a_schedule_whose_workflow_vanished_is_deleted(api: Api, tenant: str) -> None:
    # As if DELETE /workflows had died before deleting the schedules.
    wid = workflow(api)
    sc = schedule(api, wid)
    wf = workflow_store().get(tenant, wid)
    assert wf is not None
    workflow_store().delete(wf)
    report = dispatch(at(sc["nextRunAt"], 1))
    assert report.removed >= 1
    assert api.call("GET", f"/schedules/{sc['id']}")[0] == 404
    assert api.call("GET", "/schedules")[2]["total"] == 0


def test_an_update_during_a_pending_fire_keeps_the_fire(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    wid = workflow(api)
    sc = schedule(api, wid, "@hourly", parameters={"v": 1})
    _unavailable_once(monkeypatch)
    now = at(sc["nextRunAt"], 1)
    assert dispatch(now, workers=1).retrying == 1
    # Re-timed to a daily slot twelve hours from the fire, so the update's nextRunAt is never
    # due at the retry tick below, whatever the time of day the test runs.
    daily = f"0 {(at(sc['nextRunAt']) + timedelta(hours=12)).hour} * * *"
    status, _, updated = api.call("PUT", f"/schedules/{sc['id']}", {"cronExpression": daily})
    assert status == 200
    assert updated["nextRunAt"] > clock.iso(now + timedelta(minutes=1))
    assert stored(tenant, sc["id"]).pending_fire is not None
    assert dispatch(now + timedelta(minutes=1)).recovered == 1
    assert runs_of(api, wid)["total"] == 1
    after = stored(tenant, sc["id"])
    assert after.pending_fire is None and after.last_run_at == sc["nextRunAt"]
    assert after.next_run_at == updated["nextRunAt"] and after.cron_expression == daily


def test_the_dispatcher_function_reads_the_tick_from_the_event(runtime: Runtime, api: Api) -> None:
    wid = workflow(api)
    sc = schedule(api, wid)
    event = scheduled_event("SchedulerDispatchFunction", at(sc["nextRunAt"], 3))
    result = runtime.functions.invoke("SchedulerDispatchFunction", event)
    assert result["tick"] == clock.iso(at(sc["nextRunAt"], 3)) and result["started"] >= 1
    assert runs_of(api, wid)["total"] == 1


def test_the_ticker_fires_due_schedules_like_the_rule(runtime: Runtime, api: Api) -> None:
    assert [lid for lid, _ in runtime.template.schedules] == ["SchedulerDispatchFunction"]
    wid = workflow(api)
    sc = schedule(api, wid)
    ahead = at(sc["nextRunAt"], 5) - datetime.now(UTC)  # the ticker's clock is past the slot
    ticker = Ticker(runtime, interval=0.2, clock=lambda: datetime.now(UTC) + ahead)
    assert ticker.interval == 0.2
    deadline = time.monotonic() + 60
    ticker.start()
    try:
        while runs_of(api, wid)["total"] == 0:
            assert time.monotonic() < deadline, "the ticker never fired the due schedule"
            time.sleep(0.05)
    finally:
        ticker.stop()
    assert runs_of(api, wid)["total"] == 1
    assert ticker.ticks >= 1
    assert Ticker(runtime).interval == 60  # rate(1 minute) from the template


def test_schedules_created_and_deleted_while_ticks_run_stay_consistent(api: Api, tenant: str) -> None:
    # Given a workflow, and dispatcher ticks running back to back on one thread while other
    # threads create and delete minute schedules on it
    wid = workflow(api)
    first = schedule(api, wid, "* * * * *")
    base = at(first["nextRunAt"])
    stop = threading.Event()
    ticks: list[schedules.DispatchReport] = []
    created: list[str] = []
    deleted: list[str] = []
    lock = threading.Lock()

    def ticker() -> None:
        minute = 0
        while not stop.is_set() and minute < 10:
            ticks.append(dispatch(base + timedelta(minutes=minute, seconds=1), workers=2))
            minute += 1

    def churn(worker: int) -> None:
        for i in range(12):
            status, _, sc = api.call(
                "POST",
                "/schedules",
                {"workflowId": wid, "cronExpression": "* * * * *", "parameters": {"w": worker}},
            )
            assert status == 201, sc
            with lock:
                created.append(sc["id"])
            if i % 2:
                assert api.call("DELETE", f"/schedules/{sc['id']}")[0] == 200
                with lock:
                    deleted.append(sc["id"])

    threads = [threading.Thread(target=ticker)] + [
        threading.Thread(target=churn, args=(w,)) for w in range(3)
    ]
    for th in threads:
        th.start()
    for th in threads[1:]:
        th.join(300)
    stop.set()
    threads[0].join(300)
    assert not any(th.is_alive() for th in threads), "a ticker or writer did not finish in 300 s"

    # Then no fire failed (a claim may lose to a concurrent delete: counted as lost), every live
    # schedule is listed exactly once with an exact total, deleted ones are gone, and no
    # (schedule, slot) ever started twice
    assert all(r.failed == 0 for r in ticks), [r.as_dict() for r in ticks]
    live = {first["id"], *created} - set(deleted)
    listing = api.call("GET", "/schedules", query=f"workflowId={wid}&limit=100")[2]
    assert listing["total"] == len(live)
    assert {s["id"] for s in listing["schedules"]} == live
    for sid in deleted:
        assert api.call("GET", f"/schedules/{sid}")[0] == 404
    fires: list[tuple[str, str]] = []
    query = f"workflowId={wid}&limit=100"
    while True:
        page = api.call("GET", "/executions", query=query)[2]
        fires += [(e["trigger"]["scheduleId"], e["trigger"]["scheduledAt"]) for e in page["executions"]]
        if not page["nextToken"]:
            break
        query = f"workflowId={wid}&limit=100&nextToken={page['nextToken']}"
    # Each execution is one (schedule, slot) of this test's schedules, none twice. (A schedule
    # deleted right after its fire started keeps that execution, and the tick then has no
    # schedule left to record the outcome on, so report counts are not compared.)
    assert len(fires) == len(set(fires)) == page["total"] > 0
    assert {sid for sid, _ in fires} <= {first["id"], *created}
