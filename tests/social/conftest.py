"""Fixtures: an upstream OpenID Provider on loopback, registered as a social application."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from .idp import Identity, LoopbackProvider

PROVIDER_NAME = "Test IdP"


@pytest.fixture
def idp() -> Iterator[LoopbackProvider]:
    token = secrets.token_hex(4)
    provider = LoopbackProvider(
        identity=Identity(sub=f"upstream-{token}", email=f"bia-{token}@example.org")
    ).start()
    yield provider
    provider.stop()


@pytest.fixture
def social_app(db, idp):
    """The upstream provider as an operator would add it in the admin: a SocialApp of the
    generic OpenID Connect type whose server_url is the provider's issuer."""
    from allauth.socialaccount.models import SocialApp

    return SocialApp.objects.create(
        provider="openid_connect",
        provider_id="test-idp",
        name=PROVIDER_NAME,
        client_id=idp.client_id,
        secret=idp.client_secret,
        settings={"server_url": idp.url},
    )
