"""Outbound HTTP calls to servers named by registrations (back-channel logout URIs, webhook
and Shared Signals receivers).

A URI an administrator or client registered could name an internal service (SSRF). Each call
resolves its host once, refuses addresses outside the public internet (loopback, private,
link-local, multicast, reserved, unspecified; cloud metadata addresses always), and then
connects to the very address it checked: the URL carries the IP, the ``Host`` header the
name, and for https the TLS handshake sends the name as SNI and checks the certificate
against it. A re-resolution between check and connect (DNS rebinding) cannot change the peer.
Redirects are never followed. Each call carries the request id (``X-Request-ID``,
common/request_id.py).

``CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES`` (default off) lets calls reach private and loopback
addresses, for development and tests.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from common.request_id import HEADER as REQUEST_ID_HEADER
from common.request_id import outbound_request_id

from .app_settings import outbound_settings

# Seconds: to connect, and to wait for the response headers (about 5 s in all).
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 3.0

# Instance metadata services (AWS, GCP, Azure; AWS over IPv6): never reachable from here.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(Exception):
    """The destination may not be called (bad URL, unresolvable or non-public address)."""


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why ``address`` may not be called, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if allow_private:
        return None
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified or address.is_reserved:
        return "a reserved address"
    if address.is_private or not address.is_global:
        return "a private address"
    return None


def resolve_allowed_address(host: str, port: int) -> IPAddress:
    """The address to connect to for ``host``: every address it resolves to must be allowed
    (one resolution, whose first address is then used)."""
    allow_private = outbound_settings.ALLOW_PRIVATE_ADDRESSES
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise OutboundRefused(f"{host} does not resolve") from error
    addresses: list[IPAddress] = []
    for info in infos:
        # The address string may carry an IPv6 zone ("fe80::1%eth0").
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        reason = address_refusal(address, allow_private=allow_private)
        if reason is not None:
            raise OutboundRefused(f"{host} resolves to {reason} ({address})")
        addresses.append(address)
    if not addresses:
        raise OutboundRefused(f"{host} does not resolve")
    return addresses[0]


class _PinnedHostAdapter(HTTPAdapter):
    """Connects to the URL's IP but speaks TLS to ``hostname`` (SNI and certificate check)."""

    def __init__(self, hostname: str) -> None:
        self._hostname = hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **pool_kwargs: Any) -> None:
        pool_kwargs["server_hostname"] = self._hostname
        pool_kwargs["assert_hostname"] = self._hostname
        super().init_poolmanager(*args, **pool_kwargs)


def _pinned_target(url: str) -> tuple[str, str, str, str]:
    """``(pinned_url, host_header, host, scheme)`` for ``url``: the URL carrying the checked
    address, the ``Host`` header carrying the name. ``OutboundRefused`` when it may not be
    called."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise OutboundRefused("not a valid URL") from error
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        raise OutboundRefused("only http and https URLs with a host are called")
    address = resolve_allowed_address(host, port)
    literal = f"[{address}]" if address.version == 6 else str(address)
    pinned_url = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
    default_port = port == (443 if parts.scheme == "https" else 80)
    host_header = (f"[{host}]" if ":" in host else host) + ("" if default_port else f":{port}")
    return pinned_url, host_header, host, parts.scheme


def _pinned_session(host: str, scheme: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: we connect where we checked
    if scheme == "https":
        session.mount("https://", _PinnedHostAdapter(host))
    return session


def outbound_post(url: str, *, data: dict[str, str]) -> requests.Response:
    """POST ``data`` form-encoded to ``url`` (http or https) at its checked address.

    Raises ``OutboundRefused`` for a URL that may not be called and ``requests``'
    ``RequestException`` for a failed call. The response body is not read.
    """
    pinned_url, host_header, host, scheme = _pinned_target(url)
    with _pinned_session(host, scheme) as session:
        response = session.post(
            pinned_url,
            data=data,
            headers={"Host": host_header, REQUEST_ID_HEADER: outbound_request_id()},
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
            stream=True,
        )
        response.close()
    return response


# Per thread: sessions kept open for outbound_request(keep_alive=True), by checked target.
_kept = threading.local()
KEPT_SESSIONS_PER_THREAD = 32


def _kept_session(key: tuple[str, str, str], host: str, scheme: str) -> requests.Session:
    """A session for ``key`` (scheme, pinned URL's netloc, host name) kept by this thread,
    so that calls to the same checked address reuse their connection (HTTP keep-alive)."""
    sessions: dict[tuple[str, str, str], requests.Session] | None = getattr(_kept, "sessions", None)
    if sessions is None:
        sessions = _kept.sessions = {}
    session = sessions.pop(key, None)
    if session is None:
        session = _pinned_session(host, scheme)
        while len(sessions) >= KEPT_SESSIONS_PER_THREAD:
            sessions.pop(next(iter(sessions))).close()
    sessions[key] = session  # most recently used last
    return session


class OutboundResult(NamedTuple):
    """What a receiver answered: HTTP status, the first bytes of its body (decoded, for a
    delivery log) and the seconds the call took."""

    status: int
    excerpt: str
    elapsed: float


def outbound_request(
    url: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    method: str = "POST",
    excerpt_bytes: int = 1024,
    keep_alive: bool = False,
) -> OutboundResult:
    """Send ``body`` with ``headers`` to ``url`` (http or https) at its checked address, the
    same guard as ``outbound_post`` (one resolution, pinned address, no redirects, no proxy).

    ``timeout`` bounds the whole call: connecting (at most ``CONNECT_TIMEOUT`` of it), the
    response headers and the excerpt of the body (at most ``excerpt_bytes`` are read; the
    rest is dropped with the connection). Raises ``OutboundRefused`` for a URL that may not
    be called and ``requests``' ``RequestException`` for a failed call (``Timeout`` past the
    deadline). ``keep_alive``: the connection stays open for this thread's next call to the
    same checked address (the name is still resolved and checked on every call).
    """
    pinned_url, host_header, host, scheme = _pinned_target(url)
    started = time.monotonic()
    sent_headers = {key: value for key, value in headers.items() if key.lower() != "host"}
    sent_headers["Host"] = host_header
    sent_headers.setdefault(REQUEST_ID_HEADER, outbound_request_id())
    if keep_alive:
        session = _kept_session((scheme, urlsplit(pinned_url).netloc, host), host, scheme)
    else:
        session = _pinned_session(host, scheme)
    try:
        response = session.request(
            method,
            pinned_url,
            data=body,
            headers=sent_headers,
            timeout=(min(CONNECT_TIMEOUT, timeout), timeout),
            allow_redirects=False,
            stream=True,
        )
        try:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(chunk_size=min(excerpt_bytes, 8192) or 1):
                chunks.append(chunk)
                size += len(chunk)
                if size >= excerpt_bytes or time.monotonic() - started > timeout:
                    break
        except requests.RequestException:
            chunks = []  # the status arrived: an unreadable body is only a missing excerpt
        finally:
            response.close()  # back to the pool when read to its end, else closed
    finally:
        if not keep_alive:
            session.close()
    excerpt = b"".join(chunks)[:excerpt_bytes].decode("utf-8", "replace")
    return OutboundResult(response.status_code, excerpt, time.monotonic() - started)
