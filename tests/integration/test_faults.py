"""Fault injection: DynamoDB, Step Functions, task Lambdas and the task runner failing at the worst
moments, and what a client observes each time.

Faults are injected by replacing one method of the boto3 client the service itself uses
(``services.table().client``, ``services.engine().sfn``) for the duration of one test (pytest's
monkeypatch restores it). The replacement sits *above* botocore's own retries (standard mode,
5 attempts), so one injected error stands for a fault that outlasted the SDK's retries.

Every test ends by checking that nothing is left behind: each execution the fault touched reads
as terminal (``completed``/``failed``/``cancelled``) or does not exist — never ``pending`` or
``running`` for good.

Not repeated here: a task timing out (``States.Timeout``) is covered by
test_executions.py::test_timeout_fails_the_task; the dispatcher dying between claim and start,
and a start failing with 503 until MAX_START_ATTEMPTS, by test_dispatcher.py.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from orchestration_core import services
from orchestration_core.executions import usecases as executions
from orchestration_core.schedules import usecases as schedules
from orchestration_core.services import schedule_store
from orchestration_core.shared import clock
from orchestration_core.shared.table import _TRANSACTION_RETRIES

from orchestration_local import aws
from orchestration_local.runtime import Runtime
from tests.integration.conftest import TERMINAL, Api, gate, wait_for

NOOP_TASKS = [{"name": "a", "type": "noop"}, {"name": "b", "type": "noop", "dependsOn": ["a"]}]


# -- fault injection -------------------------------------------------------------------------------------
def client_error(code: str, operation: str, **extra: Any) -> ClientError:
    """The ClientError botocore raises for an AWS error response with this code."""
    return ClientError({"Error": {"Code": code, "Message": f"injected {code}"}, **extra}, operation)


def conflict() -> ClientError:
    """DynamoDB cancelling a transaction because another one touched the same item."""
    reasons = [{"Code": "None"}, {"Code": "TransactionConflict"}, {"Code": "None"}]
    return client_error("TransactionCanceledException", "TransactWriteItems", CancellationReasons=reasons)


def patch_instance(monkeypatch: pytest.MonkeyPatch, obj: Any, name: str, value: Any) -> None:
    """Shadow one method of one object; undoing removes the shadow (a plain setattr would leave
    the original bound method behind on the instance, hiding later class-level patches)."""
    monkeypatch.setitem(vars(obj), name, value)


class Fault:
    """One boto3 client method made to fail: the first ``times`` calls that ``match`` raise the
    error ``make()`` builds (``times=None``: every matching call); other calls go through.
    ``seen`` records every matching call, ``hits`` the ones that failed."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        client: Any,
        method: str,
        make: Callable[[], Exception],
        *,
        times: int | None = 1,
        match: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        self.real = getattr(client, method)
        self.make = make
        self.times = times
        self.match = match or (lambda _kw: True)
        self.seen: list[dict[str, Any]] = []
        self.hits: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        patch_instance(monkeypatch, client, method, self)

    def __call__(self, **kwargs: Any) -> Any:
        with self._lock:
            matching = self.match(kwargs)
            fail = matching and (self.times is None or len(self.hits) < self.times)
            if matching:
                self.seen.append(kwargs)
            if fail:
                self.hits.append(kwargs)
        if fail:
            raise self.make()
        return self.real(**kwargs)


def ddb() -> Any:
    return services.table().client


def sfn() -> Any:
    return services.engine().sfn


def of_tenant(tenant: str) -> Callable[[dict[str, Any]], bool]:
    """DynamoDB requests that touch the tenant's items (so the authorizer's key lookup passes)."""
    return lambda kwargs: f"T#{tenant}#" in json.dumps(kwargs)


def started_for(tenant: str) -> Callable[[dict[str, Any]], bool]:
    """StartExecution requests for the tenant's executions."""
    return lambda kwargs: json.loads(kwargs["input"])["tenantId"] == tenant


def transition_to(tenant: str, status: str) -> Callable[[dict[str, Any]], bool]:
    """The runner's transaction that moves one of the tenant's execution records to ``status``."""

    def match(kwargs: dict[str, Any]) -> bool:
        for op in kwargs["TransactItems"]:
            update = op.get("Update") or {}
            key = update.get("Key") or {}
            if (
                key.get("SK") == {"S": "EX"}
                and key["PK"]["S"].startswith(f"T#{tenant}#EX#")
                and update.get("ExpressionAttributeValues", {}).get(":new") == {"S": status}
            ):
                return True
        return False

    return match


# -- observations ----------------------------------------------------------------------------------------
def assert_problem(response: tuple[int, dict[str, str], Any], status: int, slug: str) -> None:
    code, headers, body = response
    assert code == status, response
    assert headers["content-type"] == "application/problem+json", headers
    assert body["status"] == status and body["type"] == f"urn:orchestration:problem:{slug}", body
    if status == 429:
        assert headers.get("retry-after") == "1", headers


def workflow(api: Api, tasks: list[dict[str, Any]] | None = None, **fields: Any) -> str:
    status, _, wf = api.call("POST", "/workflows", {"name": "faults", "tasks": tasks or NOOP_TASKS, **fields})
    assert status == 201, wf
    return str(wf["id"])


