"""Workflows over real HTTP against `orchestration dev`: the seed's example, bad input, paging,
tenant isolation and restart persistence (SPEC: "Auth and tenancy", "Common rules", "Workflows",
"Embedded runtime")."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from tests.e2e.conftest import DevServer, Tenant

# The seed's curl example, byte for byte as its `-d` argument.
SEED_BODY = """{
    "name": "Data Processing Pipeline",
    "tasks": [
      { "name": "extract", "type": "data-extraction" },
      { "name": "transform", "type": "data-transformation", "dependsOn": ["extract"] },
      { "name": "load", "type": "data-loading", "dependsOn": ["transform"] }
    ]
  }"""

ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")
PROBLEM_JSON = "application/problem+json"
MISSING_ID = "wf_01aaaaaaaaaaaaaaaaaaaaaaaa"
SUMMARY_FIELDS = {"id", "name", "description", "status", "createdAt", "updatedAt"}


# -- helpers ----------------------------------------------------------------------------------------
def media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def describe(response: httpx.Response) -> str:
    return f"{response.request.method} {response.request.url} -> {response.status_code} {response.text[:600]}"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem with the given status, in the shape every endpoint shares."""
    assert response.status_code == status, describe(response)
    assert media_type(response) == PROBLEM_JSON, describe(response)
    body = response.json()
    assert {"type", "title", "status", "detail", "errors"} <= set(body), body
    assert body["status"] == status, body
    assert isinstance(body["type"], str) and body["type"], body
    assert isinstance(body["title"], str) and body["title"], body
    assert isinstance(body["detail"], str), body
    assert isinstance(body["errors"], list), body
    for error in body["errors"]:
        assert isinstance(error.get("field"), str) and isinstance(error.get("message"), str), body
    return body


def error_fields(problem: dict[str, Any]) -> list[str]:
    return [e["field"] for e in problem["errors"]]


