"""Operators run the provider from Django admin."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from oauth2_provider.models import get_application_model

ADMIN_PAGES = [
    "/admin/",
    "/admin/ciam/application/",
    "/admin/ciam/application/add/",
    "/admin/ciam/signingkey/",
    "/admin/ciam/authorizationcontext/",
    "/admin/accounts/user/",
    "/admin/accounts/user/add/",
    "/admin/consent/consent/",
    "/admin/profiling/profile/",
    "/admin/accounts/passkey/",
    "/admin/oauth2_provider/accesstoken/",
    "/admin/oauth2_provider/refreshtoken/",
    "/admin/oauth2_provider/grant/",
    "/admin/oauth2_provider/idtoken/",
]


@pytest.fixture
def operator_client(client, db):
    operator = get_user_model().objects.create_superuser(
        email="operator@example.com", password="operator-password-1"
    )
    client.force_login(operator)
    return client


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_admin_pages_render(operator_client, url):
    """Every admin page of the provider's models renders for an operator."""
    assert operator_client.get(url, HTTP_HOST="localhost").status_code == 200


def test_admin_creates_client_and_shows_secret_once(operator_client):
    """A client added in admin gets its secret shown once and stored as a keyed hash."""
    page = operator_client.get("/admin/ciam/application/add/", HTTP_HOST="localhost")
    html = page.content.decode()
    secret = re.search(r'name="client_secret"[^>]*value="([^"]+)"', html).group(1)
    client_id = re.search(r'name="client_id"[^>]*value="([^"]+)"', html).group(1)
    response = operator_client.post(
        "/admin/ciam/application/add/",
        {
            "client_id": client_id,
            "client_secret": secret,
            "hash_client_secret": "on",
            "name": "Shop",
            "client_type": "confidential",
            "authorization_grant_type": "authorization-code",
            "redirect_uris": "https://shop.example/cb",
            "post_logout_redirect_uris": "",
            "allowed_origins": "",
            "algorithm": "RS256",
            "subject_type": "public",
            "logo_url": "",
            "backchannel_logout_uri": "",
            "session_bound_refresh_tokens": "online",
            "registration_source": "admin",
        },
        HTTP_HOST="localhost",
        follow=True,
    )
    messages = [str(message) for message in response.context["messages"]]
    assert any(secret in message for message in messages)
    stored = get_application_model().objects.get(client_id=client_id)
    assert stored.client_secret.startswith("ciam_hmac_sha256$")
    assert secret not in stored.client_secret
    change_page = operator_client.get(
        f"/admin/ciam/application/{stored.pk}/change/", HTTP_HOST="localhost"
    )
    assert secret not in change_page.content.decode()


def test_admin_requires_staff(client, db):
    """Customers cannot open the admin."""
    customer = get_user_model().objects.create_user(
        email="customer@example.com", password="customer-password-1"
    )
    client.force_login(customer)
    response = client.get("/admin/", HTTP_HOST="localhost")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
