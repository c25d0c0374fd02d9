"""template.yaml's IAM policies against the AWS calls the functions really make.

Every boto3 call made while the scenario below drives the handlers (through the API Gateway
emulation, the task runner and the state machines on moto, as deployed) is recorded with the
function that made it: a botocore hook on the client call, attributed by a thread-local set
around each handler invocation. Calls made by moto's Step Functions interpreter itself (outside
any handler) are the state machines' own, made as StateMachineRole. Each call is turned into
the IAM actions and resource ARNs AWS authorizes it by (a transaction is authorized item by
item; CreateStateMachine also passes the role), and then:

- every call is allowed by the calling function's statements in template.yaml;
- every (action, resource) a statement grants is needed by some recorded call, except the few
  listed in ``HARD_TO_TRIGGER`` with the reason;
- a wildcard appears only where names are made at run time (this stack's state machines and
  executions, the task functions' prefix), and ``Resource: "*"`` only for the actions AWS
  offers no resource for.

The statements are read with cfn-lint's decoder and resolved with the embedded runtime's names
(region, account, table and function ARNs, the stack name "orch" and so the "orch-" prefix).
SAM's own additions (the basic execution role, X-Ray with ``Tracing: Active``, the dead-letter
queue's sqs:SendMessage) are not in the statements and not checked here.
"""

from __future__ import annotations

import concurrent.futures
import fnmatch
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError
from cfnlint.decode import decode
from orchestration_core import services
from orchestration_core.shared import changes, clock
from orchestration_core.shared.config import get_settings

from orchestration_local import lambdas
from orchestration_local.lambdas import Functions
from orchestration_local.runtime import Runtime
from orchestration_local.template import PSEUDO_PARAMETERS
from orchestration_local.ticker import scheduled_event
from tests.integration.conftest import Api, gate, wait_for

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
STATE_MACHINE_ROLE = "StateMachineRole"

TABLE = "table/orchestration-Table"
# (principal, action, resource suffix): granted, not triggered by the scenario, and why it is
# still needed. A record whose machine ended without writing it (aborted behind the service's
# back, timed out) is written as Step Functions reports it and read again with its task runs:
# the scenario covers that for a read; the sweep and the overlap check do the same.
HARD_TO_TRIGGER: dict[tuple[str, str, str], str] = {
    ("SchedulerDispatchFunction", "dynamodb:Query", TABLE): "the sweep reconciles an unrecorded end",
    ("SchedulesTriggerFunction", "dynamodb:Query", TABLE): "the overlap check reconciles the last run",
    ("SchedulesBackfillFunction", "dynamodb:Query", TABLE): "the overlap check reconciles the last run",
    # Tracing is off in the embedded runtime (POWERTOOLS_TRACE_DISABLED); AWS needs "*".
    (STATE_MACHINE_ROLE, "xray:PutTraceSegments", "*"): "X-Ray tracing of the state machines",
    (STATE_MACHINE_ROLE, "xray:PutTelemetryRecords", "*"): "X-Ray tracing of the state machines",
}

# Actions AWS authorizes on "*" only (no resource-level permissions).
STAR_ONLY = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "states:ListStateMachines",
}
LOG_DELIVERY = sorted(a for a in STAR_ONLY if a.startswith("logs:"))

ARN = f"arn:aws:{{service}}:{PSEUDO_PARAMETERS['AWS::Region']}:{PSEUDO_PARAMETERS['AWS::AccountId']}"
STATES = ARN.format(service="states")
LAMBDA = ARN.format(service="lambda")
DYNAMODB = ARN.format(service="dynamodb")
HASH = "?" * 40
# Wildcards are for names made at run time only: this stack's machines and their executions,
# the task functions (TaskFunctionPrefix), and "*" for the actions above.
DYNAMIC = [
    f"{STATES}:stateMachine:orch-{HASH}",
    f"{STATES}:execution:orch-{HASH}:*",
    f"{LAMBDA}:function:orchestration-task-*",
]


# -- the template's statements, resolved ------------------------------------------------------------------
@dataclass(frozen=True)
class Grant:
    action: str
    resource: str
    condition: tuple[tuple[str, str], ...] = ()


