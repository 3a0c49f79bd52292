"""The reads the token endpoints make on every call, each one prepared statement.

Every lookup is a ``PreparedLookup`` (ciam/oauth/prepared.py): compiled once per database
connection, then run with the value it is given. The querysets load, in the same query, what
the callbacks after them need (the user, the profile, whether the email is verified, the
``claims`` request of the authorization), so that no callback reads the database again.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, Field, Model, OuterRef, QuerySet, Subquery
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from ..models import AuthorizationContext
from .prepared import PreparedLookup
from .refresh_lifetime import FAMILY_STARTED, family_started_at

AccessToken = get_access_token_model()
Grant = get_grant_model()
RefreshToken = get_refresh_token_model()


def email_verified_subquery(user_ref: str) -> Exists:
    """Whether the user at ``user_ref`` (``"user__"``) has verified the email address they
    have now (OIDC Core 5.1 ``email_verified``), as a subquery to annotate with."""
    from allauth.account.models import EmailAddress

    return Exists(
        EmailAddress.objects.filter(
            user_id=OuterRef(f"{user_ref}id"),
            email__iexact=OuterRef(f"{user_ref}email"),
            verified=True,
        )
    )


def contexts_with_claim_sources() -> QuerySet[AuthorizationContext]:
    """Contexts with what ID tokens need about the user, in the same query.

    Each row carries ``ciam_email_verified`` (the claim source's verified-email flag).
    """
    return AuthorizationContext.objects.select_related("user", "user__profile").annotate(
        ciam_email_verified=email_verified_subquery("user__")
    )


def access_token_with_claim_sources(checksum: str) -> QuerySet[Any]:
    """The bearer token by checksum with its client, user and profile (for UserInfo).

    Each row carries ``ciam_email_verified`` and ``ciam_claims``, the ``claims`` request
    parameter (OIDC Core 5.5) of the authorization that started the token's family.
    """
    claims_request = AuthorizationContext.objects.filter(
        token_family=OuterRef("refresh_token__token_family")
    ).values("claims")[:1]
    queryset: QuerySet[Any] = (
        AccessToken.objects.select_related("application", "user", "user__profile")
        .annotate(
            ciam_claims=Subquery(claims_request),
            ciam_email_verified=email_verified_subquery("user__"),
        )
        .filter(token_checksum=checksum)
    )
    return queryset


def _model_field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, Field)
    return field


ACCESS_TOKEN_LOOKUP = PreparedLookup(access_token_with_claim_sources)
"""An access token by ``token_checksum`` (``access_token_with_claim_sources``)."""

LIVE_REFRESH_TOKEN_LOOKUP = PreparedLookup(
    lambda checksum: (
        RefreshToken.objects.select_related("access_token", "user")
        .annotate(**{FAMILY_STARTED: family_started_at()})
        .filter(token_checksum=checksum, revoked__isnull=True)
    )
)
"""A refresh token not revoked, by ``token_checksum``, with its access token, user and when
its family began (``FAMILY_STARTED``, for its absolute expiry: ciam/oauth/refresh_lifetime.py)."""

GRANT_LOOKUP = PreparedLookup(lambda code: Grant.objects.select_related("user").filter(code=code))
"""An authorization code's grant, with its user."""

CONTEXT_BY_CODE_HASH_LOOKUP = PreparedLookup(
    lambda digest: contexts_with_claim_sources().filter(code_hash=digest)
)
"""The context of an authorization code, by ``code_hash(code)``."""

CONTEXT_BY_FAMILY_LOOKUP = PreparedLookup(
    lambda family: contexts_with_claim_sources().filter(token_family=family),
    field=_model_field(AuthorizationContext, "token_family"),
)
"""The context that started a refresh-token family, by the family's UUID."""

# The AuthorizationContext fields a refreshed ID token needs, annotated on the refresh token
# as ``ciam_context_<field>`` (ciam/oauth/lean.py rebuilds the context from them).
REFRESH_CONTEXT_FIELDS = ("id", "sid", "auth_time", "acr", "amr", "claims")


def live_refresh_token_with_context(checksum: str) -> QuerySet[Any]:
    """A live refresh token by checksum with its access token, user and profile, when its
    family began, whether the user's email is verified and the fields of the authorization
    context that started its family: everything a rotation with a new ID token reads."""
    context = AuthorizationContext.objects.filter(token_family=OuterRef("token_family"))
    queryset: QuerySet[Any] = (
        RefreshToken.objects.select_related("access_token", "user", "user__profile")
        .annotate(
            **{FAMILY_STARTED: family_started_at()},
            ciam_email_verified=email_verified_subquery("user__"),
            **{
                f"ciam_context_{name}": Subquery(context.values(name)[:1])
                for name in REFRESH_CONTEXT_FIELDS
            },
        )
        .filter(token_checksum=checksum, revoked__isnull=True)
    )
    return queryset


LIVE_REFRESH_TOKEN_WITH_CONTEXT_LOOKUP = PreparedLookup(live_refresh_token_with_context)
"""``live_refresh_token_with_context`` in one prepared statement."""
