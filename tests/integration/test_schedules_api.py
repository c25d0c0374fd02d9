"""Schedules handlers on moto, through the gateway emulation: shapes, validation, tenancy, deletion."""

from __future__ import annotations

from datetime import timedelta

import pytest
from orchestration_core.schedules import cron
from orchestration_core.shared import clock

from tests.integration.conftest import ETL, Api

SEED_FIELDS = {"id", "workflowId", "cronExpression", "timezone", "nextRunAt", "createdAt"}


def workflow(api: Api, **changes: object) -> dict:
    status, _, wf = api.call("POST", "/workflows", {**ETL, **changes})
    assert status == 201, wf
    return wf


def create(api: Api, workflow_id: str, **fields: object) -> dict:
    status, headers, sc = api.call(
        "POST", "/schedules", {"workflowId": workflow_id, "cronExpression": "*/5 * * * *", **fields}
    )
    assert status == 201, sc
    assert headers["location"] == f"/v1/schedules/{sc['id']}"
    return sc


def problem_fields(api: Api, method: str, path: str, body: object) -> tuple[int, list[str]]:
    status, headers, problem = api.call(method, path, body)
    assert headers["content-type"] == "application/problem+json"
    assert problem["status"] == status
    return status, [e["field"] for e in problem["errors"]]


def test_create_returns_the_seed_shape_and_the_next_fire(api: Api) -> None:
    wf = workflow(api)
    sc = create(
        api, wf["id"], cronExpression="0 9 * * MON-FRI", timezone="America/New_York", parameters={"a": 1}
    )
    assert set(sc) >= SEED_FIELDS
    assert sc["id"].startswith("sc_") and sc["workflowId"] == wf["id"]
    assert (sc["cronExpression"], sc["timezone"]) == ("0 9 * * MON-FRI", "America/New_York")
    created = clock.parse_iso(sc["createdAt"])
    expected = cron.next_run_at("0 9 * * MON-FRI", "America/New_York", created)
    assert sc["nextRunAt"] == clock.iso(expected)
    assert sc["nextRunAt"].endswith("Z") and len(sc["nextRunAt"]) == len("2026-01-01T00:00:00.000Z")
    assert clock.parse_iso(sc["nextRunAt"]) > created
    assert sc["enabled"] is True and sc["parameters"] == {"a": 1}
    assert sc["lastRunAt"] is None and sc["lastExecutionId"] is None and sc["updatedAt"] == sc["createdAt"]

    status, _, got = api.call("GET", f"/schedules/{sc['id']}")
    assert status == 200 and got == sc


def test_defaults_and_aliases(api: Api) -> None:
    wf = workflow(api)
    sc = create(api, wf["id"], cronExpression="@hourly")
    assert sc["timezone"] == "UTC" and sc["parameters"] == {}
    assert sc["cronExpression"] == "@hourly"  # echoed as sent
    assert sc["nextRunAt"] == clock.iso(
        cron.next_run_at("0 * * * *", "UTC", clock.parse_iso(sc["createdAt"]))
    )
    assert sc["nextRunAt"][14:] == "00:00.000Z"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"cronExpression": "0 0 * * * *"}, ["cronExpression"]),  # seconds field
        ({"cronExpression": "cron(0 12 * * ? *)"}, ["cronExpression"]),  # AWS syntax
        ({"cronExpression": "0 0 30 2 *"}, ["cronExpression"]),  # never fires
        ({"cronExpression": "0 25 * * *"}, ["cronExpression"]),
        ({"cronExpression": ""}, ["cronExpression"]),
        ({"timezone": "Mars/Olympus"}, ["timezone"]),
        ({"timezone": "utc+2"}, ["timezone"]),
        ({"cronExpression": "* * *", "timezone": "Nowhere"}, ["cronExpression", "timezone"]),
        ({"parameters": [1, 2]}, ["parameters"]),
        ({"parameters": "x"}, ["parameters"]),
        ({"enabled": "true"}, ["enabled"]),
        ({"nextRunAt": "2030-01-01T00:00:00.000Z"}, ["nextRunAt"]),  # unknown field
        ({"workflowId": None}, ["workflowId"]),
    ],
)
def test_invalid_create_is_400_naming_the_field(api: Api, body: dict, fields: list[str]) -> None:
    wf = workflow(api)
    payload = {"workflowId": wf["id"], "cronExpression": "*/5 * * * *", **body}
    status, got = problem_fields(api, "POST", "/schedules", payload)
    assert status == 400 and got == fields
    assert api.call("GET", "/schedules")[2]["total"] == 0


