"""sessions_ctx.outbound.outbound_request: the SSRF guard of outbound_post for any body."""

from __future__ import annotations

import pytest
import requests

from sessions_ctx.outbound import OutboundRefused, outbound_request


def test_it_sends_the_body_and_headers_and_reads_an_excerpt(receiver, settings):
    """The receiver gets the exact bytes and headers; the answer's status, the first bytes
    of its body and the time taken come back."""
    result = outbound_request(
        receiver.url, body=b'{"a": 1}', headers={"X-Test": "yes"}, timeout=5, excerpt_bytes=5
    )
    status, excerpt, elapsed = result
    assert (status, excerpt) == (200, '{"ok"')
    assert 0 <= elapsed < 5
    (got,) = receiver.received
    assert got.body == b'{"a": 1}'
    assert got.headers["x-test"] == "yes"
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9/hook",
        "ftp://example.com/x",
        "http://user:pw@example.com/x",
        "not a url",
    ],
)
def test_private_addresses_are_refused_by_default(url, settings):
    """Loopback, private, link-local and metadata addresses, and non-http URLs, are refused
    before any connection while CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES is off."""
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    with pytest.raises(OutboundRefused):
        outbound_request(url, body=b"{}", headers={}, timeout=2)


def test_metadata_address_stays_refused_when_private_ones_are_allowed(settings):
    """Allowing private addresses (tests, development) never opens cloud metadata."""
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    with pytest.raises(OutboundRefused, match="metadata"):
        outbound_request("http://169.254.169.254/", body=b"{}", headers={}, timeout=2)


def test_a_slow_receiver_times_out(make_receiver):
    """A receiver slower than the timeout is a Timeout, not a hang."""
    slow = make_receiver(delay=2)
    with pytest.raises(requests.Timeout):
        outbound_request(slow.url, body=b"{}", headers={}, timeout=0.5)


def test_keep_alive_reuses_the_connection_to_the_same_checked_address(settings):
    """With keep_alive, a thread's calls to one receiver share one connection (HTTP/1.1),
    and each call is still checked by the guard."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    peers: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # http.server's name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            peers.append(self.client_address[1])
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        for _ in range(3):
            assert (
                outbound_request(url, body=b"{}", headers={}, timeout=5, keep_alive=True)[0] == 204
            )
        assert len(peers) == 3
        assert len(set(peers)) == 1
        settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
        with pytest.raises(OutboundRefused):
            outbound_request(url, body=b"{}", headers={}, timeout=5, keep_alive=True)
    finally:
        server.shutdown()
        server.server_close()
