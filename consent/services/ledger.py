"""The consent ledger: appending decisions about purposes, withdrawing, erasing, publishing.

Every decision a user makes about a purpose (terms of service, privacy notice, marketing...)
is appended to ``ConsentRecord``, an append-only hash chain per user (LGPD art. 8 §2 and
GDPR art. 7(1): the controller proves that consent was given, for which words, when and
how). Records are never changed; erasure (LGPD art. 18 VI, GDPR art. 17) turns a user's
records into anonymised tombstones that still chain and verify.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from sessions_ctx.throttle import client_ip

from ..models import (
    ConsentAction,
    ConsentChannel,
    ConsentRecord,
    Purpose,
    PurposeVersion,
    VersionChange,
    ledger_erasure,
)
from ..signals import purpose_consent_changed

USER_AGENT_MAX_LENGTH = 512
_SUBJECT_SALT = "consent.ledger.subject"
_DIGEST_SALT = "consent.ledger.digest"


class ConsentError(ValueError):
    """A consent decision that cannot be recorded (draft version, inactive purpose, ...)."""


def consent_subject(user: Any) -> str:
    """The ledger's pseudonymous subject of ``user``: HMAC-SHA256 of its primary key under a
    key derived from SECRET_KEY. It stays on erased tombstones, so their chain still
    verifies, and identifies nobody without the secret. A new SECRET_KEY starts a new chain
    for the user's later records (ledger_breaks checks each chain on its own)."""
    return salted_hmac(_SUBJECT_SALT, str(user.pk), algorithm="sha256").hexdigest()


def value_digest(value: str) -> str:
    """Keyed digest of a personal value (IP address, user agent) kept in the hash chain in
    its place; empty for an empty value."""
    if not value:
        return ""
    return salted_hmac(_DIGEST_SALT, value, algorithm="sha256").hexdigest()


def digest_matches(value: str, digest: str) -> bool:
    return hmac.compare_digest(value_digest(value), digest)


def _request_context(request: HttpRequest | None) -> tuple[str | None, str]:
    if request is None:
        return None, ""
    user_agent = str(request.META.get("HTTP_USER_AGENT", ""))
    ip = client_ip(request)
    return (ip if _valid_ip(ip) else None), user_agent


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _lock_user(user: Any) -> None:
    """Serialise appends to one user's chain: two appends never fork it (SELECT ... FOR
    UPDATE on the user's row; the (subject, sequence) constraint backs it up on SQLite)."""
    get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk").first()


@transaction.atomic
def consent_record(
    *,
    user: Any,
    version: PurposeVersion,
    action: str,
    channel: str,
    application: Any = None,
    ip_address: str | None = None,
    user_agent: str = "",
    language: str = "en",
    text_sha256: str | None = None,
) -> ConsentRecord:
    """Append ``user``'s decision about ``version`` to the ledger and return the record.

    Refused with ``ConsentError`` (nothing recorded) for a draft version, a version of an
    inactive purpose, an unknown action or channel, a malformed IP address or text hash, or
    an anonymous user. ``text_sha256``
    defaults to the hash of the version's words in ``language``. Emits
    ``purpose_consent_changed``.
    """
    if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
        raise ConsentError("Consent is recorded for a signed-in user only.")
    if not version.is_published:
        raise ConsentError(f"{version} is a draft: only a published version can be agreed to.")
    purpose = version.purpose
    if not purpose.active:
        raise ConsentError(f"Purpose {purpose.key!r} is inactive: it cannot be recorded.")
    if action not in ConsentAction.values:
        raise ConsentError(f"Unknown consent action {action!r}.")
    if channel not in ConsentChannel.values:
        raise ConsentError(f"Unknown consent channel {channel!r}.")
    if not language:
        raise ConsentError("The language the text was shown in is required.")
    if text_sha256 is not None and (
        len(text_sha256) != 64 or any(c not in "0123456789abcdef" for c in text_sha256)
    ):
        raise ConsentError("text_sha256 is the lowercase hex SHA-256 of the text shown.")
    if ip_address and not _valid_ip(ip_address):
        raise ConsentError(f"{ip_address!r} is not an IP address.")
    user_agent = (user_agent or "")[:USER_AGENT_MAX_LENGTH]
    ip_address = ip_address or None

    _lock_user(user)
    subject = consent_subject(user)
    last = (
        ConsentRecord.objects.filter(subject=subject)
        .order_by("-sequence")
        .values_list("sequence", "hash")
        .first()
    )
    sequence, previous_hash = (last[0] + 1, last[1]) if last else (1, "")
    record = ConsentRecord(
        user=user,
        subject=subject,
        sequence=sequence,
        purpose=purpose,
        version=version,
        action=action,
        at=timezone.now(),
        channel=channel,
        application=application,
        client_id=str(application.client_id) if application is not None else "",
        ip_address=ip_address,
        ip_address_digest=value_digest(ip_address or ""),
        user_agent=user_agent,
        user_agent_digest=value_digest(user_agent),
        language=language,
        text_sha256=text_sha256 or version.text_sha256(language),
        previous_hash=previous_hash,
    )
    record.hash = record.compute_hash()
    record.save()
    purpose_consent_changed.send(sender=ConsentRecord, user=user, record=record)
    return record


def _latest_per_purpose(user: Any, purposes: Iterable[int]) -> dict[int, ConsentRecord]:
    latest: dict[int, ConsentRecord] = {}
    records = (
        ConsentRecord.objects.filter(user=user, purpose_id__in=list(purposes))
        .select_related("version")
        .order_by("sequence")
    )
    for record in records:
        latest[record.purpose_id] = record
    return latest


