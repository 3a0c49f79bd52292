"""Fixtures for passkey tests: a signed-in Django test client and software authenticators."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.passkeys.app_settings import app_settings
from sessions_ctx.constants import SESSION_KEY_AUTH

from .authenticator import SoftAuthenticator


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    """A device-bound passkey authenticator (counter grows, not backed up)."""
    return SoftAuthenticator(rp_id=app_settings.RP_ID, origin=app_settings.ORIGINS[0])


@pytest.fixture
def synced_authenticator() -> SoftAuthenticator:
    """A synced passkey (backed up, counter always 0), like a password manager's."""
    return SoftAuthenticator(
        rp_id=app_settings.RP_ID, origin=app_settings.ORIGINS[0], backed_up=True, counter_step=0
    )


@pytest.fixture
def signed_in(client: Client, user) -> Client:
    """The test client, signed in as ``user`` just now (a password sign-in)."""
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def post_json(client: Client, name: str, body: dict[str, Any] | None = None, **kwargs: Any):
    return client.post(
        reverse(name, kwargs=kwargs or None), body or {}, content_type="application/json"
    )


def register(client: Client, authenticator: SoftAuthenticator, *, name: str = "", **create: Any):
    """Both registration requests; returns the response of the second."""
    options = post_json(client, "passkeys:register-begin")
    assert options.status_code == 200, options.content
    credential = authenticator.create(options.json(), **create)
    return post_json(client, "passkeys:register-complete", {"credential": credential, "name": name})


def begin_sign_in(client: Client) -> dict[str, Any]:
    response = post_json(client, "passkeys:authenticate-begin")
    assert response.status_code == 200, response.content
    return response.json()


def complete_sign_in(client: Client, assertion: dict[str, Any], next_url: str = ""):
    return post_json(
        client, "passkeys:authenticate-complete", {"credential": assertion, "next": next_url}
    )


def sign_in(client: Client, authenticator: SoftAuthenticator, next_url: str = "", **get: Any):
    """Both sign-in requests; returns the response of the second."""
    assertion = authenticator.get(begin_sign_in(client), **get)
    return complete_sign_in(client, assertion, next_url)


def age_authentication(client: Client, seconds: int) -> None:
    """Move the session's authentication time ``seconds`` into the past."""
    session = client.session
    state = dict(session[SESSION_KEY_AUTH])
    state["auth_time"] -= seconds
    session[SESSION_KEY_AUTH] = state
    session.save()
