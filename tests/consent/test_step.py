"""The consent interaction step (consent/steps.py): when the consent screen is needed."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.test import RequestFactory
from django.utils import timezone
from oauth2_provider.models import get_application_model

from ciam.interaction import pending_new
from consent.services.grants import consent_grant
from consent.steps import STEP_NAME, ConsentStep
from tests.factories import UserFactory, make_client

pytestmark = pytest.mark.django_db

Application = get_application_model()


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def request_of(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


@pytest.fixture
def third_party():
    registered = make_client("web", name="Partner", redirect_uris=["https://p.test/cb"])
    return Application.objects.get(client_id=registered.client_id)


@pytest.fixture
def first_party():
    registered = make_client(
        "web", name="Own app", redirect_uris=["https://own.test/cb"], first_party=True
    )
    return Application.objects.get(client_id=registered.client_id)


def pending_for(application, scopes=("openid", "email"), **params):
    query = {"response_type": "code", "client_id": application.client_id, **params}
    query["scope"] = " ".join(scopes)
    return pending_new(
        client_id=application.client_id,
        client_name=application.name,
        query=urlencode(query),
        scopes=list(scopes),
    )


def satisfied(request, pending) -> bool:
    return ConsentStep().is_satisfied(request, pending)


def test_third_party_without_consent_needs_the_screen(request_of, third_party):
    """No recorded consent: the step is not satisfied and points at the consent page."""
    pending = pending_for(third_party)
    assert not satisfied(request_of, pending)
    assert ConsentStep().url(request_of, pending) == f"/consent/{pending.id}/"
    assert ConsentStep.prompt_none_error == "consent_required"


def test_third_party_with_covering_consent_is_satisfied(request_of, user, third_party):
    """A recorded consent for the same or more scopes: no screen."""
    consent_grant(
        user=user, application=third_party, scopes=["openid", "email", "phone"], claims=[]
    )
    assert satisfied(request_of, pending_for(third_party))


def test_consent_for_fewer_scopes_is_not_enough(request_of, user, third_party):
    """Asking for a scope beyond the recorded consent shows the screen again."""
    consent_grant(user=user, application=third_party, scopes=["openid"], claims=[])
    assert not satisfied(request_of, pending_for(third_party, scopes=("openid", "email")))


def test_revoked_consent_is_not_enough(request_of, user, third_party):
    """A revoked consent counts as none."""
    consent = consent_grant(
        user=user, application=third_party, scopes=["openid", "email"], claims=[]
    )
    consent.revoked_at = timezone.now() - timedelta(seconds=1)
    consent.save()
    assert not satisfied(request_of, pending_for(third_party))


def test_another_users_consent_does_not_count(request_of, third_party):
    """Consent is personal."""
    consent_grant(
        user=UserFactory(), application=third_party, scopes=["openid", "email"], claims=[]
    )
    assert not satisfied(request_of, pending_for(third_party))


def test_prompt_consent_asks_again_despite_recorded_consent(request_of, user, third_party):
    """prompt=consent: the user is asked even when consent is on record (OIDC Core
    3.1.2.1)."""
    consent_grant(user=user, application=third_party, scopes=["openid", "email"], claims=[])
    assert not satisfied(request_of, pending_for(third_party, prompt="consent"))
    assert not satisfied(request_of, pending_for(third_party, prompt="login consent"))


def test_consent_given_in_this_interaction_satisfies_even_prompt_consent(request_of, third_party):
    """Once the user answered the screen for this request, the step is done (no loop)."""
    pending = pending_for(third_party, prompt="consent")
    pending.done.append(STEP_NAME)
    assert satisfied(request_of, pending)


def test_first_party_client_needs_no_consent(request_of, first_party):
    """First-party clients (skip_authorization) never show the consent screen, also with
    prompt=consent: there is no third party to consent to."""
    assert satisfied(request_of, pending_for(first_party))
    assert satisfied(request_of, pending_for(first_party, prompt="consent"))


def test_unknown_client_is_never_satisfied(request_of, third_party):
    """A pending request whose client was deleted meanwhile is not satisfied."""
    pending = pending_for(third_party)
    third_party.delete()
    assert not satisfied(request_of, pending)


def test_individually_requested_claims_need_consent_too(request_of, user, third_party):
    """Claims asked through the claims parameter must be in the recorded consent."""
    claims = json.dumps({"userinfo": {"phone_number": None}, "id_token": {"name": None}})
    consent_grant(user=user, application=third_party, scopes=["openid", "email"], claims=[])
    assert not satisfied(request_of, pending_for(third_party, claims=claims))
    consent_grant(user=user, application=third_party, scopes=[], claims=["name", "phone_number"])
    assert satisfied(request_of, pending_for(third_party, claims=claims))


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ('{"userinfo": {"email": null}, "id_token": {"name": null}}', ["email", "name"]),
        ('{"userinfo": {"made_up": null, "phone_number": {"essential": true}}}', ["phone_number"]),
        ('{"userinfo": {"email": null}, "id_token": {"email": null}}', ["email"]),
        ('{"userinfo": ["email"]}', []),
        ("[1, 2]", []),
        ("not json", []),
        ("", []),
    ],
)
def test_requested_claims_are_standard_names_from_both_members(third_party, claims, expected):
    """Only standard claim names count; malformed claims parameters request nothing."""
    assert pending_for(third_party, claims=claims).individually_requested_claims == expected


def test_a_client_may_limit_how_long_its_grant_lasts(request_of, user, third_party):
    """With consent_max_age_days set, a grant older than that asks again; a fresh one and a
    client without a limit do not."""
    consent = consent_grant(
        user=user, application=third_party, scopes=["openid", "email"], claims=[]
    )
    assert satisfied(request_of, pending_for(third_party))
    third_party.consent_max_age_days = 30
    third_party.save()
    assert satisfied(request_of, pending_for(third_party))
    consent.granted_at = timezone.now() - timedelta(days=31)
    consent.save()
    assert not satisfied(request_of, pending_for(third_party))
    third_party.consent_max_age_days = None
    third_party.save()
    assert satisfied(request_of, pending_for(third_party))