def test_cron_messages_are_clear(api: Api) -> None:
    wf = workflow(api)
    _, _, problem = api.call("POST", "/schedules", {"workflowId": wf["id"], "cronExpression": "0 0 30 2 *"})
    assert "never fires" in problem["errors"][0]["message"]
    _, _, problem = api.call("POST", "/schedules", {"workflowId": wf["id"], "cronExpression": "0 0 0 * * *"})
    assert "seconds" in problem["errors"][0]["message"]


def test_missing_body_and_bad_json_are_400(api: Api) -> None:
    assert api.call("POST", "/schedules")[0] == 400
    assert api.call("POST", "/schedules", raw=b"{nope")[0] == 400
    assert api.call("POST", "/schedules", {})[0] == 400


def test_unknown_or_foreign_workflow_is_404(api: Api, other_api: Api) -> None:
    status, _, problem = api.call(
        "POST", "/schedules", {"workflowId": "wf_01m8e9qd2s6xc037t13bayaf29", "cronExpression": "@daily"}
    )
    assert status == 404 and problem["type"].endswith("not-found")
    theirs = workflow(other_api)
    status, _, _ = api.call("POST", "/schedules", {"workflowId": theirs["id"], "cronExpression": "@daily"})
    assert status == 404
    # Validation comes first: a bad expression for a missing workflow is a 400.
    status, _, _ = api.call("POST", "/schedules", {"workflowId": "wf_missing", "cronExpression": "nope"})
    assert status == 400


def test_schedules_are_invisible_to_other_tenants(api: Api, other_api: Api) -> None:
    sc = create(api, workflow(api)["id"])
    path = f"/schedules/{sc['id']}"
    assert other_api.call("GET", path)[0] == 404
    assert other_api.call("PUT", path, {"enabled": False})[0] == 404
    assert other_api.call("DELETE", path)[0] == 404
    _, _, theirs = other_api.call("GET", "/schedules")
    assert theirs["total"] == 0 and theirs["schedules"] == []
    _, _, filtered = other_api.call("GET", "/schedules", query=f"workflowId={sc['workflowId']}")
    assert filtered["total"] == 0
    assert api.call("GET", path)[2]["enabled"] is True  # untouched
    assert Api(api.runtime, None).call("GET", path)[0] == 401


def test_list_filters_by_workflow_counts_exactly_and_pages(api: Api) -> None:
    first, second = workflow(api)["id"], workflow(api)["id"]
    ids = [create(api, first if i % 3 else second, parameters={"i": i})["id"] for i in range(7)]
    _, _, everything = api.call("GET", "/schedules", query="limit=100")
    assert everything["total"] == 7 and [s["id"] for s in everything["schedules"]] == list(reversed(ids))
    assert "parameters" not in everything["schedules"][0]  # list items are summaries
    _, _, of_first = api.call("GET", "/schedules", query=f"workflowId={first}")
    assert of_first["total"] == 4 and {s["workflowId"] for s in of_first["schedules"]} == {first}

    by_token, query, offsets = [], "limit=3", []
    while True:
        status, _, page = api.call("GET", "/schedules", query=query)
        assert status == 200 and page["total"] == 7 and page["limit"] == 3
        by_token += [s["id"] for s in page["schedules"]]
        offsets.append(page["offset"])
        if not page["nextToken"]:
            break
        query = f"limit=3&nextToken={page['nextToken']}"
    assert by_token == list(reversed(ids)) and offsets == [0, 3, 6]
    _, _, by_offset = api.call("GET", "/schedules", query="limit=3&offset=3")
    assert [s["id"] for s in by_offset["schedules"]] == list(reversed(ids))[3:6]

    for bad in ("limit=0", "limit=101", "offset=-1", "limit=x", "nextToken=garbage"):
        assert api.call("GET", "/schedules", query=bad)[0] == 400, bad


