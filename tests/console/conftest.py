"""Delegated administration fixtures: two clients (Shop, Bank), an operator delegated on
Shop, Shop's customers (proved by a code, a token, a consent), Bank's customer, a staff
account that signed in to Shop, and a superuser."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

from ciam.models import AuthorizationContext
from consent.services.grants import consent_grant
from console.delegation import delegation_grant
from tests.factories import UserFactory, make_client


def _client(name: str) -> Any:
    registered = make_client("web", name=name, redirect_uris=[f"https://{name.lower()}.test/cb"])
    return get_application_model().objects.get(client_id=registered.client_id)


def signed_in(user: Any, application: Any) -> AuthorizationContext:
    """``user`` signed in to ``application`` (an authorization code was issued)."""
    return AuthorizationContext.objects.create(
        application=application,
        user=user,
        code_hash=secrets.token_hex(32),
        auth_time=int(timezone.now().timestamp()),
    )


def _token(user: Any, application: Any) -> None:
    get_access_token_model().objects.create(
        user=user,
        application=application,
        token=secrets.token_urlsafe(),
        expires=timezone.now() + timedelta(hours=1),
        scope="openid",
    )


@dataclass
class Delegation:
    own: Any
    other: Any
    operator: Any
    superuser: Any
    staff_on_own: Any
    own_customers: list[Any]
    other_customer: Any


@pytest.fixture
def delegation(db) -> Delegation:
    own, other = _client("Shop"), _client("Bank")
    superuser = get_user_model().objects.create_superuser(
        email="root@example.com", password="operator-password-1"
    )
    operator = UserFactory(email="operator@example.com", is_staff=True)
    delegation_grant(operator=operator, client=own, granted_by=superuser)
    by_code, by_token, by_consent = (
        UserFactory(email="code@example.com"),
        UserFactory(email="token@example.com"),
        UserFactory(email="consent@example.com"),
    )
    signed_in(by_code, own)
    _token(by_token, own)
    consent_grant(user=by_consent, application=own, scopes=["openid"], claims=[])
    other_customer = UserFactory(email="bank.customer@example.com")
    signed_in(other_customer, other)
    staff_on_own = UserFactory(email="staff@example.com", is_staff=True)
    signed_in(staff_on_own, own)
    operator = get_user_model().objects.get(pk=operator.pk)
    return Delegation(
        own=own,
        other=other,
        operator=operator,
        superuser=superuser,
        staff_on_own=staff_on_own,
        own_customers=[by_code, by_token, by_consent],
        other_customer=other_customer,
    )


@pytest.fixture
def operator_client(client, delegation):
    client.force_login(delegation.operator)
    return client
