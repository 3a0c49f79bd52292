"""Ingest of interactions sent by other channels (POST /api/interactions/), and the linking
of a client's anonymous ids to the customer they turned out to be (POST .../identify).

Consent (LGPD art. 7 I / GDPR art. 6(1)(a)): an item about a known customer is stored only
when the customer's standing decision (the consent ledger, now) grants the item's purpose;
otherwise it is refused with reason ``no_consent`` and nothing about it is kept.
Idempotency: ``(client, idempotency_key)`` is unique; a replayed key answers ``duplicate``
and adds nothing, in the same batch or in a later one, whatever its content.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from consent.models import Purpose

from ..app_settings import app_settings
from ..models import AnonymousLink, Interaction
from ..selectors import purposes_granted_by_user
from ..validation import ItemErrors, ParsedItem, UserReference, interaction_item_parse

STORED = "stored"
DUPLICATE = "duplicate"
REFUSED = "refused"
INVALID = "invalid"
# How often a batch is tried again when a concurrent one stored one of its keys first.
CONFLICT_RETRIES = 3
EVENT_TYPE = "interaction.recorded"


class IngestError(Exception):
    """A refused call, for the API to answer: ``status``, ``code``, ``description``."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description


@dataclass
class ItemResult:
    index: int
    status: str
    idempotency_key: str | None = None
    reason: str | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.idempotency_key is not None:
            result["idempotency_key"] = self.idempotency_key
        if self.reason:
            result["reason"] = self.reason
        if self.errors:
            result["errors"] = self.errors
        return result


def users_resolve(references: Iterable[UserReference]) -> dict[UserReference, Any]:
    """Each reference -> its active user, in two queries: ``sub`` is the public subject
    (``User.public_id``); ``email`` an address the user verified (allauth's EmailAddress)."""
    references = set(references)
    User = get_user_model()
    found: dict[UserReference, Any] = {}
    subs = {ref.value for ref in references if ref.kind == "sub"}
    if subs:
        for user in User.objects.filter(public_id__in=subs, is_active=True):
            found[UserReference("sub", user.public_id)] = user
    emails = {ref.value for ref in references if ref.kind == "email"}
    if emails:
        addresses = (
            EmailAddress.objects.annotate(address=Lower("email"))
            .filter(address__in=emails, verified=True, user__is_active=True)
            .select_related("user")
        )
        for address in addresses:
            found[UserReference("email", address.email.lower())] = address.user
    return found


def interaction_purposes(keys: Iterable[str]) -> dict[str, Purpose]:
    """The active purposes among ``keys`` that interactions may be stored under
    (``CIAM_INTERACTIONS_PURPOSE_KINDS``)."""
    return {
        purpose.key: purpose
        for purpose in Purpose.objects.filter(
            key__in=set(keys), active=True, kind__in=app_settings.PURPOSE_KINDS
        )
    }


def _event_data(row: Interaction) -> dict[str, Any]:
    """The ``interaction.recorded`` data of ``row``. The whole event needs the interaction's
    purpose (``_requires``): a receiver without it, or a customer who withdrew it, gets
    nothing; the client-chosen values (idempotency key, visitor id, properties) are tagged
    with it too, so that erasure forgets them (``events_forget_user``)."""
    from events.tags import requires, tagged

    return {
        "_requires": requires(purpose=row.purpose),
        "type": row.type,
        "channel": row.channel,
        "purpose": row.purpose,
        "occurred_at": row.occurred_at,
        "client_id": row.client.client_id if row.client else None,
        "idempotency_key": tagged(row.idempotency_key, purpose=row.purpose),
        "anonymous_id": tagged(row.anonymous_id, purpose=row.purpose) if row.anonymous_id else None,
        "properties": tagged(row.properties, purpose=row.purpose),
    }


def _emit(rows: list[Interaction]) -> None:
    """``interaction.recorded`` for each row about to be stored, in one bulk insert in the
    writing transaction (the outbox: a committed interaction always has its event, a
    rolled-back one never does); each row keeps its event (``Interaction.event``), which
    identify attributes to the customer when it links an anonymous row."""
    from events.services.outbox import event_emit_many

    events = event_emit_many(
        items=[
            {
                "type": EVENT_TYPE,
                "user": row.user,
                "time": row.occurred_at,
                "data": _event_data(row),
            }
            for row in rows
        ]
    )
    for row, event in zip(rows, events, strict=True):
        row.event = event


