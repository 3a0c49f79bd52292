"""Recording and withdrawing consent."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from ..models import Consent
from ..signals import consent_granted, consent_revoked


@transaction.atomic
def consent_grant(*, user: Any, application: Any, scopes: list[str], claims: list[str]) -> Consent:
    """Record that ``user`` lets ``application`` receive ``scopes`` and ``claims``.

    What was granted before is kept: consent only grows until it is revoked.
    """
    consent, created = Consent.objects.select_for_update().get_or_create(
        user=user,
        application=application,
        defaults={
            "scopes": sorted(set(scopes)),
            "claims": sorted(set(claims)),
            "granted_at": timezone.now(),
        },
    )
    if not created:
        previous_scopes = set() if consent.revoked_at else set(consent.scopes)
        previous_claims = set() if consent.revoked_at else set(consent.claims)
        consent.scopes = sorted(previous_scopes | set(scopes))
        consent.claims = sorted(previous_claims | set(claims))
        consent.granted_at = timezone.now()
        consent.revoked_at = None
        consent.save(update_fields=["scopes", "claims", "granted_at", "revoked_at"])
    consent_granted.send(sender=Consent, user=user, application=application, consent=consent)
    return consent


@transaction.atomic
def consent_revoke(*, user: Any, application: Any) -> Consent | None:
    """Withdraw ``user``'s consent for ``application`` and revoke what it was given.

    Every refresh token, access token, ID token and unredeemed authorization code of that
    client for that user is revoked or deleted (RFC 7009 2.1: revoking a refresh token
    revokes its access tokens), so the client loses access at once, also with tokens granted
    with offline_access. The consent row stays, marked revoked, as the record that it was
    given and when it was withdrawn; the next authorization request asks again.
    Returns the revoked consent, or None when there was none to revoke.
    """
    consent = (
        Consent.objects.select_for_update()
        .filter(user=user, application=application, revoked_at__isnull=True)
        .first()
    )
    RefreshToken = get_refresh_token_model()
    for refresh_token in RefreshToken.objects.filter(
        user=user, application=application, revoked__isnull=True
    ):
        refresh_token.revoke()
    get_access_token_model().objects.filter(user=user, application=application).delete()
    get_id_token_model().objects.filter(user=user, application=application).delete()
    get_grant_model().objects.filter(user=user, application=application).delete()
    if consent is None:
        return None
    consent.revoked_at = timezone.now()
    consent.save(update_fields=["revoked_at"])
    consent_revoked.send(sender=Consent, user=user, application=application, consent=consent)
    return consent
