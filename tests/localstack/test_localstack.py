"""The seed's flow against a stack deployed into LocalStack (opt in: needs Docker).

    make localstack-up && eval "$(localstack/deploy.sh | grep LOCALSTACK_)" && make localstack-test

Skipped cleanly unless LOCALSTACK_API_URL and LOCALSTACK_API_KEY are set and answer.
"""

from __future__ import annotations

import os
import time

import httpx
import pytest

pytestmark = pytest.mark.localstack

URL = os.environ.get("LOCALSTACK_API_URL")
KEY = os.environ.get("LOCALSTACK_API_KEY")


@pytest.fixture(scope="module")
def client() -> httpx.Client:
    if not (URL and KEY):
        pytest.skip("LOCALSTACK_API_URL / LOCALSTACK_API_KEY not set (see localstack/deploy.sh)")
    http = httpx.Client(base_url=URL, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    try:
        http.get("/workflows")
    except httpx.HTTPError as err:
        pytest.skip(f"no LocalStack deployment answers at {URL}: {err}")
    return http


def test_seed_flow_on_localstack(client: httpx.Client) -> None:
    created = client.post(
        "/workflows",
        json={
            "name": "Data Processing Pipeline",
            "tasks": [
                {"name": "extract", "type": "noop"},
                {
                    "name": "transform",
                    "type": "transform",
                    "config": {"expression": "parameters"},
                    "dependsOn": ["extract"],
                },
                {"name": "load", "type": "noop", "dependsOn": ["transform"]},
            ],
        },
    )
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    assert client.get(f"/workflows/{workflow_id}").status_code == 200
    assert client.get("/workflows").json()["total"] >= 1

    started = client.post(f"/workflows/{workflow_id}/execute", json={"parameters": {"rows": 2}})
    assert started.status_code == 202, started.text
    execution_id = started.json()["executionId"]
    deadline = time.monotonic() + 120
    while True:
        execution = client.get(f"/executions/{execution_id}").json()
        if execution["status"] in {"completed", "failed", "cancelled"} or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert execution["status"] == "completed", execution
    assert execution["tasks"][1]["result"] == {"rows": 2}

    schedule = client.post("/schedules", json={"workflowId": workflow_id, "cronExpression": "@daily"})
    assert schedule.status_code == 201, schedule.text
    assert client.delete(f"/workflows/{workflow_id}").json() == {"success": True}


def test_bad_key_is_401_problem_json(client: httpx.Client) -> None:
    response = httpx.get(f"{URL}/workflows", headers={"Authorization": "Bearer nope"}, timeout=30)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
