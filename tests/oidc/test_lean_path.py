"""The lean back-channel path (ciam/oauth/lean.py, routed by ciam/fastpath.py) answers the
common token, introspection and UserInfo requests exactly as the Django views do, writes
the same rows, and hands everything else to the views unchanged.

Each test calls the WSGI applications directly, in the test's transaction: ``lean`` is the
router's lean handler, ``full`` the back-channel Django handler it falls back to."""

from __future__ import annotations

import base64
import io
import json
import secrets
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_id_token_model,
    get_refresh_token_model,
)

from ciam.fastpath import ProviderApplication
from ciam.keys import keyring
from ciam.models import AuthorizationContext
from ciam.oauth import lean
from ciam.oauth.id_tokens import verify_id_token
from ciam.oauth.tokens import token_checksum
from tests.factories import UserFactory, make_client

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
IDToken = get_id_token_model()
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# Values that differ between any two answers.
VARYING = {"access_token", "refresh_token", "id_token", "iat", "exp", "jti", "at_hash"}
VARYING_HEADERS = {"X-Request-ID", "Content-Length"}


class Recorder:
    """A fallback that records what reached it, then lets the full handler answer."""

    def __init__(self, full: WSGIApp) -> None:
        self.full = full
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.calls += 1
        return self.full(environ, start_response)


@pytest.fixture
def router() -> ProviderApplication:
    from ciam.wsgi import django_application

    application = ProviderApplication(django_application)
    application.lean.fallback = Recorder(application.backchannel)
    return application


def call(
    application: WSGIApp,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    content_type: str = "application/x-www-form-urlencoded",
    **headers: str,
) -> tuple[int, dict[str, str], bytes]:
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        captured["status"], captured["headers"] = status, response_headers

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        **headers,
    }
    if body:
        environ["CONTENT_TYPE"] = content_type
    # As Django's test client does: the test's transaction must outlive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        result = application(environ, start_response)
        data = b"".join(result)
        if hasattr(result, "close"):
            result.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return int(captured["status"].split()[0]), dict(captured["headers"]), data


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture
def service():
    return make_client("service", name="Lean service")


@pytest.fixture
def web():
    return make_client("web", redirect_uris=["https://rp.example.test/cb"], first_party=True)


@pytest.fixture
def minted(web):
    """An access and refresh token of a signed-in user, as a code exchange leaves them."""
    client = get_application_model().objects.get(client_id=web.client_id)
    user = UserFactory()

    def mint(scope: str = "openid profile email offline_access") -> tuple[str, str]:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        family = uuid.uuid4()
        at = AccessToken(
            user=user,
            application=client,
            scope=scope,
            expires=timezone.now() + timedelta(hours=1),
        )
        at.token = access
        at.save()
        rt = RefreshToken(user=user, application=client, access_token=at, token_family=family)
        rt.token = refresh
        rt.save()
        AuthorizationContext.objects.create(
            application=client,
            user=user,
            code_hash=secrets.token_hex(32),
            sid="sid-1",
            auth_time=1_700_000_000,
            amr=["pwd"],
            acr="",
            claims={},
            offline=True,
            token_family=family,
            redeemed_at=timezone.now(),
        )
        return access, refresh

    mint.user = user  # type: ignore[attr-defined]
    return mint


def comparable(body: bytes) -> tuple[list[str], dict[str, Any]]:
    data = json.loads(body)
    return list(data), {key: value for key, value in data.items() if key not in VARYING}


def same_answer(lean_answer: tuple[int, dict[str, str], bytes], full_answer: tuple) -> None:
    assert lean_answer[0] == full_answer[0]
    assert {k: v for k, v in lean_answer[1].items() if k not in VARYING_HEADERS} == {
        k: v for k, v in full_answer[1].items() if k not in VARYING_HEADERS
    }
    assert comparable(lean_answer[2]) == comparable(full_answer[2])


