"""The shape of one ingested interaction: field by field, with the per-type schema of its
``properties``. Pure functions, no database: ``interaction_item_parse`` returns the parsed
item or the errors (field -> message) the API sends back for it."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from django.utils.dateparse import parse_datetime

from .models import (
    ANONYMOUS_ID_MAX_LENGTH,
    IDEMPOTENCY_KEY_MAX_LENGTH,
    Channel,
    InteractionType,
)

TEXT_MAX_LENGTH = 200
URL_MAX_LENGTH = 2000
REFERENCE_MAX_LENGTH = 320  # an email address is at most 254 characters (RFC 5321 4.5.3.1)
# ISO 4217 active alphabetic codes (list one, 2024), funds and precious metals left out.
ISO_4217 = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR
    FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD
    JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT
    MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG
    QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB
    TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UYW UZS VED VES VND VUV WST XAF XCD XCG
    XOF XPF YER ZAR ZMW ZWG ZWL""".split()  # noqa: SIM905 - a long list, one string
)
# Nesting of ``properties`` (objects and lists in objects): enough for any real payload.
PROPERTIES_MAX_DEPTH = 8
# Largest amount accepted: 18 digits before the point is more than any real order.
AMOUNT_MAX = Decimal("1e18")


@dataclass(frozen=True)
class UserReference:
    """Who the item is about: ``kind`` "sub" (public subject) or "email" (verified)."""

    kind: str
    value: str


@dataclass
class ParsedItem:
    idempotency_key: str
    type: str
    channel: str
    occurred_at: datetime
    user: UserReference | None
    anonymous_id: str
    properties: dict[str, Any]
    purpose: str


@dataclass
class ItemErrors:
    """The errors of one item; ``idempotency_key`` when at least that was readable."""

    errors: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None


def storable_text(value: str) -> bool:
    """``value`` can be stored: no NUL (PostgreSQL text and jsonb refuse it) and encodable as
    UTF-8 (a lone surrogate such as ``"\\ud800"``, which JSON's ``\\u`` escapes let through,
    is not: RFC 8259 8.2)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unstorable_text_path(value: Any, path: str) -> str | None:
    """The path (``properties.a.0``) of the first string or object key in ``value`` that
    cannot be stored (``storable_text``), None when all can. Iterative: a hostile payload
    nested to the parser's limit does not exhaust the stack."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, str):
            if not storable_text(current):
                return where
        elif isinstance(current, dict):
            for key, child in current.items():
                if isinstance(key, str) and not storable_text(key):
                    return where
                stack.append((child, f"{where}.{key}"))
        elif isinstance(current, list):
            stack.extend((child, f"{where}.{index}") for index, child in enumerate(current))
    return None


def safe_name(name: Any) -> str:
    """A member name fit to echo back in an error (no NUL, valid UTF-8), at most 64."""
    text = str(name)[:64]
    if storable_text(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "")


def text_value(value: Any, *, max_length: int = TEXT_MAX_LENGTH) -> str | None:
    """``value`` when it is a non-empty, storable (``storable_text``) string of at most
    ``max_length``."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > max_length or not storable_text(value):
        return None
    return value


def idempotency_key_parse(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    return text_value(item.get("idempotency_key"), max_length=IDEMPOTENCY_KEY_MAX_LENGTH)


def _depth(value: Any, level: int = 1) -> int:
    """How deep ``value`` nests, counted no further than one past the limit (no recursion
    error on a hostile payload: the parser accepted up to Python's recursion limit)."""
    if level > PROPERTIES_MAX_DEPTH:
        return level
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    )
    return max(
        (_depth(child, level + 1) for child in children if isinstance(child, dict | list)),
        default=level,
    )


