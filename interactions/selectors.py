"""Reads of interactions and the unified customer profile: one view of a customer across
channels (profile with provenance, consents, sessions and sign-ins, the interaction
timeline), filtered by the reader's scopes and the customer's consents of now."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils.translation import get_language

from consent.models import GRANTING_ACTIONS, ClientPurpose, ConsentRecord, Purpose
from consent.selectors import consent_state, purposes_granted
from events.tags import CLAIM_SCOPES
from profiling.models import ProfileValue, ValueSource
from profiling.selectors import value_provenance
from sessions_ctx.models import BrowserSession, RiskDecision, UserDevice

from .app_settings import app_settings
from .models import Channel, Interaction, InteractionType

# What each section of the unified profile needs in a machine client's token (the endpoint
# itself needs profile:read). Internal readers (the console: ``scopes=None``) see them all.
SECTION_SCOPES = {
    "profile": "profile:read",
    "consents": "consent:read",
    "activity": "profile:read",  # sessions, devices, sign-ins, risk decisions
    "interactions": "profile:read",
}
# Rows of the sessions, devices, sign-ins and risk decisions sections (newest first).
ACTIVITY_ROWS = 20
# Purchases summed for the totals (the newest ones): a bound on the work of one read.
PURCHASE_TOTAL_ROWS = 10_000
# The scope whose fields ``profile:read`` itself releases; a field under another OIDC scope
# (email, phone, address: OIDC Core 5.4) needs that scope in the token too.
PROFILE_SCOPE = "profile"


def purposes_granted_by_user(*, user_ids: set[Any], purpose_ids: set[int]) -> dict[Any, set[int]]:
    """User id -> the ``purpose_ids`` that user's standing decision grants now, for many users
    in one query (``consent.selectors.purposes_granted`` for one user: the latest ledger
    record of each (user, purpose), picked by a correlated subquery on the ledger's index)."""
    if not user_ids or not purpose_ids:
        return {}
    latest = (
        ConsentRecord.objects.filter(user_id=OuterRef("user_id"), purpose_id=OuterRef("purpose_id"))
        .order_by("-sequence")
        .values("sequence")[:1]
    )
    rows = ConsentRecord.objects.filter(
        user_id__in=user_ids, purpose_id__in=purpose_ids, sequence=Subquery(latest)
    ).values_list("user_id", "purpose_id", "action")
    granted: dict[Any, set[int]] = defaultdict(set)
    for user_id, purpose_id, action in rows:
        if action in GRANTING_ACTIONS:
            granted[user_id].add(purpose_id)
    return dict(granted)


def granted_purpose_keys(*, user: Any, keys: Iterable[str] | None = None) -> set[str]:
    """The purpose keys ``user`` grants now (among ``keys``; all purposes when None)."""
    purposes = Purpose.objects.all() if keys is None else Purpose.objects.filter(key__in=keys)
    by_id = dict(purposes.values_list("pk", "key"))
    granted = purposes_granted_by_user(user_ids={user.pk}, purpose_ids=set(by_id))
    return {by_id[pk] for pk in granted.get(user.pk, set())}


def client_granted_purpose_keys(*, user: Any, application: Any) -> set[str]:
    """The purpose keys ``user`` grants now among those that apply to ``application`` (its
    ``ClientPurpose`` links and the required ones): what that client may read under."""
    by_id = dict(Purpose.objects.values_list("pk", "key"))
    granted = purposes_granted(user=user, purpose_ids=set(by_id), application=application)
    return {by_id[pk] for pk in granted}


def field_scope(field: Any) -> str:
    """The OIDC scope that releases ``field`` (a ``ProfileField``): the standard claim's own
    (``events.tags.CLAIM_SCOPES``), else the field's ``scope``."""
    return CLAIM_SCOPES.get(field.claim or field.key, field.scope or PROFILE_SCOPE)


# --- the timeline -----------------------------------------------------------------------------


class CursorError(ValueError):
    """A malformed ``cursor`` or ``limit`` of the timeline."""


def _cursor_encode(row: Interaction) -> str:
    micros = int(row.occurred_at.timestamp() * 1_000_000)
    return f"{micros}.{row.pk}"


def _cursor_decode(cursor: str) -> tuple[datetime, int]:
    micros, _, pk = cursor.partition(".")
    if not micros.isdigit() or not pk.isdigit() or len(cursor) > 40:
        raise CursorError("cursor")
    try:
        return datetime.fromtimestamp(int(micros) / 1_000_000, tz=UTC), int(pk)
    except (OverflowError, OSError, ValueError):
        raise CursorError("cursor") from None


def page_limit(value: Any) -> int:
    """The ``limit`` asked for, within 1..``CIAM_INTERACTIONS_TIMELINE_MAX_PAGE_SIZE``."""
    if value in (None, ""):
        return app_settings.TIMELINE_PAGE_SIZE
    text = str(value)
    if (
        not text.isdigit()
        or len(text) > 6
        or not 1 <= int(text) <= app_settings.TIMELINE_MAX_PAGE_SIZE
    ):
        raise CursorError("limit")
    return int(text)


def visible_interactions(
    *, user: Any, client_ids: set[int] | None = None, purposes: set[str] | None = None
) -> QuerySet[Interaction]:
    """``user``'s interactions under the purposes they grant now (or ``purposes``), of the
    clients ``client_ids`` when given (a delegated operator's)."""
    if purposes is None:
        purposes = granted_purpose_keys(user=user)
    rows = Interaction.objects.filter(user=user, purpose__in=purposes)
    if client_ids is not None:
        rows = rows.filter(client_id__in=client_ids)
    return rows


def _label(choices: Any, value: str) -> str:
    return str(choices(value).label) if value in choices.values else value


def interaction_document(row: Interaction) -> dict[str, Any]:
    """One interaction of the timeline (a machine reader only ever gets its own client's)."""
    return {
        "type": row.type,
        "type_label": _label(InteractionType, row.type),
        "channel": row.channel,
        "channel_label": _label(Channel, row.channel),
        "occurred_at": row.occurred_at,
        "received_at": row.received_at,
        "purpose": row.purpose,
        "client": row.client.client_id if row.client else None,
        "client_name": row.client.name if row.client else "",
        "idempotency_key": row.idempotency_key,
        "properties": row.properties,
        "linked_from_anonymous": row.linked_at is not None,
    }


def interaction_timeline(
    *, rows: QuerySet[Interaction], cursor: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    """A page of ``rows``, newest first: ``items`` and ``next_cursor`` (None on the last);
    keyset paging on the (user, occurred_at, id) index."""
    limit = limit or app_settings.TIMELINE_PAGE_SIZE
    ordered = rows.select_related("client").order_by("-occurred_at", "-id")
    if cursor:
        at, pk = _cursor_decode(cursor)
        ordered = ordered.filter(Q(occurred_at__lt=at) | Q(occurred_at=at, id__lt=pk))
    page = list(ordered[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "items": [interaction_document(row) for row in page],
        "next_cursor": _cursor_encode(page[-1]) if more and page else None,
    }


def interaction_summary(rows: QuerySet[Interaction]) -> dict[str, Any]:
    """Counts by type, and the purchases: how many and their totals by currency."""
    by_type = {
        kind: count
        for kind, count in rows.order_by().values_list("type").annotate(count=Count("id"))
    }
    totals: dict[str, Decimal] = defaultdict(Decimal)
    purchases = rows.filter(type=InteractionType.PURCHASE).order_by("-occurred_at")
    for properties in purchases.values_list("properties", flat=True)[:PURCHASE_TOTAL_ROWS]:
        try:
            totals[str(properties["currency"])] += Decimal(str(properties["amount"]))
        except (KeyError, TypeError, InvalidOperation):
            continue
    last = rows.order_by("-occurred_at").values_list("occurred_at", flat=True).first()
    return {
        "total": sum(by_type.values()),
        "by_type": by_type,
        "purchases": {
            "count": by_type.get(InteractionType.PURCHASE, 0),
            "totals": {currency: str(total) for currency, total in sorted(totals.items())},
        },
        "last_at": last,
    }


# --- the sections -----------------------------------------------------------------------------


def _profile_section(
    user: Any,
    *,
    granted: set[str],
    filtered: bool,
    client_ids: set[int] | None,
    scopes: set[str] | None = None,
    own_client: int | None = None,
) -> dict[str, Any]:
    """The customer's values with their provenance. ``filtered``: only fields without a
    purpose or with one the customer grants (a machine reader, like the profile API);
    ``client_ids``: only values these clients collected. ``scopes`` (a machine reader's
    token): only fields whose scope (``field_scope``) it holds, ``profile`` ones with
    ``profile:read``; ``own_client``: values another client collected are left out (the
    customer's own, staff and imported ones stay)."""
    values = ProfileValue.objects.filter(user=user).select_related(
        "field", "field__purpose", "client"
    )
    fields: dict[str, Any] = {}
    for value in sorted(values, key=lambda v: (v.field.order, v.field.key)):
        purpose = value.field.purpose.key if value.field.purpose is not None else None
        if filtered and purpose is not None and purpose not in granted:
            continue
        if client_ids is not None and value.client_id not in client_ids:
            continue
        if own_client is not None and value.client_id not in (None, own_client):
            continue
        if scopes is not None:
            scope = field_scope(value.field)
            if scope != PROFILE_SCOPE and scope not in scopes:
                continue
        fields[value.field.key] = {
            "label": value.field.label_for(get_language() or "en"),
            "value": value.value,
            "source": value.source,
            "source_label": str(ValueSource(value.source).label)
            if value.source in ValueSource.values
            else value.source,
            "provenance": value_provenance(value),
            "client": value.client.client_id if value.client else None,
            "collected_at": value.collected_at,
            "verified": value.verified,
            "purpose": purpose,
        }
    return {"fields": fields}


def _consents_section(
    user: Any, *, client_ids: set[int] | None, own_client_id: str | None = None
) -> dict[str, Any]:
    """The standing decision per purpose; with ``client_ids``, only the purposes that apply
    to these clients. ``own_client_id`` (a machine reader): the client a decision was taken
    at is named only when it is the reader itself."""
    state = consent_state(user=user)
    shown: set[str] | None = None
    if client_ids is not None:
        shown = set(
            Purpose.objects.filter(
                Q(required=True)
                | Q(
                    pk__in=ClientPurpose.objects.filter(application_id__in=client_ids).values(
                        "purpose_id"
                    )
                )
            ).values_list("key", flat=True)
        )
    return {
        key: {
            "granted": decision.granted,
            "version": decision.version.number,
            "at": decision.at,
            "channel": decision.record.channel,
            "client": _own(decision.record.client_id, own_client_id),
        }
        for key, decision in sorted(state.items())
        if shown is None or key in shown
    }


def _own(client_id: str, own_client_id: str | None) -> str | None:
    """``client_id`` for an internal reader (``own_client_id`` None); for a machine reader,
    only its own: another client's id is never shown to it."""
    if not client_id:
        return None
    if own_client_id is None or client_id == own_client_id:
        return client_id
    return None


def _sign_ins(user: Any, sessions: list[BrowserSession]) -> list[dict[str, Any]]:
    """The outbox's ``user.signed_in`` events (method, amr, acr, risk), or else the sessions'
    sign-in times when the outbox holds none."""
    try:
        from events.models import OutboxEvent
    except ImportError:  # pragma: no cover - the outbox is part of the project
        OutboxEvent = None  # type: ignore[assignment, misc]
    if OutboxEvent is not None:
        events = list(
            OutboxEvent.objects.filter(user=user, type="user.signed_in").order_by("-id")[
                :ACTIVITY_ROWS
            ]
        )
        if events:
            return [
                {
                    "at": event.time,
                    "method": (event.data or {}).get("method", ""),
                    "amr": (event.data or {}).get("amr", []),
                    "acr": (event.data or {}).get("acr", ""),
                    "risk": (event.data or {}).get("risk"),
                }
                for event in events
            ]
    return [
        {
            "at": session.auth_time,
            "method": "",
            "amr": session.amr,
            "acr": session.acr,
            "risk": None,
        }
        for session in sessions
    ]


def _activity_section(
    user: Any, *, internal: bool, own_client_id: str | None = None
) -> dict[str, Any]:
    sessions = list(BrowserSession.objects.filter(user=user).order_by("-auth_time")[:ACTIVITY_ROWS])
    devices = UserDevice.objects.filter(user=user).order_by("-last_seen_at")[:ACTIVITY_ROWS]
    decisions = RiskDecision.objects.filter(user=user).order_by("-created_at")[:ACTIVITY_ROWS]
    return {
        "sessions": [
            {
                "signed_in_at": session.auth_time,
                "last_seen_at": session.last_seen_at,
                "ended_at": session.ended_at,
                "end_reason": session.end_reason,
                "active": session.is_active,
                "browser": session.browser_label,
                "device_type": session.device_type,
                "place": session.place,
                "amr": session.amr,
                "acr": session.acr,
                **({"ip": session.ip} if internal else {}),
            }
            for session in sessions
        ],
        "active_sessions": sum(1 for session in sessions if session.is_active),
        "devices": [
            {
                "label": device.label,
                "first_seen_at": device.first_seen_at,
                "last_seen_at": device.last_seen_at,
            }
            for device in devices
        ],
        "sign_ins": _sign_ins(user, sessions),
        "risk_decisions": [
            {
                "at": decision.created_at,
                "trigger": decision.trigger,
                "findings": decision.findings,
                "action": decision.action,
                "client": _own(decision.client_id, own_client_id),
                "resolved_at": decision.resolved_at,
                **({"ip": decision.ip, "place": decision.place} if internal else {}),
            }
            for decision in decisions
        ],
    }


def unified_profile(
    *,
    user: Any,
    application: Any | None = None,
    scopes: Iterable[str] | None = None,
    client_ids: set[int] | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """One view of ``user`` across channels: ``active`` (False once an operator disabled
    the account), ``profile`` (values with provenance),
    ``consents``, ``activity`` (sessions, devices, sign-ins, risk decisions) and
    ``interactions`` (summary and a page of the timeline, newest first).

    ``scopes`` (a machine client's token, ``application`` that client): only the sections
    its scopes allow (``SECTION_SCOPES``); purposes are those the customer grants among the
    ones that apply to the client; profile fields only when their purpose is granted and
    the token holds their scope (email, phone, address), not values other clients
    collected; only its own interactions; consents of its purposes; no other client's id,
    no IP addresses. ``client_ids`` (a delegated operator's clients): only what these clients
    sent or collected, no activity. Whoever reads, interactions are those under a purpose the
    customer grants now: withdrawing a purpose hides what was collected under it.
    ``CursorError`` for a malformed ``cursor``."""
    internal = scopes is None
    granted_scopes = set(scopes or ())

    def allowed(section: str) -> bool:
        return internal or SECTION_SCOPES[section] in granted_scopes

    subject = str(user.public_id)
    if application is not None:
        from ciam.subjects import subject_for

        subject = subject_for(user, application)
    own_client: int | None = None
    own_client_id: str | None = None
    if internal:
        granted = granted_purpose_keys(user=user)
    else:
        # A machine client reads only under the purposes that apply to it and the customer
        # grants now, only what it sent or collected itself, and never another client's id.
        if application is None:
            raise ValueError("A machine reader (scopes) needs its application.")
        granted = client_granted_purpose_keys(user=user, application=application)
        own_client = application.pk
        own_client_id = str(application.client_id)
        client_ids = {application.pk}
    # Whether the account may sign in (an operator disabled it: Auth0's "blocked").
    document: dict[str, Any] = {"sub": subject, "active": bool(user.is_active)}
    if allowed("profile"):
        document["profile"] = _profile_section(
            user,
            granted=granted,
            filtered=not internal,
            client_ids=None if not internal else client_ids,
            scopes=None if internal else granted_scopes,
            own_client=own_client,
        )
    if allowed("consents"):
        document["consents"] = _consents_section(
            user, client_ids=client_ids, own_client_id=own_client_id
        )
    if allowed("activity") and (client_ids is None or not internal):
        document["activity"] = _activity_section(
            user, internal=internal, own_client_id=own_client_id
        )
    if allowed("interactions"):
        rows = visible_interactions(user=user, client_ids=client_ids, purposes=granted)
        section = {
            "summary": interaction_summary(rows),
            **interaction_timeline(rows=rows, cursor=cursor, limit=limit),
        }
        if internal:
            everything = Interaction.objects.filter(user=user)
            if client_ids is not None:
                everything = everything.filter(client_id__in=client_ids)
            section["hidden"] = everything.exclude(purpose__in=granted).count()
        document["interactions"] = section
    return document
