"""A delegated operator's view of a customer holds what their clients have of the customer
only: the profile fields their clients require or collected (never where other fields came
from), no sessions, devices, passkeys, social account ids or other addresses, the risk
decisions of their clients (however many others there are), and a search by email alone."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

from profiling.models import ClientProfileSettings, ProfileField, ValueSource
from profiling.services.values import profile_update
from sessions_ctx.models import Action, RiskDecision
from tests.privacy.conftest import furnish
from tests.sessions_ctx.test_account_sessions import signed_in_browser

from .customers_fixtures import HOST, USERS

pytestmark = pytest.mark.django_db

PHONE = "+5511912345678"


def _decision(user, client_id: str, place: str) -> RiskDecision:
    return RiskDecision.objects.create(
        user=user,
        trigger=RiskDecision.Trigger.SIGN_IN,
        findings=[{"code": "new_device", "confidence": "high"}],
        action=Action.STEP_UP,
        ip="203.0.113.9",
        place=place,
        client_id=client_id,
    )


@pytest.fixture
def customer(delegation):
    """Shop's customer, who also uses Bank: a phone collected by Bank, names Shop requires,
    a passkey, a social account, a second address, a session, and 60 of Bank's risk
    decisions newer than Shop's one."""
    user = delegation.own_customers[0]
    furnish(user)
    profile_update(
        user=user,
        changes={"given_name": "Ana", "family_name": "Souza"},
        source=ValueSource.ACCOUNT,
    )
    profile_update(
        user=user,
        changes={"phone_number": PHONE},
        source=ValueSource.QUESTION,
        client=delegation.other,
        source_detail="bank-onboarding",
    )
    settings, _ = ClientProfileSettings.objects.get_or_create(application=delegation.own)
    settings.required_fields.set(ProfileField.objects.filter(key="given_name"))
    EmailAddress.objects.create(user=user, email="ana.secondary@example.com")
    signed_in_browser(user, address="198.51.100.77")
    _decision(user, delegation.own.client_id, "Shop town")
    for _ in range(60):
        _decision(user, delegation.other.client_id, "Bank town")
    return get_user_model().objects.get(pk=user.pk)


def test_delegated_page_shows_only_what_their_clients_have(operator_client, delegation, customer):
    """The page shows the required name and Shop's risk decision (behind 60 of Bank's); it
    shows neither Bank's phone nor its provenance, nor sessions, devices, passkeys, the
    social account's id or the second address."""
    page = operator_client.get(f"{USERS}{customer.pk}/change/", **HOST)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-field="given_name"' in html
    assert 'data-field="phone_number"' not in html
    assert "912345678" not in html
    assert "bank-onboarding" not in html
    assert delegation.other.client_id not in html
    assert "Shop town" in html
    assert "Bank town" not in html
    assert 'id="panel-sessions"' not in html
    assert "198.51.100.77" not in html
    assert "Work laptop" not in html  # the passkey
    assert f"google-uid-{customer.pk}" not in html
    assert "ana.secondary@example.com" not in html
    assert customer.email in html


def test_superuser_still_sees_everything(client, delegation, customer):
    """A superuser's page of the same customer keeps every panel and provenance."""
    client.force_login(delegation.superuser)
    html = client.get(f"{USERS}{customer.pk}/change/", **HOST).content.decode()
    for shown in (
        'data-field="phone_number"',
        "bank-onboarding",
        'id="panel-sessions"',
        "Work laptop",
        f"google-uid-{customer.pk}",
        "ana.secondary@example.com",
    ):
        assert shown in html, shown


def test_delegated_search_is_by_email_only(operator_client, delegation, customer):
    """A delegated operator finds the customer by email, not by phone, name or another
    address (no oracle for data the customer gave other clients)."""

    def found(term: str) -> bool:
        response = operator_client.get(USERS, {"q": term}, **HOST)
        assert response.status_code == 200
        return f"{USERS}{customer.pk}/change/" in response.content.decode()

    assert found(customer.email.split("@")[0])
    assert not found(PHONE)
    assert not found("11912345678")
    assert not found("Souza")
    assert not found("ana.secondary")