@transaction.atomic
def purposes_decide(
    *,
    user: Any,
    application: Any,
    granted: list[PurposeVersion],
    declined: list[PurposeVersion],
    channel: str,
    request: HttpRequest | None = None,
    language: str | None = None,
) -> list[ConsentRecord]:
    """Record what ``user`` decided on a consent screen for ``application``.

    Each granted version is recorded ``granted`` (``reconfirmed`` when the user's standing
    grant is already for that very version). Each declined version is recorded
    ``withdrawn`` when the purpose was granted before, else ``declined``. IP address and user
    agent come from ``request``; the language is ``language``, else the request's.
    """
    granted_ids = {version.pk for version in granted}
    if granted_ids & {version.pk for version in declined}:
        raise ConsentError("A purpose version cannot be both granted and declined.")
    if len({v.purpose_id for v in [*granted, *declined]}) != len(granted) + len(declined):
        raise ConsentError("Each purpose is decided once.")
    ip_address, user_agent = _request_context(request)
    if language is None:
        language = getattr(request, "LANGUAGE_CODE", None) or "en"
    _lock_user(user)
    latest = _latest_per_purpose(user, [v.purpose_id for v in [*granted, *declined]])
    records = []
    for version, was_granted in [(v, True) for v in granted] + [(v, False) for v in declined]:
        previous = latest.get(version.purpose_id)
        if was_granted:
            action = (
                ConsentAction.RECONFIRMED
                if previous is not None and previous.granted and previous.version_id == version.pk
                else ConsentAction.GRANTED
            )
        elif previous is not None and previous.granted:
            action = ConsentAction.WITHDRAWN
        else:
            action = ConsentAction.DECLINED
        records.append(
            consent_record(
                user=user,
                version=version,
                action=action,
                channel=channel,
                application=application,
                ip_address=ip_address,
                user_agent=user_agent,
                language=language,
            )
        )
    return records


@transaction.atomic
def purpose_withdraw(
    *,
    user: Any,
    purpose: Purpose,
    channel: str,
    application: Any = None,
    request: HttpRequest | None = None,
    language: str | None = None,
) -> ConsentRecord | None:
    """Withdraw ``user``'s standing grant of ``purpose`` (LGPD art. 8 §5, GDPR art. 7(3):
    as easy as giving it). The withdrawal is recorded against the version that was granted.
    Returns the record, or None when there was no grant to withdraw."""
    _lock_user(user)
    previous = _latest_per_purpose(user, [purpose.pk]).get(purpose.pk)
    if previous is None or not previous.granted:
        return None
    ip_address, user_agent = _request_context(request)
    if language is None:
        language = getattr(request, "LANGUAGE_CODE", None) or previous.language
    return consent_record(
        user=user,
        version=previous.version,
        action=ConsentAction.WITHDRAWN,
        channel=channel,
        application=application,
        ip_address=ip_address,
        user_agent=user_agent,
        language=language,
    )


@transaction.atomic
def ledger_erase(*, user: Any) -> int:
    """Turn ``user``'s records into anonymised tombstones; returns how many.

    The only change the ledger allows: the user link, the IP address and the user agent are
    blanked and ``erased`` set. Subject, digests and hashes stay, so the chain still verifies
    and the user's next records (if the account lives on) chain after the tombstones. On
    PostgreSQL the table's trigger lets this UPDATE through only with
    ``ciam.consent_erasure`` set for the transaction (migration 0003). The user can be
    deleted afterwards (the records' user link PROTECTs it until then).
    """
    _lock_user(user)
    postgres = connection.vendor == "postgresql"
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('ciam.consent_erasure', 'on', true)")
    try:
        with ledger_erasure():
            erased = ConsentRecord.objects.filter(user=user).update(
                user=None, ip_address=None, user_agent="", erased=True
            )
    finally:
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('ciam.consent_erasure', 'off', true)")
    return erased


@transaction.atomic
def purpose_version_publish(*, version: PurposeVersion, change: str) -> PurposeVersion:
    """Publish a draft ``version`` as a ``material`` or ``minor`` change; from then on it is
    immutable and, being the highest published number, the purpose's current version.

    A material change asks again every user whose grant is for an older version; a minor
    one (typos, wording that does not change what is agreed to) asks nobody.
    """
    if change not in VersionChange.values:
        raise ConsentError(f"Unknown change {change!r}: material or minor.")
    locked = PurposeVersion.objects.select_for_update().get(pk=version.pk)
    if locked.is_published:
        raise ConsentError(f"{locked} is already published.")
    newer = (
        PurposeVersion.objects.filter(
            purpose_id=locked.purpose_id, number__gt=locked.number, published_at__isnull=False
        )
        .order_by("number")
        .first()
    )
    if newer is not None:
        raise ConsentError(f"A newer version ({newer}) is already published.")
    if not locked.title_en:
        raise ConsentError("A version needs at least an English title.")
    locked.change = change
    locked.published_at = timezone.now()
    locked.save(update_fields=["change", "published_at"])
    version.change, version.published_at = locked.change, locked.published_at
    return locked


def purpose_version_next_number(*, purpose: Purpose) -> int:
    """The number a new version of ``purpose`` gets: one more than the highest so far."""
    last = purpose.versions.order_by("-number").values_list("number", flat=True).first()
    return (last or 0) + 1