def _finite(value: Any) -> bool:
    """No NaN or Infinity anywhere (Python's parser accepts them, JSON and jsonb do not)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(child) for child in value.values())
    if isinstance(value, list):
        return all(_finite(child) for child in value)
    return True


def _occurred_at(value: Any, *, now: datetime, max_future: int, retention_days: int) -> Any:
    if not isinstance(value, str) or len(value) > 64:
        return "Give an RFC 3339 date-time with its offset, e.g. 2026-12-01T10:00:00Z."
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        return "Give an RFC 3339 date-time with its offset, e.g. 2026-12-01T10:00:00Z."
    if parsed > now + timedelta(seconds=max_future):
        return f"It is more than {max_future} seconds in the future."
    if parsed < now - timedelta(days=retention_days):
        return f"It is older than the retention period ({retention_days} days)."
    return parsed


def user_reference_parse(item: dict[str, Any], errors: dict[str, str]) -> UserReference | None:
    value = item.get("user")
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in ("sub", "email"):
        errors["user"] = 'Name the customer as {"sub": ...} or {"email": ...}.'
        return None
    kind, reference = next(iter(value.items()))
    text = text_value(reference, max_length=REFERENCE_MAX_LENGTH)
    if text is None or (kind == "email" and "@" not in text):
        errors["user"] = f"The {kind} is not a valid reference."
        return None
    return UserReference(kind, text.lower() if kind == "email" else text)


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str) and len(value) > 40:
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount >= AMOUNT_MAX:
        return None
    return amount


def _purchase(properties: dict[str, Any], errors: dict[str, str]) -> None:
    if text_value(properties.get("order_id")) is None:
        errors["properties.order_id"] = "A purchase needs its order_id (text)."
    amount = _amount(properties.get("amount"))
    if amount is None:
        errors["properties.amount"] = "A purchase needs its amount: a decimal number >= 0."
    else:
        # Stored as a decimal string: a float would change 19.99 on the way back.
        properties["amount"] = str(amount)
    currency = properties.get("currency")
    if not isinstance(currency, str) or currency.upper() not in ISO_4217:
        errors["properties.currency"] = "A purchase needs its currency: an ISO 4217 code (BRL)."
    else:
        properties["currency"] = currency.upper()


def _page_view(properties: dict[str, Any], errors: dict[str, str]) -> None:
    url = text_value(properties.get("url"), max_length=URL_MAX_LENGTH)
    parts = urlsplit(url) if url else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        errors["properties.url"] = "A page view needs the page's absolute http(s) url."


def _campaign_click(properties: dict[str, Any], errors: dict[str, str]) -> None:
    if text_value(properties.get("campaign")) is None:
        errors["properties.campaign"] = "A campaign click needs its campaign (text)."


PROPERTY_SCHEMAS = {
    InteractionType.PURCHASE: _purchase,
    InteractionType.PAGE_VIEW: _page_view,
    InteractionType.CAMPAIGN_CLICK: _campaign_click,
}


def interaction_item_parse(
    item: Any,
    *,
    now: datetime,
    max_future: int,
    retention_days: int,
    max_properties_bytes: int,
    default_purposes: dict[str, str],
) -> ParsedItem | ItemErrors:
    """One item of an ingest batch, checked; the errors of each bad field otherwise."""
    if not isinstance(item, dict):
        return ItemErrors({"item": "Each interaction is a JSON object."})
    errors: dict[str, str] = {}
    key = idempotency_key_parse(item)
    # Every string and key of the item, however deep, must be storable: the item is refused
    # as invalid here rather than failing in the database (a 500).
    for name, member in item.items():
        bad = unstorable_text_path(member, safe_name(name))
        if bad is not None or not storable_text(str(name)):
            errors[safe_name(bad or name)] = (
                "Text must be valid Unicode (no lone surrogates) without NUL characters."
            )
    if errors:
        return ItemErrors(errors, key)
    if key is None:
        errors["idempotency_key"] = (
            f"Required: a non-empty text of at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters."
        )
    kind = item.get("type")
    if not isinstance(kind, str) or kind not in InteractionType.values:
        errors["type"] = f"One of {', '.join(InteractionType.values)}."
    channel = item.get("channel")
    if not isinstance(channel, str) or channel not in Channel.values:
        errors["channel"] = f"One of {', '.join(Channel.values)}."
    occurred_at = _occurred_at(
        item.get("occurred_at"), now=now, max_future=max_future, retention_days=retention_days
    )
    if isinstance(occurred_at, str):
        errors["occurred_at"] = occurred_at
    user = user_reference_parse(item, errors)
    anonymous_id = ""
    if item.get("anonymous_id") is not None:
        parsed_id = text_value(item.get("anonymous_id"), max_length=ANONYMOUS_ID_MAX_LENGTH)
        if parsed_id is None:
            errors["anonymous_id"] = (
                f"A non-empty text of at most {ANONYMOUS_ID_MAX_LENGTH} characters."
            )
        else:
            anonymous_id = parsed_id
    if user is None and not anonymous_id and "user" not in errors and "anonymous_id" not in errors:
        errors["user"] = "Name the customer (user) or the visitor (anonymous_id)."
    properties = item.get("properties", {})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        errors["properties"] = "A JSON object."
        properties = {}
    elif _depth(properties) > PROPERTIES_MAX_DEPTH:
        errors["properties"] = f"At most {PROPERTIES_MAX_DEPTH} levels of nesting."
    elif not _finite(properties):
        errors["properties"] = "NaN and Infinity are not JSON numbers (RFC 8259 6)."
    else:
        size = len(json.dumps(properties, ensure_ascii=False, separators=(",", ":")).encode())
        if size > max_properties_bytes:
            errors["properties"] = f"At most {max_properties_bytes} bytes as JSON."
        elif isinstance(kind, str) and kind in PROPERTY_SCHEMAS:
            properties = dict(properties)
            PROPERTY_SCHEMAS[InteractionType(kind)](properties, errors)
    purpose = item.get("purpose")
    if purpose is None and isinstance(kind, str):
        purpose = default_purposes.get(kind)
    if purpose is not None and text_value(purpose, max_length=64) is None:
        errors["purpose"] = "The key of a consent purpose."
    unknown = set(item) - {
        "idempotency_key",
        "type",
        "channel",
        "occurred_at",
        "user",
        "anonymous_id",
        "properties",
        "purpose",
    }
    for name in sorted(unknown)[:10]:
        errors[safe_name(name)] = "Unknown member."
    if errors:
        return ItemErrors(errors, key)
    assert key is not None
    assert isinstance(occurred_at, datetime)
    return ParsedItem(
        idempotency_key=key,
        type=str(kind),
        channel=str(channel),
        occurred_at=occurred_at,
        user=user,
        anonymous_id=anonymous_id,
        properties=properties,
        purpose=str(purpose or "").strip(),
    )
