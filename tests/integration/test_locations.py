"""Every Location header names the new object under the stage, so a client GETs it on the same
base URL (http://host/v1 + /workflows/... would otherwise be a 404 from the server root)."""

from __future__ import annotations

from tests.integration.conftest import Api

NOOP = {"name": "loc", "tasks": [{"name": "a", "type": "noop"}]}


def test_created_objects_are_located_under_the_stage(api: Api) -> None:
    status, headers, wf = api.call("POST", "/workflows", NOOP)
    assert status == 201 and headers["location"] == f"/v1/workflows/{wf['id']}"
    status, headers, started = api.call("POST", f"/workflows/{wf['id']}/execute", {})
    assert status == 202 and headers["location"] == f"/v1/executions/{started['executionId']}"
    status, headers, sc = api.call("POST", "/schedules", {"workflowId": wf["id"], "cronExpression": "@daily"})
    assert status == 201 and headers["location"] == f"/v1/schedules/{sc['id']}"
    status, headers, fired = api.call("POST", f"/schedules/{sc['id']}/trigger", {})
    assert status == 202 and headers["location"] == f"/v1/executions/{fired['executionId']}"
    for path in (f"/workflows/{wf['id']}", f"/executions/{started['executionId']}", f"/schedules/{sc['id']}"):
        assert api.call("GET", path)[0] == 200
