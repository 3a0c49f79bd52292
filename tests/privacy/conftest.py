"""Helpers for the data-rights tests: a user with something of every kind."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from allauth.socialaccount.models import SocialAccount
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from accounts.mfa.services import recovery_codes_generate
from accounts.models import Passkey
from consent.models import ConsentAction, ConsentChannel, Purpose
from consent.services.grants import consent_grant
from consent.services.ledger import consent_record
from profiling.models import ProfileValue, ValueSource
from tests.consent.purposes_helpers import make_purpose
from tests.factories import make_client

Application = get_application_model()


@dataclass
class Secrets:
    """The secret values stored for the user: none may appear in an export."""

    password_hash: str
    totp_key: str
    passkey_public_key: bytes
    passkey_credential_id: bytes
    access_token: str
    refresh_token: str
    code: str


def tokens_for(user, application) -> tuple[str, str, str]:
    """An access token with its refresh token, an ID token and an unredeemed code, as DOT
    stores them; returns (access token, refresh token, code)."""
    expires = timezone.now() + timedelta(hours=1)
    values = secrets.token_urlsafe(), secrets.token_urlsafe(), secrets.token_urlsafe()
    id_token = get_id_token_model().objects.create(
        user=user, application=application, expires=expires, scope="openid"
    )
    access = get_access_token_model().objects.create(
        user=user,
        application=application,
        token=values[0],
        expires=expires,
        scope="openid email",
        id_token=id_token,
    )
    get_refresh_token_model().objects.create(
        user=user, application=application, token=values[1], access_token=access
    )
    get_grant_model().objects.create(
        user=user,
        application=application,
        code=values[2],
        expires=expires,
        redirect_uri="https://partner.test/cb",
        scope="openid email",
    )
    return values


def furnish(user) -> Secrets:
    """Give ``user`` a bit of everything: authenticator app and recovery codes, a passkey,
    a social account, a partner client's tokens and consent, consent-ledger records."""
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    recovery_codes_generate(user=user)
    passkey = Passkey.objects.create(
        user=user,
        credential_id=secrets.token_bytes(32),
        public_key=secrets.token_bytes(77),
        user_handle=secrets.token_bytes(32),
        name="Work laptop",
        last_used_at=timezone.now(),
    )
    SocialAccount.objects.create(
        user=user,
        provider="google",
        uid=f"google-uid-{user.pk}",
        extra_data={"given_name": "Ana", "family_name": "Silva", "name": "Ana Silva"},
    )
    # The names came from Google (the first social sign-in names the profile).
    ProfileValue.objects.filter(user=user).update(source=ValueSource.SOCIAL, source_detail="google")
    partner = Application.objects.get(
        client_id=make_client(
            "web", name="Partner Shop", redirect_uris=["https://partner.test/cb"]
        ).client_id
    )
    access, refresh, code = tokens_for(user, partner)
    consent_grant(user=user, application=partner, scopes=["openid", "email"], claims=[])
    purpose = Purpose.objects.filter(key="newsletter").first() or make_purpose("newsletter")
    consent_record(
        user=user,
        version=purpose.versions.get(),
        action=ConsentAction.GRANTED,
        channel=ConsentChannel.PORTAL,
        application=partner,
        ip_address="203.0.113.9",
        user_agent="Test browser 1.0",
    )
    user.refresh_from_db()
    return Secrets(
        password_hash=user.password,
        totp_key=device.key,
        passkey_public_key=bytes(passkey.public_key),
        passkey_credential_id=bytes(passkey.credential_id),
        access_token=access,
        refresh_token=refresh,
        code=code,
    )
