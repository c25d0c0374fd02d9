"""http tasks never reach addresses inside the deployment: the address policy, resolution pinned to
the checked address, Host/SNI kept, and every redirect hop checked."""

from __future__ import annotations

import datetime
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from orchestration_core.shared.config import settings_from, settings_source
from orchestration_core.tasktypes import netguard
from orchestration_core.tasktypes.netguard import (
    LOCAL_ALLOWED_CIDRS,
    AddressRefused,
    InvalidAllowList,
    RedirectError,
    fetch,
    parse_allowed,
    refusal,
)
from orchestration_core.tasktypes.registry import TaskError, run_builtin

from tests.local_http import Route, serve

LOOPBACK = parse_allowed("127.0.0.0/8")

# (address, the refusal's reason (its start), or None when http tasks may reach it)
ADDRESSES = [
    # global unicast: allowed
    ("8.8.8.8", None),
    ("93.184.216.34", None),
    ("172.32.0.1", None),  # just past 172.16.0.0/12
    ("11.0.0.1", None),
    ("2606:4700:4700::1111", None),
    ("2001:4860:4860::8888", None),
    ("::ffff:8.8.8.8", None),  # IPv4-mapped, judged by its IPv4 address
    ("64:ff9b::808:808", None),  # NAT64 of 8.8.8.8
    ("2002:808:808::1", None),  # 6to4 of 8.8.8.8
    # IPv4
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("127.0.0.1", "loopback"),  # on Lambda, the runtime API listens at 127.0.0.1:9001
    ("127.255.255.254", "loopback"),
    ("169.254.169.254", "link-local (the instance metadata service)"),
    ("169.254.170.2", "link-local (the container credentials endpoint)"),
    ("169.254.0.1", "link-local"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "shared"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.1", "special-purpose"),  # TEST-NET-1
    ("198.18.0.1", "special-purpose"),  # benchmarking
    # IPv6
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fe80::1", "link-local"),
    ("febf:ffff::1", "link-local"),
    ("fec0::1", "site-local"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("fd00:ec2::254", "private (unique local) (the instance metadata service)"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("2001:db8::1", "reserved"),  # documentation
    ("2001::1", "reserved"),  # Teredo
    ("100::1", "reserved"),  # discard-only
    ("::127.0.0.1", "reserved (IPv4-compatible IPv6)"),
    ("4000::1", "reserved"),  # outside 2000::/3
    # IPv4 inside IPv6: judged by the IPv4 address
    ("::ffff:127.0.0.1", "loopback (IPv4 127.0.0.1 inside IPv6)"),
    ("::ffff:7f00:1", "loopback (IPv4 127.0.0.1 inside IPv6)"),
    ("::ffff:169.254.169.254", "link-local (the instance metadata service) (IPv4 169.254.169.254"),
    ("::ffff:10.0.0.1", "private (IPv4 10.0.0.1 inside IPv6)"),
    ("::ffff:0.0.0.0", "unspecified"),
    ("64:ff9b::7f00:1", "loopback (IPv4 127.0.0.1 inside IPv6)"),
    ("64:ff9b::a9fe:a9fe", "link-local (the instance metadata service)"),
    ("2002:7f00:1::", "loopback (IPv4 127.0.0.1 inside IPv6)"),
    ("2002:c0a8:101::1", "private (IPv4 192.168.1.1 inside IPv6)"),
]


@pytest.mark.parametrize(("address", "reason"), ADDRESSES)
def test_the_address_policy(address: str, reason: str | None) -> None:
    # Given no allow-list, when the address is judged, then it is refused for the reason, or allowed
    found = refusal(address)
    if reason is None:
        assert found is None
    else:
        assert found is not None and found.startswith(reason), found


# (address, the allow-list, the reason it is still refused, or None once the list lifts it)
LIFTED = [
    ("127.0.0.1", "127.0.0.0/8", None),
    ("127.0.0.1", "127.0.0.1", None),  # a bare address is its /32
    ("127.0.0.2", "127.0.0.1/32", "loopback"),
    ("::ffff:127.0.0.1", "127.0.0.0/8", None),  # the IPv4 list lifts the mapped form too
    ("::ffff:127.0.0.1", "::ffff:127.0.0.0/104", None),
    ("::1", "127.0.0.0/8", "loopback"),  # IPv6 loopback is not in an IPv4 range
    ("::1", "::1/128", None),
    ("10.1.2.3", "10.1.0.0/16", None),
    ("10.2.0.1", "10.1.0.0/16", "private"),
    ("10.1.2.3", "192.168.0.0/16, 10.1.0.0/16", None),
    ("169.254.169.254", "169.254.169.254", None),
    ("fd00::5", "fd00::/8", None),
    ("fe80::1", "fd00::/8", "link-local"),
    ("127.0.0.1", LOCAL_ALLOWED_CIDRS, None),
    ("::1", LOCAL_ALLOWED_CIDRS, None),
    ("169.254.169.254", LOCAL_ALLOWED_CIDRS, "link-local"),
    ("10.0.0.1", LOCAL_ALLOWED_CIDRS, "private"),
    ("fe80::1", LOCAL_ALLOWED_CIDRS, "link-local"),
]


@pytest.mark.parametrize(("address", "allowed", "reason"), LIFTED)
def test_the_allow_list_lifts_only_its_ranges(address: str, allowed: str, reason: str | None) -> None:
    found = refusal(address, parse_allowed(allowed))
    if reason is None:
        assert found is None
    else:
        assert found is not None and found.startswith(reason), found


def test_the_allow_list_reads_comma_separated_cidrs() -> None:
    assert parse_allowed("") == ()
    assert parse_allowed(" , ") == ()
    assert parse_allowed(" 10.0.0.0/8 , ::1 ") == (ip_network("10.0.0.0/8"), ip_network("::1/128"))
    assert parse_allowed("10.0.0.1/8") == (ip_network("10.0.0.0/8"),)  # host bits are ignored


@pytest.mark.parametrize("text", ["nope", "10.0.0.0/33", "10.0.0.0/8,, 300.1.1.1", "localhost"])
def test_an_unreadable_allow_list_is_an_error_naming_the_entry(text: str) -> None:
    with pytest.raises(InvalidAllowList, match=r"HTTP_TASK_ALLOWED_CIDRS: '[^']+' is not"):
        parse_allowed(text)


# -- resolution ---------------------------------------------------------------------------------------
class FakeDns:
    """getaddrinfo answers for made-up names (each lookup counted); anything else resolves for real."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.lookups: dict[str, int] = {}
        self._real = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", self)

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in self.answers:
            return self._real(host, port, *args, **kwargs)
        n = self.lookups.get(host, 0)
        self.lookups[host] = n + 1
        addresses = self.answers[host][min(n, len(self.answers[host]) - 1)]
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]


def test_a_name_is_refused_when_any_address_it_resolves_to_is(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeDns(monkeypatch, {"mixed.test": [["93.184.216.34", "10.0.0.7"]]})
    with pytest.raises(AddressRefused) as caught:
        netguard.resolve("http://mixed.test/", "mixed.test", 80, ())
    assert caught.value.address == "10.0.0.7" and caught.value.reason == "private"
    assert "'mixed.test' resolves to 10.0.0.7, a private address;" in str(caught.value)


def test_a_name_of_global_addresses_resolves_to_each_once(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeDns(monkeypatch, {"ok.test": [["93.184.216.34", "2606:2800:220:1::1", "93.184.216.34"]]})
    assert netguard.resolve("http://ok.test/", "ok.test", 80, ()) == ["93.184.216.34", "2606:2800:220:1::1"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",  # the Lambda runtime API
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00:ec2::254]/",
        "http://2130706433/",  # 127.0.0.1 as one number
        "http://0x7f.1/",  # and in hex
        "http://0177.0.0.1/",  # and in octal
        "http://localhost/",
        "http://0/",
        "https://user@127.0.0.1/",
    ],
)
def test_literal_and_encoded_internal_hosts_are_refused_before_connecting(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connected: list[Any] = []
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connected.append(a))
    with pytest.raises(AddressRefused):
        fetch("GET", url, {}, None, 5, 1024)
    assert connected == []


def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a name that resolves to a global address once and to loopback afterwards (rebinding)
    dns = FakeDns(monkeypatch, {"rebind.test": [["93.184.216.34"], ["127.0.0.1"]]})
    connected: list[tuple[str, int]] = []

    def refuse(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        connected.append(address)
        raise ConnectionRefusedError("not really connecting")

    monkeypatch.setattr(socket, "create_connection", refuse)
    # When the request is sent
    with pytest.raises(ConnectionRefusedError):
        fetch("GET", "http://rebind.test/", {}, None, 5, 1024)
    # Then the name was looked up once, and the socket went to the address that was checked
    assert dns.lookups == {"rebind.test": 1}
    assert connected == [("93.184.216.34", 80)]


def test_the_host_header_names_the_url_host_not_the_address(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeDns(monkeypatch, {"api.example.test": [["127.0.0.1"]]})
    with serve({"/ok": Route(200, {"Content-Type": "application/json"}, b'{"ok": true}')}) as server:
        resp = fetch("GET", server.url("/ok?a=1", "api.example.test"), {}, None, 5, 1024, LOOPBACK)
        assert resp.status == 200 and resp.body == b'{"ok": true}'
        assert server.seen[0].headers["Host"] == f"api.example.test:{server.port}"
        assert server.seen[0].path == "/ok?a=1"


# -- TLS: SNI and the certificate check use the URL's host ----------------------------------------
@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pinned.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("pinned.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_https_sends_the_host_as_sni_and_checks_the_certificate_against_it(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an HTTPS server for pinned.test on 127.0.0.1, and clients that trust its certificate
    cert, key = certificate
    FakeDns(monkeypatch, {"pinned.test": [["127.0.0.1"]], "other.test": [["127.0.0.1"]]})
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    sni: list[str | None] = []
    server_tls.sni_callback = lambda _sock, name, _ctx: sni.append(name)
    client_tls = ssl.create_default_context(cafile=str(cert))
    with serve({"/": Route(200, body=b"tls")}, tls=server_tls) as server:
        # When the task's request goes to https://pinned.test (connected to the checked 127.0.0.1)
        resp = fetch("GET", server.url("/", "pinned.test"), {}, None, 5, 1024, LOOPBACK, client_tls)
        # Then SNI and Host name pinned.test, and the certificate was checked against that name
        assert resp.body == b"tls" and sni == ["pinned.test"]
        assert server.seen[0].headers["Host"] == f"pinned.test:{server.port}"
        # and a name the certificate does not cover fails, though the address is the same
        with pytest.raises(ssl.SSLCertVerificationError, match=r"other\.test"):
            fetch("GET", server.url("/", "other.test"), {}, None, 5, 1024, LOOPBACK, client_tls)


# -- redirects: each hop checked, capped ----------------------------------------------------------
@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local (the instance metadata service)"),
        ("http://[::ffff:169.254.169.254]/", "link-local (the instance metadata service) (IPv4"),
        ("http://10.0.0.1:8080/admin", "private"),
        ("http://[::1]:9001/", "loopback"),
    ],
)
def test_a_redirect_to_a_refused_address_is_refused(location: str, reason: str) -> None:
    with (
        serve({"/go": Route(302, {"Location": location})}) as server,
        pytest.raises(AddressRefused) as caught,
    ):
        fetch("GET", server.url("/go"), {}, None, 5, 1024, LOOPBACK)
    assert caught.value.reason.startswith(reason)
    assert f"refused to connect to {location} (redirect 1 of the request)" in str(caught.value)


def test_redirects_are_followed_up_to_the_cap() -> None:
    with serve({"/loop": Route(302, {"Location": "/loop"})}) as server:
        with pytest.raises(RedirectError, match="more than 5 redirects"):
            fetch("GET", server.url("/loop"), {}, None, 5, 1024, LOOPBACK)
        assert len(server.seen) == netguard.MAX_REDIRECTS + 1


def test_a_relative_redirect_is_followed() -> None:
    routes = {"/a": Route(301, {"Location": "b?x=1"}), "/b": Route(200, body=b"here")}
    with serve(routes) as server:
        resp = fetch("GET", server.url("/a"), {}, None, 5, 1024, LOOPBACK)
    assert (resp.status, resp.body, resp.url) == (200, b"here", server.url("/b?x=1"))


def test_a_redirect_to_another_scheme_is_not_followed() -> None:
    with (
        serve({"/a": Route(302, {"Location": "file:///etc/passwd"})}) as server,
        pytest.raises(RedirectError, match="only http and https"),
    ):
        fetch("GET", server.url("/a"), {}, None, 5, 1024, LOOPBACK)


@pytest.mark.parametrize(
    ("code", "method"), [(301, "GET"), (302, "GET"), (303, "GET"), (307, "POST"), (308, "POST")]
)
def test_a_post_redirected(code: int, method: str) -> None:
    routes = {"/a": Route(code, {"Location": "/b"}), "/b": Route(200)}
    with serve(routes) as server:
        fetch("POST", server.url("/a"), {"Content-Type": "text/plain"}, b"payload", 5, 1024, LOOPBACK)
        second = server.seen[1]
    assert second.method == method
    if method == "GET":  # the body and what describes it are dropped
        assert second.body == b"" and "Content-Type" not in second.headers
    else:
        assert second.body == b"payload" and second.headers["Content-Type"] == "text/plain"


def test_credentials_go_to_the_first_origin_only() -> None:
    with serve({"/end": Route(200)}) as other:
        routes = {
            "/same": Route(302, {"Location": "/away"}),
            "/away": Route(302, {"Location": other.url("/end")}),
        }
        with serve(routes) as first:
            headers = {"Authorization": "Bearer secret", "Cookie": "s=1", "X-Trace": "t"}
            fetch("GET", first.url("/same"), headers, None, 5, 1024, LOOPBACK)
            assert first.seen[1].headers["Authorization"] == "Bearer secret"  # same origin
        seen = other.seen[0].headers
    assert "Authorization" not in seen and "Cookie" not in seen and seen["X-Trace"] == "t"


# -- the http task ------------------------------------------------------------------------------------
@contextmanager
def runner_allowing(cidrs: str) -> Iterator[None]:
    """The task runner's settings with ``HTTP_TASK_ALLOWED_CIDRS`` as given: the http task reads them."""
    token = settings_source.set(lambda: settings_from({"TABLE_NAME": "t", "HTTP_TASK_ALLOWED_CIDRS": cidrs}))
    try:
        yield
    finally:
        settings_source.reset(token)


def test_an_http_task_to_a_refused_address_fails_with_a_refusal_naming_it() -> None:
    with runner_allowing(""), serve({"/": Route(200)}) as server:
        with pytest.raises(TaskError) as caught:
            run_builtin("http", {"url": server.url("/")}, {})
        assert server.seen == []
    assert caught.value.error == "HttpAddressRefused" and type(caught.value).__name__ == "HttpAddressRefused"
    assert "127.0.0.1 is a loopback address" in caught.value.cause


def test_an_http_task_within_the_allow_list_runs() -> None:
    routes = {
        "/ok": Route(200, {"Content-Type": "application/json"}, b'{"n": 1}'),
        "/bad": Route(500, body=b"broken"),
    }
    with runner_allowing("127.0.0.1/32"), serve(routes) as server:
        result = run_builtin("http", {"url": server.url("/ok"), "method": "post", "body": {"a": 1}}, {})
        assert result["status"] == 200 and result["body"] == {"n": 1}
        assert server.seen[0].method == "POST" and server.seen[0].body == b'{"a": 1}'
        assert server.seen[0].headers["Content-Type"] == "application/json"
        with pytest.raises(TaskError) as caught:
            run_builtin("http", {"url": server.url("/bad")}, {})
    assert caught.value.error == "HttpError" and caught.value.cause.startswith("500 ")


def test_the_http_task_reads_the_allow_list_of_the_function_running_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The process environment allows loopback, the running function's settings do not
    monkeypatch.setenv("HTTP_TASK_ALLOWED_CIDRS", "127.0.0.0/8")
    with runner_allowing(""), pytest.raises(TaskError) as caught:
        run_builtin("http", {"url": "http://127.0.0.1:9/"}, {})
    assert caught.value.error == "HttpAddressRefused"


def test_an_unreadable_allow_list_refuses_every_internal_address() -> None:
    with runner_allowing("127.0.0.0/8,bogus"), pytest.raises(TaskError) as caught:
        run_builtin("http", {"url": "http://127.0.0.1:9/"}, {})
    assert caught.value.error == "HttpAddressRefused" and "'bogus'" in caught.value.cause
