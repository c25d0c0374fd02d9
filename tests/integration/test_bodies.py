"""Every route that takes a body requires a JSON object whose numbers fit a double (SPEC, Durability).

Powertools reads an array body as its first element and json.loads reads 1e999 as inf (stored
as null); the shared resolver refuses both before any handler runs: 400 problem+json with the
field path ``body``, never a 5xx, nothing stored.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.conftest import Api

NOOP = [{"name": "a", "type": "noop"}, {"name": "b", "type": "noop", "dependsOn": ["a"]}]
OVERFLOW = "does not fit a double"


def _ids(api: Api) -> dict[str, str]:
    status, _, wf = api.call("POST", "/workflows", {"name": "bodies", "tasks": NOOP})
    assert status == 201, wf
    status, _, sc = api.call("POST", "/schedules", {"workflowId": wf["id"], "cronExpression": "@daily"})
    assert status == 201, sc
    return {"wf": wf["id"], "sc": sc["id"], "tt": f"tt-{uuid.uuid4().hex[:8]}"}


# Each body route with a valid body for it (the hostile bodies are built from these).
ROUTES: dict[str, tuple[str, Callable[[dict[str, str]], str], Callable[[dict[str, str]], dict[str, Any]]]] = {
    "POST /workflows": ("POST", lambda _: "/workflows", lambda _: {"name": "x", "tasks": NOOP}),
    "PUT /workflows/{id}": ("PUT", lambda i: f"/workflows/{i['wf']}", lambda _: {"description": "d"}),
    "POST /workflows/{id}/execute": (
        "POST",
        lambda i: f"/workflows/{i['wf']}/execute",
        lambda _: {"parameters": {"rows": 3}},
    ),
    "POST /schedules": (
        "POST",
        lambda _: "/schedules",
        lambda i: {"workflowId": i["wf"], "cronExpression": "*/5 * * * *"},
    ),
    "PUT /schedules/{id}": (
        "PUT",
        lambda i: f"/schedules/{i['sc']}",
        lambda _: {"cronExpression": "@hourly"},
    ),
    "PUT /task-types/{name}": (
        "PUT",
        lambda i: f"/task-types/{i['tt']}",
        lambda _: {"functionArn": "orchestration-task-x"},
    ),
}

# name -> (the body from the route's valid one, what the error message says it is)
NOT_OBJECTS: dict[str, tuple[Callable[[dict[str, Any]], str], str]] = {
    "array-of-a-valid-body": (lambda valid: json.dumps([valid]), "an array"),
    "empty-array": (lambda _: "[]", "an array"),
    "string": (lambda _: '"hello"', "a string"),
    "number": (lambda _: "42", "a number"),
    "boolean": (lambda _: "true", "a boolean"),
    "null": (lambda _: "null", "null"),
}


def _with(valid: dict[str, Any], raw_value: str) -> str:
    """The valid body plus an extra member holding `raw_value` verbatim (e.g. 1e999)."""
    return json.dumps(valid)[:-1] + f', "extra": {raw_value}}}'


OVERFLOWS = {
    "top-level-1e999": lambda _: "1e999",
    "top-level-minus-1e999": lambda _: "-1e999",
    "nested-in-object": lambda valid: _with(valid, '{"deep": {"n": 1e999}}'),
    "nested-in-array": lambda valid: _with(valid, "[1, [2, -1e999]]"),
    "nested-huge-integer": lambda valid: _with(valid, "[1" + "0" * 400 + "]"),
    "a-member": lambda valid: _with(valid, "1e999"),
    "a-float-that-overflows": lambda valid: _with(valid, "2e308"),
}


def _expect_400(api: Api, method: str, path: str, raw: str, message: str) -> None:
    status, headers, problem = api.call(method, path, raw=raw.encode())
    assert status == 400, (raw[:200], status, problem)
    assert headers["content-type"] == "application/problem+json"
    assert problem["status"] == 400 and problem["type"].endswith("validation-error")
    assert [e["field"] for e in problem["errors"]] == ["body"], problem
    assert message in problem["errors"][0]["message"], problem


@pytest.mark.parametrize("route", ROUTES)
def test_a_body_that_is_not_an_object_is_400_on_every_body_route(api: Api, route: str) -> None:
    method, path, valid = ROUTES[route]
    ids = _ids(api)
    for make, what in NOT_OBJECTS.values():
        _expect_400(api, method, path(ids), make(valid(ids)), f"must be a JSON object, not {what}")
    _nothing_changed(api, ids)


@pytest.mark.parametrize("route", ROUTES)
def test_a_number_that_does_not_fit_a_double_is_400_on_every_body_route(api: Api, route: str) -> None:
    method, path, valid = ROUTES[route]
    ids = _ids(api)
    for make in OVERFLOWS.values():
        _expect_400(api, method, path(ids), make(valid(ids)), OVERFLOW)
    _nothing_changed(api, ids)


def test_the_valid_bodies_are_accepted(api: Api) -> None:
    """The control: the same routes with the valid bodies (so the 400s above are the body's doing)."""
    ids = _ids(api)
    for route, (method, path, valid) in ROUTES.items():
        status, _, body = api.call(method, path(ids), valid(ids))
        assert status in {200, 201, 202}, (route, status, body)


def test_numbers_that_fit_a_double_are_kept(api: Api) -> None:
    params = {"big": 1.7976931348623157e308, "small": -1e-300, "int": 2**53, "neg": -(10**300)}
    status, _, wf = api.call(
        "POST", "/workflows", {"name": "n", "tasks": [{"name": "a", "type": "noop", "config": params}]}
    )
    assert status == 201, wf
    status, _, got = api.call("GET", f"/workflows/{wf['id']}")
    assert status == 200, got
    config = got["tasks"][0]["config"]
    assert config["big"] == 1.7976931348623157e308 and config["small"] == -1e-300
    assert config["int"] == 2**53


def _nothing_changed(api: Api, ids: dict[str, str]) -> None:
    status, _, listed = api.call("GET", "/workflows")
    assert status == 200 and listed["total"] == 1, listed
    status, _, wf = api.call("GET", f"/workflows/{ids['wf']}")
    assert status == 200 and wf["version"] == 1 and wf["description"] == "", wf
    status, _, executions = api.call("GET", "/executions")
    assert status == 200 and executions["total"] == 0, executions
    status, _, schedules = api.call("GET", "/schedules")
    assert status == 200 and schedules["total"] == 1, schedules
    status, _, sc = api.call("GET", f"/schedules/{ids['sc']}")
    assert status == 200 and sc["cronExpression"] == "@daily", sc
    assert api.call("GET", f"/task-types/{ids['tt']}")[0] == 404
