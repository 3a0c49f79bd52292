"""Reads of the consent ledger that the screens, the portal, the API and the verifier share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
)

from .models import (
    GRANTING_ACTIONS,
    ClientPurpose,
    Consent,
    ConsentRecord,
    Purpose,
    PurposeVersion,
    VersionChange,
)
from .services.ledger import consent_subject, digest_matches


@dataclass(frozen=True)
class PurposeDecision:
    """A user's standing decision about one purpose: the latest record of it."""

    granted: bool
    version: PurposeVersion
    at: datetime
    record: ConsentRecord


@dataclass(frozen=True)
class PurposesToAsk:
    """Current versions to show to a user before a client continues."""

    required: list[PurposeVersion] = field(default_factory=list)
    optional: list[PurposeVersion] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.required and not self.optional

    @property
    def all(self) -> list[PurposeVersion]:
        return [*self.required, *self.optional]


def consent_history(*, user: Any) -> QuerySet[ConsentRecord]:
    """``user``'s records, newest first (erased tombstones no longer belong to the user)."""
    return (
        ConsentRecord.objects.filter(user=user)
        .select_related("purpose", "version")
        .order_by("-sequence")
    )


def standing_records() -> QuerySet[ConsentRecord]:
    """Every customer's latest ledger record of each purpose (the standing decisions of
    everyone, for batch readers): ``latest_records`` without the user, picked by the same
    correlated subquery on the ledger's (user, purpose, sequence) index."""
    latest_sequence = (
        ConsentRecord.objects.filter(user_id=OuterRef("user_id"), purpose_id=OuterRef("purpose_id"))
        .order_by("-sequence")
        .values("sequence")[:1]
    )
    return ConsentRecord.objects.filter(user__isnull=False, sequence=Subquery(latest_sequence))


def latest_records(*, user: Any, application: Any | None = None) -> QuerySet[ConsentRecord]:
    """``user``'s latest ledger record of each purpose (the standing decision), picked by a
    correlated subquery on the ledger's (user, purpose, sequence) index. With
    ``application``, only the purposes that client may see: those linked to it
    (``ClientPurpose``) and the ``required`` ones that apply to every client."""
    latest_sequence = (
        ConsentRecord.objects.filter(user=user, purpose_id=OuterRef("purpose_id"))
        .order_by("-sequence")
        .values("sequence")[:1]
    )
    records = ConsentRecord.objects.filter(user=user, sequence=Subquery(latest_sequence))
    if application is not None:
        linked = ClientPurpose.objects.filter(application=application).values("purpose_id")
        records = records.filter(Q(purpose__required=True) | Q(purpose_id__in=linked))
    return records


def purposes_granted(
    *, user: Any, purpose_ids: set[int], application: Any | None = None
) -> set[int]:
    """Of ``purpose_ids``, those ``user``'s standing decision grants (one query); with
    ``application``, only among the purposes that client may see (``latest_records``)."""
    if not purpose_ids:
        return set()
    rows = (
        latest_records(user=user, application=application)
        .filter(purpose_id__in=purpose_ids)
        .values_list("purpose_id", "action")
    )
    return {purpose_id for purpose_id, action in rows if action in GRANTING_ACTIONS}


def consent_state(*, user: Any) -> dict[str, PurposeDecision]:
    """Purpose key -> ``user``'s latest decision about it, derived from the ledger."""
    state: dict[str, PurposeDecision] = {}
    if user is None or getattr(user, "pk", None) is None:
        return state
    records = (
        ConsentRecord.objects.filter(user=user)
        .select_related("purpose", "version", "version__purpose")
        .order_by("sequence")
    )
    for record in records:
        state[record.purpose.key] = PurposeDecision(
            granted=record.granted, version=record.version, at=record.at, record=record
        )
    return state


