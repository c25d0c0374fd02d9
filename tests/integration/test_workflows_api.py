"""Workflows handlers on moto, through the gateway emulation: behaviour, totals, concurrency, tenancy."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

from tests.integration.conftest import ETL, Api


def create(api: Api, body: dict | None = None, **changes: object) -> dict:
    payload = copy.deepcopy(body or ETL)
    payload.update(changes)
    status, headers, wf = api.call("POST", "/workflows", payload)
    assert status == 201, wf
    assert headers["etag"] == '"1"'
    return wf


def test_create_get_update_delete_round_trip(api: Api) -> None:
    wf = create(api)
    assert wf["status"] == "draft" and wf["description"] == "" and wf["version"] == 1
    assert wf["createdAt"].endswith("Z") and len(wf["createdAt"]) == len("2026-01-01T00:00:00.000Z")

    status, headers, got = api.call("GET", f"/workflows/{wf['id']}")
    assert status == 200 and headers["etag"] == '"1"'
    assert [t["name"] for t in got["tasks"]] == ["extract", "transform", "load"]
    assert {t["status"] for t in got["tasks"]} == {"pending"}
    assert got["tasks"][1]["dependsOn"] == ["extract"] and got["tasks"][0]["config"] == {}

    # A name change keeps the version; a task change bumps it; the task ids stay stable.
    status, headers, renamed = api.call("PUT", f"/workflows/{wf['id']}", {"name": "ETL"})
    assert status == 200 and renamed["name"] == "ETL" and renamed["version"] == 1 and headers["etag"] == '"2"'
    assert renamed["updatedAt"] >= wf["updatedAt"]
    tasks = [*ETL["tasks"], {"name": "report", "type": "noop", "dependsOn": ["load"]}]
    status, _, changed = api.call("PUT", f"/workflows/{wf['id']}", {"tasks": tasks, "status": "active"})
    assert status == 200 and changed["version"] == 2 and changed["status"] == "active"
    assert changed["tasks"][0]["id"] == got["tasks"][0]["id"]
    # The same tasks again: no new version.
    status, _, same = api.call("PUT", f"/workflows/{wf['id']}", {"tasks": tasks})
    assert same["version"] == 2

    status, _, deleted = api.call("DELETE", f"/workflows/{wf['id']}")
    assert (status, deleted) == (200, {"success": True})
    status, _, body = api.call("DELETE", f"/workflows/{wf['id']}")
    assert status == 404 and body["status"] == 404
    assert api.call("GET", f"/workflows/{wf['id']}")[0] == 404


def test_if_match_guards_updates_and_deletes(api: Api) -> None:
    wf = create(api)
    path = f"/workflows/{wf['id']}"
    assert api.call("PUT", path, {"name": "a"}, {"If-Match": '"1"'})[0] == 200
    status, headers, problem = api.call("PUT", path, {"name": "b"}, {"If-Match": '"1"'})
    assert status == 412 and headers["content-type"] == "application/problem+json"
    assert problem["type"].endswith("precondition-failed")
    assert api.call("DELETE", path, headers={"If-Match": '"1"'})[0] == 412
    assert api.call("DELETE", path, headers={"If-Match": '"2"'})[0] == 200


def test_concurrent_updates_with_one_etag_have_exactly_one_winner(api: Api) -> None:
    # Through the API (the embedded runtime runs API handlers one at a time, like one Lambda
    # environment each); test_store_concurrency.py races the store itself from many threads.
    wf = create(api)
    path = f"/workflows/{wf['id']}"
    with ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(lambda i: api.call("PUT", path, {"name": f"n{i}"}, {"If-Match": '"1"'})[0], range(16))
        )
    assert sorted(statuses) == [200] + [412] * 15


def test_concurrent_updates_without_etag_lose_nothing(api: Api) -> None:
    wf = create(api)
    path = f"/workflows/{wf['id']}"
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: api.call("PUT", path, {"description": f"d{i}"})[0], range(20)))
    assert statuses == [200] * 20
    _, headers, _ = api.call("GET", path)
    assert headers["etag"] == '"21"'  # every one of the 20 writes was applied, none overwritten unseen


def test_totals_are_exact_per_status_and_pages_are_newest_first(api: Api) -> None:
    ids = [create(api, name=f"wf{i}")["id"] for i in range(7)]
    for wid in ids[:3]:
        assert api.call("PUT", f"/workflows/{wid}", {"status": "active"})[0] == 200
    api.call("DELETE", f"/workflows/{ids[3]}")

    _, _, everything = api.call("GET", "/workflows", query="limit=100")
    assert everything["total"] == 6
    assert [w["id"] for w in everything["workflows"]] == [i for i in reversed(ids) if i != ids[3]]
    _, _, active = api.call("GET", "/workflows", query="status=active")
    assert active["total"] == 3 and {w["id"] for w in active["workflows"]} == set(ids[:3])
    _, _, draft = api.call("GET", "/workflows", query="status=draft")
    assert draft["total"] == 3
    _, _, inactive = api.call("GET", "/workflows", query="status=inactive")
    assert inactive == {"workflows": [], "total": 0, "limit": 50, "offset": 0, "nextToken": None}


def test_offset_and_next_token_walk_the_same_pages(api: Api) -> None:
    ids = [create(api, name=f"wf{i}")["id"] for i in range(8)]
    newest_first = list(reversed(ids))
    by_offset = []
    for offset in range(0, 8, 3):
        _, _, page = api.call("GET", "/workflows", query=f"limit=3&offset={offset}")
        assert page["offset"] == offset and page["total"] == 8
        by_offset += [w["id"] for w in page["workflows"]]
    by_token, query, offsets = [], "limit=3", []
    while True:
        _, _, page = api.call("GET", "/workflows", query=query)
        by_token += [w["id"] for w in page["workflows"]]
        offsets.append(page["offset"])
        if not page["nextToken"]:
            break
        query = f"limit=3&nextToken={page['nextToken']}"
    assert by_offset == by_token == newest_first
    assert offsets == [0, 3, 6]
    _, _, past_end = api.call("GET", "/workflows", query="offset=100")
    assert past_end["workflows"] == [] and past_end["total"] == 8 and past_end["nextToken"] is None


def test_another_tenant_sees_nothing(api: Api, other_api: Api) -> None:
    wf = create(api)
    path = f"/workflows/{wf['id']}"
    assert other_api.call("GET", path)[0] == 404
    assert other_api.call("PUT", path, {"name": "mine"})[0] == 404
    assert other_api.call("DELETE", path)[0] == 404
    _, _, listing = other_api.call("GET", "/workflows")
    assert listing["total"] == 0 and listing["workflows"] == []
    assert api.call("GET", path)[2]["name"] == ETL["name"]
    # A token from one tenant's list is only a position: it cannot reach into another tenant.
    create(api, name="second")
    _, _, page = api.call("GET", "/workflows", query="limit=1")
    _, _, foreign = other_api.call("GET", "/workflows", query=f"limit=1&nextToken={page['nextToken']}")
    assert foreign["workflows"] == [] and foreign["total"] == 0


def test_validation_errors_are_problem_json_with_paths(api: Api) -> None:
    body = copy.deepcopy(ETL)
    body["tasks"][1]["dependsOn"] = ["nope"]
    status, headers, problem = api.call("POST", "/workflows", body)
    assert status == 400 and headers["content-type"] == "application/problem+json"
    assert problem["errors"] == [
        {
            "field": "tasks[1].dependsOn[0]",
            "message": "unknown task 'nope': dependsOn must name a task of this workflow",
        }
    ]
    status, _, problem = api.call("POST", "/workflows", raw=b'{"name": ')
    assert status == 400 and problem["detail"] == "The request body is not valid JSON."
    status, _, problem = api.call("POST", "/workflows", raw=b"x" * (256 * 1024 + 1))
    assert status == 413 and problem["status"] == 413
    nested: dict = {}
    for _ in range(70):
        nested = {"n": nested}
    status, _, problem = api.call(
        "POST", "/workflows", {**ETL, "tasks": [{"name": "a", "type": "noop", "config": nested}]}
    )
    assert status == 400 and problem["errors"] == [
        {"field": "body", "message": "is nested deeper than 64 levels"}
    ]


def test_unknown_key_and_missing_key_are_401_not_404(runtime, api: Api) -> None:
    wf = create(api)
    for key in (None, "orch_unknown"):
        status, headers, problem = Api(runtime, key).call("GET", f"/workflows/{wf['id']}")
        assert (
            status == 401
            and problem["status"] == 401
            and headers["content-type"] == "application/problem+json"
        )


def test_revoked_key_stops_working(runtime, tenant: str) -> None:
    plaintext, key = runtime.key_store().create(tenant, "to revoke")
    client = Api(runtime, plaintext)
    assert client.call("GET", "/workflows")[0] == 200
    runtime.key_store().revoke(key.key_id)
    assert client.call("GET", "/workflows")[0] == 401
