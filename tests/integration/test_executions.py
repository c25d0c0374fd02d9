"""Executions on the embedded engine (moto's Step Functions really running the compiled
machines; task Lambdas in-process). Semantics are proven from the recorded timestamps."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3

from orchestration_local import aws
from tests.integration.conftest import Api, gate, run, wait_for


def by_name(execution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in execution["tasks"]}


def assert_dependencies_respected(execution: dict[str, Any], tasks: list[dict[str, Any]]) -> None:
    runs = by_name(execution)
    for task in tasks:
        for dep in task.get("dependsOn", []):
            assert runs[task["name"]]["startedAt"] >= runs[dep]["completedAt"], (task["name"], dep)


def sleep(name: str, seconds: float, *deps: str) -> dict[str, Any]:
    return {"name": name, "type": "sleep", "config": {"seconds": seconds}, "dependsOn": list(deps)}


def test_etl_chain_passes_results_downstream(api: Api) -> None:
    tasks = [
        {"name": "extract", "type": "noop"},
        {
            "name": "transform",
            "type": "transform",
            "config": {"expression": "inputs.extract.parameters.rows"},
            "dependsOn": ["extract"],
        },
        {"name": "load", "type": "sleep", "config": {"seconds": 0}, "dependsOn": ["transform"]},
    ]
    ex = run(api, tasks, {"rows": [1, 2, 3]})
    assert ex["status"] == "completed", ex
    assert ex["completedAt"] >= ex["startedAt"]
    runs = by_name(ex)
    context = {"executionId": ex["id"], "workflowId": ex["workflowId"], "scheduledAt": None, "attempt": 1}
    assert runs["extract"]["result"] == {
        "parameters": {"rows": [1, 2, 3]},
        "inputs": {},
        "config": {},
        "context": context,
    }
    assert runs["transform"]["result"] == [1, 2, 3]
    assert runs["load"]["result"]["inputs"] == {"transform": [1, 2, 3]}
    assert all(t["status"] == "completed" and t["attempts"] == 1 for t in ex["tasks"])
    assert ex["trigger"] == {"type": "api"}
    assert_dependencies_respected(ex, tasks)


def test_diamond_branches_overlap_and_join_waits_for_both(api: Api) -> None:
    tasks = [sleep("a", 0), sleep("b", 0.6, "a"), sleep("c", 0.6, "a"), sleep("d", 0, "b", "c")]
    ex = run(api, tasks)
    assert ex["status"] == "completed"
    assert_dependencies_respected(ex, tasks)
    b, c = by_name(ex)["b"], by_name(ex)["c"]
    assert b["startedAt"] < c["completedAt"] and c["startedAt"] < b["completedAt"]  # they ran together


def test_non_series_parallel_graph_does_not_wait_for_unrelated_tasks(api: Api) -> None:
    # a -> c, b -> c, a -> d: no nesting of Parallel states expresses this exactly. d must start
    # as soon as a completes, long before the slow b (which d does not depend on) completes.
    tasks = [sleep("a", 0.1), sleep("b", 1.5), sleep("c", 0, "a", "b"), sleep("d", 0, "a")]
    ex = run(api, tasks)
    assert ex["status"] == "completed", ex
    assert_dependencies_respected(ex, tasks)
    runs = by_name(ex)
    assert runs["d"]["completedAt"] < runs["b"]["completedAt"]
    assert runs["c"]["startedAt"] >= runs["b"]["completedAt"]


def test_failure_fails_the_execution_and_skips_downstream(api: Api) -> None:
    tasks = [
        {"name": "ok", "type": "noop"},
        {
            "name": "bad",
            "type": "fail",
            "config": {"error": "BadInput", "cause": "row 7 is malformed"},
            "dependsOn": ["ok"],
        },
        {"name": "after", "type": "noop", "dependsOn": ["bad"]},
        {"name": "later", "type": "noop", "dependsOn": ["after"]},
    ]
    ex = run(api, tasks)
    assert ex["status"] == "failed"
    assert ex["error"] == {"task": "bad", "error": "BadInput", "cause": "row 7 is malformed"}
    runs = by_name(ex)
    assert runs["ok"]["status"] == "completed"
    assert runs["bad"]["status"] == "failed" and runs["bad"]["attempts"] == 1
    assert runs["bad"]["error"] == {"error": "BadInput", "cause": "row 7 is malformed"}
    for name in ("after", "later"):
        assert runs[name]["status"] == "skipped" and runs[name]["startedAt"] is None


def test_retries_until_success_are_counted(api: Api) -> None:
    key = uuid.uuid4().hex
    tasks = [
        {
            "name": "f",
            "type": "flaky",
            "config": {"failures": 2, "retry": {"maxAttempts": 3, "intervalSeconds": 1, "backoffRate": 1.0}},
        }
    ]
    ex = run(api, tasks, {"key": key})
    assert ex["status"] == "completed", ex
    assert by_name(ex)["f"]["attempts"] == 3
    assert by_name(ex)["f"]["result"] == {"attempt": 3}


def test_retries_exhausted_fail_with_the_last_error(api: Api) -> None:
    tasks = [
        {
            "name": "b",
            "type": "boom",
            "config": {"message": "always", "retry": {"maxAttempts": 1, "intervalSeconds": 1}},
        }
    ]
    ex = run(api, tasks)
    assert ex["status"] == "failed"
    assert by_name(ex)["b"]["attempts"] == 2
    assert ex["error"]["task"] == "b" and ex["error"]["error"] == "ValueError"
    assert "boom: always" in ex["error"]["cause"]


def test_timeout_fails_the_task(api: Api) -> None:
    tasks = [sleep("slow", 3), sleep("next", 0, "slow")]
    tasks[0]["config"]["timeoutSeconds"] = 1
    ex = run(api, tasks)
    assert ex["status"] == "failed"
    assert ex["error"]["task"] == "slow" and ex["error"]["error"] == "States.Timeout"
    assert by_name(ex)["next"]["status"] == "skipped"


def test_cancel_mid_run(api: Api) -> None:
    # "one" holds (a gate task) until the test opens it: still running when the cancel comes
    key = uuid.uuid4().hex
    tasks = [{"name": "one", "type": "gate"}, sleep("two", 0, "one")]
    status, _, wf = api.call("POST", "/workflows", {"name": "c", "tasks": tasks})
    _, _, started = api.call("POST", f"/workflows/{wf['id']}/execute", {"parameters": {"key": key}})
    eid = started["executionId"]
    gate(key).wait_entered()
    status, _, cancelled = api.call("POST", f"/executions/{eid}/cancel")
    assert status == 200 and cancelled["status"] == "cancelled" and cancelled["completedAt"]
    assert by_name(cancelled)["one"]["status"] == "cancelled"
    assert api.call("POST", f"/executions/{eid}/cancel")[0] == 409
    gate(key).open("fail")
    final = wait_for(api, eid)
    assert final["status"] == "cancelled"
    assert by_name(final)["two"]["status"] == "skipped"


def wait_until_running(api: Api, eid: str) -> None:
    for _ in range(100):
        body = api.call("GET", f"/executions/{eid}")[2]
        if any(t["status"] == "running" for t in body["tasks"]):
            return
        time.sleep(0.05)
    raise AssertionError("never started running")


def test_unregistered_types_are_422_and_start_nothing(api: Api) -> None:
    _, _, wf = api.call(
        "POST",
        "/workflows",
        {
            "name": "draft",
            "tasks": [
                {"name": "a", "type": "not-yet-written"},
                {"name": "b", "type": "noop"},
                {"name": "c", "type": "also-missing"},
            ],
        },
    )
    status, headers, problem = api.call("POST", f"/workflows/{wf['id']}/execute")
    assert status == 422 and headers["content-type"] == "application/problem+json"
    assert "also-missing, not-yet-written" in problem["detail"]
    assert [e["field"] for e in problem["errors"]] == ["tasks[0].type", "tasks[2].type"]
    assert api.call("GET", "/executions", query=f"workflowId={wf['id']}")[2]["total"] == 0


def test_idempotency_key_returns_the_same_execution(api: Api) -> None:
    _, _, wf = api.call("POST", "/workflows", {"name": "i", "tasks": [{"name": "a", "type": "noop"}]})
    path = f"/workflows/{wf['id']}/execute"
    key = {"Idempotency-Key": uuid.uuid4().hex}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _i: api.call("POST", path, {}, key), range(8)))
    assert {a[0] for a in answers} == {202}
    assert len({a[2]["executionId"] for a in answers}) == 1
    assert api.call("GET", "/executions", query=f"workflowId={wf['id']}")[2]["total"] == 1
    _, _, other = api.call("POST", "/workflows", {"name": "j", "tasks": [{"name": "a", "type": "noop"}]})
    assert api.call("POST", f"/workflows/{other['id']}/execute", {}, key)[0] == 409
    assert (
        api.call("POST", path, {}, {"Idempotency-Key": uuid.uuid4().hex})[2]["executionId"]
        != answers[0][2]["executionId"]
    )


def test_inactive_workflows_cannot_run(api: Api) -> None:
    _, _, wf = api.call(
        "POST", "/workflows", {"name": "off", "status": "inactive", "tasks": [{"name": "a", "type": "noop"}]}
    )
    status, _, problem = api.call("POST", f"/workflows/{wf['id']}/execute")
    assert status == 409 and problem["status"] == 409


def test_executions_are_invisible_to_other_tenants(api: Api, other_api: Api) -> None:
    ex = run(api, [{"name": "a", "type": "noop"}])
    assert other_api.call("GET", f"/executions/{ex['id']}")[0] == 404
    assert other_api.call("POST", f"/executions/{ex['id']}/cancel")[0] == 404
    assert other_api.call("POST", f"/workflows/{ex['workflowId']}/execute")[0] == 404
    listing = other_api.call("GET", "/executions", query=f"workflowId={ex['workflowId']}")[2]
    assert listing["total"] == 0 and listing["executions"] == []
    assert other_api.call("GET", "/executions")[2]["total"] == 0


def test_lists_filter_by_workflow_and_status_with_exact_totals(api: Api) -> None:
    ok = run(api, [{"name": "a", "type": "noop"}])
    bad = run(api, [{"name": "a", "type": "fail"}])
    again = api.call("POST", f"/workflows/{ok['workflowId']}/execute")[2]
    wait_for(api, again["executionId"])
    everything = api.call("GET", "/executions")[2]
    assert everything["total"] == 3
    assert [e["id"] for e in everything["executions"]] == [again["executionId"], bad["id"], ok["id"]]
    assert api.call("GET", "/executions", query="status=failed")[2]["total"] == 1
    assert api.call("GET", "/executions", query="status=completed")[2]["total"] == 2
    assert api.call("GET", "/executions", query="status=running")[2]["total"] == 0
    assert (
        api.call("GET", "/executions", query=f"workflowId={ok['workflowId']}&status=completed")[2]["total"]
        == 2
    )
    assert api.call("GET", "/executions", query="status=bogus")[0] == 400
    page = api.call("GET", "/executions", query="limit=2")[2]
    rest = api.call("GET", "/executions", query=f"limit=2&nextToken={page['nextToken']}")[2]
    assert [e["id"] for e in page["executions"] + rest["executions"]] == [
        e["id"] for e in everything["executions"]
    ]


def test_workflow_shows_each_tasks_latest_status(api: Api) -> None:
    ex = run(
        api,
        [
            {"name": "a", "type": "noop"},
            {"name": "b", "type": "fail", "dependsOn": ["a"]},
            {"name": "c", "type": "noop", "dependsOn": ["b"]},
        ],
    )
    tasks = api.call("GET", f"/workflows/{ex['workflowId']}")[2]["tasks"]
    assert [t["status"] for t in tasks] == ["completed", "failed", "skipped"]


def test_a_machine_that_ends_without_writing_the_record_is_reconciled(api: Api) -> None:
    _, _, wf = api.call("POST", "/workflows", {"name": "r", "tasks": [sleep("a", 0.5)]})
    eid = api.call("POST", f"/workflows/{wf['id']}/execute")[2]["executionId"]
    wait_until_running(api, eid)
    # Stop the machine behind the service's back: nothing writes the record, GET must notice.
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = next(
        m["stateMachineArn"]
        for m in sfn.list_state_machines()["stateMachines"]
        if any(
            e["name"] == eid for e in sfn.list_executions(stateMachineArn=m["stateMachineArn"])["executions"]
        )
    )
    sfn.stop_execution(executionArn=machine.replace(":stateMachine:", ":execution:") + f":{eid}")
    final = wait_for(api, eid)
    assert final["status"] == "cancelled"


def test_results_over_256_kib_fail_the_task_clearly(api: Api) -> None:
    # A built-in task's result is stored by the runner, which refuses one over 256 KiB.
    blob = "x" * 200_000
    ex = run(
        api,
        [{"name": "a", "type": "noop"}, {"name": "b", "type": "noop", "dependsOn": ["a"]}],
        {"blob": blob},
    )
    assert ex["status"] == "failed"
    assert ex["error"]["task"] == "b" and ex["error"]["error"] == "ResultTooLarge"
    assert by_name(ex)["a"]["status"] == "completed"
    # A custom type's result goes through the runner too: the same limit, the same error.
    ex = run(api, [{"name": "big", "type": "big", "config": {"bytes": 300_000}}])
    assert ex["status"] == "failed"
    assert ex["error"] == {
        "task": "big",
        "error": "ResultTooLarge",
        "cause": "the task's result is larger than 262144 bytes",
    }


def test_many_tasks_run_and_the_machine_is_reused(api: Api) -> None:
    tasks = [{"name": f"t{i}", "type": "noop", "dependsOn": [f"t{i - 1}"] if i else []} for i in range(30)]
    first = run(api, tasks)
    second = api.call("POST", f"/workflows/{first['workflowId']}/execute")[2]
    assert first["status"] == "completed"
    assert wait_for(api, second["executionId"])["status"] == "completed"
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machines = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    assert len(machines) == len(set(machines))


def test_lambda_tasks_are_invoked_natively_by_step_functions(api: Api) -> None:
    name = f"orchestration-task-native-{uuid.uuid4().hex[:8]}"
    aws.register_lambda(
        name, lambda event: {"doubled": [2 * x for x in event["inputs"]["seed"]["parameters"]["xs"]]}
    )
    aws.create_lambda_functions([name])
    tasks = [
        {"name": "seed", "type": "noop"},
        {"name": "native", "type": "lambda", "config": {"functionName": name}, "dependsOn": ["seed"]},
    ]
    ex = run(api, tasks, {"xs": [1, 2]})
    assert ex["status"] == "completed", ex
    assert by_name(ex)["native"]["result"] == {"doubled": [2, 4]}
    assert by_name(ex)["native"]["attempts"] == 1


def test_a_workflow_too_large_for_step_functions_is_refused_before_anything_starts(api: Api) -> None:
    # 500 `lambda` tasks (the most states per task) with 80-character names: the API accepts
    # it, but its state machine would be over Step Functions' 1 MiB definition quota.
    names = [f"t{i:03d}".ljust(80, "x") for i in range(500)]
    config = {"functionName": "orchestration-task-" + "x" * 140, "retry": {"maxAttempts": 2}}
    tasks = [
        {"name": n, "type": "lambda", "config": config, "dependsOn": [names[i - 1]] if i else []}
        for i, n in enumerate(names)
    ]
    _, _, wf = api.call("POST", "/workflows", {"name": "huge", "tasks": tasks})
    status, _, problem = api.call("POST", f"/workflows/{wf['id']}/execute")
    assert status == 422
    assert "Step Functions accepts at most 1,048,576" in problem["detail"]
    assert api.call("GET", "/executions", query=f"workflowId={wf['id']}")[2]["total"] == 0


def test_a_500_task_fan_out_and_in_runs_to_completion(api: Api) -> None:
    # The widest graph the API accepts: one root, 498 tasks side by side, one join.
    tasks = [{"name": "root", "type": "noop"}]
    tasks += [{"name": f"w{i}", "type": "noop", "dependsOn": ["root"]} for i in range(498)]
    tasks += [{"name": "join", "type": "noop", "dependsOn": [f"w{i}" for i in range(498)]}]
    ex = run(api, tasks, timeout=240)
    assert ex["status"] == "completed", ex.get("error")
    runs = by_name(ex)
    assert all(t["status"] == "completed" for t in ex["tasks"])
    assert runs["join"]["startedAt"] >= max(runs[f"w{i}"]["completedAt"] for i in range(498))
    assert len(runs["join"]["result"]["inputs"]) == 498


def test_a_long_chain_runs_in_order(api: Api) -> None:
    tasks = [
        {
            "name": f"c{i}",
            "type": "transform",
            "config": {"expression": "parameters"},
            "dependsOn": [f"c{i - 1}"] if i else [],
        }
        for i in range(150)
    ]
    ex = run(api, tasks, timeout=240)
    assert ex["status"] == "completed", ex.get("error")
    assert_dependencies_respected(ex, tasks)


def test_a_result_nested_too_deep_fails_its_task_not_the_api(api: Api) -> None:
    # Each noop returns its input, which holds its dependency's result: a chain of noops nests
    # two levels deeper per task. Past the limit the task fails clearly; reads keep working.
    tasks = [{"name": f"n{i}", "type": "noop", "dependsOn": [f"n{i - 1}"] if i else []} for i in range(40)]
    ex = run(api, tasks)
    assert ex["status"] == "failed"
    assert ex["error"]["error"] == "ResultTooDeep"
    assert api.call("GET", "/executions", query=f"workflowId={ex['workflowId']}")[0] == 200
