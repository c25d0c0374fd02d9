"""PUT /task-types/{name} names only a function this deployment may invoke (its account and
region, the stack's task function prefix), and a registration belongs to its tenant alone: never
listed, described, resolved or run for another tenant's workflows."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from orchestration_local import aws
from orchestration_local.lambdas import ACCOUNT, REGION
from tests.integration.conftest import Api, run

ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function"


def _name() -> str:
    return f"tt-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize(
    "function",
    [
        "orchestration-task-x",
        "orchestration-task-x:live",
        f"{ACCOUNT}:function:orchestration-task-x",
        f"{ARN}:orchestration-task-x",
        f"{ARN}:orchestration-task-x:$LATEST",
    ],
)
def test_a_function_of_this_deployment_registers(api: Api, function: str) -> None:
    name = _name()
    status, _, body = api.call("PUT", f"/task-types/{name}", {"functionArn": function})
    assert status == 200 and body["functionArn"] == function, body
    assert api.call("GET", f"/task-types/{name}")[2]["functionArn"] == function


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("my-function", "does not start with this deployment's task function prefix 'orchestration-task-'"),
        (f"{ARN}:payroll", "does not start with this deployment's task function prefix"),
        (f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:orchestration-task-x", "region eu-west-1"),
        (f"arn:aws:lambda:{REGION}:999999999999:function:orchestration-task-x", "account 999999999999"),
        ("999999999999:function:orchestration-task-x", "account 999999999999"),
        (f"arn:aws-cn:lambda:{REGION}:{ACCOUNT}:function:orchestration-task-x", "partition 'aws-cn'"),
        (f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:orchestration-task-x", "not a Lambda function ARN"),
        ("orchestration-task-a.b", "not a Lambda function name"),
    ],
)
def test_any_other_function_is_a_400_on_function_arn(api: Api, function: str, message: str) -> None:
    # When a tenant registers a function of another account, region or name
    name = _name()
    status, headers, problem = api.call("PUT", f"/task-types/{name}", {"functionArn": function})
    # Then 400 problem+json naming the field and why, and nothing is registered
    assert status == 400 and headers["content-type"] == "application/problem+json", problem
    assert problem["type"] == "urn:orchestration:problem:validation-error"
    [error] = problem["errors"]
    assert error["field"] == "functionArn" and message in error["message"], error
    assert api.call("GET", f"/task-types/{name}")[0] == 404


def test_re_pointing_a_registration_elsewhere_keeps_the_old_function(api: Api) -> None:
    name = _name()
    assert api.call("PUT", f"/task-types/{name}", {"functionArn": "orchestration-task-a"})[0] == 200
    other = f"arn:aws:lambda:{REGION}:999999999999:function:orchestration-task-a"
    assert api.call("PUT", f"/task-types/{name}", {"functionArn": other})[0] == 400
    assert api.call("GET", f"/task-types/{name}")[2]["functionArn"] == "orchestration-task-a"


# -- one tenant's registration is never another's ------------------------------------------------------
def _tenant_function(label: str, calls: list[str]) -> str:
    """A local task function that says whose it is (and counts its calls)."""
    function = f"orchestration-task-{label}-{uuid.uuid4().hex[:8]}"

    def handler(event: dict[str, Any]) -> dict[str, Any]:
        calls.append(label)
        return {"ranFor": label}

    aws.register_lambda(function, handler)
    aws.create_lambda_functions([function])
    return function


def _workflow(api: Api, task_type: str) -> str:
    status, _, wf = api.call("POST", "/workflows", {"name": "t", "tasks": [{"name": "a", "type": task_type}]})
    assert status == 201, wf
    return str(wf["id"])


def test_a_registration_is_not_listed_described_or_run_for_another_tenant(api: Api, other_api: Api) -> None:
    # Given tenant A registered a type
    name, calls = _name(), list[str]()
    function = _tenant_function("a", calls)
    assert api.call("PUT", f"/task-types/{name}", {"functionArn": f"{ARN}:{function}"})[0] == 200
    # Then tenant B neither lists nor reads it
    assert name not in {t["name"] for t in other_api.call("GET", "/task-types")[2]["taskTypes"]}
    assert other_api.call("GET", f"/task-types/{name}")[0] == 404
    # and B's workflow that uses the name (a draft may name unregistered types) cannot run:
    # 422 naming the type, at execute after create and after an update alike; nothing starts
    wid = _workflow(other_api, name)
    status, _, problem = other_api.call("POST", f"/workflows/{wid}/execute")
    assert status == 422 and name in problem["detail"], problem
    tasks = [{"name": "a", "type": "noop"}, {"name": "b", "type": name, "dependsOn": ["a"]}]
    assert other_api.call("PUT", f"/workflows/{wid}", {"tasks": tasks})[0] == 200
    status, _, problem = other_api.call("POST", f"/workflows/{wid}/execute")
    assert status == 422 and name in problem["detail"], problem
    assert other_api.call("GET", "/executions")[2]["total"] == 0
    # while A's own workflow runs A's function
    ended = run(api, [{"name": "a", "type": name}])
    assert ended["status"] == "completed" and ended["tasks"][0]["result"] == {"ranFor": "a"}
    assert calls == ["a"]


def test_two_tenants_registering_one_name_each_run_their_own_function(api: Api, other_api: Api) -> None:
    # Given tenants A and B each registered the same type name to a function of their own
    name, calls = _name(), list[str]()
    mine, theirs = _tenant_function("a", calls), _tenant_function("b", calls)
    assert api.call("PUT", f"/task-types/{name}", {"functionArn": mine})[0] == 200
    assert other_api.call("PUT", f"/task-types/{name}", {"functionArn": f"{ARN}:{theirs}"})[0] == 200
    # Then each lists and reads its own
    for client, function in ((api, mine), (other_api, f"{ARN}:{theirs}")):
        listed = {t["name"]: t for t in client.call("GET", "/task-types")[2]["taskTypes"]}
        assert listed[name]["functionArn"] == function and listed[name]["source"] == "registered"
    # When each runs a workflow with the same tasks, each runs its own function only
    tasks = [{"name": "a", "type": name}]
    assert run(api, tasks)["tasks"][0]["result"] == {"ranFor": "a"}
    assert run(other_api, tasks)["tasks"][0]["result"] == {"ranFor": "b"}
    assert calls == ["a", "b"]
    # and once A deletes its registration, A's workflows cannot run it, B's still do
    assert api.call("DELETE", f"/task-types/{name}")[0] == 200
    status, _, problem = api.call("POST", f"/workflows/{_workflow(api, name)}/execute")
    assert status == 422 and name in problem["detail"], problem
    assert run(other_api, tasks)["tasks"][0]["result"] == {"ranFor": "b"}
    assert calls == ["a", "b", "b"]
