"""The HTTP server of the embedded runtime: the API under /<stage>, local admin under /_local."""

from __future__ import annotations

import hmac
import json
import logging
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from orchestration_core.errors import ProblemError

from orchestration_local import openapi
from orchestration_local.gateway import HttpRequest, HttpResponse
from orchestration_local.runtime import Runtime

log = logging.getLogger("orchestration.server")

ADMIN_HEADER = "X-Local-Admin-Token"


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], runtime: Runtime, quiet: bool = False) -> None:
        super().__init__(address, _Handler)
        self.runtime = runtime
        self.quiet = quiet
        self.prefix = f"/{runtime.template.stage}"
        self.admin_token = runtime.admin_token()
        self.openapi = openapi.render(openapi.build(runtime.functions, runtime.template.stage)).encode()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host if isinstance(host, str) else host.decode()}:{port}{self.prefix}"

    def dispatch(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/_local/"):
            return self._admin(request)
        if request.method == "GET" and request.path in {"/health", f"{self.prefix}/health"}:
            persistence = self.runtime.persistence()
            ok = bool(persistence["ok"])
            return _json(
                200 if ok else 503, {"status": "ok" if ok else "degraded", "persistence": persistence}
            )
        if request.method == "GET" and request.path in {"/openapi.json", f"{self.prefix}/openapi.json"}:
            return HttpResponse(200, [("Content-Type", "application/json")], self.openapi)
        if request.method == "GET" and request.path in {"/docs", f"{self.prefix}/docs"}:
            return HttpResponse(
                200, [("Content-Type", "text/html; charset=utf-8")], openapi.DOCS_PAGE.encode()
            )
        if request.path == self.prefix or request.path.startswith(self.prefix + "/"):
            request.path = request.path[len(self.prefix) :] or "/"
            return self.runtime.gateway.handle(request)
        return self.runtime.gateway.gateway_response("MISSING_AUTHENTICATION_TOKEN", "-")

    def _admin(self, request: HttpRequest) -> HttpResponse:
        """Key management for `orchestration keys` (local only; never part of the deployed API)."""
        given = next((v for k, v in request.headers if k.lower() == ADMIN_HEADER.lower()), "")
        if not hmac.compare_digest(given.encode(), self.admin_token.encode()):
            return _json(401, {"title": "Unauthorized", "detail": "admin token required"})
        keys = self.runtime.key_store()
        try:
            if request.method == "GET" and request.path == "/_local/keys":
                tenant = dict(p.split("=", 1) for p in request.query.split("&") if "=" in p).get("tenant")
                return _json(200, {"keys": [_key_json(k) for k in keys.list_keys(tenant)]})
            if request.method == "POST" and request.path == "/_local/keys":
                body = json.loads(request.body or b"{}")
                plaintext, key = keys.create(str(body.get("tenant", "default")), str(body.get("name", "")))
                return _json(201, {**_key_json(key), "apiKey": plaintext})
            if request.method == "DELETE" and request.path.startswith("/_local/keys/"):
                return _json(200, _key_json(keys.revoke(request.path.rsplit("/", 1)[1])))
        except ProblemError as err:
            return _json(err.status, {"title": err.title, "detail": err.detail})
        except json.JSONDecodeError:
            return _json(400, {"title": "Bad request", "detail": "body is not JSON"})
        return _json(404, {"title": "Not found"})


def _key_json(key: Any) -> dict[str, Any]:
    return {
        "keyId": key.key_id,
        "tenantId": key.tenant_id,
        "name": key.name,
        "createdAt": key.created_at,
        "revokedAt": key.revoked_at,
    }


def _json(status: int, body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(body).encode())


class _Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits ~40 ms for the
    # client's delayed ACK (measured: GET p50 48 ms -> 3 ms).
    disable_nagle_algorithm = True

    def _handle(self) -> None:
        started = time.perf_counter()
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        request = HttpRequest(
            method=self.command,
            path=url.path,
            query=url.query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
        )
        response = self.server.dispatch(request)
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in {"content-length", "connection"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        if not self.server.quiet:
            elapsed = (time.perf_counter() - started) * 1000
            sys.stderr.write(f"{self.command} {url.path} {response.status} {elapsed:.1f}ms\n")

    def __getattr__(self, name: str) -> Any:
        # Every method (GET ... and unusual ones like TRACE) goes to the gateway, which answers
        # an undeclared one the way API Gateway does (no such route), never 501.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        pass
