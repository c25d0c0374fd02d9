"""Hostile connections over real sockets against `orchestration dev` (docs/reliability.md,
"Connections and bodies"): idle and half-sent requests are closed after their timeouts, bodies
over the limit are refused from Content-Length before they are read, a malformed
Content-Length is 400, hundreds of idle connections do not stop a request from being served,
and the local admin endpoint answers a bad body with 400.

Every wait is on a socket event (the server's answer or its EOF) with a generous deadline that
fails the test; nothing sleeps and hopes.
"""

from __future__ import annotations

import json
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import start_dev_server

if TYPE_CHECKING:
    from tests.e2e.conftest import DevServer

DEADLINE = 30.0  # seconds: the longest any socket wait may take before the test fails
SHORT = "1.5"  # the idle and read timeouts of the `short` server, in seconds
MAX_BODY = 10 * 1024 * 1024


# -- helpers ----------------------------------------------------------------------------------------
def connect(server: DevServer) -> socket.socket:
    parts = urlsplit(server.base_url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=DEADLINE)
    return sock


def read_until_eof(sock: socket.socket, deadline: float = DEADLINE) -> bytes:
    """Everything the server sends until it closes the connection; fails the test at the deadline."""
    data = b""
    end = time.monotonic() + deadline
    while True:
        remaining = end - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"the server did not close the connection within {deadline}s; got {data[:300]!r}")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response (status, lower-cased headers, body by Content-Length); fails at the deadline."""
    data = b""
    end = time.monotonic() + DEADLINE
    while True:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            lines = head.decode("latin-1").split("\r\n")
            headers = dict((k.strip().lower(), v.strip()) for k, v in (ln.split(":", 1) for ln in lines[1:]))
            length = int(headers.get("content-length", "0"))
            if len(rest) >= length:
                return int(lines[0].split()[1]), headers, rest[:length]
        remaining = end - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"no complete response within {DEADLINE}s; got {data[:300]!r}")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            pytest.fail(f"the server closed the connection without a complete response; got {data[:300]!r}")
        data += chunk


def assert_problem(status: int, headers: dict[str, str], body: bytes, expected: int) -> dict[str, Any]:
    assert status == expected, (status, headers, body[:300])
    assert headers["content-type"] == "application/problem+json", headers
    problem: dict[str, Any] = json.loads(body)
    assert problem["status"] == expected and {"type", "title", "detail", "errors"} <= set(problem), problem
    return problem


def request_head(server: DevServer, method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {urlsplit(server.base_url).path}{path} HTTP/1.1", "Host: localhost", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def auth(server: DevServer) -> str:
    return f"Authorization: Bearer {server.api_key}"


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """A server whose idle and read timeouts are short, so that the timeout tests are quick."""
    workdir = tmp_path_factory.mktemp("short-timeouts")
    server = start_dev_server(workdir, workdir / "data", "--idle-timeout", SHORT, "--read-timeout", SHORT)
    try:
        yield server
    finally:
        server.assert_clean_stop()


# -- timeouts ---------------------------------------------------------------------------------------
def test_an_idle_connection_is_closed_by_the_server(short: DevServer) -> None:
    with connect(short) as sock:
        assert read_until_eof(sock) == b""  # closed without a word: no request was started


def test_a_keep_alive_connection_is_closed_once_idle(short: DevServer) -> None:
    with connect(short) as sock:
        sock.sendall(request_head(short, "GET", "/workflows", auth(short)))
        status, headers, _ = read_response(sock)
        assert status == 200 and headers.get("connection") != "close"
        sock.sendall(request_head(short, "GET", "/workflows", auth(short)))  # still open: reused
        assert read_response(sock)[0] == 200
        assert read_until_eof(sock) == b""


def test_half_sent_headers_are_answered_408_and_closed(short: DevServer) -> None:
    with connect(short) as sock:
        sock.sendall(f"GET {urlsplit(short.base_url).path}/workflows HTTP/1.1\r\nHost: x\r\n".encode())
        answer = read_until_eof(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:300]
    assert b"application/problem+json" in answer


def test_a_half_sent_body_is_answered_408_and_closed(short: DevServer) -> None:
    with connect(short) as sock:
        sock.sendall(request_head(short, "POST", "/workflows", auth(short), "Content-Length: 100") + b'{"na')
        answer = read_until_eof(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:300]
    problem = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert problem["status"] == 408 and problem["type"].endswith("request-timeout"), problem


def test_the_server_still_answers_after_the_timeouts(short: DevServer) -> None:
    response = short.client().get("/workflows")
    assert response.status_code == 200, response.text


# -- Content-Length and bodies --------------------------------------------------------------------
@pytest.mark.parametrize(
    "header",
    [
        "Content-Length: abc",
        "Content-Length: -5",
        "Content-Length: +5",
        "Content-Length: 1e3",
        "Content-Length: 0x10",
        "Content-Length: 5\r\nContent-Length: 6",
        "Content-Length: 5\r\nTransfer-Encoding: chunked",
        "Transfer-Encoding: gzip",
    ],
    ids=["abc", "negative", "plus-sign", "exponent", "hex", "two-lengths", "length-and-chunked", "gzip"],
)
def test_a_malformed_content_length_is_400_and_the_connection_closed(
    dev_server: DevServer, header: str
) -> None:
    with connect(dev_server) as sock:
        sock.sendall(request_head(dev_server, "POST", "/workflows", auth(dev_server), header) + b"{}")
        status, headers, body = read_response(sock)
        problem = assert_problem(status, headers, body, 400)
        assert headers["connection"] == "close"
        assert read_until_eof(sock) == b""
    assert "Content-Length" in problem["detail"] or "Transfer-Encoding" in problem["detail"], problem


def test_a_huge_content_length_is_413_at_once_without_reading_the_body(dev_server: DevServer) -> None:
    with connect(dev_server) as sock:
        # 300 MB announced, not one byte of it sent: the answer can only come from the header.
        sock.sendall(
            request_head(dev_server, "POST", "/workflows", auth(dev_server), "Content-Length: 300000000")
        )
        status, headers, body = read_response(sock)
        assert_problem(status, headers, body, 413)
        assert headers["connection"] == "close"
        assert read_until_eof(sock) == b""


def test_expect_100_continue_over_the_limit_is_413_without_continue(dev_server: DevServer) -> None:
    with connect(dev_server) as sock:
        sock.sendall(
            request_head(
                dev_server,
                "POST",
                "/workflows",
                auth(dev_server),
                f"Content-Length: {MAX_BODY + 1}",
                "Expect: 100-continue",
            )
        )
        status, headers, body = read_response(sock)
        assert_problem(status, headers, body, 413)


def test_a_body_between_256_KiB_and_10_MiB_gets_the_apis_413(dev_server: DevServer) -> None:
    response = dev_server.client().post("/workflows", content=b"x" * (300 * 1024))
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_a_body_over_10_MiB_sent_anyway_gets_413(dev_server: DevServer) -> None:
    """The client sends the whole body: it still reads the 413 (the server drains, then closes)."""
    response = dev_server.client().post("/workflows", content=b"x" * (MAX_BODY + 1))
    assert response.status_code == 413, response.text


def test_a_chunk_announced_over_the_limit_is_413_before_it_is_read(dev_server: DevServer) -> None:
    with connect(dev_server) as sock:
        head = request_head(dev_server, "POST", "/workflows", auth(dev_server), "Transfer-Encoding: chunked")
        sock.sendall(head + f"{MAX_BODY + 1:x}\r\n".encode())
        status, headers, body = read_response(sock)
        assert_problem(status, headers, body, 413)


def test_a_chunked_stream_is_cut_at_the_limit(dev_server: DevServer) -> None:
    chunk = b"x" * (1024 * 1024)
    with connect(dev_server) as sock:
        sock.sendall(
            request_head(dev_server, "POST", "/workflows", auth(dev_server), "Transfer-Encoding: chunked")
        )
        try:
            for _ in range(11):
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-stream: the answer is already waiting
        status, headers, body = read_response(sock)
        assert_problem(status, headers, body, 413)


def test_a_small_chunked_body_is_read_like_any_other(dev_server: DevServer) -> None:
    document = json.dumps({"name": "chunked", "tasks": [{"name": "a", "type": "noop"}]}).encode()
    with connect(dev_server) as sock:
        head = request_head(
            dev_server,
            "POST",
            "/workflows",
            auth(dev_server),
            "Transfer-Encoding: chunked",
            "Content-Type: application/json",
        )
        parts = [document[:10], document[10:]]
        sock.sendall(head + b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts) + b"0\r\n\r\n")
        status, _, body = read_response(sock)
    assert status == 201, body
    assert json.loads(body)["name"] == "chunked"


# -- many connections -------------------------------------------------------------------------------
def test_hundreds_of_idle_and_half_sent_connections_do_not_stop_a_request(dev_server: DevServer) -> None:
    idle = [connect(dev_server) for _ in range(300)]
    trickling = [connect(dev_server) for _ in range(50)]
    try:
        for sock in trickling:  # each holds a request partway through its headers
            sock.sendall(
                f"GET {urlsplit(dev_server.base_url).path}/workflows HTTP/1.1\r\nHost: x\r\n".encode()
            )
        with httpx.Client(base_url=dev_server.base_url, timeout=DEADLINE) as client:
            response = client.get("/workflows", headers={"Authorization": f"Bearer {dev_server.api_key}"})
        assert response.status_code == 200, response.text
        # And a request on one of the idle connections is served too.
        idle[0].sendall(request_head(dev_server, "GET", "/workflows", auth(dev_server)))
        assert read_response(idle[0])[0] == 200
    finally:
        for sock in idle + trickling:
            sock.close()


def test_more_connections_than_fds_allow_do_not_exhaust_the_server(tmp_path: Path) -> None:
    """1,100 idle connections against a server limited to 1,024 fds: the oldest idle ones are
    closed to make room, and a request is still served."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1400:
        pytest.skip(f"this test needs 1,400 fds for itself (hard limit {hard})")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))  # the server inherits 1,024
    try:
        server = start_dev_server(tmp_path, tmp_path / "data")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1400), hard))
    socks: list[socket.socket] = []
    try:
        socks = [connect(server) for _ in range(1100)]
        with httpx.Client(base_url=server.base_url, timeout=DEADLINE) as client:
            response = client.get("/workflows", headers={"Authorization": f"Bearer {server.api_key}"})
        assert response.status_code == 200, f"{response.text}\n{server.log_tail()}"
        assert read_until_eof(socks[0]) == b""  # the oldest idle connection made room
        fds = len(list(Path(f"/proc/{server.proc.pid}/fd").iterdir()))
        assert fds < 1024, fds
    finally:
        for sock in socks:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    server.assert_clean_stop()


