"""The consent API for back ends (consent/api.py): who the caller is, whose records, what they
ask to read or write. Every refusal is an ``ApiError`` carrying its HTTP status and its
error code (RFC 6750 3.1 for the token ones), which the views turn into JSON.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest

from ciam.services.authorization import oauth_server

from ..models import ConsentAction, ConsentChannel, ConsentRecord, Purpose, PurposeVersion
from ..receipts import receipt_jws
from ..selectors import consent_history, consent_state
from .ledger import ConsentError, consent_record

SCOPE_READ = "consent:read"
SCOPE_WRITE = "consent:write"

HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 100
MAX_REFERENCE_LENGTH = 320  # an email address is at most 254 characters (RFC 5321 4.5.3.1)
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


class ApiError(Exception):
    """A refused API call: ``status``, ``error`` code and a description for the developer."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


class TokenMissing(ApiError):
    """No Bearer token at all: RFC 6750 3.1 answers with the challenge but no error code."""

    def __init__(self) -> None:
        super().__init__(
            401, "invalid_token", "Send a Bearer access token in the Authorization header."
        )


def invalid_request(description: str) -> ApiError:
    return ApiError(400, "invalid_request", description)


# --- the caller -----------------------------------------------------------------------------


def api_client_authenticate(*, request: HttpRequest, scope: str) -> Any:
    """The machine client whose Bearer access token (RFC 6750 2.1, header only) carries
    ``scope``; ``ApiError`` 401 ``invalid_token`` (no, unknown, expired or revoked token) or
    403 ``insufficient_scope``.

    The token is validated by django-oauth-toolkit (the validator's ``validate_bearer_token``,
    one prepared query). Only machine clients can hold ``consent:*`` scopes (the validator
    refuses them to clients acting for a user).
    """
    header = request.META.get("HTTP_AUTHORIZATION", "")
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise TokenMissing()
    valid, oauth_request = oauth_server().verify_request(
        request.build_absolute_uri(request.path),
        "GET",
        "",
        {"Authorization": f"Bearer {parts[1]}"},
        scopes=[],
    )
    if not valid or oauth_request is None or oauth_request.client is None:
        raise ApiError(401, "invalid_token", "The access token is unknown, expired or revoked.")
    if scope not in (oauth_request.scopes or []):
        raise ApiError(403, "insufficient_scope", f"This call needs the {scope} scope.")
    return oauth_request.client


# --- whose records --------------------------------------------------------------------------


def api_user_resolve(*, reference: str) -> Any:
    """The user named by ``reference``: ``email:<address>`` (the address they sign in with)
    or ``sub:<public subject>`` (``User.public_id``, the ``sub`` of public-subject clients; a
    pairwise ``sub`` cannot be turned back into a user). ``ApiError`` 400 for a malformed
    reference, 404 ``unknown_user`` when nobody matches."""
    kind, separator, value = reference.partition(":")
    if (
        not separator
        or not value
        or len(reference) > MAX_REFERENCE_LENGTH
        or "\x00" in reference
        or kind not in ("email", "sub")
    ):
        raise invalid_request("Name the user as email:<address> or sub:<subject>.")
    User = get_user_model()
    if kind == "email":
        # Addresses are stored lower-case (accounts.models.UserManager).
        user = User.objects.filter(email=value.strip().lower()).first()
    else:
        user = User.objects.filter(public_id=value).first()
    if user is None:
        raise ApiError(404, "unknown_user", "No user matches this reference.")
    return user


# --- documents ------------------------------------------------------------------------------


def _timestamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def record_document(record: ConsentRecord) -> dict[str, Any]:
    """One ledger record as the API shows it (``hash`` and ``previous_hash``: its link in the
    user's hash chain; ``receipt_id``: the id of its signed receipt)."""
    return {
        "id": str(record.id),
        "sequence": record.sequence,
        "purpose": record.purpose.key,
        "version": record.version.number,
        "action": record.action,
        "at": _timestamp(record.at),
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
                "at": _timestamp(decision.at),
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