def _visitor_links(*, client: Any, anonymous_ids: set[str]) -> dict[str, AnonymousLink]:
    """The link rows of ``client``'s visitors ``anonymous_ids``, created (without a user) when
    missing and locked (``select_for_update``) until the transaction ends, in a fixed order
    (no deadlock between two batches). Identify locks the same row: an item stored while the
    visitor is being identified is either seen by identify's update or sees its link."""
    if not anonymous_ids:
        return {}
    ordered = sorted(anonymous_ids)
    AnonymousLink.objects.bulk_create(
        [AnonymousLink(client=client, anonymous_id=anonymous_id) for anonymous_id in ordered],
        ignore_conflicts=True,
    )
    return {
        link.anonymous_id: link
        for link in AnonymousLink.objects.select_for_update(of=("self",))
        .filter(client=client, anonymous_id__in=ordered)
        .select_related("user")
        .order_by("anonymous_id")
    }


def _ingest_once(
    *, client: Any, parsed: list[ParsedItem | ItemErrors], now: datetime
) -> list[ItemResult]:
    results: list[ItemResult | None] = [None] * len(parsed)
    keys = [item.idempotency_key for item in parsed if isinstance(item, ParsedItem)]
    existing = set(
        Interaction.objects.filter(client=client, idempotency_key__in=keys).values_list(
            "idempotency_key", flat=True
        )
    )
    seen: set[str] = set()
    candidates: list[tuple[int, ParsedItem]] = []
    for index, item in enumerate(parsed):
        if isinstance(item, ItemErrors):
            results[index] = ItemResult(index, INVALID, item.idempotency_key, errors=item.errors)
            continue
        key = item.idempotency_key
        if key in existing or key in seen:
            results[index] = ItemResult(index, DUPLICATE, key)
            continue
        seen.add(key)
        candidates.append((index, item))

    purposes = interaction_purposes(item.purpose for _, item in candidates)
    users = users_resolve(item.user for _, item in candidates if item.user is not None)
    links = _visitor_links(
        client=client,
        anonymous_ids={
            item.anonymous_id
            for _, item in candidates
            if item.user is None and item.purpose in purposes
        },
    )
    owners: dict[int, Any] = {}
    for index, item in candidates:
        if item.purpose not in purposes:
            results[index] = ItemResult(
                index,
                INVALID,
                item.idempotency_key,
                errors={"purpose": "Not a purpose interactions may be stored under."},
            )
            continue
        if item.user is not None:
            user = users.get(item.user)
        else:
            link = links.get(item.anonymous_id)
            if link is None or link.user_id is None:
                continue  # a visitor not known yet: stored as theirs
            user = link.user
        if user is None or not user.is_active:
            # No such customer, or a disabled one (also behind a linked visitor id).
            results[index] = ItemResult(index, REFUSED, item.idempotency_key, "unknown_user")
        else:
            owners[index] = user
    granted = purposes_granted_by_user(
        user_ids={user.pk for user in owners.values()},
        purpose_ids={purpose.pk for purpose in purposes.values()},
    )
    rows: list[Interaction] = []
    for index, item in candidates:
        if results[index] is not None:
            continue
        user = owners.get(index)
        purpose = purposes[item.purpose]
        if user is not None and purpose.pk not in granted.get(user.pk, set()):
            # The customer's standing decision does not grant the purpose: nothing is kept,
            # also when the item names them through a visitor id already linked to them.
            results[index] = ItemResult(index, REFUSED, item.idempotency_key, "no_consent")
            continue
        rows.append(
            Interaction(
                user=user,
                anonymous_id=item.anonymous_id,
                client=client,
                type=item.type,
                channel=item.channel,
                occurred_at=item.occurred_at,
                received_at=now,
                properties=item.properties,
                purpose=item.purpose,
                idempotency_key=item.idempotency_key,
                linked_at=now if user is not None and item.user is None else None,
            )
        )
        results[index] = ItemResult(index, STORED, item.idempotency_key)
    if rows:
        _emit(rows)
        Interaction.objects.bulk_create(rows)
    return [result for result in results if result is not None]


