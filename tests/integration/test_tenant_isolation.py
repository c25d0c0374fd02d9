"""Tenant isolation, route by route: another tenant's key can never read, list, count, execute,
schedule, cancel, update or delete an object, and no route answers without a valid key.

The routes come from template.yaml: a route added there without a case here fails
``test_another_tenant_cannot_touch_the_owners_objects`` (and ``test_no_route_answers_without_a_valid_key``
covers it automatically).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from orchestration_core import services

from orchestration_local.gateway import HttpRequest
from orchestration_local.runtime import Runtime, find_template
from orchestration_local.template import Route, load_template
from tests.integration.conftest import TERMINAL, Api, gate, wait_for

ROUTES: list[Route] = load_template(find_template()).routes
NOOP_TASKS = [{"name": "a", "type": "noop"}, {"name": "b", "type": "noop", "dependsOn": ["a"]}]
UNKNOWN = {"wf": "wf_01m8ed00000000000000000000", "ex": "ex_01m8ed00000000000000000000"}
UNKNOWN |= {"sc": "sc_01m8ed00000000000000000000", "tt": "tt-nobody-registered-this"}

Call = tuple[int, dict[str, str], Any]


# -- the owner's objects -----------------------------------------------------------------------------------
def owned(owner: Api) -> dict[str, str]:
    """Two of everything, so every list has a nextToken; executions finished, keys recorded."""
    ids: dict[str, str] = {}
    for n in ("", "2"):
        status, headers, wf = owner.call("POST", "/workflows", {"name": f"mine{n}", "tasks": NOOP_TASKS})
        assert status == 201, wf
        ids[f"wf{n}"], ids[f"etag{n}"] = wf["id"], headers["etag"]
        ids[f"idem{n}"] = uuid.uuid4().hex
        status, _, started = owner.call(
            "POST", f"/workflows/{wf['id']}/execute", {}, {"Idempotency-Key": ids[f"idem{n}"]}
        )
        assert status == 202, started
        ids[f"ex{n}"] = started["executionId"]
        assert wait_for(owner, started["executionId"])["status"] == "completed"
        status, _, sc = owner.call("POST", "/schedules", {"workflowId": wf["id"], "cronExpression": "@daily"})
        assert status == 201, sc
        ids[f"sc{n}"] = sc["id"]
    ids["tt"] = f"tt-{uuid.uuid4().hex[:8]}"
    assert owner.call("PUT", f"/task-types/{ids['tt']}", {"functionArn": "orchestration-task-mine"})[0] == 200
    for kind in ("workflows", "executions", "schedules"):
        page = owner.call("GET", f"/{kind}", query="limit=1")[2]
        assert page["total"] == 2 and page["nextToken"], page
        ids[f"{kind}-token"] = page["nextToken"]
    return ids


def view(owner: Api, ids: dict[str, str]) -> dict[str, Any]:
    """Everything the owner can observe of its objects: lists, totals, each object, ETags."""
    seen: dict[str, Any] = {}
    for kind in ("workflows", "executions", "schedules"):
        seen[kind] = owner.call("GET", f"/{kind}", query="limit=100")
    paths = [f"/workflows/{ids[k]}" for k in ("wf", "wf2")]
    paths += [f"/executions/{ids[k]}" for k in ("ex", "ex2")]
    paths += [f"/schedules/{ids[k]}" for k in ("sc", "sc2")]
    paths.append(f"/task-types/{ids['tt']}")
    for path in paths:
        status, headers, body = owner.call("GET", path)
        assert status == 200, (path, body)
        seen[path] = (body, headers.get("etag"))
    # The owner's idempotency keys still return the owner's executions.
    for n in ("", "2"):
        replay = owner.call(
            "POST", f"/workflows/{ids['wf' + n]}/execute", {}, {"Idempotency-Key": ids["idem" + n]}
        )
        assert replay[0] == 202 and replay[2]["executionId"] == ids["ex" + n], replay
    return seen


# -- what another tenant gets ------------------------------------------------------------------------------
def assert_not_found(other: Api, method: str, path: str, kind: str, body: Any = None, **kw: Any) -> None:
    """404 problem+json, indistinguishable from the answer for an id that exists nowhere."""
    foreign = other.call(method, path, body, **kw)
    assert foreign[0] == 404, (method, path, foreign)
    assert foreign[1]["content-type"] == "application/problem+json"
    assert foreign[2]["type"] == "urn:orchestration:problem:not-found"
    ours = [seg for seg in path.split("/") if seg.startswith(("wf_", "ex_", "sc_", "tt-"))]
    assert ours, path
    unknown_path = path.replace(ours[0], UNKNOWN[kind])
    unknown = other.call(method, unknown_path, body, **kw)
    assert unknown[0] == 404
    assert unknown[2] == {**foreign[2], "detail": foreign[2]["detail"].replace(ours[0], UNKNOWN[kind])}


def assert_empty_list(other: Api, kind: str, query: str = "") -> None:
    status, _, page = other.call("GET", f"/{kind}", query=query)
    assert status == 200, page
    assert page[kind] == [] and page["total"] == 0 and page["nextToken"] is None, (query, page)


@dataclass(frozen=True)
class Case:
    attack: Callable[[Api, Api, dict[str, str]], None]
    # Owner-side setup that must exist before the "before" view (e.g. a running execution).
    prepare: Callable[[Api, dict[str, str]], None] | None = None
    # Owner-side checks after the attack, once the view was compared.
    check: Callable[[Api, dict[str, str]], None] | None = None


def _create_workflow(other: Api, owner: Api, ids: dict[str, str]) -> None:
    # Creating lands in the caller's tenant only: the owner never sees it.
    status, _, wf = other.call("POST", "/workflows", {"name": "mine", "tasks": NOOP_TASKS})
    assert status == 201
    assert owner.call("GET", f"/workflows/{wf['id']}")[0] == 404


def _list_workflows(other: Api, owner: Api, ids: dict[str, str]) -> None:
    for query in ("", "status=draft", "limit=100&offset=0", f"limit=1&nextToken={ids['workflows-token']}"):
        assert_empty_list(other, "workflows", query)
    # With objects of its own, a foreign token still pages the caller's own partition only.
    other.call("POST", "/workflows", {"name": "theirs", "tasks": NOOP_TASKS})
    for query in ("", f"limit=1&nextToken={ids['workflows-token']}"):
        page = other.call("GET", "/workflows", query=query)[2]
        assert page["total"] == 1
        assert not {w["id"] for w in page["workflows"]} & set(ids.values()), page


def _get_workflow(other: Api, owner: Api, ids: dict[str, str]) -> None:
    for wid in (ids["wf"], ids["wf2"]):
        assert_not_found(other, "GET", f"/workflows/{wid}", "wf")


def _update_workflow(other: Api, owner: Api, ids: dict[str, str]) -> None:
    path = f"/workflows/{ids['wf']}"
    assert_not_found(other, "PUT", path, "wf", {"name": "stolen"})
    assert_not_found(other, "PUT", path, "wf", {"status": "inactive"}, headers={"If-Match": "*"})
    assert_not_found(
        other,
        "PUT",
        path,
        "wf",
        {"tasks": [{"name": "x", "type": "noop"}]},
        headers={"If-Match": ids["etag"]},
    )


def _delete_workflow(other: Api, owner: Api, ids: dict[str, str]) -> None:
    assert_not_found(other, "DELETE", f"/workflows/{ids['wf']}", "wf")
    assert_not_found(other, "DELETE", f"/workflows/{ids['wf2']}", "wf", headers={"If-Match": ids["etag2"]})


def _execute(other: Api, owner: Api, ids: dict[str, str]) -> None:
    path = f"/workflows/{ids['wf']}/execute"
    assert_not_found(other, "POST", path, "wf", {"parameters": {"x": 1}})
    # Not even with the owner's Idempotency-Key: keys belong to a tenant.
    assert_not_found(other, "POST", path, "wf", {}, headers={"Idempotency-Key": ids["idem"]})
    # The same key on the caller's own workflow starts the caller's own execution.
    theirs = other.call("POST", "/workflows", {"name": "theirs", "tasks": NOOP_TASKS})[2]
    status, _, started = other.call(
        "POST", f"/workflows/{theirs['id']}/execute", {}, {"Idempotency-Key": ids["idem"]}
    )
    assert status == 202 and started["executionId"] != ids["ex"]
    assert wait_for(other, started["executionId"])["status"] == "completed"
    assert owner.call("GET", f"/executions/{started['executionId']}")[0] == 404


def _get_execution(other: Api, owner: Api, ids: dict[str, str]) -> None:
    for eid in (ids["ex"], ids["ex2"]):
        assert_not_found(other, "GET", f"/executions/{eid}", "ex")


def _list_executions(other: Api, owner: Api, ids: dict[str, str]) -> None:
    for query in (
        "",
        "status=completed",
        f"workflowId={ids['wf']}",
        f"workflowId={ids['wf']}&status=completed",
        f"limit=1&nextToken={ids['executions-token']}",
    ):
        assert_empty_list(other, "executions", query)


def _start_running(owner: Api, ids: dict[str, str]) -> None:
    # A gate task holds it running until _running_one_completes opens the gate: however
    # loaded the machine, it is still running while the other tenant tries.
    status, _, wf = owner.call(
        "POST", "/workflows", {"name": "held", "tasks": [{"name": "s", "type": "gate"}]}
    )
    assert status == 201
    ids["gate"] = uuid.uuid4().hex
    started = owner.call("POST", f"/workflows/{wf['id']}/execute", {"parameters": {"key": ids["gate"]}})
    ids["running"] = started[2]["executionId"]
    gate(ids["gate"]).wait_entered()


def _cancel(other: Api, owner: Api, ids: dict[str, str]) -> None:
    assert_not_found(other, "POST", f"/executions/{ids['running']}/cancel", "ex")
    assert_not_found(other, "POST", f"/executions/{ids['ex']}/cancel", "ex")


def _redrive(other: Api, owner: Api, ids: dict[str, str]) -> None:
    assert_not_found(other, "POST", f"/executions/{ids['running']}/redrive", "ex")
    assert_not_found(other, "POST", f"/executions/{ids['ex']}/redrive", "ex")


def _running_one_completes(owner: Api, ids: dict[str, str]) -> None:
    gate(ids["gate"]).open("ok")
    ended = wait_for(owner, ids["running"])
    assert ended["status"] == "completed" and ended["tasks"][0]["status"] == "completed"


def _put_task_type(other: Api, owner: Api, ids: dict[str, str]) -> None:
    # The same name registers in the caller's own registry; the owner's entry is untouched.
    path = f"/task-types/{ids['tt']}"
    status, _, theirs = other.call("PUT", path, {"functionArn": "orchestration-task-theirs"})
    assert status == 200 and theirs["functionArn"] == "orchestration-task-theirs"
    assert other.call("GET", path)[2]["functionArn"] == "orchestration-task-theirs"
    assert other.call("DELETE", path)[0] == 200


def _list_task_types(other: Api, owner: Api, ids: dict[str, str]) -> None:
    status, _, listed = other.call("GET", "/task-types")
    assert status == 200 and ids["tt"] not in {t["name"] for t in listed["taskTypes"]}, listed
    assert ids["tt"] in {t["name"] for t in owner.call("GET", "/task-types")[2]["taskTypes"]}


def _get_task_type(other: Api, owner: Api, ids: dict[str, str]) -> None:
    assert_not_found(other, "GET", f"/task-types/{ids['tt']}", "tt")


def _delete_task_type(other: Api, owner: Api, ids: dict[str, str]) -> None:
    assert_not_found(other, "DELETE", f"/task-types/{ids['tt']}", "tt")


def _create_schedule(other: Api, owner: Api, ids: dict[str, str]) -> None:
    for wid in (ids["wf"], ids["wf2"]):
        foreign = other.call("POST", "/schedules", {"workflowId": wid, "cronExpression": "* * * * *"})
        unknown = other.call(
            "POST", "/schedules", {"workflowId": UNKNOWN["wf"], "cronExpression": "* * * * *"}
        )
        assert foreign[0] == unknown[0] == 404, foreign
        assert foreign[2]["detail"].replace(wid, UNKNOWN["wf"]) == unknown[2]["detail"]
    assert_empty_list(other, "schedules")


def _list_schedules(other: Api, owner: Api, ids: dict[str, str]) -> None:
    for query in ("", f"workflowId={ids['wf']}", f"limit=1&nextToken={ids['schedules-token']}"):
        assert_empty_list(other, "schedules", query)


def _get_schedule(other: Api, owner: Api, ids: dict[str, str]) -> None:
    for sid in (ids["sc"], ids["sc2"]):
        assert_not_found(other, "GET", f"/schedules/{sid}", "sc")


def _update_schedule(other: Api, owner: Api, ids: dict[str, str]) -> None:
    path = f"/schedules/{ids['sc']}"
    assert_not_found(other, "PUT", path, "sc", {"enabled": False})
    assert_not_found(other, "PUT", path, "sc", {"cronExpression": "* * * * *", "parameters": {"evil": True}})


def _delete_schedule(other: Api, owner: Api, ids: dict[str, str]) -> None:
    assert_not_found(other, "DELETE", f"/schedules/{ids['sc']}", "sc")


def _trigger_schedule(other: Api, owner: Api, ids: dict[str, str]) -> None:
    path = f"/schedules/{ids['sc']}/trigger"
    assert_not_found(other, "POST", path, "sc")
    assert_not_found(other, "POST", path, "sc", {"overlapPolicy": "allow"})


def _backfill_schedule(other: Api, owner: Api, ids: dict[str, str]) -> None:
    body = {"startAt": "2026-01-01T00:00:00Z", "endAt": "2026-01-03T00:00:00Z"}
    for sid in (ids["sc"], ids["sc2"]):
        assert_not_found(other, "POST", f"/schedules/{sid}/backfill", "sc", body)


def _static_get(runtime: Runtime, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """A GET of a public (no authorizer) path through the gateway emulation: its raw answer."""
    resp = runtime.gateway.handle(HttpRequest("GET", path, "", list(headers.items()), b""))
    return resp.status, {k.lower(): v for k, v in resp.headers}, resp.body


def _console_is_the_same_for_everyone(path: str) -> Callable[[Api, Api, dict[str, str]], None]:
    # The console's static files carry no data: the other tenant gets the very bytes the owner
    # gets, none of which names the owner's objects.
    def attack(other: Api, owner: Api, ids: dict[str, str]) -> None:
        theirs = _static_get(other.runtime, path, {"Authorization": f"Bearer {other.key}"})
        mine = _static_get(owner.runtime, path, {"Authorization": f"Bearer {owner.key}"})
        assert theirs[0] == 200 and theirs[2] == mine[2]
        assert not any(value.encode() in theirs[2] for value in ids.values())

    return attack


CASES: dict[tuple[str, str], Case] = {
    ("GET", "/console"): Case(_console_is_the_same_for_everyone("/console")),
    ("GET", "/console/{asset}"): Case(_console_is_the_same_for_everyone("/console/console.js")),
    ("POST", "/workflows"): Case(_create_workflow),
    ("GET", "/workflows"): Case(_list_workflows),
    ("GET", "/workflows/{workflowId}"): Case(_get_workflow),
    ("PUT", "/workflows/{workflowId}"): Case(_update_workflow),
    ("DELETE", "/workflows/{workflowId}"): Case(_delete_workflow),
    ("POST", "/workflows/{workflowId}/execute"): Case(_execute),
    ("GET", "/executions/{executionId}"): Case(_get_execution),
    ("GET", "/executions"): Case(_list_executions),
    ("POST", "/executions/{executionId}/cancel"): Case(_cancel, _start_running, _running_one_completes),
    ("POST", "/executions/{executionId}/redrive"): Case(_redrive, _start_running, _running_one_completes),
    ("PUT", "/task-types/{name}"): Case(_put_task_type),
    ("GET", "/task-types"): Case(_list_task_types),
    ("GET", "/task-types/{name}"): Case(_get_task_type),
    ("DELETE", "/task-types/{name}"): Case(_delete_task_type),
    ("POST", "/schedules"): Case(_create_schedule),
    ("GET", "/schedules"): Case(_list_schedules),
    ("GET", "/schedules/{scheduleId}"): Case(_get_schedule),
    ("PUT", "/schedules/{scheduleId}"): Case(_update_schedule),
    ("DELETE", "/schedules/{scheduleId}"): Case(_delete_schedule),
    ("POST", "/schedules/{scheduleId}/trigger"): Case(_trigger_schedule),
    ("POST", "/schedules/{scheduleId}/backfill"): Case(_backfill_schedule),
}


def route_id(route: Route) -> str:
    return f"{route.method} {route.path}"


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_another_tenant_cannot_touch_the_owners_objects(api: Api, other_api: Api, route: Route) -> None:
    case = CASES.get((route.method, route.path))
    if case is None:
        pytest.fail(f"no tenant-isolation case for {route.method} {route.path}: add one to CASES")
    # Given the owner's workflows, executions, schedules and task type
    ids = owned(api)
    if case.prepare:
        case.prepare(api, ids)
    before = view(api, ids)
    # When another tenant's key uses the route on them
    case.attack(other_api, api, ids)
    # Then the other tenant got 404s / empty lists (asserted by the case), and the owner's
    # objects, lists and totals are exactly as they were
    assert view(api, ids) == before
    if case.check:
        case.check(api, ids)


def test_every_case_names_a_route_of_the_template() -> None:
    assert set(CASES) == {(r.method, r.path) for r in ROUTES}


def test_a_custom_type_registered_by_one_tenant_does_not_resolve_for_another(
    api: Api, other_api: Api
) -> None:
    # Given the owner registered a custom type
    name = f"private-{uuid.uuid4().hex[:8]}"
    assert api.call("PUT", f"/task-types/{name}", {"functionArn": "orchestration-task-private"})[0] == 200
    # When another tenant runs a workflow of its own that uses that type name
    wf = other_api.call("POST", "/workflows", {"name": "t", "tasks": [{"name": "a", "type": name}]})[2]
    status, _, problem = other_api.call("POST", f"/workflows/{wf['id']}/execute")
    # Then it is unregistered for that tenant: 422 naming it, nothing started
    assert status == 422 and name in problem["detail"]
    assert other_api.call("GET", "/executions")[2]["total"] == 0


# -- no key, a malformed key, an unknown key, a revoked key ------------------------------------------------
def _concrete(route: Route, ids: dict[str, str]) -> str:
    values = {"workflowId": ids["wf"], "executionId": ids["ex"], "scheduleId": ids["sc"], "name": ids["tt"]}
    values["asset"] = "console.js"
    path = route.path
    for param, value in values.items():
        path = path.replace("{" + param + "}", value)
    assert "{" not in path, route
    return path


BODIES: dict[str, Callable[[dict[str, str]], Any]] = {
    "POST /workflows": lambda ids: {"name": "x", "tasks": NOOP_TASKS},
    "PUT /workflows/{workflowId}": lambda ids: {"name": "x"},
    "POST /workflows/{workflowId}/execute": lambda ids: {"parameters": {}},
    "PUT /task-types/{name}": lambda ids: {"functionArn": "orchestration-task-x"},
    "POST /schedules": lambda ids: {"workflowId": ids["wf"], "cronExpression": "@daily"},
    "PUT /schedules/{scheduleId}": lambda ids: {"enabled": False},
}


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_no_route_answers_without_a_valid_key(runtime: Runtime, api: Api, tenant: str, route: Route) -> None:
    # Given the owner's objects (real ids in every path: 401 must come before any lookup),
    # and a key of the owner's tenant that was revoked
    ids = owned(api)
    revoked, key = runtime.key_store().create(tenant, "revoked")
    runtime.key_store().revoke(key.key_id)
    before = view(api, ids)
    path = _concrete(route, ids)
    body = BODIES.get(route_id(route), lambda _ids: None)(ids)
    credentials = {
        "no header": None,
        "empty": "",
        "scheme only": "Bearer",
        "not bearer": f"Basic {api.key}",
        "no scheme": str(api.key),
        "two tokens": f"Bearer {api.key} {api.key}",
        "unknown key": "Bearer orch_" + "x" * 43,
        "revoked key": f"Bearer {revoked}",
    }
    if route.public:
        # The console's static files (Auth: NONE): the same bytes whatever the credentials, no data
        answers = [
            _static_get(runtime, path, {} if h is None else {"Authorization": h})
            for h in credentials.values()
        ]
        assert all(status == 200 and static == answers[0][2] for status, _, static in answers), route
        assert not any(value.encode() in answers[0][2] for value in ids.values())
        assert view(api, ids) == before
        return
    for what, header in credentials.items():
        headers = {} if header is None else {"Authorization": header}
        # When the route is called with it
        status, out_headers, problem = Api(runtime, None).call(route.method, path, body, headers)
        # Then 401 problem+json (never 403, never 404, never the object)
        assert status == 401, (what, status, problem)
        assert out_headers["content-type"] == "application/problem+json", what
        assert out_headers.get("www-authenticate") == "Bearer", what
        assert problem["type"] == "urn:orchestration:problem:unauthorized" and problem["status"] == 401
        assert str(api.key) not in str(problem) and revoked not in str(problem)
    # And nothing changed
    assert view(api, ids) == before


# -- the key is never logged ---------------------------------------------------------------------------------
class RecordEverything(logging.Handler):
    """Keeps each record whole: message, arguments, ``extra`` fields, exception and stack text."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.plain = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        parts = [record.getMessage(), repr(vars(record))]
        if record.exc_info:
            parts.append(self.plain.formatException(record.exc_info))
        if record.stack_info:
            parts.append(record.stack_info)
        self.texts.append("\n".join(parts))