def _current_versions(purposes: Iterable[Purpose]) -> dict[int, PurposeVersion]:
    """Purpose id -> its current version (highest published number), for those that have one."""
    current: dict[int, PurposeVersion] = {}
    versions = (
        PurposeVersion.objects.filter(
            purpose__in=list(purposes), published_at__isnull=False, purpose__active=True
        )
        .select_related("purpose")
        .order_by("purpose_id", "number")
    )
    for version in versions:
        current[version.purpose_id] = version
    return current


def _last_material_numbers(purposes: Iterable[Purpose]) -> dict[int, int]:
    """Purpose id -> the number of its latest published material version."""
    numbers: dict[int, int] = {}
    rows = (
        PurposeVersion.objects.filter(
            purpose__in=list(purposes),
            published_at__isnull=False,
            change=VersionChange.MATERIAL,
        )
        .order_by("purpose_id", "number")
        .values_list("purpose_id", "number")
    )
    for purpose_id, number in rows:
        numbers[purpose_id] = number
    return numbers


def client_purposes(*, application: Any) -> tuple[list[Purpose], list[Purpose]]:
    """(required, optional) active purposes of ``application``: those it is linked to, plus
    every ``Purpose.required`` one (they apply to every client)."""
    required: dict[int, Purpose] = {
        purpose.pk: purpose for purpose in Purpose.objects.filter(active=True, required=True)
    }
    optional: dict[int, Purpose] = {}
    if application is not None:
        links = ClientPurpose.objects.filter(
            application=application, purpose__active=True
        ).select_related("purpose")
        for link in links:
            if link.required or link.purpose.required:
                required[link.purpose_id] = link.purpose
            else:
                optional[link.purpose_id] = link.purpose
    return (
        sorted(required.values(), key=lambda p: p.key),
        sorted((p for pk, p in optional.items() if pk not in required), key=lambda p: p.key),
    )


def purposes_to_ask(*, user: Any, application: Any) -> PurposesToAsk:
    """The current versions ``user`` must (required) or may (optional) be shown for
    ``application``.

    Required: not covered by a standing grant, i.e. never granted, withdrawn (or expired,
    declined), or granted for a version older than a MATERIAL version published since.
    Optional: never decided, or decided on a version older than a later material one. A
    minor version asks nobody again; draft versions and inactive purposes are ignored.
    """
    required, optional = client_purposes(application=application)
    purposes = [*required, *optional]
    if not purposes:
        return PurposesToAsk()  # nothing to ask: the ledger need not be read
    current = _current_versions(purposes)
    material = _last_material_numbers(purposes)
    state = {decision.record.purpose_id: decision for decision in consent_state(user=user).values()}

    def outdated(decision: PurposeDecision) -> bool:
        return decision.version.number < material.get(decision.record.purpose_id, 0)

    ask_required = []
    for purpose in required:
        version = current.get(purpose.pk)
        if version is None:
            continue
        decision = state.get(purpose.pk)
        if decision is None or not decision.granted or outdated(decision):
            ask_required.append(version)
    ask_optional = []
    for purpose in optional:
        version = current.get(purpose.pk)
        if version is None:
            continue
        decision = state.get(purpose.pk)
        if decision is None or outdated(decision):
            ask_optional.append(version)
    return PurposesToAsk(required=ask_required, optional=ask_optional)


@dataclass(frozen=True)
class LedgerBreak:
    """Where a subject's chain does not verify."""

    subject: str
    user_id: int | None
    record_id: str | None
    sequence: int | None
    reason: str  # hash_mismatch | chain_broken | sequence_gap | value_mismatch
    detail: str


