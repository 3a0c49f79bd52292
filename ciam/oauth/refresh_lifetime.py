"""How long a refresh token works.

Two limits, the earlier wins:

- sliding: ``REFRESH_TOKEN_EXPIRE_SECONDS`` (CIAM_REFRESH_TOKEN_SECONDS) past the expiry of
  the token's access token; every rotation starts it again;
- absolute: ``CIAM_REFRESH_TOKEN_ABSOLUTE_DAYS`` from the authorization that started the
  token's family (its ``AuthorizationContext``), however often it is rotated (OWASP ASVS
  10.4.8; RFC 9700 4.14.2 leaves refresh-token expiry to the authorization server).

The validator (``validate_refresh_token``) and introspection (ciam/services/introspection.py)
decide with the same function.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from oauth2_provider.models import get_refresh_token_model, refresh_token_expire_timedelta

from ..app_settings import app_settings
from ..models import AuthorizationContext

# The annotation ``family_started_at`` puts on refresh tokens.
FAMILY_STARTED = "ciam_family_started"


def family_started_at() -> Coalesce:
    """When a refresh token's family began, as an expression on the refresh token: the
    creation of the authorization context (the code) that started it; for a family without
    one, its first refresh token; for a token without a family, the token itself. (COALESCE
    evaluates the later subqueries only when the earlier ones found nothing.)"""
    context = AuthorizationContext.objects.filter(token_family=OuterRef("token_family"))
    first = get_refresh_token_model().objects.filter(token_family=OuterRef("token_family"))
    return Coalesce(
        Subquery(context.order_by("created").values("created")[:1]),
        Subquery(first.order_by("created").values("created")[:1]),
        F("created"),
    )


def refresh_token_expires_at(
    *, access_token_expires: datetime, family_started: datetime | None
) -> datetime | None:
    """When a refresh token stops working (the earlier of its two limits); None: never."""
    limits = []
    sliding = refresh_token_expire_timedelta()
    if sliding:
        limits.append(access_token_expires + sliding)
    days = app_settings.REFRESH_TOKEN_ABSOLUTE_DAYS
    if days > 0 and family_started is not None:
        limits.append(family_started + timedelta(days=days))
    return min(limits) if limits else None
