"""Disabling a customer from the console, by its "Disable" action or by unticking "active"
on the customer's page, revokes every token and unredeemed code of every client, as
erasure does (accounts.privacy ``user_tokens_revoke``); the operator's own tokens stay."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
)

from tests.factories import UserFactory, make_client

from .customers_fixtures import HOST, USERS

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()


@pytest.fixture
def superuser(db) -> Any:
    return get_user_model().objects.create_superuser(
        email="root@example.com", password="operator-password-1"
    )


@pytest.fixture
def superuser_client(client, superuser):
    client.force_login(superuser)
    return client


def holding_tokens(user: Any, *client_names: str) -> None:
    """``user`` holds an access token, its refresh token and an unredeemed code at each of
    the named clients."""
    for name in client_names:
        registered = make_client("web", name=name, redirect_uris=[f"https://{name}.test/cb"])
        application = get_application_model().objects.get(client_id=registered.client_id)
        expires = timezone.now() + timedelta(hours=1)
        access = AccessToken.objects.create(
            user=user,
            application=application,
            token=secrets.token_urlsafe(),
            expires=expires,
            scope="openid offline_access",
        )
        RefreshToken.objects.create(
            user=user, application=application, token=secrets.token_urlsafe(), access_token=access
        )
        Grant.objects.create(
            user=user,
            application=application,
            code=secrets.token_urlsafe(),
            expires=expires,
            redirect_uri=f"https://{name}.test/cb",
            scope="openid",
        )


def holds_anything(user: Any) -> bool:
    return (
        AccessToken.objects.filter(user=user).exists()
        or RefreshToken.objects.filter(user=user, revoked__isnull=True).exists()
        or Grant.objects.filter(user=user).exists()
    )


def test_the_disable_action_revokes_every_token(superuser_client, superuser):
    """Confirmed "Disable": the customer's tokens and codes at every client are gone;
    another customer's and the operator's are untouched."""
    customer, bystander = UserFactory(), UserFactory()
    holding_tokens(customer, "shop", "bank")
    holding_tokens(bystander, "news")
    holding_tokens(superuser, "ops")
    response = superuser_client.post(
        f"{USERS}{customer.pk}/customer/disable/", {"confirm": "yes"}, **HOST
    )
    assert response.status_code == 302
    assert not holds_anything(customer)
    assert holds_anything(bystander)
    assert holds_anything(superuser)


def test_unticking_active_on_the_customers_page_revokes_every_token(superuser_client):
    """Saving the customer's page with "active" unticked is disabling too: the tokens go."""
    customer = UserFactory()
    holding_tokens(customer, "shop")
    response = superuser_client.post(
        f"{USERS}{customer.pk}/change/",
        {
            "email": customer.email,
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
        **HOST,
    )
    assert response.status_code == 302, response.content.decode()[-1500:]
    customer.refresh_from_db()
    assert not customer.is_active
    assert not holds_anything(customer)
