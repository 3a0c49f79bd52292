"""What the claims function (ciam/claims.py, pure) needs about a user, read from the database."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import lru_cache
from typing import Any

from django.utils.module_loading import import_string

from ..app_settings import app_settings
from ..claims import (
    PROVIDED_CLAIM_SCOPES,
    PROVIDED_CLAIMS,
    PROVIDED_SCOPES,
    REQUESTABLE_PROVIDED_CLAIMS,
    ClaimSource,
    requested_claim_names,
)
from ..subjects import subject_for

ClaimProvider = Callable[[Any, Any, frozenset[str]], dict[str, Any]]


def claim_source_for(
    user: Any, *, client: Any | None = None, email_verified: bool | None = None
) -> ClaimSource:
    """What the claims function needs about ``user`` (sub, profile claims, verified email).

    ``sub`` is the one ``client`` sees (ciam/subjects.py: public, pairwise or legacy); the
    same client gives the same ``sub`` in ID tokens and UserInfo (OIDC Core 5.3.2). Without
    a client: the user's public subject.

    ``email_verified`` (OIDC Core 5.1: the address the ``email`` claim carries was verified)
    may come precomputed: UserInfo and ID tokens load it with the token or the
    authorization context, in the same query (ciam/oauth/lookups.py); otherwise it costs one
    query here.
    """
    from allauth.account.models import EmailAddress

    from profiling.claims import profile_claims

    # None when the user has no profile row yet (no value was ever collected).
    profile = getattr(user, "profile", None)
    if email_verified is None:
        email_verified = EmailAddress.objects.filter(
            user_id=user.pk, email__iexact=user.email, verified=True
        ).exists()
    return ClaimSource(
        sub=subject_for(user, client),
        email=user.email,
        email_verified=email_verified,
        profile=profile_claims(user, profile, client=client) if profile is not None else None,
    )


@lru_cache(maxsize=4)
def _claim_providers(paths: tuple[str, ...]) -> tuple[ClaimProvider, ...]:
    return tuple(import_string(path) for path in paths)


def with_provided_claims(
    source: ClaimSource,
    *,
    user: Any,
    application: Any,
    scopes: Iterable[str],
    claims_request: dict[str, Any] | None = None,
    member: str = "userinfo",
) -> ClaimSource:
    """``source`` with the values of the provided claims (``PROVIDED_SCOPE_CLAIMS``, e.g.
    ``consents``) from the ``CIAM_CLAIM_PROVIDERS`` functions ``(user, application, scopes)``.

    They are called only when one of those scopes was granted or one of their requestable
    claims was asked for one by one in ``claims_request``'s ``member`` (the provider is then
    called with that claim's scope; ``user_claims`` releases only the claim asked for), and
    on every call (no cache: a withdrawn consent shows in the next ID token or UserInfo
    answer); only the names of ``PROVIDED_CLAIMS`` are kept, so a provider cannot replace
    ``sub`` or a standard claim.
    """
    # A claim asked for one by one brings its scope only when the client may ask for that
    # scope (its allowed scopes; none set: every scope).
    allowed: frozenset[str] = getattr(application, "allowed_scope_set", frozenset())
    granted = frozenset(scopes) | {
        PROVIDED_CLAIM_SCOPES[name]
        for name in requested_claim_names(claims_request, member)
        if name in REQUESTABLE_PROVIDED_CLAIMS
        and (not allowed or PROVIDED_CLAIM_SCOPES[name] in allowed)
    }
    if not granted & PROVIDED_SCOPES or user is None or application is None:
        return source
    provided: dict[str, Any] = {}
    for provider in _claim_providers(app_settings.CLAIM_PROVIDERS):
        for name, value in provider(user, application, granted).items():
            if name in PROVIDED_CLAIMS:
                provided[name] = value
    return replace(source, provided=provided)