def task(name: str, type_: str = "noop", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


def workflow(*tasks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "e2e workflow", "tasks": list(tasks) or [task("a")], **extra}


def create(client: httpx.Client, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post("/workflows", json=body or workflow())
    assert response.status_code == 201, describe(response)
    created: dict[str, Any] = response.json()
    return created


def list_all(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("/workflows", params=params)
    assert response.status_code == 200, describe(response)
    page: dict[str, Any] = response.json()
    return page


def assert_timestamps(body: dict[str, Any]) -> None:
    for name in ("createdAt", "updatedAt"):
        assert ISO_MS_Z.match(body[name]), f"{name}={body[name]!r} is not ISO 8601 UTC with ms and Z"


def rotations(*cycle: str) -> tuple[str, ...]:
    """Every way of naming the cycle a->b->...->a: any start, either direction."""
    names = list(cycle)
    out = []
    for seq in (names, names[::-1]):
        for i in range(len(seq)):
            turn = seq[i:] + seq[:i]
            out.append(" -> ".join([*turn, turn[0]]))
    return tuple(out)


# -- session context: a known workflow, a valid cursor and a revoked key in tenant 'default' ------
@pytest.fixture(scope="session")
def ctx(dev_server: DevServer, api: httpx.Client) -> dict[str, str]:
    first = create(api, workflow(name="context workflow 1"))
    create(api, workflow(name="context workflow 2"))
    page = list_all(api, limit=1)
    assert page["nextToken"], page
    revoked = dev_server.create_key(f"revoked-{secrets.token_hex(6)}", "to be revoked")
    probe = dev_server.client(revoked.api_key).get("/workflows")
    assert probe.status_code == 200, describe(probe)
    assert dev_server.revoke_key(revoked.key_id)["revokedAt"]
    return {
        "wf": first["id"],
        "token": page["nextToken"],
        "key": dev_server.api_key,
        "revoked": revoked.api_key,
    }


@pytest.fixture(scope="session")
def bare(dev_server: DevServer) -> httpx.Client:
    """A client that sends no Authorization header unless a request adds one."""
    return dev_server.client("")


# -- the seed's example, end to end -------------------------------------------------------------------
def test_seed_example_create_get_list_update_delete(api: httpx.Client) -> None:
    total_before = list_all(api)["total"]

    # Given the seed's curl example, sent verbatim
    created_response = api.post("/workflows", content=SEED_BODY, headers={"Content-Type": "application/json"})
    assert created_response.status_code == 201, describe(created_response)
    assert media_type(created_response) == "application/json"
    etag_v1 = created_response.headers.get("etag")
    assert etag_v1, "create must return an ETag"
    created = created_response.json()
    assert set(created) >= SUMMARY_FIELDS, created
    assert URL_SAFE.match(created["id"]), created["id"]
    assert created["name"] == "Data Processing Pipeline"
    assert created["description"] == ""
    assert created["status"] == "draft"
    assert_timestamps(created)
    assert created["createdAt"] == created["updatedAt"]
    wf_id = created["id"]

    got_response = api.get(f"/workflows/{wf_id}")
    assert got_response.status_code == 200, describe(got_response)
    assert got_response.headers.get("etag") == etag_v1
    got = got_response.json()
    assert {k: got[k] for k in SUMMARY_FIELDS} == {k: created[k] for k in SUMMARY_FIELDS}
    assert [(t["name"], t["type"], t["config"], t["dependsOn"], t["status"]) for t in got["tasks"]] == [
        ("extract", "data-extraction", {}, [], "pending"),
        ("transform", "data-transformation", {}, ["extract"], "pending"),
        ("load", "data-loading", {}, ["transform"], "pending"),
    ]
    task_ids = {t["name"]: t["id"] for t in got["tasks"]}
    assert len(set(task_ids.values())) == 3 and all(isinstance(i, str) and i for i in task_ids.values())

    listed = list_all(api)
    assert listed["workflows"][0]["id"] == wf_id, "newest first"
    assert set(listed["workflows"][0]) >= SUMMARY_FIELDS
    assert (listed["total"], listed["limit"], listed["offset"]) == (total_before + 1, 50, 0)

    # When the name is updated: same tasks, same version, new ETag
    renamed = api.put(f"/workflows/{wf_id}", json={"name": "Data Processing Pipeline v2"})
    assert renamed.status_code == 200, describe(renamed)
    etag_renamed = renamed.headers.get("etag")
    assert etag_renamed and etag_renamed != etag_v1
    body = renamed.json()
    assert body["name"] == "Data Processing Pipeline v2"
    assert body["createdAt"] == created["createdAt"]
    assert body["updatedAt"] >= created["updatedAt"]
    assert_timestamps(body)
    assert [t["name"] for t in body["tasks"]] == ["extract", "transform", "load"]
    version = body["version"]

    # When tasks change: version bumps, task ids stay stable per name
    new_tasks = [
        task("extract", "data-extraction"),
        task("transform", "data-transformation", dependsOn=["extract"]),
        task("load", "data-loading", dependsOn=["transform"]),
        task("report", "notify", config={"channel": "#etl"}, dependsOn=["load"]),
    ]
    retasked = api.put(f"/workflows/{wf_id}", json={"tasks": new_tasks})
    assert retasked.status_code == 200, describe(retasked)
    body = retasked.json()
    assert body["version"] == version + 1
    assert body["name"] == "Data Processing Pipeline v2", "omitted fields keep their value"
    assert {t["name"]: t["id"] for t in body["tasks"] if t["name"] in task_ids} == task_ids
    assert body["tasks"][3]["config"] == {"channel": "#etl"} and body["tasks"][3]["status"] == "pending"
    etag_current = retasked.headers.get("etag")

    same = api.put(f"/workflows/{wf_id}", json={"tasks": new_tasks}, headers={"If-Match": etag_current})
    assert same.status_code == 200, describe(same)
    assert same.json()["version"] == version + 1, "unchanged tasks do not bump the version"
    etag_current = same.headers.get("etag")

    stale = api.put(f"/workflows/{wf_id}", json={"name": "lost update"}, headers={"If-Match": etag_v1})
    assert_problem(stale, 412)
    assert api.get(f"/workflows/{wf_id}").json()["name"] == "Data Processing Pipeline v2"

    fresh = api.put(f"/workflows/{wf_id}", json={"status": "active"}, headers={"If-Match": etag_current})
    assert fresh.status_code == 200, describe(fresh)
    assert fresh.json()["status"] == "active"

    deleted = api.delete(f"/workflows/{wf_id}")
    assert deleted.status_code == 200, describe(deleted)
    assert deleted.json() == {"success": True}
    assert_problem(api.delete(f"/workflows/{wf_id}"), 404)
    assert_problem(api.get(f"/workflows/{wf_id}"), 404)
    after = list_all(api)
    assert wf_id not in [w["id"] for w in after["workflows"]]
    assert after["total"] == total_before


def test_delete_with_stale_if_match_is_412_and_keeps_the_workflow(tenant: Tenant) -> None:
    client = tenant.client
    created = client.post("/workflows", json=workflow())
    wf_id, etag = created.json()["id"], created.headers["etag"]
    assert client.put(f"/workflows/{wf_id}", json={"description": "changed"}).status_code == 200
    assert_problem(client.delete(f"/workflows/{wf_id}", headers={"If-Match": etag}), 412)
    assert client.get(f"/workflows/{wf_id}").status_code == 200
    current = client.get(f"/workflows/{wf_id}").headers["etag"]
    assert client.delete(f"/workflows/{wf_id}", headers={"If-Match": current}).status_code == 200


def test_inclusive_limits_are_accepted(tenant: Tenant) -> None:
    body = {
        "name": "n" * 128,
        "description": "d" * 1024,
        "tasks": [
            task("t" * 80, "y" * 64, config={"blob": "x" * (32 * 1024 - 64)}),
            task("b", dependsOn=["t" * 80]),
        ],
    }
    created = tenant.client.post("/workflows", json=body)
    assert created.status_code == 201, describe(created)
    # 500 tasks in one long chain: the cycle check must not recurse or crawl.
    chain = [task("t0")] + [task(f"t{i}", dependsOn=[f"t{i - 1}"]) for i in range(1, 500)]
    created = tenant.client.post("/workflows", json=workflow(*chain))
    assert created.status_code == 201, describe(created)
    got = tenant.client.get(f"/workflows/{created.json()['id']}").json()
    assert len(got["tasks"]) == 500 and got["tasks"][-1]["dependsOn"] == ["t498"]


def test_an_oversize_body_does_not_affect_later_requests(
    tenant: Tenant, new_tenant: Callable[[], Tenant]
) -> None:
    # A valid definition that is simply too large (500 tasks with padded config).
    big = workflow(*[task(f"t{i}", config={"pad": "p" * 600}) for i in range(500)], name="too big")
    assert len(json.dumps(big)) > 256 * 1024
    assert_problem(tenant.client.post("/workflows", json=big), 413)
    other = new_tenant()
    created = create(other.client, workflow(name="small and fine"))
    assert created["name"] == "small and fine"
    assert [w["id"] for w in list_all(other.client)["workflows"]] == [created["id"]]
    assert list_all(tenant.client)["total"] == 0


# -- bad input: exact status, problem+json, field paths -----------------------------------------------
@dataclass(frozen=True)
class Bad:
    method: str
    path: str
    status: int
    json: Any = None  # sent as a JSON body
    raw: str | bytes | None = None  # sent verbatim as the body (Content-Type: application/json)
    params: dict[str, str] | None = None  # values may use {wf} and {token}
    auth: str = "key"  # key | none | basic | bearer-only | unknown | revoked
    fields: tuple[str, ...] = ()  # each must appear among errors[].field
    says: tuple[str, ...] = ()  # one of these must appear in detail or an error message


AUTH: dict[str, Callable[[dict[str, str]], str | None]] = {
    "key": lambda c: f"Bearer {c['key']}",
    "none": lambda c: None,
    "basic": lambda c: "Basic xxx",
    "bearer-only": lambda c: "Bearer",
    "unknown": lambda c: "Bearer orch_" + "x" * 43,
    "revoked": lambda c: f"Bearer {c['revoked']}",
}

W = "/workflows"
ONE = "/workflows/{wf}"
MISSING = f"/workflows/{MISSING_ID}"
CYCLE2 = workflow(task("a", dependsOn=["b"]), task("b", dependsOn=["a"]))
CYCLE3 = workflow(task("a", dependsOn=["b"]), task("b", dependsOn=["c"]), task("c", dependsOn=["a"]))
CYCLE3_TAIL = workflow(
    task("x"), task("a", dependsOn=["x", "c"]), task("b", dependsOn=["a"]), task("c", dependsOn=["b"])
)


def _p(case_id: str, *args: Any, **kwargs: Any) -> Any:
    return pytest.param(Bad(*args, **kwargs), id=case_id)


BAD_INPUTS = [
    # the body as a whole
    _p("malformed-json", "POST", W, 400, raw='{"name": "x", "tasks": [', fields=("body",)),
    _p("trailing-garbage", "POST", W, 400, raw=json.dumps(workflow()) + " trailing"),
    _p(
        "nan-is-not-json",
        "POST",
        W,
        400,
        raw='{"name":"x","tasks":[{"name":"a","type":"t","config":{"n":NaN}}]}',
    ),
    _p("body-array", "POST", W, 400, raw="[]", fields=("body",)),
    _p("body-string", "POST", W, 400, raw='"workflow"', fields=("body",)),
    _p("body-number", "POST", W, 400, raw="42", fields=("body",)),
    _p("body-null", "POST", W, 400, raw="null", fields=("body",)),
    _p("body-empty", "POST", W, 400, raw="", fields=("body",)),
    _p("body-over-256KiB", "POST", W, 413, json=workflow(description="d" * (300 * 1024))),
    # wrong types, strict typing
    _p("name-number", "POST", W, 400, json=workflow(name=5), fields=("name",)),
    _p("tasks-object", "POST", W, 400, json=workflow(tasks={"a": {"type": "noop"}}), fields=("tasks",)),
    _p("task-not-object", "POST", W, 400, json=workflow(tasks=["a"]), fields=("tasks[0]",)),
    _p(
        "dependsOn-string",
        "POST",
        W,
        400,
        json=workflow(task("a"), task("b", dependsOn="a")),
        fields=("tasks[1].dependsOn",),
    ),
    _p(
        "dependsOn-entry-number",
        "POST",
        W,
        400,
        json=workflow(task("a", dependsOn=[1])),
        fields=("tasks[0].dependsOn[0]",),
    ),
    _p("config-list", "POST", W, 400, json=workflow(task("a", config=[1, 2])), fields=("tasks[0].config",)),
    _p("status-bool", "POST", W, 400, json=workflow(status=True), fields=("status",)),
    _p("type-number", "POST", W, 400, json=workflow(task("a", 7)), fields=("tasks[0].type",)),
    _p(
        "strict-maxAttempts-string",
        "POST",
        W,
        400,
        json=workflow(task("a", config={"retry": {"maxAttempts": "5"}})),
        fields=("tasks[0].config.retry.maxAttempts",),
    ),
    _p(
        "strict-timeoutSeconds-string",
        "POST",
        W,
        400,
        json=workflow(task("a", config={"timeoutSeconds": "30"})),
        fields=("tasks[0].config.timeoutSeconds",),
    ),
    # unknown and missing fields
    _p("unknown-top-level-field", "POST", W, 400, json=workflow(owner="me"), fields=("owner",)),
    _p(
        "unknown-task-field",
        "POST",
        W,
        400,
        json=workflow(task("a", retries=3)),
        fields=("tasks[0].retries",),
    ),
    _p("name-missing", "POST", W, 400, json={"tasks": [task("a")]}, fields=("name",)),
    _p("tasks-missing", "POST", W, 400, json={"name": "x"}, fields=("tasks",)),
    # sizes
    _p("name-empty", "POST", W, 400, json=workflow(name=""), fields=("name",)),
    _p("name-129", "POST", W, 400, json=workflow(name="n" * 129), fields=("name",)),
    _p("description-1025", "POST", W, 400, json=workflow(description="d" * 1025), fields=("description",)),
    _p("zero-tasks", "POST", W, 400, json=workflow(tasks=[]), fields=("tasks",)),
    _p(
        "501-tasks",
        "POST",
        W,
        400,
        json=workflow(*[task(f"t{i}") for i in range(501)]),
        fields=("tasks",),
    ),
    _p("task-name-space", "POST", W, 400, json=workflow(task("a"), task("b c")), fields=("tasks[1].name",)),
    _p("task-name-81", "POST", W, 400, json=workflow(task("t" * 81)), fields=("tasks[0].name",)),
    _p("task-name-empty", "POST", W, 400, json=workflow(task("")), fields=("tasks[0].name",)),
    _p("type-empty", "POST", W, 400, json=workflow(task("a", "")), fields=("tasks[0].type",)),
    _p("type-65", "POST", W, 400, json=workflow(task("a", "y" * 65)), fields=("tasks[0].type",)),
    _p(
        "config-over-32KiB",
        "POST",
        W,
        400,
        json=workflow(task("a", config={"blob": "x" * (32 * 1024 + 1)})),
        fields=("tasks[0].config",),
    ),
    # the task graph
    _p(
        "duplicate-task-names",
        "POST",
        W,
        400,
        json=workflow(task("a"), task("a")),
        fields=("tasks[1].name",),
        says=("duplicate",),
    ),
    _p(
        "self-dependency",
        "POST",
        W,
        400,
        json=workflow(task("a", dependsOn=["a"])),
        fields=("tasks[0].dependsOn[0]",),
    ),
    _p(
        "dangling-dependsOn",
        "POST",
        W,
        400,
        json=workflow(task("a"), task("b", dependsOn=["ghost"])),
        fields=("tasks[1].dependsOn[0]",),
        says=("ghost",),
    ),
    _p(
        "duplicate-dependsOn-entry",
        "POST",
        W,
        400,
        json=workflow(task("a"), task("b"), task("c", dependsOn=["a", "b", "a"])),
        fields=("tasks[2].dependsOn[2]",),
    ),
    _p("cycle-of-2", "POST", W, 400, json=CYCLE2, says=rotations("a", "b")),
    _p("cycle-of-3", "POST", W, 400, json=CYCLE3, says=rotations("a", "b", "c")),
    _p("cycle-of-3-behind-a-root", "POST", W, 400, json=CYCLE3_TAIL, says=rotations("a", "c", "b")),
    # enums
    _p("status-invalid", "POST", W, 400, json=workflow(status="archived"), fields=("status",)),
    # per-task options in config
    _p(
        "retry-maxAttempts-11",
        "POST",
        W,
        400,
        json=workflow(task("a", config={"retry": {"maxAttempts": 11}})),
        fields=("tasks[0].config.retry.maxAttempts",),
    ),
    _p(
        "retry-maxAttempts-negative-second-task",
        "POST",
        W,
        400,
        json=workflow(task("a"), task("b", config={"retry": {"maxAttempts": -1}})),
        fields=("tasks[1].config.retry.maxAttempts",),
    ),
    _p(
        "retry-not-object",
        "POST",
        W,
        400,
        json=workflow(task("a", config={"retry": 3})),
        fields=("tasks[0].config.retry",),
    ),
    _p(
        "timeoutSeconds-0",
        "POST",
        W,
        400,
        json=workflow(task("a", config={"timeoutSeconds": 0})),
        fields=("tasks[0].config.timeoutSeconds",),
    ),
    # list query
    _p("limit-0", "GET", W, 400, params={"limit": "0"}, fields=("limit",)),
    _p("limit-101", "GET", W, 400, params={"limit": "101"}, fields=("limit",)),
    _p("limit-negative", "GET", W, 400, params={"limit": "-1"}, fields=("limit",)),
    _p("limit-abc", "GET", W, 400, params={"limit": "abc"}, fields=("limit",)),
    _p("limit-1.5", "GET", W, 400, params={"limit": "1.5"}, fields=("limit",)),
    _p("limit-empty", "GET", W, 400, params={"limit": ""}, fields=("limit",)),
    _p("offset-negative", "GET", W, 400, params={"offset": "-1"}, fields=("offset",)),
    _p("offset-x", "GET", W, 400, params={"offset": "x"}, fields=("offset",)),
    _p("offset-and-nextToken", "GET", W, 400, params={"offset": "1", "nextToken": "{token}"}),
    _p("nextToken-garbage", "GET", W, 400, params={"nextToken": "not-a-token!!"}, fields=("nextToken",)),
    _p(
        "nextToken-forged",
        "GET",
        W,
        400,
        params={"nextToken": "eyJvIjotMSwiayI6IngifQ"},
        fields=("nextToken",),
    ),
    _p("list-status-bogus", "GET", W, 400, params={"status": "bogus"}, fields=("status",)),
    # update
    _p("put-unknown-field", "PUT", ONE, 400, json={"owner": "me"}, fields=("owner",)),
    _p("put-name-empty", "PUT", ONE, 400, json={"name": ""}, fields=("name",)),
    _p("put-name-number", "PUT", ONE, 400, json={"name": 5}, fields=("name",)),
    _p("put-zero-tasks", "PUT", ONE, 400, json={"tasks": []}, fields=("tasks",)),
    _p("put-status-invalid", "PUT", ONE, 400, json={"status": "paused"}, fields=("status",)),
    _p(
        "put-dangling-dependsOn",
        "PUT",
        ONE,
        400,
        json={"tasks": [task("a"), task("b", dependsOn=["ghost"])]},
        fields=("tasks[1].dependsOn[0]",),
    ),
    _p("put-cycle", "PUT", ONE, 400, json={"tasks": CYCLE2["tasks"]}, says=rotations("a", "b")),
    _p("put-malformed-json", "PUT", ONE, 400, raw="{"),
    _p("put-body-array", "PUT", ONE, 400, raw="[]"),
    _p("put-body-empty", "PUT", ONE, 400, raw=""),
    _p("put-body-over-256KiB", "PUT", ONE, 413, json={"description": "d" * (300 * 1024)}),
    # authentication: 401 for every bad key, before anything else is looked at
    _p("no-authorization", "GET", W, 401, auth="none"),
    _p("basic-authorization", "GET", W, 401, auth="basic"),
    _p("bearer-without-key", "GET", W, 401, auth="bearer-only"),
    _p("unknown-key", "GET", W, 401, auth="unknown"),
    _p("revoked-key", "GET", W, 401, auth="revoked"),
    _p("revoked-key-create", "POST", W, 401, json=workflow(), auth="revoked"),
    _p("no-key-bad-body", "POST", W, 401, raw="{", auth="none"),
    _p("unknown-key-existing-id", "GET", ONE, 401, auth="unknown"),
    # unknown things
    _p("unknown-route", "GET", "/nope", 404),
    _p("unknown-nested-route", "GET", "/workflows/{wf}/nope", 404),
    _p("unknown-workflow-get", "GET", MISSING, 404),
    _p("unknown-workflow-put", "PUT", MISSING, 404, json={"name": "x"}),
    _p("unknown-workflow-delete", "DELETE", MISSING, 404),
    _p("unknown-workflow-get-without-key", "GET", MISSING, 401, auth="none"),
    _p("unknown-workflow-put-without-key", "PUT", MISSING, 401, json={"name": "x"}, auth="none"),
    _p("unknown-workflow-delete-without-key", "DELETE", MISSING, 401, auth="none"),
    _p("unknown-workflow-get-revoked-key", "GET", MISSING, 401, auth="revoked"),
]


def send_bad(client: httpx.Client, case: Bad, ctx: dict[str, str]) -> httpx.Response:
    headers: dict[str, str] = {}
    authorization = AUTH[case.auth](ctx)
    if authorization is not None:
        headers["Authorization"] = authorization
    content: bytes | None = None
    if case.json is not None:
        content = json.dumps(case.json).encode()
    elif case.raw is not None:
        content = case.raw.encode() if isinstance(case.raw, str) else case.raw
    if content is not None:
        headers["Content-Type"] = "application/json"
    params = {k: v.format(**ctx) for k, v in case.params.items()} if case.params else None
    return client.request(
        case.method, case.path.format(**ctx), content=content, headers=headers, params=params
    )


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_an_exact_problem(bare: httpx.Client, ctx: dict[str, str], case: Bad) -> None:
    response = send_bad(bare, case, ctx)
    assert response.status_code < 500, describe(response)
    problem = assert_problem(response, case.status)
    if case.status == 400:
        assert problem["errors"], f"a 400 names what is wrong: {problem}"
    for expected in case.fields:
        assert expected in error_fields(problem), f"expected errors[].field {expected!r} in {problem}"
    if case.says:
        text = " ".join([problem["detail"], *(e["message"] for e in problem["errors"])])
        assert any(s in text for s in case.says), f"expected one of {case.says} in {problem}"


def test_bad_input_table_is_large_enough() -> None:
    assert len(BAD_INPUTS) >= 30


# -- hostile requests: whatever the verdict, never a 5xx -------------------------------------------
@dataclass(frozen=True)
class Hostile:
    method: str
    path: str
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    params: dict[str, Any] | None = None
    must_reject: bool = True  # False: accepting it is fine too, as long as it is not a 5xx


_VALID = json.dumps(workflow(name="hostile")).encode()


def _h(case_id: str, *args: Any, **kwargs: Any) -> Any:
    return pytest.param(Hostile(*args, **kwargs), id=case_id)


def _deep_config(depth: int) -> bytes:
    return (
        b'{"name":"deep","tasks":[{"name":"a","type":"t","config":{"x":'
        + b"[" * depth
        + b"]" * depth
        + b"}}]}"
    )


HOSTILE = [
    _h("content-type-text-plain", "POST", W, _VALID, {"Content-Type": "text/plain"}, must_reject=False),
    _h(
        "content-type-form",
        "POST",
        W,
        _VALID,
        {"Content-Type": "application/x-www-form-urlencoded"},
        must_reject=False,
    ),
    _h(
        "content-type-multipart",
        "POST",
        W,
        _VALID,
        {"Content-Type": "multipart/form-data; boundary=x"},
        must_reject=False,
    ),
    _h("no-content-type", "POST", W, _VALID, {}, must_reject=False),
    _h("invalid-utf8", "POST", W, b'{"name":"\xff\xfe","tasks":[{"name":"a","type":"t"}]}'),
    _h("utf16-body", "POST", W, json.dumps(workflow()).encode("utf-16"), must_reject=False),
    _h("bom-prefixed-body", "POST", W, b"\xef\xbb\xbf" + _VALID, must_reject=False),
    _h("deeply-nested-body", "POST", W, b"[" * 50_000 + b"]" * 50_000),
    _h("deeply-nested-config", "POST", W, _deep_config(3000), must_reject=False),
    _h(
        "huge-integer-in-config",
        "POST",
        W,
        b'{"name":"x","tasks":[{"name":"a","type":"t","config":{"n":1' + b"0" * 5000 + b"}}]}",
        must_reject=False,
    ),
    _h(
        "huge-integer-maxAttempts",
        "POST",
        W,
        b'{"name":"x","tasks":[{"name":"a","type":"t","config":{"retry":{"maxAttempts":1'
        + b"0" * 5000
        + b"}}}]}",
    ),
    _h(
        "huge-float-maxAttempts",
        "POST",
        W,
        b'{"name":"x","tasks":[{"name":"a","type":"t","config":{"retry":{"maxAttempts":1e400}}}]}',
    ),
    _h(
        "lone-surrogate",
        "POST",
        W,
        b'{"name":"\\ud800","tasks":[{"name":"a","type":"t"}]}',
        must_reject=False,
    ),
    _h(
        "duplicate-json-keys",
        "POST",
        W,
        b'{"name":"a","name":"b","tasks":[{"name":"a","type":"t"}]}',
        must_reject=False,
    ),
    _h("nul-in-id", "GET", "/workflows/%00", None, {}),
    _h("very-long-id", "GET", "/workflows/" + "a" * 4000, None, {}),
    _h("very-long-authorization", "GET", W, None, {"Authorization": "Bearer " + "a" * 8000}),
    _h("two-token-bearer", "GET", W, None, {"Authorization": "Bearer orch_a orch_b"}),
    _h("limit-repeated", "GET", W, None, {}, params={"limit": ["1", "500"]}),
    _h("limit-huge-integer", "GET", W, None, {}, params={"limit": "1" + "0" * 30}),
    _h("offset-huge-integer", "GET", W, None, {}, params={"offset": "1" + "0" * 30}, must_reject=False),
    _h("nextToken-very-long", "GET", W, None, {}, params={"nextToken": "a" * 5000}),
    _h(
        "if-match-garbage",
        "PUT",
        ONE,
        b'{"name":"x"}',
        {"Content-Type": "application/json", "If-Match": "garbage"},
    ),
    _h("put-null-name", "PUT", ONE, b'{"name":null}', must_reject=False),
    _h("delete-with-body", "DELETE", MISSING, b"{", {"Content-Type": "application/json"}),
]


def send_hostile(client: httpx.Client, case: Hostile, ctx: dict[str, str]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {ctx['key']}", **case.headers}
    return client.request(
        case.method, case.path.format(**ctx), content=case.content, headers=headers, params=case.params
    )


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_request_never_yields_a_5xx(
    bare: httpx.Client, ctx: dict[str, str], dev_server: DevServer, case: Hostile
) -> None:
    response = send_hostile(bare, case, ctx)
    assert response.status_code < 500, f"{describe(response)}\n{dev_server.log_tail(3000)}"
    if case.must_reject or response.status_code >= 400:
        assert 400 <= response.status_code < 500, describe(response)
        assert_problem(response, response.status_code)
    elif response.status_code == 201:
        # Accepted: it must then read back without a 5xx too.
        got = bare.get(
            f"/workflows/{response.json()['id']}", headers={"Authorization": f"Bearer {ctx['key']}"}
        )
        assert got.status_code == 200, f"{describe(got)}\n{dev_server.log_tail(3000)}"


def test_no_bad_or_hostile_request_yields_a_5xx(
    bare: httpx.Client, ctx: dict[str, str], dev_server: DevServer
) -> None:
    failures = []
    for param in BAD_INPUTS:
        response = send_bad(bare, param.values[0], ctx)
        if response.status_code >= 500:
            failures.append(f"[{param.id}] {describe(response)}")
    for param in HOSTILE:
        response = send_hostile(bare, param.values[0], ctx)
        if response.status_code >= 500:
            failures.append(f"[{param.id}] {describe(response)}")
    assert not failures, "\n".join(failures) + "\n" + dev_server.log_tail(2000)


# -- pagination -----------------------------------------------------------------------------------
def _seven(client: httpx.Client) -> list[str]:
    """Creates 7 workflows; their ids newest first."""
    return [create(client, workflow(name=f"paged {i}"))["id"] for i in range(7)][::-1]


def test_pagination_by_offset_and_by_token(tenant: Tenant) -> None:
    client = tenant.client
    newest_first = _seven(client)

    by_offset: list[str] = []
    for offset, size in ((0, 3), (3, 3), (6, 1)):
        page = list_all(client, limit=3, offset=offset)
        assert (page["total"], page["limit"], page["offset"]) == (7, 3, offset), page
        assert len(page["workflows"]) == size
        by_offset += [w["id"] for w in page["workflows"]]
    assert by_offset == newest_first

    by_token: list[str] = []
    offsets = []
    page = list_all(client, limit=3)
    while True:
        assert page["total"] == 7 and page["limit"] == 3, page
        offsets.append(page["offset"])
        by_token += [w["id"] for w in page["workflows"]]
        if not page.get("nextToken"):
            break
        assert len(offsets) < 5, "the cursor does not terminate"
        page = list_all(client, limit=3, nextToken=page["nextToken"])
    assert by_token == newest_first, "no duplicates, no gaps, newest first"
    assert offsets == [0, 3, 6]

    past_the_end = list_all(client, limit=3, offset=7)
    assert past_the_end["workflows"] == [] and past_the_end["total"] == 7
    everything = list_all(client, limit=100)
    assert [w["id"] for w in everything["workflows"]] == newest_first and everything["limit"] == 100
    assert everything.get("nextToken") is None


def test_status_filter_totals_follow_updates(tenant: Tenant) -> None:
    client = tenant.client
    newest_first = _seven(client)
    for wf_id, status in zip(newest_first[:3], ("active", "inactive", "active"), strict=True):
        response = client.put(f"/workflows/{wf_id}", json={"status": status})
        assert response.status_code == 200, describe(response)
        assert response.json()["status"] == status

    expected = {
        "draft": newest_first[3:],
        "active": [newest_first[0], newest_first[2]],
        "inactive": [newest_first[1]],
    }
    for status, ids in expected.items():
        page = list_all(client, status=status)
        assert page["total"] == len(ids), (status, page)
        assert [w["id"] for w in page["workflows"]] == ids, status
        assert all(w["status"] == status for w in page["workflows"])

    seen: list[str] = []
    page = list_all(client, status="draft", limit=3)
    seen += [w["id"] for w in page["workflows"]]
    assert page["nextToken"] and page["total"] == 4
    page = list_all(client, status="draft", limit=3, nextToken=page["nextToken"])
    seen += [w["id"] for w in page["workflows"]]
    assert seen == expected["draft"] and page["total"] == 4 and not page.get("nextToken")
    assert list_all(client)["total"] == 7

    # Deleting and moving back to draft keep every total exact.
    assert client.delete(f"/workflows/{newest_first[1]}").status_code == 200
    assert client.put(f"/workflows/{newest_first[0]}", json={"status": "draft"}).status_code == 200
    totals = {s: list_all(client, status=s)["total"] for s in ("draft", "active", "inactive")}
    assert totals == {"draft": 5, "active": 1, "inactive": 0}
    assert list_all(client)["total"] == 6


# -- tenant isolation -----------------------------------------------------------------------------
def test_another_tenant_sees_nothing(new_tenant: Callable[[], Tenant]) -> None:
    owner, stranger = new_tenant(), new_tenant()
    created = create(owner.client, workflow(name="private", status="active"))
    create(owner.client, workflow(name="private 2"))
    wf_id = created["id"]

    assert_problem(stranger.client.get(f"/workflows/{wf_id}"), 404)
    assert_problem(stranger.client.put(f"/workflows/{wf_id}", json={"name": "hijacked"}), 404)
    assert_problem(
        stranger.client.put(f"/workflows/{wf_id}", json={"name": "x"}, headers={"If-Match": "*"}), 404
    )
    assert_problem(stranger.client.delete(f"/workflows/{wf_id}"), 404)
    for params in ({}, {"status": "active"}, {"status": "draft"}):
        page = list_all(stranger.client, **params)
        assert page["workflows"] == [] and page["total"] == 0, (params, page)

    # The owner's cursor, replayed by the stranger, stays inside the stranger's (empty) list.
    token = list_all(owner.client, limit=1)["nextToken"]
    replayed = stranger.client.get("/workflows", params={"limit": 1, "nextToken": token})
    assert replayed.status_code < 500, describe(replayed)
    if replayed.status_code == 200:
        assert replayed.json()["workflows"] == [] and replayed.json()["total"] == 0

    got = owner.client.get(f"/workflows/{wf_id}")
    assert got.status_code == 200 and got.json()["name"] == "private"
    assert got.json()["updatedAt"] == created["updatedAt"], "the stranger's attempts changed nothing"
    assert list_all(owner.client)["total"] == 2


def test_concurrent_requests_of_many_tenants_stay_apart(new_tenant: Callable[[], Tenant]) -> None:
    tenants = [new_tenant() for _ in range(4)]
    jobs = [(t, f"{t.id} #{i}") for i in range(6) for t in tenants]

    def make(job: tuple[Tenant, str]) -> tuple[str, int, str]:
        tenant, name = job
        response = tenant.client.post("/workflows", json=workflow(name=name))
        return tenant.id, response.status_code, response.json().get("name", "")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(make, jobs))
    assert all(status == 201 for _, status, _ in results), results
    assert all(name.startswith(tenant_id) for tenant_id, _, name in results), results
    for t in tenants:
        page = list_all(t.client)
        assert page["total"] == 6, (t.id, page)
        assert sorted(w["name"] for w in page["workflows"]) == sorted(f"{t.id} #{i}" for i in range(6))


# -- keys CLI -----------------------------------------------------------------------------------------
def test_keys_cli_create_list_revoke(dev_server: DevServer, tenant: Tenant) -> None:
    listed = dev_server.list_keys(tenant.id)
    assert [(k["keyId"], k["tenantId"], k["revokedAt"]) for k in listed] == [
        (tenant.key.key_id, tenant.id, None)
    ]
    assert all("apiKey" not in k and tenant.key.api_key not in json.dumps(k) for k in listed)
    assert tenant.client.get("/workflows").status_code == 200
    revoked = dev_server.revoke_key(tenant.key.key_id)
    assert revoked["keyId"] == tenant.key.key_id and ISO_MS_Z.match(revoked["revokedAt"])
    assert_problem(tenant.client.get("/workflows"), 401)
    assert dev_server.list_keys(tenant.id)[0]["revokedAt"] == revoked["revokedAt"]


# -- restart persistence ------------------------------------------------------------------------------
def test_data_survives_a_restart(start_server: Callable[..., DevServer], tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    api_key = "orch_" + secrets.token_urlsafe(32)

    first = start_server(data_dir, "--api-key", api_key)
    assert first.api_key == api_key
    client = first.client()
    created = create(client, json.loads(SEED_BODY))
    before = client.get(f"/workflows/{created['id']}").json()
    extra = first.create_key("restart-tenant", "survives restarts")
    doomed = first.create_key("restart-tenant", "revoked before restart")
    first.revoke_key(doomed.key_id)
    first.assert_clean_stop()

    second = start_server(data_dir, "--api-key", api_key)
    assert second.api_key == api_key
    client = second.client()
    got = client.get(f"/workflows/{created['id']}")
    assert got.status_code == 200, describe(got)
    assert got.json() == before
    page = list_all(client)
    assert [w["id"] for w in page["workflows"]] == [created["id"]] and page["total"] == 1
    assert second.client(extra.api_key).get("/workflows").json()["total"] == 0
    assert_problem(second.client(doomed.api_key).get("/workflows"), 401)
    second.assert_clean_stop()
