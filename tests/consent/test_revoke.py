"""Withdrawing a client's consent (consent/services/grants.py consent_revoke)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import requests
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
)

from consent.models import Consent
from consent.services.grants import consent_grant, consent_revoke
from consent.signals import consent_revoked
from tests.conftest import query_of
from tests.factories import UserFactory, make_client

pytestmark = pytest.mark.django_db(transaction=True)

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Application = get_application_model()


def tokens_for(user, application):
    """An access token with its refresh token and an unredeemed code, as DOT stores them."""
    expires = timezone.now() + timedelta(hours=1)
    access = AccessToken.objects.create(
        user=user, application=application, token=secrets.token_urlsafe(), expires=expires
    )
    RefreshToken.objects.create(
        user=user, application=application, token=secrets.token_urlsafe(), access_token=access
    )
    get_grant_model().objects.create(
        user=user,
        application=application,
        code=secrets.token_urlsafe(),
        expires=expires,
        redirect_uri="https://partner.test/cb",
    )


def test_revoking_withdraws_the_consent_and_every_token_of_that_client():
    """The consent is marked revoked (kept as the record), the client's access tokens,
    refresh tokens and codes for that user are gone; other clients and users keep theirs;
    consent_revoked is sent once."""
    user, other_user = UserFactory(), UserFactory()
    partner = Application.objects.get(
        client_id=make_client("web", redirect_uris=["https://partner.test/cb"]).client_id
    )
    other = Application.objects.get(
        client_id=make_client("web", redirect_uris=["https://other.test/cb"]).client_id
    )
    consent_grant(user=user, application=partner, scopes=["openid", "email"], claims=[])
    tokens_for(user, partner)
    tokens_for(user, other)
    tokens_for(other_user, partner)
    received = []
    consent_revoked.connect(lambda **kwargs: received.append(kwargs), weak=False)
    try:
        consent = consent_revoke(user=user, application=partner)
    finally:
        consent_revoked.receivers.clear()

    assert consent is not None
    assert consent.revoked_at is not None
    assert Consent.objects.get(pk=consent.pk).revoked_at is not None
    assert not AccessToken.objects.filter(user=user, application=partner).exists()
    assert not RefreshToken.objects.filter(
        user=user, application=partner, revoked__isnull=True
    ).exists()
    assert not get_grant_model().objects.filter(user=user, application=partner).exists()
    assert AccessToken.objects.filter(user=user, application=other).count() == 1
    assert AccessToken.objects.filter(user=other_user, application=partner).count() == 1
    assert len(received) == 1
    assert received[0]["user"] == user


def test_revoking_twice_or_without_consent_is_harmless():
    """Nothing to withdraw: None, and no error; tokens are still revoked."""
    user = UserFactory()
    partner = Application.objects.get(
        client_id=make_client("web", redirect_uris=["https://partner.test/cb"]).client_id
    )
    tokens_for(user, partner)
    assert consent_revoke(user=user, application=partner) is None
    assert not AccessToken.objects.filter(user=user, application=partner).exists()
    consent_grant(user=user, application=partner, scopes=["openid"], claims=[])
    assert consent_revoke(user=user, application=partner) is not None
    assert consent_revoke(user=user, application=partner) is None


@pytest.mark.live
def test_after_revoking_the_client_cannot_use_its_tokens_and_asks_again(
    browser, issuer, user, password, third_party_client
):
    """End to end: tokens issued after consent stop working at UserInfo and at the token
    endpoint once the consent is withdrawn, and the next request shows the consent screen."""
    params = {
        "response_type": "code",
        "client_id": third_party_client.client_id,
        "redirect_uri": third_party_client.redirect_uri,
        "scope": "openid email",
        "state": "s1",
    }
    location = browser.authorize(params, email=user.email, password=password, consent="allow")
    response = requests.post(
        issuer + "/token",
        data={
            "grant_type": "authorization_code",
            "code": query_of(location)["code"],
            "redirect_uri": third_party_client.redirect_uri,
        },
        auth=(third_party_client.client_id, third_party_client.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert requests.get(issuer + "/userinfo", headers=bearer, timeout=10).status_code == 200

    consent_revoke(
        user=user, application=Application.objects.get(client_id=third_party_client.client_id)
    )

    assert requests.get(issuer + "/userinfo", headers=bearer, timeout=10).status_code == 401
    refreshed = requests.post(
        issuer + "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(third_party_client.client_id, third_party_client.client_secret),
        timeout=10,
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
    page = browser.follow_local(browser.get("/authorize?" + urlencode(params)))
    assert "/consent/" in page.url
