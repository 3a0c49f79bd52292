"""Outbound HTTP calls to servers named by registrations (back-channel logout URIs).

A URI an administrator or client registered could name an internal service (SSRF). Each call
resolves its host once, refuses addresses outside the public internet (loopback, private,
link-local, multicast, reserved, unspecified; cloud metadata addresses always), and then
connects to the very address it checked: the URL carries the IP, the ``Host`` header the
name, and for https the TLS handshake sends the name as SNI and checks the certificate
against it. A re-resolution between check and connect (DNS rebinding) cannot change the peer.
Redirects are never followed.

``CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES`` (default off) lets calls reach private and loopback
addresses, for development and tests.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

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


def outbound_post(url: str, *, data: dict[str, str]) -> requests.Response:
    """POST ``data`` form-encoded to ``url`` (http or https) at its checked address.

    Raises ``OutboundRefused`` for a URL that may not be called and ``requests``'
    ``RequestException`` for a failed call. The response body is not read.
    """
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
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment: we connect where we checked
        if parts.scheme == "https":
            session.mount("https://", _PinnedHostAdapter(host))
        response = session.post(
            pinned_url,
            data=data,
            headers={"Host": host_header},
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
            stream=True,
        )
        response.close()
    return response
