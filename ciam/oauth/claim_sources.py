"""What the claims function (ciam/claims.py, pure) needs about a user, read from the database."""

from __future__ import annotations

from typing import Any

from ..claims import ClaimSource


def claim_source_for(user: Any, *, email_verified: bool | None = None) -> ClaimSource:
    """What the claims function needs about ``user`` (profile, verified email).

    ``email_verified`` (OIDC Core 5.1: the address the ``email`` claim carries was verified)
    may come precomputed: UserInfo and ID tokens load it with the token or the
    authorization context, in the same query (ciam/oauth/lookups.py); otherwise it costs one
    query here.
    """
    from allauth.account.models import EmailAddress

    profile = getattr(user, "profile", None)  # None when the user has no profile row yet
    if email_verified is None:
        email_verified = EmailAddress.objects.filter(
            user_id=user.pk, email__iexact=user.email, verified=True
        ).exists()
    return ClaimSource(
        sub=str(user.pk), email=user.email, email_verified=email_verified, profile=profile
    )
