"""The outbound-call guard (sessions_ctx.outbound): what it refuses, and that it connects to
the address it checked."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from sessions_ctx.outbound import (
    OutboundRefused,
    address_refusal,
    outbound_post,
    resolve_allowed_address,
)

NON_PUBLIC = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",  # carrier-grade NAT
    "169.254.10.1",
    "169.254.169.254",
    "224.0.0.1",
    "0.0.0.0",  # noqa: S104 - an address refused, not bound
    "240.0.0.1",
    "::1",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.server.requests.append((self.path, dict(self.headers), self.rfile.read(length)))  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        if self.server.status in (301, 302, 307):  # type: ignore[attr-defined]
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    server.requests = []  # type: ignore[attr-defined]
    server.status = 200  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_dns(monkeypatch):
    """Names in the returned dict resolve to the given address; others as usual."""
    names: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            address = names[host]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.mark.parametrize("address", NON_PUBLIC)
def test_non_public_literal_addresses_are_refused(address, settings):
    """Loopback, private, link-local, multicast, reserved and metadata addresses are refused
    while CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES is off, also as literals in the URL."""
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    assert address_refusal(ipaddress.ip_address(address), allow_private=False)
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(OutboundRefused):
        outbound_post(f"http://{host}/logout", data={"a": "b"})


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254"])
def test_metadata_addresses_stay_refused_when_private_ones_are_allowed(address, settings):
    """Cloud metadata services are never called, whatever the setting."""
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    with pytest.raises(OutboundRefused, match="metadata"):
        resolve_allowed_address(address, 80)


def test_public_addresses_are_allowed():
    """A global address passes the guard."""
    assert address_refusal(ipaddress.ip_address("93.184.215.14"), allow_private=False) is None
    assert address_refusal(ipaddress.ip_address("2606:4700::1"), allow_private=False) is None


def test_host_name_resolving_to_loopback_is_refused(settings, fake_dns):
    """The name is resolved and its address checked: a public-looking name pointing at
    loopback is refused."""
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    fake_dns["rp.example.test"] = "127.0.0.1"
    with pytest.raises(OutboundRefused, match="loopback"):
        outbound_post("https://rp.example.test/logout", data={"a": "b"})


def test_host_name_resolving_to_public_address_resolves_to_it(settings, fake_dns):
    """The address returned is the one resolved (the call connects to it)."""
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    fake_dns["rp.example.test"] = "93.184.215.14"
    assert str(resolve_allowed_address("rp.example.test", 443)) == "93.184.215.14"


@pytest.mark.parametrize(
    "url",
    ["ftp://rp.example.test/x", "file:///etc/passwd", "http:///nohost", "http://u:p@rp.test/"],
)
def test_other_urls_are_refused(url, settings):
    """Only http(s) URLs with a host and no credentials are called."""
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    with pytest.raises(OutboundRefused):
        outbound_post(url, data={})


def test_call_goes_to_checked_address_with_original_host(settings, fake_dns, local_server):
    """With private addresses allowed, the POST reaches the address the name resolved to,
    form-encoded, with the name in the Host header."""
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    fake_dns["rp.example.test"] = "127.0.0.1"
    port = local_server.server_address[1]
    response = outbound_post(f"http://rp.example.test:{port}/bcl?x=1", data={"logout_token": "abc"})
    assert response.status_code == 200
    [(path, headers, body)] = local_server.requests  # type: ignore[attr-defined]
    assert path == "/bcl?x=1"
    assert headers["Host"] == f"rp.example.test:{port}"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert body == b"logout_token=abc"


def test_redirects_are_not_followed(settings, local_server):
    """A redirect answer is returned as is, never followed."""
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    local_server.status = 302  # type: ignore[attr-defined]
    port = local_server.server_address[1]
    response = outbound_post(f"http://127.0.0.1:{port}/bcl", data={"a": "b"})
    assert response.status_code == 302
    assert len(local_server.requests) == 1  # type: ignore[attr-defined]


def test_https_keeps_the_host_name_for_tls():
    """For https the connection goes to the IP, while SNI and the certificate check use the
    registered name (urllib3's server_hostname and assert_hostname)."""
    from sessions_ctx.outbound import _PinnedHostAdapter

    adapter = _PinnedHostAdapter("rp.example.test")
    pool = adapter.poolmanager.connection_from_url("https://93.184.215.14/bcl")
    assert pool.conn_kw.get("server_hostname") == "rp.example.test"
    assert pool.assert_hostname == "rp.example.test"
