"""RFC 7662 token introspection, with ``acr`` and ``auth_time`` of the authorization behind
a token (RFC 9470 6.2: a resource server compares them with what it needs and answers with
a step-up challenge, ``insufficient_user_authentication``, when they fall short)."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, Subquery
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model
from oauth2_provider.settings import oauth2_settings

from ..models import AuthorizationContext
from ..oauth.jwt_access import jwt_access_token_claims, looks_like_jwt
from ..oauth.prepared import PreparedLookup
from ..oauth.refresh_lifetime import FAMILY_STARTED, family_started_at, refresh_token_expires_at
from ..oauth.tokens import token_checksum
from ..subjects import subject_for

INACTIVE: dict[str, Any] = {"active": False}


def token_introspection(*, token: str, hint: str = "") -> dict[str, Any]:
    """What an authenticated client may know about ``token``; ``{"active": false}`` alone
    for anything unknown, expired or revoked (RFC 7662 2.2)."""
    checksum = token_checksum(token)
    order = (
        ["refresh_token", "access_token"]
        if hint == "refresh_token"
        else [
            "access_token",
            "refresh_token",
        ]
    )
    for kind in order:
        data = _access(checksum) if kind == "access_token" else _refresh(checksum)
        if data is not None:
            return data
    if looks_like_jwt(token):
        return _jwt_access(token) or dict(INACTIVE)
    return dict(INACTIVE)


def _jwt_access(token: str) -> dict[str, Any] | None:
    """A client credentials JWT access token (no row): what an opaque one of the same
    client would answer (ciam/oauth/jwt_access.py verified it)."""
    claims = jwt_access_token_claims(token)
    if claims is None:
        return None
    return {
        "active": True,
        "scope": claims.get("scope", ""),
        "client_id": claims["client_id"],
        "iss": claims["iss"],
        "iat": claims.get("iat"),
        "aud": claims["client_id"],
        "token_type": "Bearer",
        "exp": claims["exp"],
        "jti": claims["jti"],
    }


def _user_active(instance: Any) -> bool:
    """A disabled account's tokens are inactive (the validator refuses them too); a token
    without a user (client credentials) is the client's own."""
    return instance.user_id is None or bool(instance.user.is_active)


def _common(instance: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "active": True,
        "scope": instance.scope if hasattr(instance, "scope") else "",
        "client_id": instance.application.client_id if instance.application else None,
        "iss": oauth2_settings.OIDC_ISS_ENDPOINT,
        "iat": int(instance.created.timestamp()),
    }
    if instance.user_id is not None:
        # The sub the token's client sees in its ID tokens and at UserInfo (ciam/subjects.py).
        data["sub"] = subject_for(instance.user, instance.application)
        data["username"] = instance.user.email
    if instance.application is not None:
        data["aud"] = instance.application.client_id
    # RFC 9470 6.2: how and when the user authenticated, for tokens from a code.
    if getattr(instance, "ciam_auth_time", None) is not None:
        data["auth_time"] = int(instance.ciam_auth_time)
        if instance.ciam_acr:
            data["acr"] = instance.ciam_acr
    return data


def _authentication(family_ref: str) -> dict[str, Subquery]:
    """``ciam_acr`` and ``ciam_auth_time`` of the authorization that started the token's
    refresh-token family (the AuthorizationContext of its code), as annotations."""
    context = AuthorizationContext.objects.filter(token_family=OuterRef(family_ref))
    return {
        "ciam_acr": Subquery(context.values("acr")[:1]),
        "ciam_auth_time": Subquery(context.values("auth_time")[:1]),
    }


_ACCESS_TOKEN = PreparedLookup(
    lambda checksum: (
        get_access_token_model()
        .objects.select_related("application", "user")
        .annotate(**_authentication("refresh_token__token_family"))
        .filter(token_checksum=checksum)
    )
)
_REFRESH_TOKEN = PreparedLookup(
    lambda checksum: (
        get_refresh_token_model()
        .objects.select_related("application", "user", "access_token")
        .annotate(**_authentication("token_family"), **{FAMILY_STARTED: family_started_at()})
        .filter(token_checksum=checksum, revoked__isnull=True)
    )
)


def _access(checksum: str) -> dict[str, Any] | None:
    token = _ACCESS_TOKEN.first(checksum)
    if token is None or token.is_expired() or not _user_active(token):
        return None
    data = _common(token)
    data.update(token_type="Bearer", exp=int(token.expires.timestamp()))  # noqa: S106
    return data


def _refresh(checksum: str) -> dict[str, Any] | None:
    token = _REFRESH_TOKEN.first(checksum)
    if token is None or token.access_token is None or not _user_active(token):
        return None
    # The validator's rule (ciam/oauth/validator.py validate_refresh_token): sliding and
    # absolute expiry (ciam/oauth/refresh_lifetime.py); None: forever.
    expires = refresh_token_expires_at(
        access_token_expires=token.access_token.expires,
        family_started=getattr(token, FAMILY_STARTED, None),
    )
    if expires is not None and expires <= timezone.now():
        return None
    data = _common(token)
    data["scope"] = token.access_token.scope
    data["token_type"] = "refresh_token"  # noqa: S105
    if expires is not None:
        data["exp"] = int(expires.timestamp())
    return data