def executions_of(api: Api, workflow_id: str, status: str | None = None) -> dict[str, Any]:
    query = f"workflowId={workflow_id}&limit=100" + (f"&status={status}" if status else "")
    code, _, page = api.call("GET", "/executions", query=query)
    assert code == 200, page
    return page


def settled(api: Api, workflow_id: str) -> list[dict[str, Any]]:
    """Every execution of the workflow, read until it ends: none may stay pending or running."""
    ended = [wait_for(api, e["id"]) for e in executions_of(api, workflow_id)["executions"]]
    assert all(e["status"] in TERMINAL for e in ended), [(e["id"], e["status"]) for e in ended]
    return ended


def snapshot(api: Api) -> dict[str, Any]:
    """Everything the tenant can list, with exact totals."""
    out = {}
    for path in ("/workflows", "/executions", "/schedules"):
        code, _, page = api.call("GET", path, query="limit=100")
        assert code == 200, page
        out[path] = page
    return out


def wait_until_running(api: Api, execution_id: str) -> None:
    for _ in range(200):
        body = api.call("GET", f"/executions/{execution_id}")[2]
        if any(t["status"] == "running" for t in body["tasks"]):
            return
        time.sleep(0.02)
    raise AssertionError("the execution never started running")


def by_name(execution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in execution["tasks"]}


# -- DynamoDB throttling during API calls ----------------------------------------------------------------
READS = {
    "get workflow": ("get_item", lambda ids: f"/workflows/{ids['wf']}", ""),
    "list workflows": ("query", lambda _ids: "/workflows", ""),
    "list executions by workflow": ("query", lambda _ids: "/executions", "workflowId={wf}"),
    "get execution": ("query", lambda ids: f"/executions/{ids['ex']}", ""),
    "get schedule": ("get_item", lambda ids: f"/schedules/{ids['sc']}", ""),
}


