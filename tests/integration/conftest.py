"""Integration fixtures: the template's handlers on moto, in this process, behind the gateway emulation."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestration_local.gateway import HttpRequest
from orchestration_local.runtime import Runtime


class Api:
    """Calls the API as a client would, through the API Gateway emulation (authorizer included)."""

    def __init__(self, runtime: Runtime, key: str | None) -> None:
        self.runtime = runtime
        self.key = key

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        query: str = "",
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if self.key:
            hdrs.setdefault("Authorization", f"Bearer {self.key}")
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        resp = self.runtime.gateway.handle(HttpRequest(method, path, query, list(hdrs.items()), payload))
        out_headers = {k.lower(): v for k, v in resp.headers}
        parsed = json.loads(resp.body) if resp.body else None
        return resp.status, out_headers, parsed


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    rt = Runtime(tmp_path_factory.mktemp("runtime"), persist=False)
    yield rt
    rt.close()


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def api(runtime: Runtime, tenant: str) -> Api:
    plaintext, _ = runtime.key_store().create(tenant, "test")
    return Api(runtime, plaintext)


@pytest.fixture
def other_api(runtime: Runtime) -> Api:
    plaintext, _ = runtime.key_store().create(f"t-{uuid.uuid4().hex[:12]}", "other tenant")
    return Api(runtime, plaintext)


ETL = {
    "name": "Data Processing Pipeline",
    "tasks": [
        {"name": "extract", "type": "data-extraction"},
        {"name": "transform", "type": "data-transformation", "dependsOn": ["extract"]},
        {"name": "load", "type": "data-loading", "dependsOn": ["transform"]},
    ],
}

EVENTS = Path(__file__).resolve().parents[2] / "events"
