"""Keeping the token tables bounded: expired rows deleted in small batches."""

from __future__ import annotations

import threading
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
    refresh_token_expire_timedelta,
)

from ..keys import signing_keys_prune
from ..models import AuthorizationContext, RevokedAccessToken

# Run one batch after this many token responses in a process (see maybe_cleanup).
CLEANUP_EVERY_N_REQUESTS = 500
DEFAULT_BATCH = 200

_counter_lock = threading.Lock()
_counter = 0


def _delete_batch(queryset, limit: int) -> int:
    ids = list(queryset.values_list("pk", flat=True)[:limit])
    if not ids:
        return 0
    queryset.model.objects.filter(pk__in=ids).delete()
    return len(ids)


def tokens_cleanup_batch(*, limit: int = DEFAULT_BATCH) -> dict[str, int]:
    """Delete at most ``limit`` expired rows of each kind; return how many went.

    Revoked refresh tokens are kept until they would have expired: reuse detection needs
    them (a replayed rotated token revokes its family).
    """
    now = timezone.now()
    refresh_lifetime = refresh_token_expire_timedelta() or timedelta(days=30)
    refresh_cutoff = now - refresh_lifetime
    counts = {
        "grants": _delete_batch(get_grant_model().objects.filter(expires__lt=now), limit),
        "refresh_tokens": _delete_batch(
            get_refresh_token_model().objects.filter(
                Q(revoked__lt=refresh_cutoff)
                | Q(revoked__isnull=True, access_token__isnull=True)
                | Q(revoked__isnull=True, access_token__expires__lt=refresh_cutoff)
            ),
            limit,
        ),
        "access_tokens": _delete_batch(
            get_access_token_model().objects.filter(refresh_token__isnull=True, expires__lt=now),
            limit,
        ),
        "id_tokens": _delete_batch(
            get_id_token_model().objects.filter(access_token__isnull=True, expires__lt=now),
            limit,
        ),
        "revoked_jwt_access_tokens": _delete_batch(
            RevokedAccessToken.objects.filter(expires__lt=now), limit
        ),
        "authorization_contexts": _delete_batch(
            AuthorizationContext.objects.filter(created__lt=now - timedelta(hours=1)).exclude(
                token_family__in=get_refresh_token_model()
                .objects.filter(token_family__isnull=False)
                .values("token_family")
            ),
            limit,
        ),
    }
    return counts


def tokens_cleanup_all(*, limit: int = DEFAULT_BATCH) -> dict[str, int]:
    """Run batches until nothing expired is left (the ``cleanup_tokens`` command)."""
    totals: dict[str, int] = {}
    while True:
        counts = tokens_cleanup_batch(limit=limit)
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
        if not any(counts.values()):
            break
    totals["signing_keys"] = signing_keys_prune()
    return totals


def maybe_cleanup() -> None:
    """The periodic path: one small batch every CLEANUP_EVERY_N_REQUESTS token responses."""
    global _counter
    with _counter_lock:
        _counter += 1
        due = _counter % CLEANUP_EVERY_N_REQUESTS == 0
    if due:
        tokens_cleanup_batch()