# -- the local admin endpoint (`orchestration keys`) ---------------------------------------------
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"tenant": null}', "tenant"),
        (b"[1,2]", "JSON object"),
        (b'{"tenant": "a\xff"}', "UTF-8"),
        (b"\xff\xfe", "UTF-8"),
        (b"not json", "JSON"),
        (b"null", "JSON object"),
        (b'{"tenant": "has space"}', "tenant"),
        (b'{"tenant": "' + b"a" * 129 + b'"}', "tenant"),
        (b'{"tenant": 7}', "tenant"),
        (b'{"tenant": "ok", "name": "' + b"n" * 129 + b'"}', "name"),
        (b'{"tenant": "ok", "nme": "typo"}', "nme"),
    ],
    ids=[
        "null-tenant",
        "array",
        "invalid-utf8-in-string",
        "invalid-utf8",
        "not-json",
        "null",
        "unsafe-tenant",
        "long-tenant",
        "number-tenant",
        "long-name",
        "unknown-field",
    ],
)
def test_the_admin_endpoint_answers_a_bad_body_with_400(
    dev_server: DevServer, body: bytes, reason: str
) -> None:
    token = (dev_server.data_dir / "admin-token").read_text().strip()
    tracebacks = dev_server.log_tail(10**9).count("Traceback")
    response = httpx.post(
        f"{dev_server.root_url}/_local/keys",
        content=body,
        headers={"X-Local-Admin-Token": token, "Content-Type": "application/json"},
        timeout=DEADLINE,
    )
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"], response.text
    assert not any(k["tenantId"] in {"None", "null"} for k in dev_server.list_keys())
    assert dev_server.log_tail(10**9).count("Traceback") == tracebacks