@contextlib.contextmanager
def every_log_record() -> Iterator[RecordEverything]:
    """Every record any logger emits, at DEBUG, whatever the loggers' own handlers and levels."""
    handler = RecordEverything()
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    levels = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        for lg, level in levels:
            lg.removeHandler(handler)
            lg.setLevel(level)


def test_the_api_key_never_appears_in_logs_or_responses(
    runtime: Runtime, tenant: str, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # Given distinctive keys for the tenant (one stays valid, one is revoked)
    canary = f"orch_CANARY{uuid.uuid4().hex}"
    revoked = f"orch_REVOKED{uuid.uuid4().hex}"
    runtime.key_store().add(canary, tenant, "canary")
    runtime.key_store().revoke(runtime.key_store().add(revoked, tenant, "revoked").key_id)
    client = Api(runtime, canary)
    answers: list[Call] = []
    with every_log_record() as logs:
        # When every route is called with it: successes, 404s, 400s and 401s
        ids = owned(client)
        answers.append(client.call("POST", f"/workflows/{ids['wf2']}/execute", {"parameters": {"p": 1}}))
        for route in ROUTES:
            path = _concrete(route, ids)
            if route.public:  # static files: the key is not even read
                assert (
                    canary.encode()
                    not in _static_get(runtime, path, {"Authorization": f"Bearer {canary}"})[2]
                )
                continue
            body = BODIES.get(route_id(route), lambda _ids: None)(ids)
            answers.append(client.call(route.method, path, body))
            answers.append(client.call(route.method, path.replace(ids["wf"], UNKNOWN["wf"]), body))
            answers.append(client.call(route.method, path, raw=b'{"broken": '))
            for header in (f"Bearer {revoked}", f"Bearer {canary} extra", canary, f"Basic {canary}"):
                answers.append(Api(runtime, None).call(route.method, path, body, {"Authorization": header}))
        # ... and when things go wrong inside: the authorizer's read fails, a handler crashes
        real_get = services.table().client.get_item

        def throttled(**kwargs: Any) -> Any:
            if kwargs["Key"]["PK"]["S"].startswith("KEY#"):
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "GetItem")
            return real_get(**kwargs)

        monkeypatch.setitem(vars(services.table().client), "get_item", throttled)
        answers.append(client.call("GET", "/workflows"))
        monkeypatch.undo()

        def crash(*_args: Any) -> None:
            raise RuntimeError("the process died")

        monkeypatch.setitem(vars(services.engine()), "start", crash)
        wf = client.call("POST", "/workflows", {"name": "c", "tasks": NOOP_TASKS})[2]
        answers.append(client.call("POST", f"/workflows/{wf['id']}/execute"))
        monkeypatch.undo()
    captured = capfd.readouterr()
    # Then the key appears in no log record, nothing printed, and no response
    statuses = {a[0] for a in answers}
    assert {200, 201, 202, 400, 401, 404, 500} <= statuses, statuses
    text = "\n".join(logs.texts)
    assert "authorizer failed" in text and "unhandled error" in text, "the capture missed known records"
    for secret in (canary, revoked, canary.removeprefix("orch_"), revoked.removeprefix("orch_")):
        assert secret not in text
        assert secret not in captured.out and secret not in captured.err
        assert all(secret not in str(a[1]) and secret not in str(a[2]) for a in answers)
    # Sanity: the executions this made ended (nothing left running behind the test)
    for eid in (ids["ex"], ids["ex2"], answers[0][2]["executionId"]):
        assert wait_for(client, eid)["status"] in TERMINAL
