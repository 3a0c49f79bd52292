"""Helpers shared by the social-login and email sign-in tests: redirects, buttons, tokens."""

from __future__ import annotations

import html
import re
import secrets
from typing import Any
from urllib.parse import urljoin

import requests

from tests.conftest import Browser, Client, query_of, redeem_code


def auth_params(client: Client, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": "openid email profile",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        **extra,
    }


def follow(browser: Browser, response: requests.Response, *origins: str) -> requests.Response:
    """Follow redirects while they stay on the provider or on one of ``origins`` (the upstream
    provider); the first response that is not such a redirect is returned."""
    allowed = (browser.issuer, *origins)
    while response.status_code in (301, 302, 303):
        location = urljoin(response.url, response.headers["Location"])
        if not location.startswith(allowed):
            break
        response = browser.session.get(location, allow_redirects=False, timeout=10)
    return response


def provider_button(page: str, name: str) -> str | None:
    """The formaction of the "Continue with <name>" / "Connect <name>" button, if shown."""
    for match in re.finditer(r'<button[^>]*formaction="([^"]+)"[^>]*>(.*?)</button>', page, re.S):
        if name in match.group(2):
            return html.unescape(match.group(1))
    return None


def press_provider_button(
    browser: Browser, page: requests.Response, name: str, *origins: str
) -> requests.Response:
    """POST the provider button found on ``page`` and follow the round trip upstream."""
    action = provider_button(page.text, name)
    assert action, f"no {name} button on {page.url}"
    response = browser.post(
        urljoin(page.url, action),
        data={"csrfmiddlewaretoken": browser.csrf(page.text)},
        headers={"Referer": page.url},
    )
    return follow(browser, response, *origins)


def redeem(issuer: str, client: Client, location: str) -> dict[str, Any]:
    """Exchange the code in the relying party's callback ``location``; the verified claims
    of the ID token (signature checked against the provider's JWKS)."""
    assert location.startswith(client.redirect_uri + "?"), location
    claims = redeem_code(issuer, client, query_of(location)["code"])
    assert claims["iss"] == issuer
    assert claims["aud"] in (client.client_id, [client.client_id])
    return claims
