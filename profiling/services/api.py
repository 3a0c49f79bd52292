"""The profile API for back ends (profiling/api.py): the schema, a customer's values with
where each came from, and changes validated by the same schema as every other writer
(``profile_update``). Who the caller is and whose profile is ciam/api.py's; every refusal is
an ``ApiError``, which the views turn into JSON.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ciam.api import ApiError, api_timestamp, invalid_request
from consent.selectors import purposes_granted

from ..claims import profile_completeness
from ..models import FieldType, ProfileField, ValueSource
from ..schema import schema_current
from ..selectors import profile_document
from .values import ProfileInvalid, profile_update

SCOPE_READ = "profile:read"
SCOPE_WRITE = "profile:write"

# What a back end may write: values it collected itself (api, checked for junk like the
# customer's own answers) or carried over from an earlier system (import, kept as given).
API_SOURCES = (ValueSource.API, ValueSource.IMPORT)
PATCH_FIELDS = frozenset({"values", "source", "verified", "source_detail"})
MAX_SOURCE_DETAIL_LENGTH = 64  # ProfileValue.source_detail
MAX_CHANGES = 200

# The validation attributes of ProfileField (profiling/validation.py) that apply to each type.
# For several choices, min_length and max_length count the choices.
VALIDATION_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    FieldType.TEXT: ("min_length", "max_length", "pattern", "check_junk"),
    FieldType.EMAIL: (),
    FieldType.PHONE: ("phone_region",),
    FieldType.DATE: ("min_date", "max_date"),
    FieldType.CHOICE: (),
    FieldType.MULTI_CHOICE: ("min_length", "max_length"),
    FieldType.BOOLEAN: (),
    FieldType.NUMBER: ("min_value", "max_value"),
    FieldType.ADDRESS: ("check_junk",),
    FieldType.DOCUMENT: ("document_kind",),
    FieldType.URL: (),
}
CHOICE_TYPES = (FieldType.CHOICE, FieldType.MULTI_CHOICE)


# --- the schema -----------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _validation(field: ProfileField) -> dict[str, Any]:
    """The validation attributes of ``field`` that apply to its type and are set."""
    rules: dict[str, Any] = {}
    for name in VALIDATION_ATTRIBUTES.get(field.type, ()):
        value = getattr(field, name)
        if value is None or value == "":
            continue
        rules[name] = _json_value(value)
    return rules


def _choices(field: ProfileField) -> list[dict[str, Any]]:
    if field.type not in CHOICE_TYPES:
        return []
    return [
        {
            "value": value,
            "labels": {
                "en": field.choice_label(value, "en"),
                "pt-BR": field.choice_label(value, "pt-BR"),
            },
        }
        for value in field.choice_values()
    ]


def _in_both_languages(field: ProfileField, attribute: str) -> dict[str, str]:
    read = getattr(field, f"{attribute}_for")
    return {"en": read("en"), "pt-BR": read("pt-BR")}


def field_document(field: ProfileField) -> dict[str, Any]:
    """One field of the schema as the API shows it (words in English and Portuguese, the
    Portuguese falling back to the English)."""
    return {
        "key": field.key,
        "type": field.type,
        "labels": _in_both_languages(field, "label"),
        "help": _in_both_languages(field, "help"),
        "benefit": _in_both_languages(field, "benefit"),
        "claim": field.claim or None,
        "scope": field.scope,
        "sensitivity": field.sensitivity,
        "purpose": field.purpose.key if field.purpose_id and field.purpose else None,
        "validation": _validation(field),
        "choices": _choices(field),
    }


def api_schema_read() -> dict[str, Any]:
    """``{"fields": [...]}``: the active fields of the schema, in their order."""
    return {"fields": [field_document(field) for field in schema_current().fields]}


# --- a customer's profile -------------------------------------------------------------------


def api_profile_read(*, user: Any) -> dict[str, Any]:
    """``{"values": {key: {value, source, source_detail, client, collected_at, verified}},
    "completeness": 0-100}``: the values ``user`` has for the active fields, with their
    provenance, and the share of the schema they fill (the ``profile_completeness`` claim).
    A field with a consent purpose the user has not granted (or withdrew) is left out, as
    it is from the claims."""
    document = profile_document(user=user, language="en")
    entries = (document or {}).get("fields", {})
    schema = schema_current()
    needed = {f.purpose_id for f in schema.fields if f.purpose_id}
    granted = purposes_granted(user=user, purpose_ids=needed) if needed else set()
    shown = {f.key for f in schema.fields if not f.purpose_id or f.purpose_id in granted}
    values = {
        key: {
            "value": entry["value"],
            "source": entry["source"],
            "source_detail": entry["source_detail"],
            "client": entry["client"],
            "collected_at": api_timestamp(entry["collected_at"]),
            "verified": entry["verified"],
        }
        for key, entry in entries.items()
        if "source" in entry and key in shown
    }
    completeness = profile_completeness(
        {key: value["value"] for key, value in values.items()}, schema_current()
    )
    return {"values": values, "completeness": completeness}


@dataclass(frozen=True)
class ProfilePatch:
    """The changes a back end asks for, checked for shape (the schema checks the values)."""

    changes: dict[str, Any]
    source: str
    verified: tuple[str, ...]
    source_detail: str


def profile_patch_parse(payload: Any) -> ProfilePatch:
    """Check the JSON body of a profile change (members, types); ``ApiError`` 400."""
    if not isinstance(payload, dict):
        raise invalid_request("The body must be a JSON object.")
    unknown = sorted(str(name) for name in payload if name not in PATCH_FIELDS)
    if unknown:
        raise invalid_request(f"Unknown members: {', '.join(unknown)[:200]}.")
    changes = payload.get("values")
    if not isinstance(changes, dict):
        raise invalid_request('values must be a JSON object: {"field key": value or null}.')
    if len(changes) > MAX_CHANGES:
        raise invalid_request(f"values holds more than {MAX_CHANGES} fields.")
    source = payload.get("source", ValueSource.API)
    if source not in API_SOURCES:
        raise invalid_request(f"source must be one of {', '.join(API_SOURCES)}.")
    verified = payload.get("verified", [])
    if not isinstance(verified, list) or not all(isinstance(key, str) for key in verified):
        raise invalid_request("verified must be a list of field keys.")
    not_written = sorted({key for key in verified if changes.get(key) is None})
    if not_written:
        raise invalid_request(
            f"verified names fields that values does not set: {', '.join(not_written)[:200]}."
        )
    source_detail = payload.get("source_detail", "")
    if source_detail is None:
        source_detail = ""
    if (
        not isinstance(source_detail, str)
        or len(source_detail) > MAX_SOURCE_DETAIL_LENGTH
        or not source_detail.isprintable()
    ):
        raise invalid_request(
            f"source_detail must be text of at most {MAX_SOURCE_DETAIL_LENGTH} characters."
        )
    return ProfilePatch(
        changes=changes,
        source=str(source),
        verified=tuple(dict.fromkeys(verified)),
        source_detail=source_detail,
    )


def profile_invalid_error(refused: ProfileInvalid) -> ApiError:
    """400 ``invalid_profile`` naming each refused field with its code and message."""
    fields = {
        key: {"code": error.code, "message": str(error.message)}
        for key, error in sorted(refused.errors.items())
    }
    return ApiError(
        400,
        "invalid_profile",
        f"Some values were refused: {', '.join(fields)[:200]}. Nothing was changed.",
        details={"fields": fields},
    )


def api_profile_update(*, user: Any, client: Any, payload: Any) -> dict[str, Any]:
    """Apply the changes in ``payload`` (a parsed JSON body) to ``user``'s profile on behalf
    of the machine client ``client``, validated by the schema (``profile_update``: null
    removes a value; a value equal to the stored one keeps its provenance); returns the
    profile as ``api_profile_read`` shows it.

    Refused with ``ApiError`` 400 ``invalid_request`` for a malformed body and
    ``invalid_profile`` (nothing written) when the schema refuses a value or knows no such
    field. Text from ``source`` ``api`` is checked for junk, an ``import`` is kept as given.
    """
    patch = profile_patch_parse(payload)
    try:
        profile_update(
            user=user,
            changes=patch.changes,
            source=patch.source,
            client=client,
            source_detail=patch.source_detail,
            verified=patch.verified,
            check_junk=patch.source == ValueSource.API,
        )
    except ProfileInvalid as refused:
        raise profile_invalid_error(refused) from None
    return api_profile_read(user=user)