def test_client_credentials_answered_lean_as_the_view_answers(router, service):
    """A client_credentials request (Basic, then in the body) gets the view's answer from
    the lean path: the same status, headers and JSON keys, and one INSERT."""
    auth = basic(service.client_id, service.client_secret)
    # The first request reads the client; later ones take it from the process's cache.
    call(router, "POST", "/token", body=b"grant_type=client_credentials", HTTP_AUTHORIZATION=auth)
    with CaptureQueriesContext(connection) as queries:
        lean_answer = call(
            router, "POST", "/token", body=b"grant_type=client_credentials", HTTP_AUTHORIZATION=auth
        )
    assert router.lean.fallback.calls == 0
    assert [q["sql"].split()[0] for q in queries] == ["INSERT"]
    full_answer = call(
        router.backchannel,
        "POST",
        "/token",
        body=b"grant_type=client_credentials",
        HTTP_AUTHORIZATION=auth,
    )
    same_answer(lean_answer, full_answer)
    token = json.loads(lean_answer[2])["access_token"]
    stored = AccessToken.objects.get(token_checksum=token_checksum(token))
    assert stored.user_id is None
    assert stored.token == ""
    assert stored.scope == ""
    assert stored.application.client_id == service.client_id
    body = urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": service.client_id,
            "client_secret": service.client_secret,
        }
    ).encode()
    status, _, _ = call(router, "POST", "/token", body=body)
    assert status == 200
    assert router.lean.fallback.calls == 0


def test_client_credentials_scopes_follow_the_validator(router):
    """An allowed machine scope is granted on the lean path; one outside the client's
    allowed scopes is refused by the view (invalid_scope), reached through the fallback."""
    registered = make_client("service", name="Scoped")
    client = get_application_model().objects.get(client_id=registered.client_id)
    client.allowed_scopes = "consent:read"
    client.save()
    auth = basic(registered.client_id, registered.client_secret)
    status, _, body = call(
        router,
        "POST",
        "/token",
        body=b"grant_type=client_credentials&scope=consent%3Aread",
        HTTP_AUTHORIZATION=auth,
    )
    assert status == 200
    assert json.loads(body)["scope"] == "consent:read"
    assert router.lean.fallback.calls == 0
    status, _, body = call(
        router,
        "POST",
        "/token",
        body=b"grant_type=client_credentials&scope=consent%3Awrite",
        HTTP_AUTHORIZATION=auth,
    )
    assert status == 400
    assert json.loads(body)["error"] == "invalid_scope"
    assert router.lean.fallback.calls == 1


