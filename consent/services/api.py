"""The consent API for back ends (consent/api.py): what back ends ask to read or write. Who
the caller is and whose records (the Bearer token, the customer reference) is ciam/api.py's.
Every refusal is an ``ApiError`` carrying its HTTP status and its error code, which the
views turn into JSON.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from ciam.api import api_timestamp, invalid_request

from ..models import ConsentAction, ConsentChannel, ConsentRecord, Purpose, PurposeVersion
from ..receipts import receipt_jws
from ..selectors import consent_history, consent_state
from .ledger import ConsentError, consent_record

SCOPE_READ = "consent:read"
SCOPE_WRITE = "consent:write"

HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 100
MAX_USER_AGENT_LENGTH = 2048

# What a back end may record: a decision it collected itself (api), one carried over from an
# earlier system (import), or one an operator took down (admin). The provider's own screens
# (signup, signin, portal) are not for others to claim.
API_CHANNELS = (ConsentChannel.API, ConsentChannel.IMPORT, ConsentChannel.ADMIN)
API_ACTIONS = (ConsentAction.GRANTED, ConsentAction.WITHDRAWN)
# The languages the words of a version exist in (PurposeVersion.text_sha256).
API_LANGUAGES = ("en", "pt-BR")
RECORD_FIELDS = frozenset(
    {
        "purpose",
        "version",
        "action",
        "channel",
        "language",
        "text_sha256",
        "ip_address",
        "user_agent",
    }
)
REQUIRED_RECORD_FIELDS = ("purpose", "version", "action", "text_sha256")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


# --- documents ------------------------------------------------------------------------------


def record_document(record: ConsentRecord) -> dict[str, Any]:
    """One ledger record as the API shows it (``hash`` and ``previous_hash``: its link in the
    user's hash chain; ``receipt_id``: the id of its signed receipt)."""
    return {
        "id": str(record.id),
        "sequence": record.sequence,
        "purpose": record.purpose.key,
        "version": record.version.number,
        "action": record.action,
        "at": api_timestamp(record.at),
        "channel": record.channel,
        "client_id": record.client_id or None,
        "language": record.language,
        "text_sha256": record.text_sha256,
        "ip_address": record.ip_address,
        "user_agent": record.user_agent or None,
        "receipt_id": str(record.receipt_id),
        "previous_hash": record.previous_hash or None,
        "hash": record.hash,
    }


def api_state_read(*, user: Any) -> dict[str, Any]:
    """``{"purposes": {key: {granted, version, at, record_id, receipt_id}}}``: the user's
    standing decision about each purpose they ever decided (``consent_state``)."""
    return {
        "purposes": {
            key: {
                "granted": decision.granted,
                "version": decision.version.number,
                "action": decision.record.action,
                "at": api_timestamp(decision.at),
                "record_id": str(decision.record.id),
                "receipt_id": str(decision.record.receipt_id),
            }
            for key, decision in sorted(consent_state(user=user).items())
        }
    }


def _history_limit(value: str | None) -> int:
    if value is None or value == "":
        return HISTORY_DEFAULT_LIMIT
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= HISTORY_MAX_LIMIT:
        raise invalid_request(f"limit is a whole number from 1 to {HISTORY_MAX_LIMIT}.")
    return int(value)


def _history_cursor(value: str | None) -> int | None:
    # The cursor is the sequence number of the last record of the previous page (records are
    # newest first, so the next page holds those before it in the user's chain).
    if value is None or value == "":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise invalid_request("cursor is the next_cursor of a previous page.")
    return int(value)


def api_history_read(*, user: Any, cursor: str | None, limit: str | None) -> dict[str, Any]:
    """A page of the user's ledger records, newest first: ``{"records": [...],
    "next_cursor": str | None}``; ``?cursor=<next_cursor>`` reads the page after."""
    page_size = _history_limit(limit)
    before = _history_cursor(cursor)
    records = consent_history(user=user)
    if before is not None:
        records = records.filter(sequence__lt=before)
    page = list(records.order_by("-sequence")[: page_size + 1])
    more = len(page) > page_size
    page = page[:page_size]
    return {
        "records": [record_document(record) for record in page],
        "next_cursor": str(page[-1].sequence) if more else None,
    }


# --- writing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordRequest:
    """A decision a back end asks to append, checked field by field."""

    purpose: str
    version: int
    action: str
    channel: str
    language: str
    text_sha256: str
    ip_address: str | None
    user_agent: str


def _string(payload: dict[str, Any], name: str, default: str | None = None) -> str:
    value = payload.get(name, default)
    if not isinstance(value, str):
        raise invalid_request(f"{name} must be a string.")
    return value


def record_request_parse(payload: Any) -> RecordRequest:
    """Check the JSON body of a record request (types, allowed values); ``ApiError`` 400."""
    if not isinstance(payload, dict):
        raise invalid_request("The body must be a JSON object.")
    unknown = sorted(str(name) for name in payload if name not in RECORD_FIELDS)
    if unknown:
        raise invalid_request(f"Unknown fields: {', '.join(unknown)}.")
    missing = [name for name in REQUIRED_RECORD_FIELDS if payload.get(name) is None]
    if missing:
        raise invalid_request(f"Missing fields: {', '.join(missing)}.")
    version = payload["version"]
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version < 2**31:
        raise invalid_request("version must be a version number (1, 2, ...).")
    action = _string(payload, "action")
    if action not in API_ACTIONS:
        raise invalid_request(f"action must be one of {', '.join(API_ACTIONS)}.")
    channel = _string(payload, "channel", ConsentChannel.API)
    if channel not in API_CHANNELS:
        raise invalid_request(f"channel must be one of {', '.join(API_CHANNELS)}.")
    language = _string(payload, "language", "en")
    if language not in API_LANGUAGES:
        raise invalid_request(f"language must be one of {', '.join(API_LANGUAGES)}.")
    text_sha256 = _string(payload, "text_sha256")
    if not SHA256_HEX.fullmatch(text_sha256):
        raise invalid_request("text_sha256 must be a SHA-256 digest in lower-case hex.")
    ip_address: str | None = None
    if payload.get("ip_address") is not None:
        raw_ip = _string(payload, "ip_address")
        try:
            ip_address = str(ipaddress.ip_address(raw_ip))
        except ValueError:
            raise invalid_request("ip_address must be an IPv4 or IPv6 address.") from None
    user_agent = ""
    if payload.get("user_agent") is not None:
        user_agent = _string(payload, "user_agent")
        if len(user_agent) > MAX_USER_AGENT_LENGTH or "\x00" in user_agent:
            raise invalid_request("user_agent is too long or holds a NUL character.")
    purpose = _string(payload, "purpose")
    if not purpose or len(purpose) > 64 or "\x00" in purpose:
        raise invalid_request("purpose must be a purpose key.")
    return RecordRequest(
        purpose=purpose,
        version=version,
        action=action,
        channel=channel,
        language=language,
        text_sha256=text_sha256,
        ip_address=ip_address,
        user_agent=user_agent,
    )


def _version_to_record(wanted: RecordRequest) -> PurposeVersion:
    """The published version named by the request, if it is its purpose's current one."""
    purpose = Purpose.objects.filter(key=wanted.purpose).first()
    if purpose is None or not purpose.active:
        raise invalid_request(f"Unknown purpose {wanted.purpose!r}.")
    version = (
        PurposeVersion.objects.filter(purpose=purpose, number=wanted.version)
        .select_related("purpose")
        .first()
    )
    if version is None or not version.is_published:
        raise invalid_request(f"{wanted.purpose} has no published version {wanted.version}.")
    current = purpose.current_version()
    if current is not None and current.number != version.number:
        # A decision is about the words in force: version n was replaced by a newer one.
        raise invalid_request(
            f"Version {version.number} of {wanted.purpose} is stale: the current version is "
            f"{current.number}."
        )
    if version.text_sha256(wanted.language) != wanted.text_sha256:
        raise invalid_request(
            f"text_sha256 is not the hash of version {version.number} of {wanted.purpose} in "
            f"{wanted.language}."
        )
    return version


@dataclass(frozen=True)
class RecordCreated:
    record: ConsentRecord
    receipt: str  # the signed consent receipt (compact JWS, consent.receipts)


@transaction.atomic
def api_record_create(*, user: Any, client: Any, payload: Any) -> RecordCreated:
    """Append the decision in ``payload`` (a parsed JSON body) for ``user`` to the ledger, on
    behalf of the machine client ``client``; returns the record and its signed receipt.

    Refused with ``ApiError`` 400 for a malformed body, an unknown purpose, a version that is
    not the current published one, or a ``text_sha256`` that is not the hash of that
    version's words in the given language.
    """
    wanted = record_request_parse(payload)
    version = _version_to_record(wanted)
    try:
        record = consent_record(
            user=user,
            version=version,
            action=wanted.action,
            channel=wanted.channel,
            application=client,
            ip_address=wanted.ip_address,
            user_agent=wanted.user_agent,
            language=wanted.language,
            text_sha256=wanted.text_sha256,
        )
    except ConsentError as refused:
        raise invalid_request(str(refused)) from None
    return RecordCreated(record=record, receipt=receipt_jws(record))
