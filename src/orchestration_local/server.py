"""The HTTP server of the embedded runtime: the API under /<stage>, local admin under /_local.

Connections (docs/reliability.md, "Connections and bodies"): one poller thread accepts and
watches every connection that is waiting for a request; a connection goes to the fixed pool of
worker threads only once its request has started to arrive, and comes back to the poller when
the response is sent (keep-alive). So idle connections cost an fd and no thread, and are closed
after ``idle_timeout`` seconds; a request that stalls for ``read_timeout`` seconds is answered
408 and closed. Open connections are capped below the fd limit: at the cap the oldest idle one
is closed for a new one, and when none is idle the new one is answered 503. Bodies over the
gateway's limit are refused from Content-Length before any of them is read (413, connection
closed), chunked bodies are cut at the limit, and a malformed Content-Length is 400.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import hmac
import io
import json
import logging
import queue
import resource
import selectors
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from orchestration_core.auth.keys import MAX_KEY_NAME, TENANT_PATTERN
from orchestration_core.shared.errors import ProblemError, TransientFailure
from orchestration_core.shared.http import transient_problem
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestration_local import openapi
from orchestration_local.gateway import MAX_BODY, HttpRequest, HttpResponse
from orchestration_local.runtime import Runtime

log = logging.getLogger("orchestration.server")

ADMIN_HEADER = "X-Local-Admin-Token"
IDLE_TIMEOUT = 60.0  # seconds a connection may wait for (the next) request before it is closed
READ_TIMEOUT = 30.0  # seconds a started request may stall (headers or body) before 408
WORKERS = 16
LINGER = 2.0  # seconds to drain an unread body after a refusal, so the client sees the answer


def _max_connections() -> int:
    """Open connections allowed: well under the fd limit, leaving fds for the store and clients."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(32, min(1024, soft - 256, soft // 2))


class _SocketInput(io.RawIOBase):
    """A connection's input: bytes the poller already received, then the socket itself."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffered = bytearray()

    def readable(self) -> bool:
        return True

    def readinto(self, into: Any) -> int | None:
        if self.buffered:
            n = min(len(into), len(self.buffered))
            into[:n] = self.buffered[:n]
            del self.buffered[:n]
            return n
        try:
            return self.sock.recv_into(into)
        except BlockingIOError:
            return None


class _SocketOutput(io.BufferedIOBase):
    """Unbuffered output: each write goes out whole (headers, then the body)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.sock.sendall(data)
        with memoryview(data) as view:
            return view.nbytes


class _Connection:
    __slots__ = ("address", "handler", "input", "lane", "sock")

    def __init__(self, sock: socket.socket, address: Any) -> None:
        self.sock = sock
        self.address = address
        self.input = _SocketInput(sock)
        self.handler: _Handler | None = None
        self.lane: dict[_Connection, float] | None = None  # the poller's lane it waits in


