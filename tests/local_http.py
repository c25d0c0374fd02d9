"""A small HTTP(S) server on 127.0.0.1 for http task tests: fixed routes, every request recorded."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Route:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict[str, Route]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = routes
        self.seen: list[Seen] = []
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.server.lock:
            self.server.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
        route = self.server.routes.get(self.path.split("?")[0], Route(404, body=b"no such route"))
        self.send_response(route.status)
        for name, value in route.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(route.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: object) -> None:
        return


class LocalServer:
    def __init__(self, server: _Server, scheme: str) -> None:
        self._server = server
        self.port = int(server.server_address[1])
        self.scheme = scheme
        self.routes = server.routes

    @property
    def seen(self) -> list[Seen]:
        with self._server.lock:
            return list(self._server.seen)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"


@contextmanager
def serve(routes: dict[str, Route] | None = None, tls: ssl.SSLContext | None = None) -> Iterator[LocalServer]:
    """Serve ``routes`` (path -> Route; anything else is 404) until the block ends."""
    server = _Server(dict(routes or {}))
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield LocalServer(server, "https" if tls else "http")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