def _chain_breaks(records: list[ConsentRecord]) -> list[LedgerBreak]:
    breaks: list[LedgerBreak] = []
    previous_hash = ""
    expected_sequence = 1
    for record in records:

        def found(reason: str, detail: str, record: ConsentRecord = record) -> None:
            breaks.append(
                LedgerBreak(
                    subject=record.subject,
                    user_id=record.user_id,
                    record_id=str(record.id),
                    sequence=record.sequence,
                    reason=reason,
                    detail=detail,
                )
            )

        if record.sequence != expected_sequence:
            found(
                "sequence_gap",
                f"record #{record.sequence} follows #{expected_sequence - 1}: "
                "a record is missing or out of order",
            )
        if record.previous_hash != previous_hash:
            found("chain_broken", "previous_hash is not the hash of the record before it")
        if record.compute_hash() != record.hash:
            found("hash_mismatch", "the record's fields do not match its hash (rewritten)")
        if not record.erased and (
            not digest_matches(str(record.ip_address or ""), record.ip_address_digest)
            or not digest_matches(record.user_agent, record.user_agent_digest)
        ):
            found("value_mismatch", "IP address or user agent does not match its digest")
        previous_hash = record.hash
        expected_sequence = record.sequence + 1
    return breaks


def ledger_breaks(*, user: Any = None) -> list[LedgerBreak]:
    """Every place where a chain does not verify: a rewritten field (its hash no longer
    matches), a removed record (a sequence gap and a broken link), a reordered record.
    With ``user``, that user's chain only (tombstones of an erased user are checked with
    the whole ledger, by subject). An empty list: the ledger verifies.

    A chain is unkeyed SHA-256: it detects edits by anyone who does not recompute every
    later hash. Removing a chain's last records leaves no trace in the chain itself; the
    signed receipts users hold (consent.receipts) anchor it: a receipt's record hash must
    still be in the ledger.
    """
    records = ConsentRecord.objects.for_chain()
    if user is not None:
        subjects = set(
            ConsentRecord.objects.filter(user=user).values_list("subject", flat=True).distinct()
        )
        subjects.add(consent_subject(user))
        records = records.filter(subject__in=subjects)
    breaks: list[LedgerBreak] = []
    chain: list[ConsentRecord] = []
    for record in records.iterator(chunk_size=2000):
        if chain and chain[-1].subject != record.subject:
            breaks.extend(_chain_breaks(chain))
            chain = []
        chain.append(record)
    if chain:
        breaks.extend(_chain_breaks(chain))
    return breaks


# --- the account page -------------------------------------------------------------------------


def purposes_current() -> list[PurposeVersion]:
    """The current version of every active purpose, by purpose key (the account page lists
    them all, so that anything can be withdrawn or given from one place)."""
    purposes = list(Purpose.objects.filter(active=True))
    current = _current_versions(purposes)
    return sorted(current.values(), key=lambda version: version.purpose.key)


@dataclass(frozen=True)
class ConnectedApplication:
    """A client the user allowed: what it may receive and since when."""

    client_id: str
    name: str
    scopes: list[str]
    granted_at: datetime


def connected_applications(*, user: Any) -> list[ConnectedApplication]:
    """Third-party clients with a standing OAuth grant of ``user``, newest first."""
    grants = (
        Consent.objects.filter(user=user, revoked_at__isnull=True)
        .select_related("application")
        .order_by("-granted_at")
    )
    return [
        ConnectedApplication(
            client_id=grant.application.client_id,
            name=grant.application.name or grant.application.client_id,
            scopes=list(grant.scopes),
            granted_at=grant.granted_at,
        )
        for grant in grants
    ]


# --- the Connected apps page: every client holding something of the user -------------------


@dataclass(frozen=True)
class AppPurpose:
    """A purpose the user granted that a client may see, with the words they agreed to."""

    key: str
    version: PurposeVersion

    def title_for(self, language: str) -> str:
        return self.version.title_for(language)


@dataclass(frozen=True)
class ConnectedApp:
    """A client holding a standing grant, tokens or an unredeemed code of the user: what it
    may receive, which purposes it may rely on, since when and when it was last active."""

    application: Any
    scopes: list[str]
    purposes: list[AppPurpose]
    since: datetime | None
    last_active: datetime | None
    consented: bool  # a standing OAuth grant (first-party clients may hold tokens without)
    active_tokens: int

    @property
    def id(self) -> int:
        return int(self.application.pk)

    @property
    def name(self) -> str:
        return str(self.application.name or self.application.client_id)


