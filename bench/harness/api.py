"""The API over HTTP as the benchmarks drive it: one keep-alive HTTP/1.1 connection per client
thread (``http.client``), and the workflow most of them write."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit


def diamond_workflow(name: str) -> dict[str, Any]:
    """10 tasks: extract -> 3 parallel -> merge -> 4 parallel -> publish."""
    tasks: list[dict[str, Any]] = [
        {"name": "extract", "type": "noop", "config": {"source": "s3://bucket/in"}}
    ]
    tasks += [{"name": f"clean_{i}", "type": "noop", "dependsOn": ["extract"]} for i in range(3)]
    tasks.append(
        {
            "name": "merge",
            "type": "transform",
            "config": {"expression": "inputs"},
            "dependsOn": [f"clean_{i}" for i in range(3)],
        }
    )
    tasks += [{"name": f"report_{i}", "type": "noop", "dependsOn": ["merge"]} for i in range(4)]
    tasks.append({"name": "publish", "type": "noop", "dependsOn": [f"report_{i}" for i in range(4)]})
    return {"name": name, "description": "benchmark workflow (10-task diamond)", "tasks": tasks}


class Connection:
    """One keep-alive HTTP/1.1 connection to the API, authenticated with an API key."""

    def __init__(self, base_url: str, api_key: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.auth = f"Bearer {api_key}"
        self.conn = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=120)

    def reconnect(self) -> None:
        self.conn.close()
        self.conn = self._connect()

    def prepare(
        self, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[bytes | None, dict[str, str]]:
        """The request's body (JSON) and headers (the key, the caller's, the content type)."""
        hdrs = {"Authorization": self.auth, **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        return data, hdrs

    def send(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str]
    ) -> http.client.HTTPResponse:
        self.conn.request(method, self.prefix + path, body=data, headers=headers)
        return self.conn.getresponse()

    def close(self) -> None:
        self.conn.close()


class Client(Connection):
    """A connection that retries a request once on a new connection after a connection error."""

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data, headers = self.prepare(body)
        for attempt in (1, 2):
            try:
                resp = self.send(method, path, data, headers)
                return resp.status, resp.read()
            except (http.client.HTTPException, OSError):
                self.reconnect()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        status, payload = self.request(method, path, body)
        if status != expect:
            raise RuntimeError(f"{method} {path}: expected {expect}, got {status}: {payload[:500]!r}")
        return json.loads(payload)