def test_update_replaces_given_fields_and_recomputes_next_run(api: Api) -> None:
    sc = create(api, workflow(api)["id"], parameters={"keep": True})
    path = f"/schedules/{sc['id']}"

    status, _, same_timing = api.call("PUT", path, {"parameters": {"new": 1}})
    assert status == 200 and same_timing["parameters"] == {"new": 1}
    assert same_timing["nextRunAt"] == sc["nextRunAt"] and same_timing["cronExpression"] == "*/5 * * * *"
    assert same_timing["updatedAt"] >= sc["updatedAt"]

    status, _, moved = api.call("PUT", path, {"cronExpression": "30 2 * * *", "timezone": "Europe/Berlin"})
    assert status == 200 and moved["parameters"] == {"new": 1}
    updated = clock.parse_iso(moved["updatedAt"])
    assert moved["nextRunAt"] == clock.iso(cron.next_run_at("30 2 * * *", "Europe/Berlin", updated))

    status, _, off = api.call("PUT", path, {"enabled": False})
    assert status == 200 and off["enabled"] is False and off["nextRunAt"] is None
    status, _, on = api.call("PUT", path, {"enabled": True})
    assert on["enabled"] is True and on["nextRunAt"] is not None
    assert clock.parse_iso(on["nextRunAt"]) > clock.parse_iso(on["updatedAt"])
    assert api.call("GET", path)[2] == on

    for body, field in (
        ({"cronExpression": "0 0 31 4 *"}, "cronExpression"),
        ({"timezone": "Atlantis"}, "timezone"),
        ({"workflowId": sc["workflowId"]}, "workflowId"),
        ({"enabled": 1}, "enabled"),
    ):
        assert problem_fields(api, "PUT", path, body) == (400, [field])
    assert api.call("GET", path)[2] == on  # nothing changed by the refused updates
    assert api.call("PUT", "/schedules/sc_01m8e9qd34chemgrxb8efwtzfj", {"enabled": False})[0] == 404


def test_delete_then_404(api: Api) -> None:
    sc = create(api, workflow(api)["id"])
    status, _, body = api.call("DELETE", f"/schedules/{sc['id']}")
    assert (status, body) == (200, {"success": True})
    assert api.call("GET", f"/schedules/{sc['id']}")[0] == 404
    assert api.call("DELETE", f"/schedules/{sc['id']}")[0] == 404
    assert api.call("GET", "/schedules")[2]["total"] == 0


def test_deleting_a_workflow_deletes_its_schedules(api: Api) -> None:
    doomed, kept = workflow(api)["id"], workflow(api)["id"]
    gone = [create(api, doomed)["id"] for _ in range(3)]
    stays = create(api, kept)["id"]
    assert api.call("DELETE", f"/workflows/{doomed}")[0] == 200
    for sid in gone:
        assert api.call("GET", f"/schedules/{sid}")[0] == 404
    _, _, left = api.call("GET", "/schedules")
    assert left["total"] == 1 and [s["id"] for s in left["schedules"]] == [stays]
    assert api.call("GET", "/schedules", query=f"workflowId={doomed}")[2]["total"] == 0


def test_schedule_on_an_inactive_workflow_is_allowed(api: Api) -> None:
    # Inactive workflows keep their schedules; the dispatcher skips their fires.
    sc = create(api, workflow(api, status="inactive")["id"])
    assert sc["nextRunAt"] is not None
    assert clock.parse_iso(sc["nextRunAt"]) - clock.parse_iso(sc["createdAt"]) <= timedelta(minutes=5)
