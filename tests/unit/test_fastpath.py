"""Discovery and JWKS are served before Django's middleware, with the same bytes."""

from __future__ import annotations

import json

import pytest

from ciam.views import discovery_bytes


def call(path: str, method: str = "GET", **extra: str) -> tuple[str, dict[str, str], bytes]:
    from ciam.wsgi import application

    captured: dict[str, object] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"] = status
        captured["headers"] = dict(headers)

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
        "wsgi.url_scheme": "http",
        "wsgi.input": __import__("io").BytesIO(b""),
        **extra,
    }
    body = b"".join(application(environ, start_response))
    return captured["status"], captured["headers"], body  # type: ignore[return-value]


@pytest.mark.django_db
def test_discovery_fast_path_serves_the_view_bytes():
    """GET discovery answers the same document as the Django view, cacheable, with ETag."""
    status, headers, body = call("/.well-known/openid-configuration")
    assert status == "200 OK"
    assert body == discovery_bytes()[0]
    assert headers["Cache-Control"].startswith("public")
    assert json.loads(body)["issuer"]


@pytest.mark.django_db
def test_jwks_fast_path_and_conditional_get():
    """JWKS is served with an ETag; If-None-Match with it answers 304 without a body."""
    status, headers, body = call("/jwks")
    assert status == "200 OK"
    assert json.loads(body)["keys"]
    status, _, body = call("/jwks", HTTP_IF_NONE_MATCH=headers["ETag"])
    assert status == "304 Not Modified"
    assert body == b""


@pytest.mark.django_db
def test_other_paths_and_methods_reach_django():
    """POST to discovery and other paths go through Django (and its checks)."""
    status, _, _ = call("/.well-known/openid-configuration", method="POST")
    assert not status.startswith("200")
    status, _, _ = call("/no-such-page")
    assert status.startswith("404")
