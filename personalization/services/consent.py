"""Whether personalization may run for a customer: a granted purpose of kind
``personalization`` in the consent ledger (for one client: among the purposes it may see),
and the switch the customer turns in the portal (a grant or withdrawal in that ledger)."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import HttpRequest

from consent.models import (
    GRANTING_ACTIONS,
    ClientPurpose,
    ConsentChannel,
    Purpose,
    PurposeKind,
)
from consent.selectors import purposes_current, purposes_granted, standing_records

# The personalization purposes (id, required) and each client's links to them, kept by each
# process this long (claims are computed on every ID token and UserInfo call): a purpose or a
# link created, changed or removed in the admin counts everywhere within this time, and in
# the process that saved it at once (``purpose_cache_forget``). A customer's own decisions
# are never cached.
PURPOSE_CACHE_SECONDS = 60.0
_purposes_cached: tuple[float, tuple[tuple[int, bool], ...]] | None = None
_links_cached: dict[int, tuple[float, frozenset[int]]] = {}
_cache_lock = threading.Lock()


def personalization_purposes() -> list[Purpose]:
    """The active purposes of kind ``personalization``."""
    return list(Purpose.objects.filter(active=True, kind=PurposeKind.PERSONALIZATION))


def _purposes_kept() -> tuple[tuple[int, bool], ...]:
    global _purposes_cached
    cached = _purposes_cached
    now = time.monotonic()
    if cached is not None and now - cached[0] < PURPOSE_CACHE_SECONDS:
        return cached[1]
    found = tuple((purpose.pk, purpose.required) for purpose in personalization_purposes())
    with _cache_lock:
        _purposes_cached = (now, found)
    return found


def personalization_purpose_ids() -> frozenset[int]:
    """Ids of the active personalization purposes (kept, see ``PURPOSE_CACHE_SECONDS``)."""
    return frozenset(pk for pk, _required in _purposes_kept())


def client_personalization_purpose_ids(*, application: Any) -> frozenset[int]:
    """The personalization purposes ``application`` may see: those linked to it
    (``ClientPurpose``) and the required ones (kept, see ``PURPOSE_CACHE_SECONDS``)."""
    purposes = _purposes_kept()
    if not purposes or application is None:
        return frozenset()
    now = time.monotonic()
    cached = _links_cached.get(application.pk)
    if cached is None or now - cached[0] >= PURPOSE_CACHE_SECONDS:
        linked = frozenset(
            ClientPurpose.objects.filter(application_id=application.pk).values_list(
                "purpose_id", flat=True
            )
        )
        with _cache_lock:
            _links_cached[application.pk] = (now, linked)
    else:
        linked = cached[1]
    return frozenset(pk for pk, required in purposes if required or pk in linked)


def purpose_cache_forget(**kwargs: Any) -> None:
    """A purpose or a client's link to one was saved or deleted: read them again."""
    global _purposes_cached
    with _cache_lock:
        _purposes_cached = None
        _links_cached.clear()


def granted_among(purpose_ids: frozenset[int]) -> Exists:
    """``EXISTS`` (an annotation of a row with a ``user_id``): that customer's latest
    decision about one of ``purpose_ids`` grants it (the rule of
    ``consent.selectors.latest_records``, in one subquery)."""
    return Exists(
        standing_records().filter(
            user_id=OuterRef("user_id"),
            purpose_id__in=sorted(purpose_ids),
            action__in=sorted(GRANTING_ACTIONS),
        )
    )


def personalization_granted(*, user: Any, application: Any | None = None) -> list[str]:
    """Keys of the personalization purposes ``user`` grants now (to ``application``, when
    given: only the purposes linked to that client or required for all). Two queries."""
    if user is None or getattr(user, "pk", None) is None:
        return []
    purposes = {purpose.pk: purpose.key for purpose in personalization_purposes()}
    granted = purposes_granted(user=user, purpose_ids=set(purposes), application=application)
    return sorted(purposes[pk] for pk in granted)


def personalization_allowed(*, user: Any, application: Any | None = None) -> bool:
    return bool(personalization_granted(user=user, application=application))


@transaction.atomic
def personalization_switch(
    *,
    user: Any,
    on: bool,
    request: HttpRequest | None = None,
    versions: list[int] | None = None,
) -> int:
    """The customer turns personalization on (a grant of the current version of each
    personalization purpose, or of those of ``versions`` only: what the page showed) or off
    (a withdrawal of each granted one; the ledger's ``purpose_consent_changed`` then
    deletes the derived data). Returns the records written."""
    from consent.services.ledger import purpose_withdraw, purposes_decide

    if on:
        versions_found = [
            version
            for version in purposes_current()
            if version.purpose.kind == PurposeKind.PERSONALIZATION
            and (versions is None or version.pk in versions)
        ]
        granted = set(personalization_granted(user=user))
        chosen = [version for version in versions_found if version.purpose.key not in granted]
        if not chosen:
            return 0
        return len(
            purposes_decide(
                user=user,
                application=None,
                granted=chosen,
                declined=[],
                channel=ConsentChannel.PORTAL,
                request=request,
            )
        )
    written = 0
    for purpose in personalization_purposes():
        if purpose_withdraw(
            user=user, purpose=purpose, channel=ConsentChannel.PORTAL, request=request
        ):
            written += 1
    return written
