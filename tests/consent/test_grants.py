"""Recording consent (consent/services/grants.py) and what it covers (Consent.covers)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import get_application_model

from consent.models import Consent
from consent.services.grants import consent_grant
from tests.factories import UserFactory, make_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def application():
    registered = make_client("web", redirect_uris=["https://partner.test/cb"])
    return get_application_model().objects.get(client_id=registered.client_id)


def test_first_grant_records_scopes_and_claims(user, application):
    """A first grant stores the scopes and individually requested claims, sorted."""
    consent = consent_grant(
        user=user, application=application, scopes=["openid", "email", "openid"], claims=["name"]
    )
    assert consent.scopes == ["email", "openid"]
    assert consent.claims == ["name"]
    assert consent.revoked_at is None
    assert consent.granted_at is not None


def test_later_grants_only_grow_the_consent(user, application):
    """Granting again adds to what was granted; nothing is taken away, one row per client."""
    consent_grant(user=user, application=application, scopes=["openid", "email"], claims=[])
    consent = consent_grant(
        user=user, application=application, scopes=["openid", "profile"], claims=["phone_number"]
    )
    assert consent.scopes == ["email", "openid", "profile"]
    assert consent.claims == ["phone_number"]
    assert Consent.objects.filter(user=user, application=application).count() == 1


def test_regrant_after_revoke_starts_afresh(user, application):
    """After a revocation a new grant covers only what is granted now."""
    consent = consent_grant(
        user=user, application=application, scopes=["openid", "email", "phone"], claims=["name"]
    )
    consent.revoked_at = timezone.now()
    consent.granted_at = timezone.now() - timedelta(days=1)
    consent.save()
    regranted = consent_grant(user=user, application=application, scopes=["openid"], claims=[])
    assert regranted.pk == consent.pk
    assert regranted.revoked_at is None
    assert regranted.scopes == ["openid"]
    assert regranted.claims == []
    assert regranted.granted_at > timezone.now() - timedelta(minutes=1)


def test_consents_are_per_user_and_client(user, application):
    """Another user's or another client's consent is a separate record."""
    other_user = UserFactory()
    other_app = get_application_model().objects.get(
        client_id=make_client("web", redirect_uris=["https://b.test/cb"]).client_id
    )
    consent_grant(user=user, application=application, scopes=["openid"], claims=[])
    consent_grant(user=other_user, application=application, scopes=["email"], claims=[])
    consent_grant(user=user, application=other_app, scopes=["phone"], claims=[])
    assert Consent.objects.get(user=user, application=application).scopes == ["openid"]
    assert Consent.objects.count() == 3


@pytest.mark.parametrize(
    ("scopes", "claims", "covered"),
    [
        (["openid"], [], True),
        (["openid", "email"], [], True),
        (["email", "openid"], ["name"], True),
        (["openid", "profile"], [], False),
        (["openid"], ["phone_number"], False),
        ([], [], True),
    ],
)
def test_covers_compares_scopes_and_claims(user, application, scopes, claims, covered):
    """A consent covers a request whose scopes and claims it all includes."""
    consent = consent_grant(
        user=user, application=application, scopes=["openid", "email"], claims=["name"]
    )
    assert consent.covers(scopes, claims) is covered


def test_revoked_consent_covers_nothing(user, application):
    """A revoked consent covers no request at all."""
    consent = consent_grant(user=user, application=application, scopes=["openid"], claims=[])
    consent.revoked_at = timezone.now()
    assert not consent.covers(["openid"], [])
    assert not consent.covers([], [])