@pytest.mark.parametrize("case", list(READS))
def test_a_throttled_read_answers_429_with_retry_after(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    # Given a workflow, a finished execution and a schedule
    wid = workflow(api)
    eid = api.call("POST", f"/workflows/{wid}/execute")[2]["executionId"]
    wait_for(api, eid)
    sc = api.call("POST", "/schedules", {"workflowId": wid, "cronExpression": "@yearly"})[2]
    ids = {"wf": wid, "ex": eid, "sc": sc["id"]}
    method, path, query = READS[case]
    healthy = api.call("GET", path(ids), query=query.format(**ids))
    assert healthy[0] == 200
    # When DynamoDB throttles the read of the tenant's data
    fault = Fault(
        monkeypatch,
        ddb(),
        method,
        lambda: client_error("ThrottlingException", method),
        times=None,
        match=of_tenant(tenant),
    )
    answer = api.call("GET", path(ids), query=query.format(**ids))
    # Then the client is told to retry (429 problem+json, Retry-After), never a 5xx
    assert_problem(answer, 429, "throttled")
    assert fault.hits
    # And once the throttling stops, the same read answers as before
    monkeypatch.undo()
    assert api.call("GET", path(ids), query=query.format(**ids))[2] == healthy[2]


def test_a_throttled_api_key_lookup_is_retryable_not_a_500(
    runtime: Runtime, api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a valid key (the authorizer reads its hash from DynamoDB on every request: no cache)
    assert api.call("GET", "/workflows")[0] == 200
    # When DynamoDB throttles that read
    Fault(
        monkeypatch,
        ddb(),
        "get_item",
        lambda: client_error("ThrottlingException", "GetItem"),
        times=None,
        match=lambda kw: kw["Key"]["PK"]["S"].startswith("KEY#"),
    )
    code, headers, body = api.call("GET", "/workflows")
    # Then the client should be told to retry: 429 or 503 with Retry-After, problem+json.
    # (The authorizer's Throttled escapes; API Gateway answers AUTHORIZER_FAILURE, which the
    # template maps to a 503 problem with Retry-After.)
    assert headers["content-type"] == "application/problem+json"
    assert code in {429, 503} and "retry-after" in headers, (code, headers, body)


def _ids_for_writes(api: Api) -> dict[str, str]:
    wid = workflow(api)
    eid = api.call("POST", f"/workflows/{wid}/execute")[2]["executionId"]
    wait_for(api, eid)
    sc = api.call("POST", "/schedules", {"workflowId": wid, "cronExpression": "@yearly"})[2]
    tt = f"tt-{uuid.uuid4().hex[:8]}"
    assert api.call("PUT", f"/task-types/{tt}", {"functionArn": "orchestration-task-x"})[0] == 200
    return {"wf": wid, "ex": eid, "sc": sc["id"], "tt": tt}


WRITES: dict[str, tuple[str, Callable[[Api, dict[str, str]], Any]]] = {
    "create workflow": (
        "transact_write_items",
        lambda api, ids: api.call("POST", "/workflows", {"name": "n", "tasks": NOOP_TASKS}),
    ),
    "update workflow": (
        "transact_write_items",
        lambda api, ids: api.call("PUT", f"/workflows/{ids['wf']}", {"name": "renamed", "status": "active"}),
    ),
    "delete workflow": (
        "transact_write_items",
        lambda api, ids: api.call("DELETE", f"/workflows/{ids['wf']}"),
    ),
    "execute": ("transact_write_items", lambda api, ids: api.call("POST", f"/workflows/{ids['wf']}/execute")),
    "create schedule": (
        "transact_write_items",
        lambda api, ids: api.call(
            "POST", "/schedules", {"workflowId": ids["wf"], "cronExpression": "@daily"}
        ),
    ),
    "update schedule": (
        "update_item",
        lambda api, ids: api.call("PUT", f"/schedules/{ids['sc']}", {"cronExpression": "@daily"}),
    ),
    "delete schedule": (
        "transact_write_items",
        lambda api, ids: api.call("DELETE", f"/schedules/{ids['sc']}"),
    ),
    "register task type": (
        "put_item",
        lambda api, ids: api.call("PUT", f"/task-types/{ids['tt']}", {"functionArn": "orchestration-task-y"}),
    ),
    "delete task type": ("delete_item", lambda api, ids: api.call("DELETE", f"/task-types/{ids['tt']}")),
}


@pytest.mark.parametrize("case", list(WRITES))
def test_a_throttled_write_answers_429_and_writes_nothing(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    # Given one of each object, and everything the tenant can see
    ids = _ids_for_writes(api)
    before = snapshot(api)
    details = [
        api.call("GET", p)
        for p in (f"/workflows/{ids['wf']}", f"/schedules/{ids['sc']}", f"/task-types/{ids['tt']}")
    ]
    # When DynamoDB throttles the write
    method, call = WRITES[case]
    fault = Fault(
        monkeypatch,
        ddb(),
        method,
        lambda: client_error("ThrottlingException", method),
        times=None,
        match=of_tenant(tenant),
    )
    starts = Fault(monkeypatch, sfn(), "start_execution", RuntimeError, times=0, match=started_for(tenant))
    answer = call(api, ids)
    # Then 429 problem+json with Retry-After, never a 5xx
    assert_problem(answer, 429, "throttled")
    assert fault.hits
    # And no partial write: every list, every total and every object is as it was; nothing started
    monkeypatch.undo()
    assert snapshot(api) == before
    assert [
        api.call("GET", p)
        for p in (f"/workflows/{ids['wf']}", f"/schedules/{ids['sc']}", f"/task-types/{ids['tt']}")
    ] == details
    assert starts.seen == []
    # And the same request succeeds once the throttling stops
    assert call(api, ids)[0] in {200, 201, 202}
    settled(api, ids["wf"])


def test_a_throttle_between_deleting_a_workflow_and_its_schedules_leaves_no_schedule(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a workflow with a yearly schedule
    wid = workflow(api)
    sc = api.call("POST", "/schedules", {"workflowId": wid, "cronExpression": "@yearly"})[2]
    # When DELETE /workflows is throttled while deleting its schedules (they go first)
    Fault(
        monkeypatch,
        ddb(),
        "transact_write_items",
        lambda: client_error("ThrottlingException", "TransactWriteItems"),
        times=None,
        match=lambda kw: f"T#{tenant}#SC#" in json.dumps(kw) and "Delete" in kw["TransactItems"][0],
    )
    assert_problem(api.call("DELETE", f"/workflows/{wid}"), 429, "throttled")
    monkeypatch.undo()
    # Then the workflow is still there (nothing points at a deleted workflow) ...
    assert api.call("GET", f"/workflows/{wid}")[0] == 200
    # ... and the client's retry deletes both.
    assert api.call("DELETE", f"/workflows/{wid}")[0] == 200
    assert api.call("GET", f"/workflows/{wid}")[0] == 404
    listing = api.call("GET", "/schedules", query=f"workflowId={wid}")[2]
    assert listing["total"] == 0 and api.call("GET", f"/schedules/{sc['id']}")[0] == 404, listing


# -- DynamoDB transaction conflicts ----------------------------------------------------------------------
def test_transaction_conflicts_are_retried_until_the_create_lands(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given DynamoDB cancels the tenant's next three transactions (TransactionConflict)
    fault = Fault(monkeypatch, ddb(), "transact_write_items", conflict, times=3, match=of_tenant(tenant))
    # When a workflow is created
    status, _, wf = api.call("POST", "/workflows", {"name": "contended", "tasks": NOOP_TASKS})
    # Then the store retried: 201, one item, exact totals
    assert status == 201, wf
    assert len(fault.hits) == 3 and len(fault.seen) == 4
    listing = api.call("GET", "/workflows")[2]
    assert [w["id"] for w in listing["workflows"]] == [wf["id"]] and listing["total"] == 1
    assert api.call("GET", "/workflows", query="status=draft")[2]["total"] == 1
    # And an execution created through conflicts is recorded once and runs
    fault.hits.clear()
    status, _, started = api.call("POST", f"/workflows/{wf['id']}/execute")
    assert status == 202 and len(fault.hits) == 3
    page = executions_of(api, wf["id"])
    assert page["total"] == 1 and [e["id"] for e in page["executions"]] == [started["executionId"]]
    assert [e["status"] for e in settled(api, wf["id"])] == ["completed"]
    assert api.call("GET", "/executions", query="status=completed")[2]["total"] == 1


def test_conflicts_that_never_clear_answer_429_and_write_nothing(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given every transaction of the tenant's is cancelled by conflicts
    fault = Fault(monkeypatch, ddb(), "transact_write_items", conflict, times=None, match=of_tenant(tenant))
    # When a workflow is created
    answer = api.call("POST", "/workflows", {"name": "contended", "tasks": NOOP_TASKS})
    # Then the store gives up after its retries with a 429, and nothing was written
    assert_problem(answer, 429, "throttled")
    assert len(fault.hits) == _TRANSACTION_RETRIES
    monkeypatch.undo()
    listing = api.call("GET", "/workflows")[2]
    assert listing["total"] == 0 and listing["workflows"] == []


# -- Step Functions refusing to create or start ----------------------------------------------------------
@pytest.mark.parametrize("operation", ["create_state_machine", "start_execution"])
def test_step_functions_throttling_on_execute_is_429_and_leaves_no_orphan(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch, operation: str
) -> None:
    # Given a workflow whose definition no process has seen (so its machine is created now)
    wid = workflow(api, [{"name": f"only-{tenant}", "type": "noop"}])
    key = {"Idempotency-Key": uuid.uuid4().hex}
    # When Step Functions throttles the call
    fault = Fault(
        monkeypatch, sfn(), operation, lambda: client_error("ThrottlingException", operation), times=None
    )
    answer = api.call("POST", f"/workflows/{wid}/execute", {}, key)
    # Then 429 problem+json with Retry-After
    assert_problem(answer, 429, "throttled")
    assert fault.hits
    monkeypatch.undo()
    # And no execution record is left behind: not listed, not counted, not readable
    assert executions_of(api, wid)["total"] == 0
    assert api.call("GET", "/executions")[2]["total"] == 0
    if operation == "start_execution":
        assert all(api.call("GET", f"/executions/{hit['name']}")[0] == 404 for hit in fault.hits)
    # And the same Idempotency-Key then starts the execution, which runs
    status, _, started = api.call("POST", f"/workflows/{wid}/execute", {}, key)
    assert status == 202, started
    assert [(e["id"], e["status"]) for e in settled(api, wid)] == [(started["executionId"], "completed")]


@pytest.mark.parametrize("code", ["ServiceUnavailable", "InternalFailure", "ExecutionLimitExceeded"])
def test_step_functions_errors_on_start_are_503_and_leave_no_orphan(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    # Given a workflow
    wid = workflow(api)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    # When StartExecution fails with an error other than throttling
    fault = Fault(
        monkeypatch,
        sfn(),
        "start_execution",
        lambda: client_error(code, "StartExecution"),
        match=started_for(tenant),
    )
    answer = api.call("POST", f"/workflows/{wid}/execute", {}, key)
    # Then 503 problem+json naming the cause, and no orphaned record
    assert_problem(answer, 503, "unavailable")
    assert code in answer[2]["detail"]
    assert executions_of(api, wid)["total"] == 0
    assert api.call("GET", f"/executions/{fault.hits[0]['name']}")[0] == 404
    # And the key is free again: the retry runs
    status, _, started = api.call("POST", f"/workflows/{wid}/execute", {}, key)
    assert status == 202
    assert [(e["id"], e["status"]) for e in settled(api, wid)] == [(started["executionId"], "completed")]


def test_a_failed_start_whose_cleanup_also_fails_is_finished_by_the_idempotent_retry(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given StartExecution fails (503) and the compensating delete of the record is throttled
    wid = workflow(api)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    Fault(monkeypatch, sfn(), "start_execution", lambda: client_error("ServiceUnavailable", "StartExecution"))
    cleanup = Fault(
        monkeypatch,
        ddb(),
        "transact_write_items",
        lambda: client_error("ThrottlingException", "TransactWriteItems"),
        times=None,
        match=lambda kw: of_tenant(tenant)(kw) and "Delete" in kw["TransactItems"][0],
    )
    # When the workflow is executed
    answer = api.call("POST", f"/workflows/{wid}/execute", {}, key)
    # Then the client is told to retry (the cleanup's 429 replaces the start's 503)
    assert_problem(answer, 429, "throttled")
    assert cleanup.hits
    monkeypatch.undo()
    # And the record stays pending (within the start grace period) ...
    page = executions_of(api, wid)
    assert page["total"] == 1 and page["executions"][0]["status"] == "pending"
    orphan = page["executions"][0]["id"]
    assert api.call("GET", f"/executions/{orphan}")[2]["status"] == "pending"
    # ... until the retry with the same key starts that very execution
    status, _, started = api.call("POST", f"/workflows/{wid}/execute", {}, key)
    assert status == 202 and started["executionId"] == orphan
    assert [(e["id"], e["status"]) for e in settled(api, wid)] == [(orphan, "completed")]


# -- a crash between writing the record and starting the machine -----------------------------------------
def _crash_start_once(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """engine.start raises a plain RuntimeError once: the process dies after the record is written."""
    engine = services.engine()
    real = engine.start
    calls: list[str] = []

    def dying(machine: str, execution_id: str, payload: dict[str, Any]) -> None:
        calls.append(execution_id)
        if len(calls) == 1:
            raise RuntimeError("the process died before StartExecution")
        real(machine, execution_id, payload)

    patch_instance(monkeypatch, engine, "start", dying)
    return calls


def test_a_crash_before_the_start_is_finished_by_the_idempotent_retry(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the process dies between writing the execution record and starting its machine
    wid = workflow(api)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    calls = _crash_start_once(monkeypatch)
    # When the workflow is executed
    answer = api.call("POST", f"/workflows/{wid}/execute", {}, key)
    # Then (observed) the API answers an opaque 500 problem+json, and the record is pending
    assert_problem(answer, 500, "internal-error")
    page = executions_of(api, wid)
    assert page["total"] == 1 and page["executions"][0]["status"] == "pending"
    written = page["executions"][0]["id"]
    # And a retry with the same Idempotency-Key returns that execution and starts it
    status, _, again = api.call("POST", f"/workflows/{wid}/execute", {}, key)
    assert status == 202 and again["executionId"] == written
    assert calls == [written, written]
    ended = settled(api, wid)
    assert [(e["id"], e["status"]) for e in ended] == [(written, "completed")]
    assert all(t["status"] == "completed" for t in ended[0]["tasks"])


def test_a_crash_before_the_start_without_a_key_ends_as_lost_not_pending(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the process dies between writing the record and starting the machine (no key to retry with)
    wid = workflow(api)
    _crash_start_once(monkeypatch)
    assert_problem(api.call("POST", f"/workflows/{wid}/execute"), 500, "internal-error")
    orphan = executions_of(api, wid)["executions"][0]["id"]
    # When it is read within the start grace period, it is pending (a start may be on its way)
    assert api.call("GET", f"/executions/{orphan}")[2]["status"] == "pending"
    # When it is read after the grace period
    monkeypatch.setattr(executions, "START_GRACE_SECONDS", 0)
    # Then (observed) lists show the stored status until something reads the execution itself ...
    assert executions_of(api, wid, "pending")["total"] == 1
    status, _, lost = api.call("GET", f"/executions/{orphan}")
    # ... and the read declares it lost: failed with ExecutionLost, every task skipped
    assert status == 200 and lost["status"] == "failed" and lost["completedAt"]
    assert lost["error"]["error"] == "ExecutionLost" and lost["error"]["task"] is None
    assert {t["status"] for t in lost["tasks"]} == {"skipped"}
    assert executions_of(api, wid, "pending")["total"] == 0
    assert executions_of(api, wid, "failed")["total"] == 1
    assert settled(api, wid)[0]["status"] == "failed"


# -- StartExecution that reached Step Functions although the caller saw an error -------------------------
def test_a_start_that_ran_although_step_functions_answered_an_error_is_not_a_500(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given StartExecution starts the machine but its response is an error (e.g. a 5xx after the
    # commit, or a timeout), and the machine's first step has already marked the record running
    store = services.execution_services().executions
    real = sfn().start_execution

    def started_then_failed(**kwargs: Any) -> Any:
        real(**kwargs)
        for _ in range(250):
            record = store.get(tenant, kwargs["name"], with_runs=False)
            if record is not None and record.status.value != "pending":
                break
            time.sleep(0.02)
        raise client_error("ServiceUnavailable", "StartExecution")

    patch_instance(monkeypatch, sfn(), "start_execution", started_then_failed)
    wid = workflow(api)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    # When the workflow is executed
    status, _, body = api.call("POST", f"/workflows/{wid}/execute", {}, key)
    monkeypatch.undo()
    # Then the execution exists and runs to its end (never orphaned) ...
    ended = settled(api, wid)
    assert [e["status"] for e in ended] == ["completed"]
    # ... and the idempotent retry returns it
    assert api.call("POST", f"/workflows/{wid}/execute", {}, key)[2]["executionId"] == ended[0]["id"]
    # And the client should have been told so: 202 with that id.
    # (Before removing the record after a failed start, the service asks Step Functions
    # whether the execution exists; it does, so the execution is returned, not a 500 that
    # would make a client without an Idempotency-Key run the workflow twice.)
    assert (status, body.get("executionId")) == (202, ended[0]["id"]), body


def land_late(request: dict[str, Any]) -> dict[str, Any]:
    """Start the execution a lost StartExecution request asked for; wait for its machine to end."""
    sfn().start_execution(**request)
    arn = request["stateMachineArn"].replace(":stateMachine:", ":execution:") + f":{request['name']}"
    for _ in range(500):
        described: dict[str, Any] = sfn().describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.02)
    raise AssertionError(f"the late machine {arn} never ended")


def test_a_start_that_lands_after_the_api_gave_up_runs_nothing(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given StartExecution answers an error, but the request did reach Step Functions and its
    # machine begins only after the API removed the record
    fault = Fault(
        monkeypatch, sfn(), "start_execution", lambda: client_error("ServiceUnavailable", "StartExecution")
    )
    fault.match = started_for(tenant)
    wid = workflow(api)
    answer = api.call("POST", f"/workflows/{wid}/execute")
    assert_problem(answer, 503, "unavailable")
    monkeypatch.undo()
    # When the late machine runs
    late = fault.hits[0]
    described = land_late(late)
    # Then it finds no record and stops at its first step: no task ran, nothing is visible
    assert described["status"] == "FAILED" and described.get("error") == "ExecutionCancelled"
    assert executions_of(api, wid)["total"] == 0
    assert api.call("GET", f"/executions/{late['name']}")[0] == 404


def test_a_deleted_state_machine_is_recreated(api: Api, tenant: str) -> None:
    # Given a workflow that ran once (its machine's ARN is now cached by the process)
    wid = workflow(api, [{"name": f"m-{tenant}", "type": "noop"}])
    first = api.call("POST", f"/workflows/{wid}/execute")[2]["executionId"]
    assert wait_for(api, first)["status"] == "completed"
    # When an operator deletes the machine (docs/executions.md: "clean up old orch-* machines")
    machine = next(
        m["stateMachineArn"]
        for m in sfn().list_state_machines()["stateMachines"]
        if any(
            e["name"] == first
            for e in sfn().list_executions(stateMachineArn=m["stateMachineArn"])["executions"]
        )
    )
    sfn().delete_state_machine(stateMachineArn=machine)
    status, _, body = api.call("POST", f"/workflows/{wid}/execute")
    # Then nothing is orphaned either way ...
    assert all(e["status"] in TERMINAL for e in settled(api, wid))
    # ... and the execution should run on a re-created machine.
    # (StartExecution answers StateMachineDoesNotExist: the engine drops its cached ARN,
    # re-creates the machine from the definition and starts again.)
    assert status == 202, body
    assert wait_for(api, body["executionId"])["status"] == "completed"


# -- Step Functions refusing to describe or stop ---------------------------------------------------------
def test_a_throttled_describe_makes_the_read_of_a_running_execution_429(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a running execution (reading it asks Step Functions whether its machine ended)
    wid = workflow(api, [{"name": "s", "type": "sleep", "config": {"seconds": 1.0}}])
    eid = api.call("POST", f"/workflows/{wid}/execute")[2]["executionId"]
    wait_until_running(api, eid)
    # When DescribeExecution is throttled
    Fault(
        monkeypatch,
        sfn(),
        "describe_execution",
        lambda: client_error("ThrottlingException", "DescribeExecution"),
    )
    # Then the read answers 429 with Retry-After (not a 5xx, and not a stale record)
    assert_problem(api.call("GET", f"/executions/{eid}"), 429, "throttled")
    # And the next read works, and the execution ends normally
    assert api.call("GET", f"/executions/{eid}")[0] == 200
    assert [e["status"] for e in settled(api, wid)] == ["completed"]


def test_a_throttled_cancel_changes_nothing_and_can_be_retried(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a running execution (its first task holds until the test opens its gate)
    wid = workflow(
        api,
        [{"name": "s", "type": "gate"}, {"name": "t", "type": "noop", "dependsOn": ["s"]}],
    )
    key = uuid.uuid4().hex
    eid = api.call("POST", f"/workflows/{wid}/execute", {"parameters": {"key": key}})[2]["executionId"]
    gate(key).wait_entered()
    # When StopExecution is throttled
    Fault(monkeypatch, sfn(), "stop_execution", lambda: client_error("ThrottlingException", "StopExecution"))
    assert_problem(api.call("POST", f"/executions/{eid}/cancel"), 429, "throttled")
    # Then the execution is still running (nothing was recorded as cancelled)
    assert api.call("GET", f"/executions/{eid}")[2]["status"] == "running"
    # And the retried cancel stops it
    status, _, cancelled = api.call("POST", f"/executions/{eid}/cancel")
    assert status == 200 and cancelled["status"] == "cancelled"
    gate(key).open("fail")
    assert [e["status"] for e in settled(api, wid)] == ["cancelled"]


def test_a_cancel_whose_record_write_is_throttled_still_ends_cancelled(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a running execution (its first task holds until the test opens its gate)
    wid = workflow(
        api,
        [{"name": "s", "type": "gate"}, {"name": "t", "type": "noop", "dependsOn": ["s"]}],
    )
    key = uuid.uuid4().hex
    eid = api.call("POST", f"/workflows/{wid}/execute", {"parameters": {"key": key}})[2]["executionId"]
    gate(key).wait_entered()
    # When the cancel stops the machine but writing `cancelled` to the record is throttled
    Fault(
        monkeypatch,
        ddb(),
        "transact_write_items",
        lambda: client_error("ThrottlingException", "TransactWriteItems"),
        match=transition_to(tenant, "cancelled"),
    )
    assert_problem(api.call("POST", f"/executions/{eid}/cancel"), 429, "throttled")
    # Then the retried cancel records it (or, if the stopped machine ended first, reading the
    # execution already reconciled it to cancelled and the retry is a 409), and the execution
    # ends cancelled, never stuck running
    status, _, cancelled = api.call("POST", f"/executions/{eid}/cancel")
    assert (status == 200 and cancelled["status"] == "cancelled") or (
        status == 409 and api.call("GET", f"/executions/{eid}")[2]["status"] == "cancelled"
    ), cancelled
    gate(key).open("fail")
    ended = settled(api, wid)
    assert [e["status"] for e in ended] == ["cancelled"]
    assert by_name(ended[0])["t"]["status"] == "skipped"


# -- task Lambdas crashing -------------------------------------------------------------------------------
class DiskFull(Exception):
    pass


@pytest.mark.parametrize("retries", [0, 2])
def test_a_crashing_task_lambda_fails_the_execution_with_its_exception_class(api: Api, retries: int) -> None:
    # Given a custom task type whose Lambda function always raises
    invocations: list[dict[str, Any]] = []

    def crash(event: dict[str, Any]) -> Any:
        invocations.append(event)
        raise DiskFull(f"no space left (call {len(invocations)})")

    function = f"orchestration-task-crash-{uuid.uuid4().hex[:8]}"
    aws.register_lambda(function, crash)
    aws.create_lambda_functions([function])
    assert api.call("PUT", "/task-types/crash", {"functionArn": function})[0] == 200
    config: dict[str, Any] = {}
    if retries:
        config["retry"] = {"maxAttempts": retries, "intervalSeconds": 1, "backoffRate": 1.0}
    wid = workflow(
        api,
        [
            {"name": "first", "type": "noop"},
            {"name": "c", "type": "crash", "config": config, "dependsOn": ["first"]},
            {"name": "after", "type": "noop", "dependsOn": ["c"]},
        ],
    )
    # When it runs
    eid = api.call("POST", f"/workflows/{wid}/execute")[2]["executionId"]
    ex = wait_for(api, eid)
    # Then the execution fails naming the task and the exception class, with exact attempts
    assert ex["status"] == "failed" and ex["completedAt"]
    assert ex["error"] == {"task": "c", "error": "DiskFull", "cause": f"no space left (call {retries + 1})"}
    runs = by_name(ex)
    assert runs["c"]["status"] == "failed" and runs["c"]["attempts"] == retries + 1 == len(invocations)
    assert runs["c"]["error"] == {"error": "DiskFull", "cause": f"no space left (call {retries + 1})"}
    assert runs["first"]["status"] == "completed"
    assert runs["after"]["status"] == "skipped" and runs["after"]["startedAt"] is None
    assert [e["status"] for e in settled(api, wid)] == ["failed"]


# -- the task runner's own DynamoDB writes failing -------------------------------------------------------
RUNNER_WRITES = {
    # step: (client method, which call of the tenant's)
    "start": ("transact_write_items", lambda tenant: transition_to(tenant, "running")),
    "task": (
        "update_item",
        lambda tenant: lambda kw: of_tenant(tenant)(kw) and kw["Key"]["SK"]["S"] == "TASK#a",
    ),
    "finish": ("transact_write_items", lambda tenant: transition_to(tenant, "completed")),
}


@pytest.mark.parametrize("step", list(RUNNER_WRITES))
def test_a_transient_store_error_in_the_task_runner_does_not_fail_the_execution(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    # Given the task runner's write at this step is throttled once (past the SDK's own retries)
    method, match = RUNNER_WRITES[step]
    fault = Fault(
        monkeypatch, ddb(), method, lambda: client_error("ThrottlingException", method), match=match(tenant)
    )
    wid = workflow(api)
    # When the workflow runs
    eid = api.call("POST", f"/workflows/{wid}/execute")[2]["executionId"]
    ex = wait_for(api, eid)
    # Then it is never left pending or running (the read reconciles from Step Functions) ...
    assert ex["status"] in TERMINAL and len(fault.hits) == 1
    assert [e["status"] for e in settled(api, wid)] == [ex["status"]]
    # ... and a transient store error should be retried by Step Functions, not fail the workflow.
    # (The runner raises Orchestration.Transient for a throttled or unavailable store; every
    # runner state retries it like a Lambda service error, and every write is conditional.)
    assert (ex["status"], ex["error"]) == ("completed", None), json.dumps(ex, indent=1)
    assert [t["status"] for t in ex["tasks"]] == ["completed", "completed"]


def test_a_store_error_in_a_task_is_absorbed_by_the_tasks_own_retry(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the runner's first write of task `a` is throttled, and `a` has a retry policy
    Fault(
        monkeypatch,
        ddb(),
        "update_item",
        lambda: client_error("ThrottlingException", "UpdateItem"),
        match=lambda kw: of_tenant(tenant)(kw) and kw["Key"]["SK"]["S"] == "TASK#a",
    )
    tasks = [{"name": "a", "type": "noop", "config": {"retry": {"maxAttempts": 1, "intervalSeconds": 1}}}]
    wid = workflow(api, tasks)
    # When it runs
    ex = wait_for(api, api.call("POST", f"/workflows/{wid}/execute")[2]["executionId"])
    # Then the user's retry (States.ALL) covers it: completed. Observed: the store error counts
    # as one of the task's attempts although the task's work never ran twice.
    assert ex["status"] == "completed"
    assert by_name(ex)["a"]["attempts"] == 2


# -- the schedule dispatcher's starts throttled ----------------------------------------------------------
def dispatch(now: Any) -> schedules.DispatchReport:
    return schedules.dispatch_due(now, schedule_store(), services.execution_services())


def test_a_throttled_scheduled_start_is_retried_by_later_ticks_with_the_same_id(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a due schedule, and Step Functions throttling its first two starts
    wid = workflow(api)
    sc = api.call("POST", "/schedules", {"workflowId": wid, "cronExpression": "@hourly"})[2]
    slot = sc["nextRunAt"]
    expected = schedules.fire_execution_id(sc["id"], slot)
    fault = Fault(
        monkeypatch,
        sfn(),
        "start_execution",
        lambda: client_error("ThrottlingException", "StartExecution"),
        times=2,
        match=started_for(tenant),
    )
    now = clock.parse_iso(slot) + timedelta(seconds=1)
    # When ticks come a minute apart
    for minute in range(2):
        report = dispatch(now + timedelta(minutes=minute))
        # Then each throttled tick leaves no execution record behind, only the pending fire
        assert report.retrying >= 1
        assert executions_of(api, wid)["total"] == 0
        assert api.call("GET", f"/schedules/{sc['id']}")[2]["lastRunAt"] is None
    dispatch(now + timedelta(minutes=2))
    # And the third tick starts the fire with the id derived from the slot: once, and it runs
    assert [h["name"] for h in fault.seen] == [expected] * 3
    assert [(e["id"], e["status"]) for e in settled(api, wid)] == [(expected, "completed")]
    shown = api.call("GET", f"/schedules/{sc['id']}")[2]
    assert shown["lastRunAt"] == slot and shown["lastExecutionId"] == expected and shown["lastError"] is None


def test_a_scheduled_start_throttled_every_time_gives_up_with_last_error(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Step Functions throttles every start of the tenant's executions
    wid = workflow(api)
    sc = api.call("POST", "/schedules", {"workflowId": wid, "cronExpression": "@daily"})[2]
    fault = Fault(
        monkeypatch,
        sfn(),
        "start_execution",
        lambda: client_error("ThrottlingException", "StartExecution"),
        times=None,
        match=started_for(tenant),
    )
    now = clock.parse_iso(sc["nextRunAt"]) + timedelta(seconds=1)
    # When the dispatcher ticks once a minute past MAX_START_ATTEMPTS
    for minute in range(schedules.MAX_START_ATTEMPTS + 1):
        dispatch(now + timedelta(minutes=minute))
    # Then it tried exactly MAX_START_ATTEMPTS times, left no record, and recorded lastError
    assert len(fault.hits) == schedules.MAX_START_ATTEMPTS
    assert executions_of(api, wid)["total"] == 0
    shown = api.call("GET", f"/schedules/{sc['id']}")[2]
    assert shown["lastRunAt"] is None and shown["lastError"]["scheduledAt"] == sc["nextRunAt"]
    # Observed: the give-up is recorded as 503 whatever the cause was (here: throttling)
    assert shown["lastError"]["status"] == 503
    assert schedule_store().get(tenant, sc["id"]).pending_fire is None
    # And a later tick runs nothing more for that slot
    dispatch(now + timedelta(minutes=schedules.MAX_START_ATTEMPTS + 1))
    assert len(fault.hits) == schedules.MAX_START_ATTEMPTS


def test_a_scheduled_start_whose_machine_began_late_still_runs_the_fire(
    api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the dispatcher's StartExecution answers an error although Step Functions got it,
    # and the machine begins only after the dispatcher removed the record
    wid = workflow(api)
    sc = api.call("POST", "/schedules", {"workflowId": wid, "cronExpression": "@hourly"})[2]
    slot = sc["nextRunAt"]
    expected = schedules.fire_execution_id(sc["id"], slot)
    fault = Fault(
        monkeypatch,
        sfn(),
        "start_execution",
        lambda: client_error("ServiceUnavailable", "StartExecution"),
        match=started_for(tenant),
    )
    now = clock.parse_iso(slot) + timedelta(seconds=1)
    assert dispatch(now).retrying >= 1
    # The lost start lands: its machine finds no record and stops (long before the next tick)
    assert land_late(fault.hits[0])["error"] == "ExecutionCancelled"
    # When the next tick retries the fire (same derived execution id)
    dispatch(now + timedelta(minutes=1))
    # Then the fire is recorded and its execution ends (never stuck) ...
    shown = api.call("GET", f"/schedules/{sc['id']}")[2]
    assert shown["lastExecutionId"] == expected
    ended = settled(api, wid)
    assert [e["id"] for e in ended] == [expected]
    # ... and it should have run the workflow.
    # (The late machine holds the derived name and has ended; the new record runs under the
    # next name, <id>.2, so the fire is not lost.)
    assert ended[0]["status"] == "completed", json.dumps(ended[0], indent=1)
