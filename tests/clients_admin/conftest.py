"""Fixtures of the client administration tests: an operator signed in to the admin."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_superuser(
        email="clients-operator@example.com", password="operator-password-1"
    )


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


def add_form_values(html: str) -> dict[str, str]:
    """The generated client_id and client_secret of an add page."""
    return {
        name: re.search(rf'name="{name}"[^>]*value="([^"]+)"', html).group(1)
        for name in ("client_id", "client_secret")
    }


def admin_form(**fields: str) -> dict[str, str]:
    """A client form post with the fields every client has."""
    data = {
        "name": "Shop",
        "redirect_uris": "",
        "post_logout_redirect_uris": "",
        "allowed_origins": "",
        "algorithm": "RS256",
        "subject_type": "public",
        "session_bound_refresh_tokens": "online",
        "logo_url": "",
        "brand_color": "",
        "sector_identifier": "",
        "backchannel_logout_uri": "",
        "frontchannel_logout_uri": "",
        "min_acr": "",
    }
    data.update(fields)
    return data