def _earliest(*values: datetime | None) -> datetime | None:
    present = [value for value in values if value is not None]
    return min(present) if present else None


def _latest(*values: datetime | None) -> datetime | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None


def connected_apps(*, user: Any, application_id: int | None = None) -> list[ConnectedApp]:
    """Every client that holds something of ``user`` now, by name: a standing OAuth grant
    (``Consent``), an unexpired access token, an unrevoked refresh token or an unredeemed
    authorization code. First-party clients (which skip the consent screen) are listed too.
    "Since" is the earliest of the grant, the client's first ledger record and its first
    token or code still held; "last active" the latest token, refresh or code. With
    ``application_id``, only that client (an empty list when it holds nothing)."""
    if user is None or getattr(user, "pk", None) is None:
        return []
    now = timezone.now()
    holders = {
        "access": get_access_token_model().objects.filter(
            user=user, expires__gt=now, application__isnull=False
        ),
        "refresh": get_refresh_token_model().objects.filter(user=user, revoked__isnull=True),
        "code": get_grant_model().objects.filter(user=user, expires__gt=now),
    }
    consents = Consent.objects.filter(user=user, revoked_at__isnull=True)
    if application_id is not None:
        holders = {
            kind: rows.filter(application_id=application_id) for kind, rows in holders.items()
        }
        consents = consents.filter(application_id=application_id)

    scopes: dict[int, set[str]] = {}
    first: dict[int, datetime | None] = {}
    last: dict[int, datetime | None] = {}
    tokens: dict[int, int] = {}
    consented: set[int] = set()
    for consent in consents.only("application_id", "scopes", "granted_at"):
        app_id = consent.application_id
        consented.add(app_id)
        scopes.setdefault(app_id, set()).update(consent.scopes or [])
        first[app_id] = _earliest(first.get(app_id), consent.granted_at)
    for kind, rows in holders.items():
        summary = (
            rows.values("application_id")
            .annotate(
                first_at=Min("created"),
                last_at=Max("created"),
                updated_at=Max("updated"),
                count=Count("pk"),
            )
            .values_list("application_id", "first_at", "last_at", "updated_at", "count")
        )
        for app_id, first_at, last_created, last_updated, count in summary:
            first[app_id] = _earliest(first.get(app_id), first_at)
            last[app_id] = _latest(last.get(app_id), last_created, last_updated)
            scopes.setdefault(app_id, set())
            if kind != "code":
                tokens[app_id] = tokens.get(app_id, 0) + count
        if kind != "refresh":  # a refresh token's scope is its access token's
            for app_id, scope in rows.values_list("application_id", "scope").distinct():
                scopes[app_id].update((scope or "").split())
    if not scopes:
        return []
    for app_id, recorded_at in (
        ConsentRecord.objects.filter(user=user, application_id__in=scopes)
        .values("application_id")
        .annotate(first_at=Min("at"))
        .values_list("application_id", "first_at")
    ):
        first[app_id] = _earliest(first.get(app_id), recorded_at)
    applications = get_application_model().objects.filter(pk__in=scopes)
    apps = []
    for application in applications:
        records = (
            latest_records(user=user, application=application)
            .filter(action__in=GRANTING_ACTIONS)
            .select_related("purpose", "version")
            .order_by("purpose__key")
        )
        apps.append(
            ConnectedApp(
                application=application,
                scopes=sorted(scopes[application.pk]),
                purposes=[AppPurpose(record.purpose.key, record.version) for record in records],
                since=first.get(application.pk),
                last_active=last.get(application.pk),
                consented=application.pk in consented,
                active_tokens=tokens.get(application.pk, 0),
            )
        )
    return sorted(apps, key=lambda app: (app.name.lower(), app.id))


def connected_app(*, user: Any, application_id: int) -> ConnectedApp | None:
    """One client of ``connected_apps``, or None when it holds nothing of ``user``."""
    apps = connected_apps(user=user, application_id=application_id)
    return apps[0] if apps else None