class Server(HTTPServer):
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        runtime: Runtime,
        quiet: bool = False,
        idle_timeout: float = IDLE_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        workers: int = WORKERS,
        max_connections: int | None = None,
    ) -> None:
        super().__init__(address, BaseHTTPRequestHandler)  # serve_forever makes _Handlers itself
        self.runtime = runtime
        self.quiet = quiet
        self.idle_timeout = idle_timeout
        self.read_timeout = read_timeout
        self.workers = workers
        self.max_connections = max_connections or _max_connections()
        self.prefix = f"/{runtime.template.stage}"
        self.admin_token = runtime.admin_token()
        self.openapi = openapi.render(openapi.build(runtime.functions, runtime.template.stage)).encode()
        # The poller's connections, in three lanes, each oldest first with the monotonic time it
        # is closed at (one timeout per lane, so insertion order is deadline order): waiting for
        # a request, partway through a request's headers, and draining after a refusal.
        self._waiting: collections.OrderedDict[_Connection, float] = collections.OrderedDict()
        self._partial: collections.OrderedDict[_Connection, float] = collections.OrderedDict()
        self._draining: collections.OrderedDict[_Connection, float] = collections.OrderedDict()
        self._lanes = (self._waiting, self._draining, self._partial)  # eviction order
        self._open = 0
        self._open_lock = threading.Lock()
        self._ready: queue.SimpleQueue[_Connection | None] = queue.SimpleQueue()
        self._returned: collections.deque[tuple[_Connection, bool]] = collections.deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- connection handling ----------------------------------------------------------------------
    def serve_forever(self, poll_interval: float = 0.5) -> None:
        # Runs once per Server; a shutdown() that came first (an early Ctrl-C) stops it at once.
        self.socket.setblocking(False)
        self._threads = [
            threading.Thread(target=self._work, name=f"http-worker-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()
        selector = selectors.DefaultSelector()
        selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        accepting = False
        paused_until = 0.0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if not accepting and now >= paused_until:
                    selector.register(self.socket, selectors.EVENT_READ, "listen")
                    accepting = True
                timeout = poll_interval
                for lane in self._lanes:
                    if lane:
                        timeout = min(timeout, max(0.0, next(iter(lane.values())) - now))
                for key, _ in selector.select(timeout):
                    if key.data == "listen":
                        if not self._accept(selector):
                            selector.unregister(self.socket)  # out of fds: retry shortly, never spin
                            accepting, paused_until = False, time.monotonic() + 0.1
                    elif key.data == "wake":
                        self._drain_wake()
                    else:
                        self._readable(selector, key.data)
                while self._returned:
                    conn, draining = self._returned.popleft()
                    self._park(selector, conn, self._draining if draining else self._waiting)
                self._expire(selector)
        finally:
            for lane in self._lanes:
                for conn in list(lane):
                    self._close(selector, conn)
            selector.close()
            for _ in self._threads:
                self._ready.put(None)
            self._stopped.set()

    def shutdown(self) -> None:
        self._stop.set()
        self._wake()
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        # Requests in flight finish (and their writes are kept) before the runtime closes.
        deadline = time.monotonic() + 5.0
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._wake_r.close()
        self._wake_w.close()

    def _accept(self, selector: selectors.BaseSelector) -> bool:
        """Accept what is pending; False when out of fds with nothing idle to give back."""
        for _ in range(64):
            try:
                sock, address = self.socket.accept()
            except BlockingIOError:
                return True
            except OSError as err:
                if err.errno in {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}:
                    if self._evict(selector):
                        continue
                    log.warning("out of file descriptors: not accepting for 0.1 s")
                    return False
                return True  # e.g. ECONNABORTED: that client is gone
            with self._open_lock:
                self._open += 1
                full = self._open > self.max_connections
            conn = _Connection(sock, address)
            if full and not self._evict(selector):
                # Every connection is in a worker's hands or queued for one: 503, retry later.
                response = _problem(503, "unavailable", "Service unavailable", "Too many open connections.")
                self._answer_and_close(selector, conn, response)
                continue
            self._park(selector, conn, self._waiting)
        return True

    def _evict(self, selector: selectors.BaseSelector) -> bool:
        """Close the oldest connection the poller holds (idle first) to make room; False if none."""
        for lane in self._lanes:
            if lane:
                self._close(selector, next(iter(lane)))
                return True
        return False

    def _answer_and_close(
        self, selector: selectors.BaseSelector | None, conn: _Connection, response: HttpResponse
    ) -> None:
        """A short answer from the poller (it never blocks: a full send buffer loses it), then close."""
        reason = {408: "Request Timeout", 503: "Service Unavailable"}.get(response.status, "Error")
        head = f"HTTP/1.1 {response.status} {reason}\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in response.headers)
        head += f"Content-Length: {len(response.body)}\r\n\r\n"
        with contextlib.suppress(OSError):
            conn.sock.setblocking(False)
            conn.sock.send(head.encode() + response.body)
            conn.sock.shutdown(socket.SHUT_WR)
        self._close(selector, conn)

    def _park(
        self, selector: selectors.BaseSelector, conn: _Connection, lane: dict[_Connection, float]
    ) -> None:
        """Watch a connection until its request has arrived (or it has drained long enough)."""
        if self._stop.is_set():
            self._close(None, conn)
            return
        try:
            conn.sock.setblocking(False)
            selector.register(conn.sock, selectors.EVENT_READ, conn)
        except (OSError, ValueError):
            self._close(None, conn)
            return
        self._enter(conn, lane)

    def _enter(self, conn: _Connection, lane: dict[_Connection, float]) -> None:
        if conn.lane is not None:
            del conn.lane[conn]
        timeout = {id(self._waiting): self.idle_timeout, id(self._partial): self.read_timeout}
        lane[conn] = time.monotonic() + timeout.get(id(lane), LINGER)
        conn.lane = lane

    def _readable(self, selector: selectors.BaseSelector, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client closed it
            self._close(selector, conn)
            return
        if conn.lane is self._draining:  # discard what the client still sends after a refusal
            return
        # A worker takes the connection only once the request's headers are all here: a
        # client that trickles them holds an fd for at most read_timeout, never a thread.
        buffered = conn.input.buffered
        seen = max(0, len(buffered) - 3)
        buffered += data
        complete = buffered.find(b"\n\r\n", seen) >= 0 or buffered.find(b"\n\n", seen) >= 0
        if complete or len(buffered) > 128 * 1024:  # too long: the handler answers 414/431
            selector.unregister(conn.sock)
            assert conn.lane is not None
            del conn.lane[conn]
            conn.lane = None
            conn.sock.settimeout(self.read_timeout)
            self._ready.put(conn)
        elif conn.lane is self._waiting:
            self._enter(conn, self._partial)  # the request has started: read_timeout from now

    def _expire(self, selector: selectors.BaseSelector) -> None:
        now = time.monotonic()
        for lane in self._lanes:
            while lane:
                conn, deadline = next(iter(lane.items()))
                if deadline > now:
                    break
                if lane is self._partial:
                    detail = "The request's headers stopped arriving."
                    self._answer_and_close(
                        selector, conn, _problem(408, "request-timeout", "Request timeout", detail)
                    )
                else:
                    self._close(selector, conn)

    def _close(self, selector: selectors.BaseSelector | None, conn: _Connection) -> None:
        if conn.lane is not None:
            del conn.lane[conn]
            conn.lane = None
            if selector is not None:
                with contextlib.suppress(KeyError, ValueError):
                    selector.unregister(conn.sock)
        files = (conn.handler.rfile, conn.handler.wfile) if conn.handler is not None else ()
        for closable in (*files, conn.sock):
            with contextlib.suppress(OSError):
                closable.close()
        with self._open_lock:
            self._open -= 1

    def _work(self) -> None:
        while (conn := self._ready.get()) is not None:
            outcome: bool | None = False
            try:
                if conn.handler is None:
                    conn.handler = _Handler(conn, self)
                outcome = conn.handler.serve()
            except Exception:  # a client gone mid-answer, or a bug: never the worker
                log.debug("connection from %s ended", conn.address, exc_info=True)
            if outcome is not False and not self._stop.is_set():
                self._returned.append((conn, outcome is None))
                self._wake()
            else:
                self._close(None, conn)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # OSError: already awake (buffer full) or closed
            self._wake_w.send(b"\0")

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

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
                200, [("Content-Type", "text/html; charset=utf-8")], openapi.docs_page(self.prefix).encode()
            )
        if request.method == "GET" and request.path in {"/console", "/console/", f"{self.prefix}/console/"}:
            # The console lives under the API (as on a deployed stage); its page needs no trailing /.
            return HttpResponse(308, [("Location", f"{self.prefix}/console")], b"")
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
                query = _KeyQuery.model_validate(dict(parse_qsl(request.query)))
                return _json(200, {"keys": [_key_json(k) for k in keys.list_keys(query.tenant)]})
            if request.method == "POST" and request.path == "/_local/keys":
                body = _NewKey.model_validate_json(request.body or b"{}")
                plaintext, key = keys.create(body.tenant, body.name)
                return _json(201, {**_key_json(key), "apiKey": plaintext})
            if request.method == "DELETE" and request.path.startswith("/_local/keys/"):
                return _json(200, _key_json(keys.revoke(request.path.rsplit("/", 1)[1])))
        except ProblemError as err:
            return _json(err.status, {"title": err.title, "detail": err.detail})
        except TransientFailure as err:  # the store could not keep the key: 429/503, as the API says
            problem = transient_problem(err)
            return _json(problem.status, {"title": problem.title, "detail": problem.detail})
        except ValidationError as err:
            reasons = "; ".join(_reason(e) for e in err.errors(include_url=False))
            return _json(400, {"title": "Bad request", "detail": reasons})
        return _json(404, {"title": "Not found"})


class _NewKey(BaseModel):
    """POST /_local/keys: a JSON object; the tenant is a safe id, never null or made up."""

    model_config = ConfigDict(extra="forbid", strict=True)
    tenant: str = Field(default="default", pattern=TENANT_PATTERN)
    name: str = Field(default="", max_length=MAX_KEY_NAME)


class _KeyQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    tenant: str | None = Field(default=None, pattern=TENANT_PATTERN)


def _reason(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ())) or "body"
    if error.get("type") == "json_invalid":
        return "body: not valid UTF-8 JSON"
    if error.get("type") == "model_type":
        return "body: must be a JSON object"
    if error.get("type") == "string_pattern_mismatch":
        return f"{where}: 1..128 characters of A-Z, a-z, 0-9, '_' and '-'"
    return f"{where}: {error.get('msg', 'invalid')}"


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


def _problem(status: int, slug: str, title: str, detail: str) -> HttpResponse:
    body = {"type": f"urn:orchestration:problem:{slug}", "title": title, "status": status}
    body |= {"detail": detail, "errors": []}
    headers = [("Content-Type", "application/problem+json")]
    if status == 503:
        headers.append(("Retry-After", "1"))
    return HttpResponse(status, headers, json.dumps(body).encode())


def _rid() -> str:
    return str(uuid.uuid4())


class _BodyRefused(Exception):
    def __init__(self, response: HttpResponse, linger: bool = True) -> None:
        self.response = response
        self.linger = linger  # the client may still be sending: drain before closing


class _Handler(BaseHTTPRequestHandler):
    """One per connection, kept across its keep-alive requests (see Server for the lifecycle)."""

    server: Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits ~40 ms for the
    # client's delayed ACK (measured: GET p50 48 ms -> 3 ms).
    disable_nagle_algorithm = True

    def __init__(self, conn: _Connection, server: Server) -> None:
        # Unlike socketserver's handlers this does not serve at construction: serve() does,
        # one request at a time, so that a waiting keep-alive connection holds no thread.
        self.request = self.connection = conn.sock
        self.client_address = conn.address
        self.server = server
        self.refused: _BodyRefused | None = None
        if self.disable_nagle_algorithm:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self.rfile = io.BufferedReader(conn.input)  # what the poller read, then the socket
        self.wfile = _SocketOutput(conn.sock)

    def serve(self) -> bool | None:
        """Answer the requests that have arrived: True to keep the connection, False to close
        it, None to drain it briefly and close (a refused body may still be on its way)."""
        while True:
            self.close_connection = True
            self.refused = None
            self.handle_one_request()
            if self.refused is not None:
                self.wfile.flush()
                if self.refused.linger:
                    self.request.shutdown(socket.SHUT_WR)
                    return None
                return False
            if self.close_connection:
                return False
            if not self._pipelined():
                return True

    def _pipelined(self) -> bool:
        """Whether the next request is already buffered (pipelining): the poller cannot see it."""
        self.request.setblocking(False)
        try:
            return bool(self.rfile.peek(1))  # type: ignore[attr-defined]  # a BufferedReader
        except OSError:
            return False
        finally:
            self.request.settimeout(self.server.read_timeout)

    def handle_expect_100(self) -> bool:
        # A body that will be refused is not asked for.
        try:
            self._content_length()
        except _BodyRefused:
            return True
        return super().handle_expect_100()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The request line or headers were malformed: problem+json like every other answer."""
        self.close_connection = True
        if self.request_version in {"", "HTTP/0.9"}:
            self.request_version = "HTTP/1.1"  # answer with a status line and headers all the same
        title = message or self.responses.get(code, ("Error",))[0]
        status = 400 if code >= 500 else code  # e.g. 505 for "HTTP/2.0": bad input never yields a 5xx
        self._send(_problem(status, "bad-request", title, explain or title))

    def _content_length(self) -> int:
        """The body's length from Content-Length (0 if none); -1 for a chunked body."""
        encodings = self.headers.get_all("Transfer-Encoding") or []
        lengths = self.headers.get_all("Content-Length") or []
        if encodings:
            codings = [c.strip().lower() for value in encodings for c in value.split(",") if c.strip()]
            if lengths:
                raise self._bad("send either Content-Length or Transfer-Encoding, not both")
            if codings != ["chunked"]:
                raise self._bad("the only Transfer-Encoding accepted is chunked")
            return -1
        if not lengths:
            return 0
        values = {v.strip() for v in lengths}
        value = values.pop()
        if values or not value.isascii() or not value.isdigit():
            raise self._bad("Content-Length must be one non-negative integer")
        if len(value) > 12 or int(value) > MAX_BODY:
            raise self._too_large()
        return int(value)

    def _read_body(self) -> bytes:
        length = self._content_length()
        if length == -1:
            return self._read_chunked()
        body = self.rfile.read(length) if length > 0 else b""
        if len(body) < length:
            raise ConnectionError("the client closed the connection mid-body")
        return body

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1026)
            if not line.endswith(b"\n"):
                if not line:
                    raise ConnectionError("the client closed the connection mid-body")
                raise self._bad("malformed chunk size line")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16) if size_text and len(size_text) <= 16 else -1
            except ValueError:
                size = -1
            if size < 0:
                raise self._bad("malformed chunk size")
            if size == 0:
                for _ in range(100):  # trailer fields, up to the blank line
                    if self.rfile.readline(8194) in {b"\r\n", b"\n", b""}:
                        return b"".join(parts)
                raise self._bad("too many trailer fields")
            total += size
            if total > MAX_BODY:
                raise self._too_large()
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise ConnectionError("the client closed the connection mid-body")
            parts.append(chunk)
            if self.rfile.readline(3) not in {b"\r\n", b"\n"}:
                raise self._bad("a chunk must end with CRLF")

    def _bad(self, message: str) -> _BodyRefused:
        return _BodyRefused(self.server.runtime.gateway.gateway_response("DEFAULT_4XX", _rid(), message))

    def _too_large(self) -> _BodyRefused:
        return _BodyRefused(self.server.runtime.gateway.gateway_response("REQUEST_TOO_LARGE", _rid()))

    def _handle(self) -> None:
        started = time.perf_counter()
        url = urlsplit(self.path)
        try:
            body = self._read_body()
        except _BodyRefused as refused:
            self.refused = refused
            response = refused.response
        except TimeoutError:
            # The body stalled: answer if the client still listens, then close.
            self.refused = _BodyRefused(
                _problem(408, "request-timeout", "Request timeout", "The request body stopped arriving.")
            )
            response = self.refused.response
        else:
            request = HttpRequest(
                method=self.command,
                path=url.path,
                query=url.query,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
            )
            try:
                response = self.server.dispatch(request)
            except Exception:  # a bug: answered (and logged), never a dropped connection
                log.exception("%s %s failed", self.command, url.path)
                response = _problem(500, "internal-error", "Internal error", "An unexpected error occurred.")
        self._send(response)
        if not self.server.quiet:
            elapsed = (time.perf_counter() - started) * 1000
            sys.stderr.write(f"{self.command} {url.path} {response.status} {elapsed:.1f}ms\n")

    def _send(self, response: HttpResponse) -> None:
        if self.refused is not None:
            self.close_connection = True
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in {"content-length", "connection"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def __getattr__(self, name: str) -> Any:
        # Every method (GET ... and unusual ones like TRACE) goes to the gateway, which answers
        # an undeclared one the way API Gateway does (no such route), never 501.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        pass