def _resolve(value: Any, names: dict[str, str], params: dict[str, Any]) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return names.get(arg) or params.get(arg) or PSEUDO_PARAMETERS[arg]
        if key == "Fn::GetAtt":
            return names[f"{arg[0]}.{arg[1]}"]
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            for var, val in variables.items():
                text = text.replace("${" + var + "}", str(_resolve(val, names, params)))
            while "${" in text:
                start = text.index("${")
                end = text.index("}", start)
                ref = text[start + 2 : end]
                ref_value = names[ref] if ref in names else _resolve({"Ref": ref}, names, params)
                text = text[:start] + str(ref_value) + text[end + 1 :]
            return text
    if isinstance(value, list):
        return [_resolve(v, names, params) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, names, params) for k, v in value.items()}
    return value


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def template_grants(runtime: Runtime) -> dict[str, list[Grant]]:
    """principal (function logical id, or StateMachineRole) -> what its statements allow."""
    doc, problems = decode(str(TEMPLATE))
    assert doc is not None and not problems, problems
    params = {k: v.get("Default") for k, v in doc["Parameters"].items()}
    names = dict(runtime.names)
    for table in runtime.template.tables:  # !Sub "${Table.Arn}/index/GSI1"
        names[f"{table}.Arn"] = runtime.names[f"{table}.Arn"]
    grants: dict[str, list[Grant]] = {}
    for logical_id, resource in doc["Resources"].items():
        props = resource.get("Properties") or {}
        statements: list[dict[str, Any]] = []
        if resource["Type"] == "AWS::Serverless::Function":
            for policy in props.get("Policies") or []:
                assert isinstance(policy, dict) and "Statement" in policy, (
                    f"{logical_id}: only inline statements are checked, not {policy}"
                )
                statements += policy["Statement"]
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies") or []:
                statements += policy["PolicyDocument"]["Statement"]
        if not statements:
            continue
        out = grants.setdefault(logical_id, [])
        for st in statements:
            st = _resolve(st, names, params)
            assert st["Effect"] == "Allow" and set(st) <= {"Effect", "Action", "Resource", "Condition"}, st
            condition = tuple(
                (key, str(value))
                for operator, pairs in (st.get("Condition") or {}).items()
                for key, value in pairs.items()
                if operator == "StringEquals"
            )
            assert len(condition) == sum(len(p) for p in (st.get("Condition") or {}).values()), st
            for action in _as_list(st["Action"]):
                for res in _as_list(st["Resource"]):
                    out.append(Grant(action, res, condition))
    return grants


def _matches(pattern: str, value: str) -> bool:
    """IAM's ARN wildcards: * any run of characters, ? exactly one."""
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


# -- the recorded calls, as IAM sees them --------------------------------------------------------------
@dataclass(frozen=True)
class Need:
    principal: str
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()
    call: str = ""


def _table_arn(name: str, index: str | None = None) -> str:
    return f"{DYNAMODB}:table/{name}" + (f"/index/{index}" if index else "")


def _function_arn(name: str) -> str:
    return name if name.startswith("arn:") else f"{LAMBDA}:function:{name}"


