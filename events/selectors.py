"""Reads of the outbox: the CloudEvents envelope of an event, projected for its receiver."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC
from typing import Any

from django.conf import settings

from .catalogue import cloudevents_type
from .models import OutboxEvent
from .tags import REQUIRES_KEY, TAG_KEY, is_tagged, purposes_in

SPECVERSION = "1.0"

logger = logging.getLogger(__name__)


def events_source() -> str:
    """CloudEvents ``source`` (3.1.1, a URI-reference): the issuer's events."""
    return str(settings.CIAM_ISSUER).rstrip("/") + "/events"


def _rfc3339(value: Any) -> str:
    return str(value.astimezone(UTC).isoformat().replace("+00:00", "Z"))


def purposes_granted_now(
    *, user: Any | None, keys: Iterable[str], application: Any | None = None
) -> set[str]:
    """Of the purpose ``keys``, those ``user`` grants at this moment (the consent ledger's
    standing decision; with ``application``, among the purposes that client may see)."""
    keys = set(keys)
    if user is None or not keys:
        return set()
    from consent.models import Purpose
    from consent.selectors import purposes_granted

    ids = dict(Purpose.objects.filter(key__in=keys).values_list("id", "key"))
    granted = purposes_granted(user=user, purpose_ids=set(ids), application=application)
    return {ids[purpose_id] for purpose_id in granted}


def _allowed(tag: dict[str, Any], *, purposes: set[str], scopes: set[str] | None) -> bool:
    scope = tag.get("scope")
    if scope and scopes is not None and scope not in scopes:
        return False
    purpose = tag.get("purpose")
    return not purpose or purpose in purposes


_DROP = object()


def _project(value: Any, *, purposes: set[str], scopes: set[str] | None) -> Any:
    if is_tagged(value):
        if not _allowed(value[TAG_KEY], purposes=purposes, scopes=scopes):
            return _DROP
        return _project(value["value"], purposes=purposes, scopes=scopes)
    if isinstance(value, dict):
        projected = {}
        for key, item in value.items():
            if key == REQUIRES_KEY:
                continue
            item = _project(item, purposes=purposes, scopes=scopes)
            if item is not _DROP:
                projected[key] = item
        return projected
    if isinstance(value, list):
        items = (_project(item, purposes=purposes, scopes=scopes) for item in value)
        return [item for item in items if item is not _DROP]
    return value


def event_data_project(
    data: dict[str, Any],
    *,
    user: Any | None,
    purposes: Iterable[str] | None = None,
    scopes: Iterable[str] | None = None,
    application: Any | None = None,
    granted: Iterable[str] | None = None,
) -> dict[str, Any] | None:
    """``data`` as a receiver may see it: tagged values kept only when the receiver's
    ``scopes`` include their scope and their purpose is among the receiver's ``purposes``
    and granted by the user NOW (so data of a purpose withdrawn after the event is never
    sent); None when the event's ``_requires`` is not met. ``purposes``/``scopes`` None:
    an internal receiver (only the current consent filters). ``granted``: the purposes
    ``user`` grants now, when the caller already knows them (``purposes_granted_by_user``)."""
    named = purposes_in(data)
    if purposes is not None:
        named &= set(purposes)  # never ask the ledger about purposes the receiver may not see
    if granted is None:
        granted = purposes_granted_now(user=user, keys=named, application=application)
    allowed = set(granted) & named
    scope_set = None if scopes is None else set(scopes)
    requirement = data.get(REQUIRES_KEY)
    if isinstance(requirement, dict) and not _allowed(
        requirement, purposes=allowed, scopes=scope_set
    ):
        return None
    projected = _project(data, purposes=allowed, scopes=scope_set)
    return dict(projected) if isinstance(projected, dict) else {}


def event_subject(event: OutboxEvent, *, application: Any | None = None) -> str:
    """The subject a receiver knows the user by: ``subject_for`` of its client (pairwise
    for a pairwise client), else the public subject recorded with the event.

    Once the user is gone only the recorded public subject is left: a pairwise client gets
    its pairwise value computed from it (OIDC Core 8.1: the same as before the deletion), a
    legacy client (database ids) gets none; never the public subject."""
    user = event.user
    if user is None:
        if application is None or not event.subject:
            return event.subject
        from ciam.subjects import (
            SUBJECT_LEGACY,
            SUBJECT_PAIRWISE,
            client_sector,
            pairwise_subject,
        )

        subject_type = getattr(application, "subject_type", "")
        if subject_type == SUBJECT_PAIRWISE:
            try:
                return pairwise_subject(sector=client_sector(application), public_id=event.subject)
            except Exception:  # no sector to derive it from: no subject at all
                logger.warning("events: no pairwise subject for event %s", event.pk)
                return ""
        if subject_type == SUBJECT_LEGACY:
            return ""
        return event.subject
    if application is not None:
        from ciam.subjects import subject_for

        return subject_for(user, application)
    return str(getattr(user, "public_id", "") or event.subject)


def event_envelope(
    event: OutboxEvent,
    *,
    purposes: Iterable[str] | None = None,
    scopes: Iterable[str] | None = None,
    application: Any | None = None,
    granted: Iterable[str] | None = None,
) -> dict[str, Any] | None:
    """The event as a CloudEvents 1.0 structured-mode JSON object (CloudEvents 1.0 3.1:
    specversion, id, source, type; 3.2: time, subject, datacontenttype, data), its data
    projected for the receiver (``event_data_project``). None when the receiver may not
    see this event at all (``granted``: see ``event_data_project``)."""
    data = event_data_project(
        event.data or {},
        user=event.user,
        purposes=purposes,
        scopes=scopes,
        application=application,
        granted=granted,
    )
    if data is None:
        return None
    envelope: dict[str, Any] = {
        "specversion": SPECVERSION,
        "id": str(event.event_id),
        "source": events_source(),
        "type": cloudevents_type(event.type, event.version),
        "time": _rfc3339(event.time),
        "datacontenttype": "application/json",
        "data": data,
    }
    subject = event_subject(event, application=application)
    if subject:
        envelope["subject"] = subject
    return envelope


def outbox_events_after(*, last_id: int, limit: int) -> list[OutboxEvent]:
    """Up to ``limit`` events after ``last_id``, in outbox order, with their users."""
    return list(
        OutboxEvent.objects.filter(pk__gt=last_id).select_related("user").order_by("pk")[:limit]
    )


def purposes_granted_by_user(
    events: Iterable[OutboxEvent], *, purposes: Iterable[str] | None = None
) -> dict[Any, set[str]]:
    """For a batch of events: user pk -> the purposes (named in those users' events, and
    among ``purposes`` when given) each user grants now; one ledger look-up per user."""
    allowed = None if purposes is None else set(purposes)
    named: dict[Any, tuple[Any, set[str]]] = {}
    for event in events:
        if event.user_id is None:
            continue
        keys = purposes_in(event.data or {})
        if allowed is not None:
            keys &= allowed
        named.setdefault(event.user_id, (event.user, set()))[1].update(keys)
    return {
        pk: (purposes_granted_now(user=user, keys=keys) if keys else set())
        for pk, (user, keys) in named.items()
    }