def test_refresh_rotation_answered_lean_with_the_same_rows(router, web, minted):
    """A refresh on the lean path rotates as the full path does: the old refresh token
    revoked and detached, its access token deleted, a new pair in the same family, the
    new access token pointing at the refresh token it came from; a new ID token that
    verifies, with the family's sid, amr and auth_time; and no IDToken row."""
    _access, refresh = minted()
    auth = basic(web.client_id, web.client_secret)
    old = RefreshToken.objects.get(token_checksum=token_checksum(refresh))
    old_access_id = old.access_token_id
    call(router, "POST", "/introspect", body=b"token=x", HTTP_AUTHORIZATION=auth)  # client read
    keyring()  # the signing keys, read once per process
    with CaptureQueriesContext(connection) as queries:
        status, headers, body = call(
            router,
            "POST",
            "/token",
            body=urlencode({"grant_type": "refresh_token", "refresh_token": refresh}).encode(),
            HTTP_AUTHORIZATION=auth,
        )
    assert status == 200, body
    assert router.lean.fallback.calls == 0
    assert len([q for q in queries if q["sql"].split()[0] == "SELECT"]) == 1
    token = json.loads(body)
    assert list(token) == [
        "access_token",
        "expires_in",
        "token_type",
        "scope",
        "refresh_token",
        "id_token",
    ]
    old.refresh_from_db()
    assert old.revoked is not None
    assert old.access_token_id is None
    assert not AccessToken.objects.filter(pk=old_access_id).exists()
    new = RefreshToken.objects.get(token_checksum=token_checksum(token["refresh_token"]))
    assert new.token_family == old.token_family
    assert new.revoked is None
    assert new.access_token.token_checksum == token_checksum(token["access_token"])
    assert new.access_token.source_refresh_token_id == old.pk
    assert new.access_token.scope == "openid profile email offline_access"
    assert IDToken.objects.count() == 0
    claims = verify_id_token(token["id_token"])
    assert claims is not None
    assert claims["aud"] == web.client_id
    assert claims["azp"] == web.client_id
    assert claims["sid"] == "sid-1"
    assert claims["amr"] == ["pwd"]
    assert claims["auth_time"] == 1_700_000_000
    # The full path answers the same keys and claims for the next refresh.
    full_answer = call(
        router.backchannel,
        "POST",
        "/token",
        body=urlencode(
            {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
        ).encode(),
        HTTP_AUTHORIZATION=auth,
    )
    same_answer((status, headers, body), full_answer)
    full_claims = verify_id_token(json.loads(full_answer[2])["id_token"])
    assert {k: v for k, v in claims.items() if k not in VARYING} == {
        k: v for k, v in full_claims.items() if k not in VARYING
    }


def test_a_used_refresh_token_is_refused_and_its_family_revoked(router, web, minted):
    """Presented again after its rotation, a refresh token reaches the view (invalid_grant)
    and the whole family, the new pair included, is revoked (reuse protection)."""
    _access, refresh = minted()
    auth = basic(web.client_id, web.client_secret)
    form = urlencode({"grant_type": "refresh_token", "refresh_token": refresh}).encode()
    status, _, body = call(router, "POST", "/token", body=form, HTTP_AUTHORIZATION=auth)
    assert status == 200
    new_refresh = json.loads(body)["refresh_token"]
    status, _, body = call(router, "POST", "/token", body=form, HTTP_AUTHORIZATION=auth)
    assert status == 400
    assert json.loads(body)["error"] == "invalid_grant"
    assert router.lean.fallback.calls == 1
    assert RefreshToken.objects.get(token_checksum=token_checksum(new_refresh)).revoked


def test_a_lost_rotation_race_revokes_the_family(router, web, minted):
    """When the claim finds the token already taken (a concurrent rotation won), the
    answer is invalid_grant and the family is revoked, as on the full path."""
    _access, refresh = minted()
    old = RefreshToken.objects.get(token_checksum=token_checksum(refresh))
    real_first = lean.LIVE_REFRESH_TOKEN_WITH_CONTEXT_LOOKUP.first

    def read_then_lose(checksum: str) -> Any:
        found = real_first(checksum)
        RefreshToken.objects.filter(pk=old.pk).update(revoked=timezone.now())
        return found

    lean.LIVE_REFRESH_TOKEN_WITH_CONTEXT_LOOKUP.first = read_then_lose  # type: ignore[method-assign]
    try:
        status, _, body = call(
            router,
            "POST",
            "/token",
            body=urlencode({"grant_type": "refresh_token", "refresh_token": refresh}).encode(),
            HTTP_AUTHORIZATION=basic(web.client_id, web.client_secret),
        )
    finally:
        lean.LIVE_REFRESH_TOKEN_WITH_CONTEXT_LOOKUP.first = real_first  # type: ignore[method-assign]
    assert status == 400
    assert json.loads(body)["error"] == "invalid_grant"
    assert router.lean.fallback.calls == 0
    assert RefreshToken.objects.filter(token_family=old.token_family, revoked=None).count() == 0
    assert AccessToken.objects.filter(source_refresh_token=old).count() == 0


def test_introspection_and_userinfo_answered_lean_as_the_views_answer(router, web, minted):
    """Introspection (active and unknown tokens) and UserInfo give the views' answers."""
    access, _refresh = minted()
    auth = basic(web.client_id, web.client_secret)
    for token in (access, "not-a-token"):
        form = urlencode({"token": token}).encode()
        lean_answer = call(router, "POST", "/introspect", body=form, HTTP_AUTHORIZATION=auth)
        full_answer = call(
            router.backchannel, "POST", "/introspect", body=form, HTTP_AUTHORIZATION=auth
        )
        same_answer(lean_answer, full_answer)
    assert json.loads(lean_answer[2]) == {"active": False}
    bearer = f"Bearer {access}"
    lean_answer = call(router, "GET", "/userinfo", HTTP_AUTHORIZATION=bearer)
    full_answer = call(router.backchannel, "GET", "/userinfo", HTTP_AUTHORIZATION=bearer)
    same_answer(lean_answer, full_answer)
    assert json.loads(lean_answer[2])["email"] == minted.user.email
    assert router.lean.fallback.calls == 0


@pytest.mark.parametrize(
    ("method", "path", "body", "headers"),
    [
        # A wrong secret, a public client, two client authentications.
        ("POST", "/token", b"grant_type=client_credentials", {"secret": "wrong"}),
        ("POST", "/token", b"grant_type=client_credentials&client_id=x", {}),
        ("POST", "/token", b"grant_type=client_credentials&client_secret=s", {"basic": True}),
        # A parameter the lean path does not take (the view grants it), one given twice, a
        # bad escape.
        ("POST", "/token", b"grant_type=client_credentials&resource=https://a", {"basic": True}),
        ("POST", "/token", b"grant_type=client_credentials&scope=a&scope=b", {"basic": True}),
        ("POST", "/token", b"grant_type=client_credentials&scope=%zz", {"basic": True}),
        ("POST", "/token", b"grant_type=password&username=a&password=b", {"basic": True}),
        ("POST", "/token", b"grant_type=refresh_token&refresh_token=unknown", {"basic": True}),
        ("POST", "/introspect", b"token=", {"basic": True}),
        ("GET", "/userinfo", b"", {"HTTP_AUTHORIZATION": "Bearer unknown"}),
        ("GET", "/userinfo", b"", {}),
    ],
)
def test_everything_else_is_answered_by_the_views(router, service, method, path, body, headers):
    """Errors and requests outside the common case reach the full handler, which answers
    them as before (here: the same status and body as the full handler alone)."""
    environ: dict[str, str] = {}
    if headers.pop("basic", False):
        environ["HTTP_AUTHORIZATION"] = basic(service.client_id, service.client_secret)
    if "secret" in headers:
        environ["HTTP_AUTHORIZATION"] = basic(service.client_id, headers.pop("secret"))
    environ.update(headers)
    answer = call(router, method, path, body=body, **environ)
    assert router.lean.fallback.calls == 1
    full_answer = call(router.backchannel, method, path, body=body, **environ)
    assert answer[0] == full_answer[0]
    assert json.loads(answer[2] or b"{}").get("error") == json.loads(full_answer[2] or b"{}").get(
        "error"
    )


def test_a_request_with_an_unknown_host_goes_to_the_views(router, service):
    """Host checking stays Django's: a host outside ALLOWED_HOSTS is the view's 400."""
    status, _, _ = call(
        router,
        "POST",
        "/token",
        body=b"grant_type=client_credentials",
        HTTP_AUTHORIZATION=basic(service.client_id, service.client_secret),
        HTTP_HOST="evil.example",
    )
    assert status == 400
    assert router.lean.fallback.calls == 1


def test_a_database_error_on_the_lean_path_is_answered_by_the_views(router, service, monkeypatch):
    """A database error in the lean path leaves the answer to the full handler (which meets
    the database as it is: here it answers normally)."""
    from django.db import OperationalError

    def fail(**kwargs: Any) -> None:
        raise OperationalError("connection lost")

    monkeypatch.setattr(lean, "client_credentials_answer", fail)
    status, _, body = call(
        router,
        "POST",
        "/token",
        body=b"grant_type=client_credentials",
        HTTP_AUTHORIZATION=basic(service.client_id, service.client_secret),
    )
    assert status == 200
    assert "access_token" in json.loads(body)
    assert router.lean.fallback.calls == 1