def needs_of(principal: str, service: str, operation: str, params: dict[str, Any]) -> list[Need]:
    """What IAM checks for one call (fails on a call this table does not know yet)."""
    call = f"{service}.{operation}"

    def need(action: str, resource: str, who: str = principal, **context: str) -> Need:
        return Need(who, action, resource, tuple(sorted(context.items())), call)

    if service == "dynamodb":
        if operation in {"GetItem", "PutItem", "UpdateItem", "DeleteItem"}:
            return [need(f"dynamodb:{operation}", _table_arn(params["TableName"]))]
        if operation in {"Query", "Scan"}:
            return [need(f"dynamodb:{operation}", _table_arn(params["TableName"], params.get("IndexName")))]
        if operation in {"BatchGetItem", "BatchWriteItem"}:
            return [need(f"dynamodb:{operation}", _table_arn(t)) for t in params["RequestItems"]]
        if operation in {"TransactWriteItems", "TransactGetItems"}:
            # Authorized item by item, as the single-item actions.
            kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}
            kinds |= {"ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
            return [
                need(f"dynamodb:{kinds[kind]}", _table_arn(body["TableName"]))
                for item in params["TransactItems"]
                for kind, body in item.items()
            ]
    if service == "stepfunctions":
        if operation in {"CreateStateMachine", "UpdateStateMachine"}:
            arn = params.get("stateMachineArn") or f"{STATES}:stateMachine:{params['name']}"
            out = [need(f"states:{operation}", arn)]
            if "roleArn" in params:
                out.append(
                    need("iam:PassRole", params["roleArn"], **{"iam:PassedToService": "states.amazonaws.com"})
                )
            if (params.get("loggingConfiguration") or {}).get("destinations"):
                # Step Functions sets up the delivery as the machine's role (what AWS documents).
                out += [need(a, "*", STATE_MACHINE_ROLE) for a in LOG_DELIVERY]
            return out
        if operation in {"StartExecution", "ListExecutions", "DeleteStateMachine"}:
            return [need(f"states:{operation}", params["stateMachineArn"])]
        if operation == "ListStateMachines":
            return [need("states:ListStateMachines", "*")]
        if operation in {"DescribeExecution", "StopExecution"}:
            return [need(f"states:{operation}", params["executionArn"])]
        if operation in {"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"}:
            # A token names no resource in the request: AWS checks the machine it belongs to,
            # always one of this stack's (only they hand out tokens to the runner).
            return [need(f"states:{operation}", f"{STATES}:stateMachine:orch-{'0' * 40}")]
    if service == "lambda" and operation == "Invoke":
        return [need("lambda:InvokeFunction", _function_arn(params["FunctionName"]))]
    raise AssertionError(f"{principal} made {call}, which this test cannot map to IAM yet: {params}")


class Recorder:
    """Records (principal, service, operation, params) for every boto3 call while installed."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.calls: list[tuple[str, str, str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.main = threading.get_ident()

    def current(self) -> str | None:
        stack: list[str] = getattr(self.local, "stack", [])
        if stack:
            return stack[-1]
        # Outside any handler: the test itself (setup, e.g. an API key) or moto's Step
        # Functions interpreter, which calls Lambda as the machines' role.
        return None if threading.get_ident() == self.main else STATE_MACHINE_ROLE

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_call = getattr(botocore.client.BaseClient, "_make_api_call")  # noqa: B009 - private
        real_handler = Functions.handler
        real_submit = concurrent.futures.ThreadPoolExecutor.submit
        recorder = self

        def submit(pool: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            # A function's own worker threads (backfill, dispatch) act as that function.
            stack = list(getattr(recorder.local, "stack", []))

            def as_caller(*a: Any, **kw: Any) -> Any:
                recorder.local.stack = list(stack)
                try:
                    return fn(*a, **kw)
                finally:
                    recorder.local.stack = []

            return real_submit(pool, as_caller, *args, **kwargs)

        def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            who = recorder.current()
            if who is not None:
                service = client.meta.service_model.service_name
                with recorder.lock:
                    recorder.calls.append((who, service, operation, dict(params)))
            return real_call(client, operation, params)

        def handler(functions: Functions, logical_id: str) -> Callable[[dict[str, Any], Any], Any]:
            inner = real_handler(functions, logical_id)

            def as_function(event: dict[str, Any], context: Any) -> Any:
                stack = recorder.local.__dict__.setdefault("stack", [])
                stack.append(logical_id)
                try:
                    return inner(event, context)
                finally:
                    stack.pop()

            return as_function

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
        monkeypatch.setattr(Functions, "handler", handler)
        monkeypatch.setattr(concurrent.futures.ThreadPoolExecutor, "submit", submit)


# -- the scenario ---------------------------------------------------------------------------------------
def _ok(response: tuple[int, dict[str, str], Any], *expected: int) -> Any:
    status, _, body = response
    assert status in expected, (status, body)
    return body


def _once(monkeypatch: pytest.MonkeyPatch, client: Any, method: str, fail: Callable[..., Any]) -> None:
    """The next call of ``client.method`` runs ``fail(real, **kwargs)``; later calls go through."""
    real = getattr(client, method)
    done: list[bool] = []

    def patched(**kwargs: Any) -> Any:
        if not done:
            done.append(True)
            return fail(real, **kwargs)
        return real(**kwargs)

    monkeypatch.setitem(vars(client), method, patched)


def _error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"injected {code}"}}, operation)


def _start_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next StartExecution answers 503 without starting: the launcher asks whether it ran."""

    def fail(real: Any, **kwargs: Any) -> Any:
        raise _error("ServiceUnavailable", "StartExecution")

    _once(monkeypatch, services.engine().sfn, "start_execution", fail)


def _start_already_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next StartExecution starts, then answers ExecutionAlreadyExists (a retried request
    whose first attempt went through): the launcher asks whether that execution runs."""

    def fail(real: Any, **kwargs: Any) -> Any:
        real(**kwargs)
        raise _error("ExecutionAlreadyExists", "StartExecution")

    _once(monkeypatch, services.engine().sfn, "start_execution", fail)


def _machine_exists_already(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each Lambda environment creates its machines once; in AWS the second environment finds
    the machine made by another (CreateStateMachine: already exists, then UpdateStateMachine)."""
    engine = services.engine()
    monkeypatch.setattr(engine, "_known", {})

    def fail(real: Any, **kwargs: Any) -> Any:
        real(**kwargs)  # make sure it exists
        raise _error("StateMachineAlreadyExists", "CreateStateMachine")

    _once(monkeypatch, engine.sfn, "create_state_machine", fail)


def _execution_arn(execution_id: str) -> str:
    sfn = services.engine().sfn
    for machine in sfn.list_state_machines()["stateMachines"]:
        arn = str(machine["stateMachineArn"]).replace(":stateMachine:", ":execution:") + f":{execution_id}"
        try:
            sfn.describe_execution(executionArn=arn)
        except sfn.exceptions.ExecutionDoesNotExist:
            continue
        return arn
    raise AssertionError(f"no Step Functions execution named {execution_id}")


def _stop_from_outside(execution_id: str) -> None:
    services.engine().sfn.stop_execution(executionArn=_execution_arn(execution_id))


def _wait_aborted(execution_id: str) -> None:
    """moto lets the running task finish before the machine reports ABORTED."""
    arn = _execution_arn(execution_id)
    deadline = time.monotonic() + 60
    while services.engine().sfn.describe_execution(executionArn=arn)["status"] != "ABORTED":
        assert time.monotonic() < deadline, f"{execution_id} was never aborted"
        time.sleep(0.05)


def _held_run(api: Api, workflow_id: str, key: str) -> str:
    """Execute a workflow whose task ``hold`` waits on gate ``key``; return once it is running."""
    started = _ok(api.call("POST", f"/workflows/{workflow_id}/execute", {"parameters": {"key": key}}), 202)
    gate(key).wait_entered()
    return str(started["executionId"])


def scenario(api: Api, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every endpoint, the task runner's actions, a state machine's native steps, the dispatcher."""
    # Task types (per tenant): register, read, list, delete.
    _ok(
        api.call("PUT", "/task-types/count", {"functionArn": f"{LAMBDA}:function:orchestration-task-count"}),
        200,
        201,
    )
    _ok(api.call("GET", "/task-types/count"), 200)
    _ok(api.call("GET", "/task-types"), 200)
    _ok(
        api.call("PUT", "/task-types/spare", {"functionArn": f"{LAMBDA}:function:orchestration-task-count"}),
        200,
        201,
    )
    _ok(api.call("DELETE", "/task-types/spare"), 200, 204)

    # A workflow with every kind of step: built-ins in the runner, a custom type (the runner
    # invokes it), a native Wait and a native Lambda invoke, and an "N" (a->c, b->c, a->d) so
    # a gated task is released with a task token.
    # The gate "a" holds each run until the test opens it, so a run is still going when the
    # launcher asks Step Functions about it.
    key = uuid.uuid4().hex
    tasks = [
        {"name": "a", "type": "gate"},
        {"name": "b", "type": "count", "config": {"name": "b"}},
        {"name": "c", "type": "transform", "config": {"expression": "inputs"}, "dependsOn": ["a", "b"]},
        {"name": "d", "type": "wait", "config": {"seconds": 0}, "dependsOn": ["a"]},
        {
            "name": "e",
            "type": "lambda",
            "config": {"functionName": "orchestration-task-context"},
            "dependsOn": ["d"],
        },
        {"name": "f", "type": "fail", "dependsOn": ["c", "e"]},
    ]
    wf = _ok(api.call("POST", "/workflows", {"name": "policy", "tasks": tasks}), 201)
    wid = wf["id"]
    _ok(api.call("GET", "/workflows"), 200)
    _ok(api.call("GET", "/workflows", query="status=draft"), 200)
    _ok(api.call("GET", f"/workflows/{wid}"), 200)
    _ok(api.call("PUT", f"/workflows/{wid}", {"description": "every step", "status": "active"}), 200)
    _ok(api.call("GET", "/workflows", query="status=active"), 200)

    # Execute (a machine another environment created; a start that answered 503 and did not run;
    # then a start that ran although it answered "already exists"); it fails at "f".
    _machine_exists_already(monkeypatch)
    _start_unavailable(monkeypatch)
    assert api.call("POST", f"/workflows/{wid}/execute", {"parameters": {"key": key}})[0] == 503
    _start_already_exists(monkeypatch)
    idem = {"Idempotency-Key": uuid.uuid4().hex}
    eid = _ok(api.call("POST", f"/workflows/{wid}/execute", {"parameters": {"key": key}}, idem), 202)[
        "executionId"
    ]
    gate(key).wait_entered()
    gate(key).open()
    assert wait_for(api, eid)["status"] == "failed"
    assert _ok(api.call("POST", f"/workflows/{wid}/execute", {}, idem), 202)["executionId"] == eid
    # The workflow with each task's latest status (its last execution, read with its runs).
    _ok(api.call("GET", f"/workflows/{wid}"), 200)
    _ok(api.call("PUT", f"/workflows/{wid}", {"description": "ran once"}), 200)
    _ok(api.call("GET", "/executions"), 200)
    _ok(api.call("GET", "/executions", query=f"workflowId={wid}"), 200)
    _ok(api.call("GET", "/executions", query="status=failed"), 200)
    _ok(api.call("GET", "/executions", query=f"workflowId={wid}&status=failed"), 200)

    # Redrive it (as a fresh environment would: machine exists, a start answered "already exists").
    _machine_exists_already(monkeypatch)
    _start_already_exists(monkeypatch)
    _ok(api.call("POST", f"/executions/{eid}/redrive"), 200)
    assert wait_for(api, eid)["status"] == "failed"

    # A held run: read while running (asks Step Functions), then cancel it.
    held = _ok(
        api.call("POST", "/workflows", {"name": "held", "tasks": [{"name": "hold", "type": "gate"}]}), 201
    )
    hold_key = uuid.uuid4().hex
    running = _held_run(api, held["id"], hold_key)
    status, headers, body = api.call("GET", f"/executions/{running}")
    assert (status, body["status"]) == (200, "running"), body
    # A long poll that nothing answers, as deployed (a function polls; the embedded runtime would
    # tell it of writes instead): it reads the record, and the task runs, until its wait is up.
    monkeypatch.setattr(lambdas, "_HeldRequests", lambda functions, logical_id: changes.PollingFeed())
    unchanged = api.call(
        "GET", f"/executions/{running}", headers={"If-None-Match": headers["etag"]}, query="waitSeconds=0.2"
    )
    assert unchanged[0] == 304, unchanged
    _ok(api.call("POST", f"/executions/{running}/cancel"), 200, 202)
    gate(hold_key).open()

    # A machine stopped behind the service's back ends without writing its record: the next
    # read asks Step Functions, writes what it says, and reads the record again.
    stop_key = uuid.uuid4().hex
    stopped = _held_run(api, held["id"], stop_key)
    _stop_from_outside(stopped)
    gate(stop_key).open()
    _wait_aborted(stopped)
    assert _ok(api.call("GET", f"/executions/{stopped}"), 200)["status"] == "cancelled"

    # Schedules: create, list (all, by workflow), read, change, trigger, backfill, delete.
    noop = _ok(api.call("POST", "/workflows", {"name": "n", "tasks": [{"name": "a", "type": "noop"}]}), 201)
    sc = _ok(api.call("POST", "/schedules", {"workflowId": noop["id"], "cronExpression": "0 * * * *"}), 201)
    _ok(api.call("GET", "/schedules"), 200)
    _ok(api.call("GET", "/schedules", query=f"workflowId={noop['id']}"), 200)
    _ok(api.call("GET", f"/schedules/{sc['id']}"), 200)
    _ok(api.call("PUT", f"/schedules/{sc['id']}", {"overlapPolicy": "skip"}), 200)
    _machine_exists_already(monkeypatch)
    _start_unavailable(monkeypatch)
    api.call("POST", f"/schedules/{sc['id']}/trigger")  # 503: the start did not run
    for ran in [_ok(api.call("POST", f"/schedules/{sc['id']}/trigger"), 200, 201, 202)]:
        if ran.get("executionId"):
            wait_for(api, ran["executionId"])
    hour = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(time.time() - 3 * 3600))
    until = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(time.time() - 1 * 3600))
    _machine_exists_already(monkeypatch)
    _start_unavailable(monkeypatch)
    api.call("POST", f"/schedules/{sc['id']}/backfill", {"startAt": hour, "endAt": until})
    done = _ok(api.call("POST", f"/schedules/{sc['id']}/backfill", {"startAt": hour, "endAt": until}), 202)
    for backfilled in done["executionIds"]:
        wait_for(api, backfilled)

    # The dispatcher's tick when the schedule is due (as a fresh environment; one start failing).
    _machine_exists_already(monkeypatch)
    _start_unavailable(monkeypatch)
    due = _ok(api.call("GET", f"/schedules/{sc['id']}"), 200)["nextRunAt"]
    tick = scheduled_event("SchedulerDispatchFunction", clock.parse_iso(due))
    runtime.functions.invoke("SchedulerDispatchFunction", tick)  # the start fails: retried later
    later = scheduled_event("SchedulerDispatchFunction", clock.parse_iso(due) + timedelta(minutes=1))
    fired = runtime.functions.invoke("SchedulerDispatchFunction", later)
    assert fired["started"] == 1 or fired["recovered"] == 1, fired
    _ok(api.call("DELETE", f"/schedules/{sc['id']}"), 200, 204)

    # Deleting a workflow deletes its schedules.
    _ok(api.call("POST", "/schedules", {"workflowId": noop["id"], "cronExpression": "0 * * * *"}), 201)
    _ok(api.call("DELETE", f"/workflows/{noop['id']}"), 200, 204)

    # The dispatcher's garbage collection deletes the deleted workflow's machine (idle with a
    # grace period of 0; no workflow's current version); page by page, as ticks go on.
    _collect_machine_of(runtime, monkeypatch, noop["id"], api)


def _collect_machine_of(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, workflow_id: str, api: Api
) -> None:
    runs = _ok(api.call("GET", "/executions", query=f"workflowId={workflow_id}"), 200)["executions"]
    machine = _machine_of(str(runs[0]["id"]))
    monkeypatch.setenv("MACHINE_GC_GRACE_DAYS", "0")
    get_settings.cache_clear()
    try:
        # Each tick checks at most 10 machines (here every machine is idle): enough ticks to
        # go through the whole list three times (a machine still running is kept on a pass).
        for _ in range((len(_machines()) // 10 + 2) * 3):
            report = runtime.functions.invoke(
                "SchedulerDispatchFunction", scheduled_event("SchedulerDispatchFunction", clock.now())
            )
            assert "error" not in report["machines"], report
            if machine not in _machines():
                return
        raise AssertionError(f"the dispatcher never deleted {machine}")
    finally:
        monkeypatch.delenv("MACHINE_GC_GRACE_DAYS")
        get_settings.cache_clear()


def _machines() -> set[str]:
    pages = services.engine().sfn.get_paginator("list_state_machines").paginate()
    return {m["stateMachineArn"] for page in pages for m in page["stateMachines"]}


def _machine_of(execution_id: str) -> str:
    return _execution_arn(execution_id).replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]


@pytest.fixture(scope="module")
def recorded(runtime: Runtime) -> list[Need]:
    """The scenario, once for the module, under its own tenant."""
    api = Api(runtime, runtime.key_store().create(f"t-{uuid.uuid4().hex[:12]}", "policy")[0])
    recorder = Recorder()
    with pytest.MonkeyPatch.context() as monkeypatch:
        recorder.install(monkeypatch)
        scenario(api, runtime, monkeypatch)
    return [n for who, service, op, params in recorder.calls for n in needs_of(who, service, op, params)]


@pytest.fixture(scope="module")
def grants(runtime: Runtime) -> dict[str, list[Grant]]:
    return template_grants(runtime)


# -- the checks ---------------------------------------------------------------------------------------
def _allows(grant: Grant, need: Need) -> bool:
    return (
        fnmatch.fnmatchcase(need.action.lower(), grant.action.lower())
        and _matches(grant.resource, need.resource)
        and set(grant.condition) <= set(need.context)
    )


def test_every_call_a_function_makes_is_allowed_by_its_own_statements(
    recorded: list[Need], grants: dict[str, list[Grant]]
) -> None:
    denied = sorted(
        {
            f"{n.principal}: {n.action} on {n.resource} ({n.call})"
            for n in recorded
            if not any(_allows(g, n) for g in grants.get(n.principal, []))
        }
    )
    assert not denied, "calls the template does not allow:\n" + "\n".join(denied)


def test_every_grant_is_needed_by_a_recorded_call(
    recorded: list[Need], grants: dict[str, list[Grant]]
) -> None:

    def excused(who: str, g: Grant) -> bool:
        return any(
            (w, a) == (who, g.action) and g.resource.endswith(suffix) for w, a, suffix in HARD_TO_TRIGGER
        )

    used = {
        (who, g)
        for who, granted in grants.items()
        for g in granted
        for n in recorded
        if n.principal == who and _allows(g, n)
    }
    unused = sorted(
        f"{who}: {g.action} on {g.resource}"
        for who, granted in grants.items()
        for g in granted
        if not excused(who, g) and (who, g) not in used
    )
    assert not unused, "granted but never needed (remove it, or say in HARD_TO_TRIGGER why):\n" + "\n".join(
        unused
    )
    # Each exception is granted and really not triggered (else it is stale: remove it).
    for who, action, suffix in HARD_TO_TRIGGER:
        matching = [g for g in grants[who] if g.action == action and g.resource.endswith(suffix)]
        assert matching, f"stale exception: {who} is not granted {action} on ...{suffix}"
        assert not any((who, g) in used for g in matching), f"{who} {action} on ...{suffix} is triggered now"
    # Every principal with statements made calls, and none made calls without statements.
    callers = {n.principal for n in recorded}
    assert set(grants) == callers, (set(grants) - callers, callers - set(grants))


def test_wildcards_only_where_names_are_made_at_run_time(grants: dict[str, list[Grant]]) -> None:
    for who, granted in grants.items():
        for g in granted:
            if g.resource == "*":
                assert g.action in STAR_ONLY, f"{who}: {g.action} on *"
            elif "*" in g.resource or "?" in g.resource:
                assert g.resource in DYNAMIC, f"{who}: {g.action} on {g.resource}"
            assert "*" not in g.action, f"{who}: {g.action}"
    # The grants match this stack's machines, not another stack's whose name extends this one's.
    machines = f"{STATES}:stateMachine:orch-{HASH}"
    assert _matches(machines, f"{STATES}:stateMachine:orch-{'a' * 40}")
    assert not _matches(machines, f"{STATES}:stateMachine:orch-b-{'a' * 40}")
    assert not _matches(machines, f"{STATES}:stateMachine:other-{'a' * 40}")


def test_pass_role_is_only_to_step_functions(runtime: Runtime, grants: dict[str, list[Grant]]) -> None:
    for who, granted in grants.items():
        for g in granted:
            if g.action == "iam:PassRole":
                assert g.condition == (("iam:PassedToService", "states.amazonaws.com"),), who
                assert g.resource == runtime.names[f"{STATE_MACHINE_ROLE}.Arn"], who


def test_state_machines_log_at_the_templates_level(runtime: Runtime) -> None:
    engine = services.engine()
    assert engine.logging is not None
    assert engine.logging["level"] == "ERROR"
    group = engine.logging["destinations"][0]["cloudWatchLogsLogGroup"]["logGroupArn"]
    assert group == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/orch:*"
    assert json.dumps(engine.logging).count("includeExecutionData") == 1
