"""A refresh-token family has an absolute lifetime, CIAM_REFRESH_TOKEN_ABSOLUTE_DAYS (90 by
default) from the authorization that started it: rotations do not restart it, and past it
refreshing is invalid_grant and introspection says inactive (OWASP ASVS 10.4.8)."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_refresh_token_model,
)

from ciam.app_settings import app_settings
from ciam.models import AuthorizationContext
from ciam.oauth.refresh_lifetime import refresh_token_expires_at
from ciam.services.introspection import token_introspection
from tests.factories import UserFactory, make_client

OFFLINE = "openid email offline_access"
RefreshToken = get_refresh_token_model()


def family_started(days_ago: float, **extra: float) -> None:
    """Pretend every authorization (and so every family) began ``days_ago`` days ago."""
    AuthorizationContext.objects.update(created=timezone.now() - timedelta(days=days_ago, **extra))


def test_the_default_is_ninety_days(settings):
    """Without CIAM_REFRESH_TOKEN_ABSOLUTE_DAYS in the settings: 90."""
    del settings.CIAM_REFRESH_TOKEN_ABSOLUTE_DAYS
    assert app_settings.REFRESH_TOKEN_ABSOLUTE_DAYS == 90


def test_rotations_do_not_restart_the_familys_lifetime(rp, user, password):
    """A family refreshed often keeps working until 90 days after its authorization, then
    the newest refresh token, issued a moment ago, gets invalid_grant."""
    _, tokens = rp.sign_in(email=user.email, password=password, scope=OFFLINE)
    family_started(90, minutes=-5)
    for _ in range(3):
        tokens = rp.refresh(tokens["refresh_token"])
    family_started(90, seconds=1)
    assert rp.refresh_error(tokens["refresh_token"]) == "invalid_grant"


def test_introspection_gives_the_absolute_expiry_and_then_inactive(rp, user, password):
    """A refresh token's exp is the family's end when that comes before its sliding expiry;
    past it the token is inactive."""
    _, tokens = rp.sign_in(email=user.email, password=password, scope=OFFLINE)
    family_started(80)
    started = AuthorizationContext.objects.get().created
    data = rp.introspect(tokens["refresh_token"]).json()
    assert data["active"] is True
    assert data["exp"] == int((started + timedelta(days=90)).timestamp())
    family_started(91)
    assert rp.introspect(tokens["refresh_token"]).json() == {"active": False}


def test_the_lifetime_is_a_setting(rp, user, password, settings):
    """CIAM_REFRESH_TOKEN_ABSOLUTE_DAYS = 1: a day after the authorization the family ends."""
    settings.CIAM_REFRESH_TOKEN_ABSOLUTE_DAYS = 1
    _, tokens = rp.sign_in(email=user.email, password=password, scope=OFFLINE)
    family_started(0, hours=23)
    tokens = rp.refresh(tokens["refresh_token"])
    family_started(1, seconds=1)
    assert rp.refresh_error(tokens["refresh_token"]) == "invalid_grant"


def test_zero_turns_the_absolute_lifetime_off(rp, user, password, settings):
    """CIAM_REFRESH_TOKEN_ABSOLUTE_DAYS = 0: only the sliding expiry applies."""
    settings.CIAM_REFRESH_TOKEN_ABSOLUTE_DAYS = 0
    _, tokens = rp.sign_in(email=user.email, password=password, scope=OFFLINE)
    family_started(1000)
    assert rp.refresh(tokens["refresh_token"])["access_token"]


def test_a_family_without_its_authorization_counts_from_its_first_token(db):
    """A family whose authorization context is gone counts from its first refresh token."""
    user = UserFactory()
    registered = make_client("web", name="Shop", redirect_uris=["https://shop.test/cb"])
    application = get_application_model().objects.get(client_id=registered.client_id)
    family = uuid.uuid4()
    expires = timezone.now() + timedelta(hours=1)
    first = RefreshToken.objects.create(
        user=user,
        application=application,
        token=secrets.token_urlsafe(),
        token_family=family,
        revoked=timezone.now(),
    )
    access = get_access_token_model().objects.create(
        user=user,
        application=application,
        token=secrets.token_urlsafe(),
        expires=expires,
        scope="openid",
    )
    newest = secrets.token_urlsafe()
    RefreshToken.objects.create(
        user=user, application=application, token=newest, token_family=family, access_token=access
    )
    assert token_introspection(token=newest, hint="refresh_token")["active"] is True
    RefreshToken.objects.filter(pk=first.pk).update(created=timezone.now() - timedelta(days=91))
    assert token_introspection(token=newest, hint="refresh_token") == {"active": False}


def test_the_earlier_limit_wins(settings):
    """Sliding (REFRESH_TOKEN_EXPIRE_SECONDS past the access token's expiry) and absolute
    (days from the family's start): whichever comes first; neither set: never."""
    now = timezone.now()
    settings.CIAM_REFRESH_TOKEN_ABSOLUTE_DAYS = 90
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "REFRESH_TOKEN_EXPIRE_SECONDS": 86400}
    assert refresh_token_expires_at(
        access_token_expires=now, family_started=now - timedelta(days=10)
    ) == now + timedelta(days=1)
    assert refresh_token_expires_at(
        access_token_expires=now, family_started=now - timedelta(days=89, hours=12)
    ) == now + timedelta(hours=12)
    settings.CIAM_REFRESH_TOKEN_ABSOLUTE_DAYS = 0
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "REFRESH_TOKEN_EXPIRE_SECONDS": 0}
    assert refresh_token_expires_at(access_token_expires=now, family_started=now) is None


def test_refresh_just_inside_the_lifetime_works(rp, user, password):
    """A minute before the end the family still refreshes."""
    _, tokens = rp.sign_in(email=user.email, password=password, scope=OFFLINE)
    family_started(90, minutes=-1)
    assert rp.refresh(tokens["refresh_token"])["access_token"]
