"""Security headers and cookies of the hosted pages, the portal and the admin, and what
production settings turn on (HSTS, Secure cookies)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def _common(response) -> dict[str, list[str]]:
    directives = _directives(response)
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    return directives


def test_sign_in_page_allows_no_inline_code_and_no_form_action(client):
    """No 'unsafe-inline' anywhere; no form-action, since the sign-in form's post ends with
    a redirect to the relying party."""
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    directives = _common(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "form-action" not in directives


@pytest.mark.parametrize(
    "path",
    ["/account/security/", "/account/sessions/", "/account/privacy/", "/account/interests/"],
)
def test_portal_pages_post_only_to_the_portal(client, path):
    client.force_login(UserFactory())
    response = client.get(path)
    assert response.status_code == 200, path
    directives = _common(response)
    assert directives["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in directives["script-src"]


def test_admin_pages_post_only_to_the_admin(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    directives = _common(response)
    assert directives["form-action"] == ["'self'"]


def test_cookies_are_http_only_and_same_site(client):
    """The CSRF and language cookies are HttpOnly too (scripts read the form's token)."""
    response = client.get("/accounts/login/")
    csrf = response.cookies[django_settings.CSRF_COOKIE_NAME]
    assert csrf["httponly"] is True
    assert csrf["samesite"] == "Lax"
    response = client.post("/i18n/setlang/", {"language": "pt-br", "next": "/accounts/login/"})
    language = response.cookies[django_settings.LANGUAGE_COOKIE_NAME]
    assert language["httponly"] is True
    assert language["samesite"] == "Lax"
    assert django_settings.SESSION_COOKIE_HTTPONLY is True
    assert django_settings.SESSION_COOKIE_SAMESITE == "Lax"


def _production_settings(issuer: str) -> dict:
    names = [
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "LANGUAGE_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_SSL_REDIRECT",
    ]
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {names!r}}}))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ciam.settings",
        "DEBUG": "0",
        "CIAM_ISSUER": issuer,
        "SECRET_KEY": "x" * 50,
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_an_https_issuer_turns_on_hsts_and_secure_cookies():
    values = _production_settings("https://id.example.com")
    assert values == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "LANGUAGE_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_SSL_REDIRECT": True,
    }


def test_a_rotated_secret_key_keeps_what_the_old_one_signed(settings):
    """SECRET_KEY_FALLBACKS: a cookie signed before the rotation still verifies after it."""
    from django.core import signing

    settings.SECRET_KEY = "old-" + "k" * 50
    value = signing.get_cookie_signer(salt="ciam.device").sign("device-1")
    settings.SECRET_KEY = "new-" + "k" * 50
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(signing.BadSignature):
        signing.get_cookie_signer(salt="ciam.device").unsign(value)
    settings.SECRET_KEY_FALLBACKS = ["old-" + "k" * 50]
    assert signing.get_cookie_signer(salt="ciam.device").unsign(value) == "device-1"