def interactions_ingest(*, client: Any, items: list[Any]) -> list[ItemResult]:
    """Store the valid, consented, new items of a batch sent by ``client``, in one
    transaction with their outbox events; one result per item, in order: ``stored``,
    ``duplicate`` (key seen before), ``refused`` (``unknown_user``, ``no_consent``) or
    ``invalid`` (with ``errors`` by field)."""
    if len(items) > app_settings.MAX_BATCH:
        raise IngestError(
            400, "invalid_request", f"At most {app_settings.MAX_BATCH} interactions per call."
        )
    now = timezone.now()
    options = {
        "now": now,
        "max_future": app_settings.MAX_FUTURE_SECONDS,
        "retention_days": app_settings.RETENTION_DAYS,
        "max_properties_bytes": app_settings.MAX_PROPERTIES_BYTES,
        "default_purposes": app_settings.DEFAULT_PURPOSES,
    }
    parsed = [interaction_item_parse(item, **options) for item in items]  # type: ignore[arg-type]
    for attempt in range(CONFLICT_RETRIES):
        try:
            with transaction.atomic():
                return _ingest_once(client=client, parsed=parsed, now=now)
        except IntegrityError:
            # A concurrent call stored one of these keys between our read and our write:
            # read again, the key is a duplicate now.
            if attempt == CONFLICT_RETRIES - 1:
                raise IngestError(
                    409, "conflict", "Concurrent calls sent these keys; send the batch again."
                ) from None
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class IdentifyResult:
    linked: int
    kept_anonymous: int
    created: bool


@transaction.atomic
def anonymous_id_identify(*, client: Any, anonymous_id: str, user: Any) -> IdentifyResult:
    """``client``'s visitor ``anonymous_id`` is ``user``: remember it (later items under the
    id are the user's) and link the visitor's stored interactions whose purpose the user
    grants now, their outbox events attributed to the user (``events_user_attach``: erasure
    forgets them); the others stay anonymous (they are linked by a later call once the user
    grants it, or pruned with age). Idempotent. ``IngestError`` 404 for a disabled customer,
    409 when the id is linked to somebody else already.

    The link row is locked (``select_for_update``) like ingest locks it: a batch storing
    items under the id concurrently commits before this update reads them, or after the
    link exists (and then files them as the user's)."""
    from events.services.outbox import events_user_attach

    if not user.is_active:
        raise IngestError(404, "unknown_user", "No active customer matches this reference.")
    link, created = AnonymousLink.objects.get_or_create(
        client=client, anonymous_id=anonymous_id, defaults={"user": user}
    )
    link = AnonymousLink.objects.select_for_update().get(pk=link.pk)
    if link.user_id is None:
        link.user = user
        link.linked_at = timezone.now()
        link.save(update_fields=["user", "linked_at"])
        created = True
    if link.user_id != user.pk:
        raise IngestError(409, "conflict", "This anonymous_id is linked to another customer.")
    pending = Interaction.objects.filter(client=client, anonymous_id=anonymous_id, user=None)
    keys = set(pending.values_list("purpose", flat=True).distinct())
    purposes = interaction_purposes(keys)
    granted_ids = purposes_granted_by_user(
        user_ids={user.pk}, purpose_ids={p.pk for p in purposes.values()}
    ).get(user.pk, set())
    granted_keys = [key for key, purpose in purposes.items() if purpose.pk in granted_ids]
    to_link = list(pending.filter(purpose__in=granted_keys).values_list("pk", "event_id"))
    linked = Interaction.objects.filter(pk__in=[pk for pk, _ in to_link]).update(
        user=user, linked_at=timezone.now()
    )
    events_user_attach(event_pks=[event for _, event in to_link if event is not None], user=user)
    kept = pending.exclude(purpose__in=granted_keys).count() if keys else 0
    return IdentifyResult(linked=linked, kept_anonymous=kept, created=created)
