"""Outbound HTTP for ``http`` tasks, kept away from addresses inside the deployment.

An ``http`` task's URL comes from a tenant's workflow, and the task runner sends it from inside
AWS: without a guard, ``http://169.254.169.254/`` would read the instance metadata, and
``http://127.0.0.1:9001/`` would talk to the Lambda runtime API. So every request here:

- resolves the host once, refuses it unless every address it resolves to is a global unicast
  address (see :func:`refusal`), and connects to one of exactly those addresses — a DNS answer
  that changes between the check and the connection (rebinding) never reaches a socket;
- keeps the URL's host name for the ``Host`` header, TLS SNI and certificate checks;
- follows at most :data:`MAX_REDIRECTS` redirects, each hop resolved and checked the same way.

``HTTP_TASK_ALLOWED_CIDRS`` (comma-separated CIDRs, empty for none; the task runner's setting
``http_task_allowed_cidrs``, which the http task reads and passes here) lifts the refusal for
those ranges; the embedded runtime allows loopback by default.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from urllib.parse import urljoin, urlsplit

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

ALLOWED_CIDRS_ENV = "HTTP_TASK_ALLOWED_CIDRS"
# What the embedded runtime allows when ALLOWED_CIDRS_ENV is not set: the developer's machine.
LOCAL_ALLOWED_CIDRS = "127.0.0.0/8,::1/128"
# The task error a refused address fails with (Retry/Catch match on it).
REFUSED_ERROR = "HttpAddressRefused"
MAX_REDIRECTS = 5
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
# Sent to the first host only: a redirect to another origin does not carry the caller's secrets.
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding", "transfer-encoding"})

_METADATA = {
    ip_address("169.254.169.254"): "the instance metadata service",
    ip_address("fd00:ec2::254"): "the instance metadata service",
    ip_address("169.254.170.2"): "the container credentials endpoint",
}
_IPV4_BLOCKS: tuple[tuple[Network, str], ...] = (
    (ip_network("0.0.0.0/8"), "unspecified"),
    (ip_network("127.0.0.0/8"), "loopback"),
    (ip_network("169.254.0.0/16"), "link-local"),
    (ip_network("10.0.0.0/8"), "private"),
    (ip_network("172.16.0.0/12"), "private"),
    (ip_network("192.168.0.0/16"), "private"),
    (ip_network("100.64.0.0/10"), "shared (carrier-grade NAT)"),
    (ip_network("224.0.0.0/4"), "multicast"),
    (ip_network("240.0.0.0/4"), "reserved"),
)
_IPV6_BLOCKS: tuple[tuple[Network, str], ...] = (
    (ip_network("::/128"), "unspecified"),
    (ip_network("::1/128"), "loopback"),
    (ip_network("fe80::/10"), "link-local"),
    (ip_network("fec0::/10"), "site-local"),
    (ip_network("fc00::/7"), "private (unique local)"),
    (ip_network("ff00::/8"), "multicast"),
)
_NAT64 = ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ip_network("::/96")
_GLOBAL_UNICAST = ip_network("2000::/3")


class InvalidAllowList(ValueError):
    """``HTTP_TASK_ALLOWED_CIDRS`` holds something that is not a CIDR."""


class AddressRefused(Exception):
    """The host resolves to an address http tasks may not reach."""

    def __init__(self, url: str, host: str, address: str, reason: str, hop: int) -> None:
        via = f" (redirect {hop} of the request)" if hop else ""
        base, _, detail = reason.partition(" (")
        kind = f"{'an' if base[0] in 'aeiou' else 'a'} {base} address" + (f" ({detail}" if detail else "")
        what = (
            f"{address} is {kind}"
            if host == address.split("%")[0]
            else f"'{host}' resolves to {address}, {kind}"
        )
        super().__init__(
            f"refused to connect to {url}{via}: {what}; http tasks may not reach it "
            f"({ALLOWED_CIDRS_ENV} can allow a range)"
        )
        self.host, self.address, self.reason = host, address, reason


class RedirectError(Exception):
    """Too many redirects, or a redirect to something other than http(s)."""


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    url: str


# -- the address policy ------------------------------------------------------------------------------
def parse_allowed(text: str) -> tuple[Network, ...]:
    """``"10.1.0.0/16, ::1"`` -> networks (a bare address is its own /32 or /128)."""
    networks: list[Network] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ip_network(entry, strict=False))
        except ValueError:
            raise InvalidAllowList(f"{ALLOWED_CIDRS_ENV}: '{entry}' is not an IP network (CIDR)") from None
    return tuple(networks)


def refusal(address: Address | str, allowed: Sequence[Network] = ()) -> str | None:
    """Why http tasks may not reach ``address`` (``"loopback"``, ``"private"``...), or None.

    Refused: unspecified, loopback, link-local, private (RFC 1918, unique local), shared,
    multicast, reserved and every other address that is not global unicast; an IPv6 address
    that carries an IPv4 one (IPv4-mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4)
    is judged by that IPv4 address. An address (or the IPv4 address it carries) inside an
    ``allowed`` network is never refused.
    """
    addr = ip_address(address) if isinstance(address, str) else address
    embedded = _embedded_ipv4(addr) if isinstance(addr, IPv6Address) else None
    if any(addr in net or (embedded is not None and embedded in net) for net in allowed):
        return None
    if isinstance(addr, IPv4Address):
        return _ipv4_refusal(addr)
    if embedded is not None:
        reason = _ipv4_refusal(embedded)
        return f"{reason} (IPv4 {embedded} inside IPv6)" if reason else None
    for network, reason in _IPV6_BLOCKS:
        if addr in network:
            return _with_service(addr, reason)
    if addr in _IPV4_COMPATIBLE:
        return "reserved (IPv4-compatible IPv6)"
    if addr not in _GLOBAL_UNICAST or not addr.is_global:
        return "reserved (not global unicast)"
    return None


def _ipv4_refusal(addr: IPv4Address) -> str | None:
    for network, reason in _IPV4_BLOCKS:
        if addr in network:
            return _with_service(addr, reason)
    if not addr.is_global:
        return "special-purpose (not globally routable)"
    return None


def _with_service(addr: Address, reason: str) -> str:
    service = _METADATA.get(addr)
    return f"{reason} ({service})" if service else reason


def _embedded_ipv4(addr: IPv6Address) -> IPv4Address | None:
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr in _NAT64:
        return IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def resolve(url: str, host: str, port: int, allowed: Sequence[Network], hop: int = 0) -> list[str]:
    """Every address ``host`` resolves to, once; AddressRefused if any of them is refused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError:
        raise OSError(f"'{host}' is not a valid host name") from None
    except socket.gaierror as err:
        raise OSError(f"cannot resolve '{host}': {err.strerror}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        reason = refusal(address.split("%")[0], allowed)
        if reason:
            raise AddressRefused(url, host, address, reason, hop)
    return addresses


# -- connections pinned to checked addresses ---------------------------------------------------------
def _open(addresses: Iterable[str], port: int, timeout: float) -> socket.socket:
    last: OSError = OSError("no address to connect to")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as err:
            last = err
    raise last


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to ``addresses`` (already checked) for ``host``: no second lookup."""

    def __init__(self, host: str, port: int, timeout: float, addresses: list[str]) -> None:
        super().__init__(host, port, timeout=timeout)
        self._addresses, self._timeout = addresses, timeout

    def connect(self) -> None:
        self.sock = _open(self._addresses, self.port, self._timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As above over TLS: SNI and the certificate check use ``host``, not the address."""

    def __init__(
        self, host: str, port: int, timeout: float, addresses: list[str], context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._addresses, self._timeout, self._tls = addresses, timeout, context

    def connect(self) -> None:
        sock = _open(self._addresses, self.port, self._timeout)
        try:
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


# -- requests ---------------------------------------------------------------------------------------
def fetch(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    timeout: float,
    limit: int,
    allowed: Sequence[Network] = (),
    context: ssl.SSLContext | None = None,
) -> Response:
    """Send the request, following redirects (each hop checked), and read up to ``limit + 1``
    bytes of the final response's body. 301/302 turn a POST into a GET and 303 anything but
    HEAD, without the body; 307/308 repeat the request as it was. Credentials headers go to
    the first origin only.

    Raises AddressRefused, RedirectError, ValueError (a malformed URL or header), OSError and
    http.client.HTTPException (the connection failed).
    """
    tls = context or ssl.create_default_context()
    current = dict(headers)
    origin = _origin(url)
    for hop in range(MAX_REDIRECTS + 1):
        scheme, host, port, target = _split(url)
        addresses = resolve(url, host, port, allowed, hop)
        conn: http.client.HTTPConnection = (
            _PinnedHTTPSConnection(host, port, timeout, addresses, tls)
            if scheme == "https"
            else _PinnedHTTPConnection(host, port, timeout, addresses)
        )
        try:
            conn.request(method, target, body=body, headers=current)
            resp = conn.getresponse()
            location = resp.getheader("Location")
            if resp.status not in REDIRECT_CODES or not location:
                raw = resp.read(limit + 1)
                return Response(resp.status, resp.reason, dict(resp.getheaders()), raw, url)
        finally:
            conn.close()
        url = urljoin(url, location.strip())
        if (resp.status == 303 and method != "HEAD") or (resp.status in {301, 302} and method == "POST"):
            method, body = "GET", None
            current = {k: v for k, v in current.items() if k.lower() not in _BODY_HEADERS}
        if _origin(url) != origin:
            current = {k: v for k, v in current.items() if k.lower() not in _CREDENTIAL_HEADERS}
    raise RedirectError(f"more than {MAX_REDIRECTS} redirects (the last to {url})")


def _split(url: str) -> tuple[str, str, int, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise RedirectError(f"{url}: only http and https URLs are followed")
    host = parts.hostname
    if not host:
        raise ValueError(f"{url} has no host")
    port = parts.port  # raises ValueError when malformed or out of range
    port = (443 if scheme == "https" else 80) if port is None else port
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port, target


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.scheme.lower(), parts.hostname or "", port
