"""The floor, raw moto get_item in this process, and the same GET in-process without HTTP (the
authorizer alone, the whole API Gateway emulation)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from bench.harness import (
    REPO,
    diamond_workflow,
    time_loop,
)
from bench.http_api.measure import Profile


def _floor_item() -> dict[str, Any]:
    """A stored workflow item shaped like the service's (10-task diamond)."""
    body = diamond_workflow("floor")
    wid = "wf_01floorfloorfloorfloorfl"
    tasks = [
        {
            "name": t["name"],
            "type": t["type"],
            "config": t.get("config", {}),
            "dependsOn": t.get("dependsOn", []),
        }
        for t in body["tasks"]
    ]
    return {
        "PK": f"T#default#WF#{wid}",
        "SK": "WF",
        "entity": "workflow",
        "id": wid,
        "tenantId": "default",
        "name": body["name"],
        "description": body["description"],
        "status": "draft",
        "tasks": json.dumps(tasks, separators=(",", ":")),
        "version": 1,
        "revision": 1,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:00.000Z",
        "GSI1PK": "T#default#WF",
        "GSI1SK": wid,
        "GSI2PK": "T#default#WF#S#draft",
        "GSI2SK": wid,
    }


def raw_get_item(profile: Profile) -> dict[str, Any]:
    """moto get_item through boto3, in this process, on the template's table: the floor."""
    import boto3
    from boto3.dynamodb.types import TypeSerializer
    from moto import mock_aws

    from orchestration_local.template import create_table_request, load_template

    tpl = load_template(REPO / "template.yaml")
    props = next(iter(tpl.tables.values()))
    ser = TypeSerializer()
    item = {k: ser.serialize(v) for k, v in _floor_item().items()}
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**create_table_request(props, "bench-floor"))
        client.put_item(TableName="bench-floor", Item=item)
        key = {"PK": item["PK"], "SK": item["SK"]}

        def get() -> None:
            resp = client.get_item(TableName="bench-floor", Key=key, ConsistentRead=True)
            assert "Item" in resp

        result = time_loop(get, profile.duration, profile.max_requests)
    return {"name": "raw moto get_item (boto3, in-process)", "concurrency": 1, **result}


def inprocess_breakdown(profile: Profile, workdir: Path) -> list[dict[str, Any]]:
    """The same GET without the HTTP server: the authorizer alone, then the whole gateway."""
    from orchestration_local.gateway import HttpRequest
    from orchestration_local.runtime import Runtime

    api_key = "orch_" + secrets.token_urlsafe(32)
    runtime = Runtime(workdir / "inprocess", persist=False)
    try:
        runtime.ensure_dev_key(api_key)
        auth = ("Authorization", f"Bearer {api_key}")
        created = runtime.gateway.handle(
            HttpRequest(
                "POST",
                "/workflows",
                headers=[auth, ("Content-Type", "application/json")],
                body=json.dumps(diamond_workflow("inprocess")).encode(),
            )
        )
        if created.status != 201:
            raise RuntimeError(f"in-process POST failed: {created.status} {created.body[:300]!r}")
        wid = json.loads(created.body)["id"]
        authorizer = runtime.template.authorizer
        assert authorizer is not None
        arn = f"arn:aws:execute-api:us-east-1:123456789012:local/{runtime.template.stage}/GET/workflows/{wid}"
        event = {"type": "TOKEN", "authorizationToken": f"Bearer {api_key}", "methodArn": arn}

        def authorize() -> None:
            runtime.functions.invoke(authorizer, event)

        def gateway_get() -> None:
            resp = runtime.gateway.handle(HttpRequest("GET", f"/workflows/{wid}", headers=[auth]))
            assert resp.status == 200, resp.body[:300]

        return [
            {
                "name": "authorizer Lambda alone (in-process)",
                "concurrency": 1,
                **time_loop(authorize, profile.duration, profile.max_requests),
            },
            {
                "name": "GET /workflows/{id} via gateway, no HTTP (in-process)",
                "concurrency": 1,
                **time_loop(gateway_get, profile.duration, profile.max_requests),
            },
        ]
    finally:
        runtime.close()
