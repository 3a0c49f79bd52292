"""The WSGI router (ciam.wsgi): discovery and JWKS from bytes, back-channel endpoints through
the lean handler, everything else through Django with every middleware."""

from __future__ import annotations

import json

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from ciam.views.discovery import discovery_bytes


def call(path: str, method: str = "GET", **extra: str) -> tuple[str, dict[str, str], bytes]:
    if "body" in extra:
        extra.setdefault("CONTENT_LENGTH", str(len(extra["body"].encode())))
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
        "wsgi.input": __import__("io").BytesIO(extra.pop("body", "").encode()),
        **extra,
    }
    # As Django's test client does: the test's transaction must outlive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        body = b"".join(application(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
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


@pytest.mark.django_db
def test_backchannel_endpoints_set_no_cookie_and_keep_security_headers():
    """Token, userinfo, introspection and revocation answer JSON errors through the lean
    handler: never a session or language cookie (they are called by servers), still the
    security middleware's headers, and none of the hosted pages' (no frame options)."""
    form = {"CONTENT_TYPE": "application/x-www-form-urlencoded", "HTTP_ACCEPT_LANGUAGE": "pt-BR"}
    for path, method, extra in [
        ("/token", "POST", {"body": "grant_type=password", **form}),
        ("/userinfo", "GET", {"HTTP_AUTHORIZATION": "Bearer nope"}),
        ("/introspect", "POST", {"body": "token=x", **form}),
        ("/revoke", "POST", {"body": "token=x", **form}),
    ]:
        status, headers, body = call(path, method=method, **extra)
        assert status.split()[0] in {"400", "401"}, (path, status)
        assert "Set-Cookie" not in headers, path
        assert "X-Frame-Options" not in headers, path
        assert "Cookie" not in headers.get("Vary", ""), path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        if body:
            assert "error" in json.loads(body), path


@pytest.mark.django_db
def test_hosted_pages_keep_the_full_middleware():
    """The sign-in page still goes through every middleware (frame options, CSP, language)."""
    status, headers, _ = call("/accounts/login/", HTTP_ACCEPT_LANGUAGE="pt-BR")
    assert status.startswith("200")
    assert headers["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in headers
    assert headers["Content-Language"] == "pt-br"


@pytest.mark.django_db
def test_backchannel_method_not_allowed_is_405():
    """A GET on the token endpoint is refused by the view, not served by another route."""
    status, _, _ = call("/token")
    assert status.startswith("405")


def test_startup_objects_are_frozen():
    """Loading the WSGI entry point freezes what start-up loaded (Django, the apps, every
    view): full garbage collections in a worker then leave those objects alone."""
    import gc

    import ciam.wsgi  # noqa: F401

    assert gc.get_freeze_count() > 10_000
