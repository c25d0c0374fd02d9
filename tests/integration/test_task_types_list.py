"""GET /task-types lists what a workflow can use: the built-ins (which GET /task-types/{name}
also describes), the deployment's types and the tenant's own registrations, by name."""

from __future__ import annotations

import uuid

from tests.integration.conftest import Api


def test_lists_builtins_and_the_tenants_registrations_by_name(api: Api) -> None:
    mine = f"mine-{uuid.uuid4().hex[:8]}"
    assert api.call("PUT", f"/task-types/{mine}", {"functionArn": "orchestration-task-mine"})[0] == 200
    status, _, listed = api.call("GET", "/task-types")
    assert status == 200
    names = [t["name"] for t in listed["taskTypes"]]
    assert names == sorted(names)
    by_name = {t["name"]: t for t in listed["taskTypes"]}
    assert {"noop", "wait", "http", "lambda", "transform", "fail"} <= set(by_name)
    assert by_name["noop"]["source"] == "builtin" and by_name["noop"]["description"]
    assert (
        by_name[mine]["source"] == "registered" and by_name[mine]["functionArn"] == "orchestration-task-mine"
    )
    # Deleted: no longer listed
    assert api.call("DELETE", f"/task-types/{mine}")[0] == 200
    assert mine not in {t["name"] for t in api.call("GET", "/task-types")[2]["taskTypes"]}


def test_a_builtin_is_described_not_missing(api: Api) -> None:
    status, _, noop = api.call("GET", "/task-types/noop")
    assert status == 200 and noop["source"] == "builtin" and noop["functionArn"] == ""
    assert api.call("DELETE", "/task-types/noop")[0] == 404  # nothing registered to delete
