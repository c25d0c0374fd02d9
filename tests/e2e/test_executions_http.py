"""The README's ETL walkthrough over HTTP: execute the seed's workflow, watch it complete."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import CLI

HOLDING_TASKS = Path(__file__).with_name("holding_tasks.py")

SEED_WORKFLOW = {
    "name": "Data Processing Pipeline",
    "tasks": [
        {"name": "extract", "type": "data-extraction"},
        {"name": "transform", "type": "data-transformation", "dependsOn": ["extract"]},
        {"name": "load", "type": "data-loading", "dependsOn": ["transform"]},
    ],
}


def poll(client: httpx.Client, execution_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while True:
        response = client.get(f"/executions/{execution_id}")
        assert response.status_code == 200, response.text
        body = response.json()
        seen.add(body["status"])
        if body["status"] in {"completed", "failed", "cancelled"}:
            body["_seen"] = seen
            return body
        if time.monotonic() > deadline:
            pytest.fail(f"execution {execution_id} did not end within {timeout}s: {body}")
        time.sleep(0.02)


def test_seed_etl_runs_end_to_end(tenant) -> None:
    client = tenant.client
    workflow = client.post("/workflows", json=SEED_WORKFLOW).json()
    response = client.post(f"/workflows/{workflow['id']}/execute", json={"parameters": {"rows": 4}})
    assert response.status_code == 202
    started = response.json()
    assert started["status"] == "started" and started["startedAt"].endswith("Z")
    assert response.headers["location"] == f"/v1/executions/{started['executionId']}"

    execution = poll(client, started["executionId"])
    assert execution["status"] == "completed", execution
    assert "running" in execution["_seen"]  # progress was visible while it ran
    tasks = {t["name"]: t for t in execution["tasks"]}
    assert [t["name"] for t in execution["tasks"]] == ["extract", "transform", "load"]
    for name in ("extract", "transform", "load"):
        assert (
            tasks[name]["status"] == "completed" and tasks[name]["startedAt"] and tasks[name]["completedAt"]
        )
    assert tasks["transform"]["startedAt"] >= tasks["extract"]["completedAt"]
    assert tasks["load"]["startedAt"] >= tasks["transform"]["completedAt"]
    assert len(tasks["extract"]["result"]["records"]) == 4
    assert tasks["load"]["result"]["loaded"] == 4

    detail = client.get(f"/workflows/{workflow['id']}").json()
    assert {t["status"] for t in detail["tasks"]} == {"completed"}
    listing = client.get("/executions", params={"workflowId": workflow["id"]}).json()
    assert listing["total"] == 1 and listing["executions"][0]["id"] == started["executionId"]


def test_cancel_over_http(tmp_path, start_server) -> None:
    # The task holds until the test releases it (it marks its start with a file): the run is
    # running when the cancel comes, however loaded the machine.
    marks = tmp_path / "marks"
    marks.mkdir()
    server = start_server(tmp_path / "data", "--tasks", str(HOLDING_TASKS))
    client = server.client()
    workflow = client.post(
        "/workflows", json={"name": "held", "tasks": [{"name": "h", "type": "hold"}]}
    ).json()
    params = {"parameters": {"dir": str(marks), "key": "k"}}
    execution_id = client.post(f"/workflows/{workflow['id']}/execute", json=params).json()["executionId"]
    deadline = time.monotonic() + 60
    while not (marks / "k.started.1").exists():
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.02)
    response = client.post(f"/executions/{execution_id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert response.json()["tasks"][0]["status"] == "cancelled"
    assert client.post(f"/executions/{execution_id}/cancel").status_code == 409
    final = poll(client, execution_id)
    assert final["status"] == "cancelled"
    assert [t["status"] for t in final["tasks"]] == ["cancelled"]
    # The interrupted call may still finish and record its outcome, as on AWS; let it go.
    (marks / "k.release").touch()
    server.assert_clean_stop()


def test_unregistered_type_is_422_over_http(tenant) -> None:
    client = tenant.client
    workflow = client.post(
        "/workflows", json={"name": "draft", "tasks": [{"name": "a", "type": "later"}]}
    ).json()
    response = client.post(f"/workflows/{workflow['id']}/execute")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"field": "tasks[0].type", "message": "task type 'later' is not registered"}
    ]


def _cli(dev_server, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ORCHESTRATION_API_KEY": key, "ORCHESTRATION_URL": dev_server.base_url}
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, env=env, timeout=60, check=False)


def test_cli_creates_runs_and_watches_until_the_end(dev_server, tenant, tmp_path) -> None:
    spec = tmp_path / "etl.json"
    spec.write_text(json.dumps(SEED_WORKFLOW))
    created = _cli(dev_server, tenant.key.api_key, "workflows", "create", "-f", str(spec))
    assert created.returncode == 0, created.stderr
    workflow_id = json.loads(created.stdout)["id"]

    watched = _cli(dev_server, tenant.key.api_key, "run", workflow_id, "--param", "rows=2", "--watch")
    assert watched.returncode == 0, watched.stderr
    lines = watched.stdout.splitlines()

    # Progress is shown as it happens, in dependency order: nothing of a task is shown started
    # before its dependency is shown completed (a task quicker than a read is seen completed).
    def first(task: str) -> int:
        return min(
            i for i, line in enumerate(lines) if line.endswith((f" {task}: running", f" {task}: completed"))
        )

    assert first("extract") < lines.index("✔ extract: completed") + 1 <= first("transform")
    assert first("transform") < lines.index("✔ transform: completed") + 1 <= first("load")
    assert "✔ load: completed" in lines and "✔ (execution): completed" in lines

    failing = {"name": "f", "tasks": [{"name": "x", "type": "fail", "config": {"error": "Nope"}}]}
    spec.write_text(json.dumps(failing))
    created = _cli(dev_server, tenant.key.api_key, "workflows", "create", "-f", str(spec))
    assert created.returncode == 0, created.stderr
    failed_id = json.loads(created.stdout)["id"]
    watched = _cli(dev_server, tenant.key.api_key, "run", failed_id, "--watch")
    assert watched.returncode == 1
    assert "failed in task x: Nope" in watched.stdout

    listed = _cli(dev_server, tenant.key.api_key, "executions", "list", "--workflow-id", workflow_id)
    assert json.loads(listed.stdout)["total"] == 1


def test_cli_redrives_a_failed_run_and_refuses_a_completed_one(dev_server, tenant) -> None:
    # Given an execution that failed in its second task (a built-in fail task)
    api = tenant.client
    tasks = [
        {"name": "ok", "type": "noop"},
        {"name": "x", "type": "fail", "config": {"error": "Nope"}, "dependsOn": ["ok"]},
    ]
    wf = api.post("/workflows", json={"name": "redrive", "tasks": tasks}).json()
    failed = _cli(dev_server, tenant.key.api_key, "run", wf["id"], "--watch")
    assert failed.returncode == 1, failed.stderr
    eid = failed.stderr.split("started ", 1)[1].split()[0]
    first = api.get(f"/executions/{eid}").json()

    # When it is redriven from the command line (and watched)
    redriven = _cli(dev_server, tenant.key.api_key, "executions", "redrive", eid, "--watch")

    # Then the same execution ran again: ok kept its result, x failed again, attempts count on
    assert redriven.returncode == 1, redriven.stderr
    assert f"redriven {eid} (redrive 1)" in redriven.stderr
    assert "failed in task x: Nope" in redriven.stdout
    after = api.get(f"/executions/{eid}").json()
    assert after["redriveCount"] == 1 and after["status"] == "failed"
    assert after["tasks"][0] == first["tasks"][0]
    assert after["tasks"][1]["attempts"] == 2

    # And a completed run cannot be redriven: one line on stderr, exit 1
    done = _cli(
        dev_server,
        tenant.key.api_key,
        "run",
        api.post("/workflows", json={"name": "ok", "tasks": tasks[:1]}).json()["id"],
        "--watch",
    )
    assert done.returncode == 0, done.stderr
    done_id = done.stderr.split("started ", 1)[1].split()[0]
    refused = _cli(dev_server, tenant.key.api_key, "executions", "redrive", done_id)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip() == (
        "409: The execution already completed; only a failed or cancelled execution can be redriven."
    ), refused.stderr
