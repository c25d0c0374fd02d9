"""Redrive (POST /executions/{id}/redrive) and settled task statuses, on the embedded engine.

Tasks that hold are ``gate`` tasks the test opens (tests/integration/conftest.py): every
step waits on an event or a record, never on time.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from orchestration_core.executions import usecases as executions
from orchestration_core.executions.models import ExecutionStatus
from orchestration_core.executions.runner import Runner
from orchestration_core.services import execution_services
from orchestration_core.shared import clock

from orchestration_local.runtime import Runtime
from orchestration_local.ticker import scheduled_event
from tests.integration.conftest import Api, gate, runs_of, wait_for


def by_name(execution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in execution["tasks"]}


def count(name: str, *deps: str) -> dict[str, Any]:
    return {"name": name, "type": "count", "config": {"name": name}, "dependsOn": list(deps)}


def gated(name: str, *deps: str) -> dict[str, Any]:
    return {"name": name, "type": "gate", "dependsOn": list(deps)}


def start(api: Api, tasks: list[dict[str, Any]], key: str) -> tuple[str, str]:
    status, _, wf = api.call("POST", "/workflows", {"name": "redrive", "tasks": tasks})
    assert status == 201, wf
    status, _, started = api.call("POST", f"/workflows/{wf['id']}/execute", {"parameters": {"key": key}})
    assert status == 202, started
    return wf["id"], started["executionId"]


def failed_run(
    api: Api, tasks: list[dict[str, Any]], key: str, completed_first: tuple[str, ...] = ()
) -> tuple[str, str]:
    """A run whose gate task fails on its first call: (workflow id, execution id), ended failed.
    ``completed_first``: tasks in other branches that must have completed before it fails."""
    wid, eid = start(api, tasks, key)
    gate(key).wait_entered()
    deadline = time.monotonic() + 60
    while not all(
        by_name(api.call("GET", f"/executions/{eid}")[2])[n]["status"] == "completed" for n in completed_first
    ):
        assert time.monotonic() < deadline, f"{completed_first} never completed"
        time.sleep(0.05)
    gate(key).open("fail")
    assert wait_for(api, eid)["status"] == "failed"
    return wid, eid


def redrive(api: Api, execution_id: str) -> dict[str, Any]:
    status, _, body = api.call("POST", f"/executions/{execution_id}/redrive")
    assert status == 200, body
    return body


def test_redrive_of_a_failed_run_reruns_only_what_did_not_complete(api: Api) -> None:
    # Given a and a wait task before b(gate) -> c, where b fails the first time
    key = uuid.uuid4().hex
    tasks = [
        count("a"),
        {"name": "pause", "type": "wait", "config": {"seconds": 0}},
        gated("b", "a", "pause"),  # after the wait task, so it has completed when b fails
        count("c", "b"),
    ]
    _, eid = start(api, tasks, key)
    gate(key).wait_entered()
    gate(key).open("fail")
    failed = wait_for(api, eid)
    assert failed["status"] == "failed", failed
    assert failed["error"]["task"] == "b"
    first = by_name(failed)
    assert first["b"]["status"] == "failed" and first["b"]["attempts"] == 1
    assert first["c"]["status"] == "skipped" and first["c"]["startedAt"] is None
    assert failed["redriveCount"] == 0 and failed["redrivenAt"] is None

    # When it is redriven and b succeeds this time
    body = redrive(api, eid)
    assert body["id"] == eid and body["status"] == "running"
    assert body["redriveCount"] == 1 and body["redrivenAt"] is not None
    assert body["error"] is None and body["completedAt"] is None
    gate(key).wait_entered()
    gate(key).open("ok")
    done = wait_for(api, eid)

    # Then it completes under the same id; a and the wait task kept their first run
    assert done["status"] == "completed", done
    runs = by_name(done)
    assert runs["a"] == first["a"] and runs["pause"] == first["pause"]
    assert runs_of(key, "a") == 1 and runs_of(key, "c") == 1
    assert runs["b"]["status"] == "completed" and runs["b"]["attempts"] == 2
    assert runs["b"]["result"] == {"calls": 2}
    assert runs["c"]["result"]["inputs"] == {"b": {"calls": 2}}
    assert done["redriveCount"] == 1 and done["error"] is None


def test_redrive_twice_counts_on_and_keeps_the_original_version_and_parameters(api: Api) -> None:
    # Given a run of version 1 that failed, and the workflow changed to version 2 since
    key = uuid.uuid4().hex
    wid, eid = failed_run(api, [count("first"), gated("hold", "first")], key)
    status, _, wf = api.call("PUT", f"/workflows/{wid}", {"tasks": [count("other")]})
    assert status == 200 and wf["version"] == 2, wf

    # When it is redriven, fails again, and is redriven again
    redrive(api, eid)
    gate(key).wait_entered()
    gate(key).open("fail")
    again = wait_for(api, eid)
    assert again["status"] == "failed" and again["redriveCount"] == 1
    redrive(api, eid)
    gate(key).wait_entered()
    gate(key).open("ok")
    done = wait_for(api, eid)

    # Then version 1's tasks ran with the original parameters, attempts counting on
    assert done["status"] == "completed", done
    assert done["workflowVersion"] == 1 and done["parameters"] == {"key": key}
    assert [t["name"] for t in done["tasks"]] == ["first", "hold"]
    assert by_name(done)["hold"]["attempts"] == 3 and done["redriveCount"] == 2
    assert runs_of(key, "first") == 1 and runs_of(key, "other") == 0


def test_cancel_settles_the_running_task_and_a_redrive_runs_it_again(api: Api) -> None:
    # Given a -> hold(gate) -> z, cancelled while hold runs
    key = uuid.uuid4().hex
    wid, eid = start(api, [count("a"), gated("hold", "a"), count("z", "hold")], key)
    gate(key).wait_entered()
    status, _, cancelled = api.call("POST", f"/executions/{eid}/cancel")
    assert status == 200, cancelled

    # Then no task of the ended execution is pending or running, here and on the workflow
    assert cancelled["status"] == "cancelled"
    runs = by_name(cancelled)
    assert runs["hold"]["status"] == "cancelled" and runs["hold"]["completedAt"] is not None
    assert runs["z"]["status"] == "skipped"
    _, _, workflow = api.call("GET", f"/workflows/{wid}")
    assert {t["name"]: t["status"] for t in workflow["tasks"]} == {
        "a": "completed",
        "hold": "cancelled",
        "z": "skipped",
    }

    # When the interrupted call gives up and the execution is redriven
    gate(key).open("fail")
    redrive(api, eid)
    gate(key).wait_entered()
    gate(key).open("ok")
    done = wait_for(api, eid)

    # Then the interrupted task ran again (its attempt counted) and the run completed
    assert done["status"] == "completed", done
    assert by_name(done)["hold"]["attempts"] == 2
    assert runs_of(key, "a") == 1 and runs_of(key, "z") == 1


def test_redrive_of_a_non_series_parallel_graph_releases_gated_tasks(api: Api) -> None:
    # a -> c, b -> c, a -> d: c and d wait on task tokens; c fails the first time
    key = uuid.uuid4().hex
    tasks = [count("a"), count("b"), gated("c", "a", "b"), count("d", "a")]
    _, eid = failed_run(api, tasks, key, completed_first=("d",))

    redrive(api, eid)
    gate(key).wait_entered()
    gate(key).open("ok")
    done = wait_for(api, eid)

    assert done["status"] == "completed", done
    assert {n: runs_of(key, n) for n in "abd"} == {"a": 1, "b": 1, "d": 1}
    assert by_name(done)["c"]["attempts"] == 2


def test_redrive_answers_409_unless_failed_or_cancelled(api: Api) -> None:
    key = uuid.uuid4().hex
    _, eid = start(api, [gated("hold")], key)
    gate(key).wait_entered()
    status, _, body = api.call("POST", f"/executions/{eid}/redrive")
    assert status == 409, body
    assert body["type"].endswith(":conflict") and "running" in body["detail"]
    gate(key).open("ok")
    assert wait_for(api, eid)["status"] == "completed"
    status, _, body = api.call("POST", f"/executions/{eid}/redrive")
    assert status == 409 and "completed" in body["detail"], body


def test_redrive_of_an_unknown_or_another_tenants_execution_is_404(api: Api, other_api: Api) -> None:
    key = uuid.uuid4().hex
    _, eid = failed_run(api, [gated("hold")], key)

    status, _, body = other_api.call("POST", f"/executions/{eid}/redrive")
    assert status == 404, body
    status, _, body = api.call("POST", "/executions/ex_doesnotexist/redrive")
    assert status == 404, body
    _, _, still = api.call("GET", f"/executions/{eid}")
    assert still["status"] == "failed" and still["redriveCount"] == 0


@pytest.mark.parametrize("status_filter", ["running", "failed"])
def test_a_redriven_execution_is_listed_and_filtered_like_any_other(api: Api, status_filter: str) -> None:
    key = uuid.uuid4().hex
    wid, eid = failed_run(api, [gated("hold")], key)
    if status_filter == "running":
        redrive(api, eid)
        gate(key).wait_entered()
    status, _, page = api.call("GET", "/executions", query=f"workflowId={wid}&status={status_filter}")
    assert status == 200, page
    assert [e["id"] for e in page["executions"]] == [eid] and page["total"] == 1
    assert page["executions"][0]["redriveCount"] == (1 if status_filter == "running" else 0)
    other = "failed" if status_filter == "running" else "running"
    _, _, empty = api.call("GET", "/executions", query=f"workflowId={wid}&status={other}")
    assert empty["executions"] == [] and empty["total"] == 0
    if status_filter == "running":
        gate(key).open("ok")
        assert wait_for(api, eid)["status"] == "completed"


def test_the_dispatcher_tick_reconciles_a_listed_run_whose_machine_ended_unrecorded(
    api: Api, runtime: Runtime, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run whose machine ended without writing its end (the finish step kept failing)
    def lost_finish(self: Runner, ex: Any, event: Any) -> None:
        raise RuntimeError("the finish write never lands")

    monkeypatch.setattr(Runner, "_finish", lost_finish)
    wid, eid = start(api, [{"name": "only", "type": "noop"}], uuid.uuid4().hex)
    record = execution_services().executions.get(tenant, eid, with_runs=False)
    assert record is not None
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    deadline = time.monotonic() + 60
    while sfn.describe_execution(executionArn=record.sfn_execution_arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the state machine never ended"
        time.sleep(0.02)
    monkeypatch.undo()
    _, _, listed = api.call("GET", "/executions", query=f"workflowId={wid}")
    assert [e["status"] for e in listed["executions"]] == ["running"]

    # When the dispatcher ticks (the EventBridge rule's target)
    result = runtime.functions.invoke(
        "SchedulerDispatchFunction", scheduled_event("SchedulerDispatchFunction", datetime.now(UTC))
    )

    # Then the list agrees with Step Functions without anyone reading the execution itself
    assert result["reconciled"] >= 1
    _, _, listed = api.call("GET", "/executions", query=f"workflowId={wid}")
    assert [e["status"] for e in listed["executions"]] == ["failed"]
    _, _, failed = api.call("GET", "/executions", query=f"workflowId={wid}&status=failed")
    assert failed["total"] == 1
    _, _, running = api.call("GET", "/executions", query=f"workflowId={wid}&status=running")
    assert running["total"] == 0


def test_a_redrive_still_starting_is_not_declared_lost(api: Api, tenant: str) -> None:
    # Given a redriven record whose new launch has no machine yet (its start is on its way),
    # of an execution first started long ago
    _, eid = failed_run(api, [gated("hold")], uuid.uuid4().hex)
    svc = execution_services()
    record = svc.executions.get(tenant, eid)
    assert record is not None
    launching = replace(
        record,
        status=ExecutionStatus.RUNNING,
        sfn_name=record.next_launch_name(),
        started_at="2020-01-01T00:00:00.000Z",
        redriven_at=clock.now_iso(),
    )
    # Then reading it leaves it as it is: the grace counts from the redrive, not the first start
    assert executions.reconcile(svc, launching) is launching
    # While a launch that old with no machine is reconciled (here: the stored record moved on)
    assert executions.reconcile(svc, replace(launching, redriven_at=None)) is not launching
