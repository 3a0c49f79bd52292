"""Validation and normalisation of profile values, one rule set per field type.

``value_normalise(field, raw)`` turns what a customer or a client sent into the value stored
in the profile (a JSON value), or None for "no value", or refuses it with ``FieldInvalid``,
whose message is shown to the customer as it is. Values arrive from HTML forms (strings, a
list of strings for several choices, a dict of strings for an address) or from the JSON API
(native JSON types); anything else is refused with the code ``invalid``, never with another
kind of exception.

Normalising a normalised value gives it back unchanged, so stored values can be checked again
at any time (after an operator tightens a field, for instance).

Pure functions: no database access. The date rules read today's date.
"""

from __future__ import annotations

import datetime
import functools
import re
import unicodedata
import zoneinfo
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils import timezone
from django.utils.formats import get_format
from django.utils.translation import gettext, ngettext
from stdnum.br import cnpj, cpf
from stdnum.exceptions import ValidationError as DocumentError

from profiling.junk import junk_reason
from profiling.models import DocumentKind, FieldType, ProfileField
from profiling.patterns import pattern_fullmatch

__all__ = [
    "ADDRESS_PARTS",
    "NAME_KEYS",
    "FieldInvalid",
    "FieldJunk",
    "field_is_name",
    "value_normalise",
]

# Field keys and claims holding a person's name (OIDC Core 5.1), besides any ending "_name".
NAME_KEYS: frozenset[str] = frozenset(
    {"given_name", "family_name", "middle_name", "nickname", "name"}
)

# The parts of a postal address (OIDC Core 5.1.1, without ``formatted``), in stored order.
ADDRESS_PARTS: tuple[str, ...] = ("street_address", "locality", "region", "postal_code", "country")

TEXT_MAX_LENGTH = 500
EMAIL_MAX_LENGTH = 254  # RFC 5321 4.5.3.1.3: a forward-path of 256 octets with its brackets.
URL_MAX_LENGTH = 500
ADDRESS_PART_MAX_LENGTH = 200
PHONE_MAX_LENGTH = 64  # Far more than any number with its formatting.
NUMBER_MAX_MAGNITUDE = Decimal(10) ** 15  # Integers stay exact in a JSON double below 2**53.
EARLIEST_DATE = datetime.date(1900, 1, 1)

# Countries whose postal code is a Brazilian CEP (an empty country: the default).
_BRAZIL = frozenset({"", "br", "bra", "brasil", "brazil"})

_TRUE = frozenset({"on", "true", "1", "yes", "y", "sim", "s"})
_FALSE = frozenset({"off", "false", "0", "no", "n", "nao", "não"})

# Bidirectional embeddings, overrides and isolates (Unicode TR 9): they make a value display
# as something else ("gpj.exe" shown as "exe.jpg"). Other format characters stay: the zero
# width joiner builds emoji and Persian words.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_BR_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})", re.ASCII)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d{1,3})?", re.ASCII)
_CEP = re.compile(r"[\d .-]+", re.ASCII)
_HAS_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}", re.ASCII)

_email_validator = EmailValidator()
_url_validator = URLValidator(schemes=["http", "https"])


class FieldInvalid(Exception):
    """A value refused: ``code`` (machine-readable, e.g. "required", "too_long",
    "invalid_phone", "junk") and ``message`` (for the customer, translated with gettext at
    raise time)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class FieldJunk(FieldInvalid):
    """A text answer that looks typed only to get past the question (code ``junk``);
    ``reason`` is the ``junk_reason`` code ("keyboard_run", "placeholder"...)."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(
            "junk",
            message
            or gettext(
                "That doesn't look like a real answer. Could you check it? "
                "You can also skip this question."
            ),
        )
        self.reason = reason


def field_is_name(field: ProfileField) -> bool:
    """Whether ``field`` holds a person's name (its key or claim is ``given_name``,
    ``family_name``, ``middle_name``, ``nickname``, ``name`` or ends with ``_name``):
    its junk check then also refuses digits and answers without a letter."""
    return any(
        word in NAME_KEYS or word.endswith("_name") for word in (field.key or "", field.claim or "")
    )


def _invalid() -> FieldInvalid:
    return FieldInvalid("invalid", gettext("This answer can't be read. Please type it again."))


def _string(raw: Any) -> str:
    """``raw`` when it is a string, else FieldInvalid("invalid")."""
    if not isinstance(raw, str):
        raise _invalid()
    return raw


def _clean_text(raw: str) -> str:
    """``raw`` in Unicode NFC, trimmed, with every run of whitespace (line breaks too) made one
    space; refused when it holds control characters (they break storage and display)."""
    text = " ".join(unicodedata.normalize("NFC", raw).split())
    if any(
        unicodedata.category(c) in ("Cc", "Cs") or c in _BIDI_CONTROLS or c == "\ufffe"
        for c in text
    ):
        raise FieldInvalid(
            "invalid_characters",
            gettext("This answer contains characters that can't be used. Please type it again."),
        )
    return text


def _too_long(max_length: int) -> FieldInvalid:
    return FieldInvalid(
        "too_long",
        ngettext(
            "Please use at most %(count)d character.",
            "Please use at most %(count)d characters.",
            max_length,
        )
        % {"count": max_length},
    )


def _check_length(text: str, *, min_length: int | None, max_length: int) -> None:
    if min_length and len(text) < min_length:
        raise FieldInvalid(
            "too_short",
            ngettext(
                "Please use at least %(count)d character.",
                "Please use at least %(count)d characters.",
                min_length,
            )
            % {"count": min_length},
        )
    if len(text) > max_length:
        raise _too_long(max_length)


def _check_junk(text: str, *, name: bool) -> None:
    reason = junk_reason(text, name=name)
    if reason:
        raise FieldJunk(reason)


def _normalise_text(field: ProfileField, raw: Any) -> str | None:
    text = _clean_text(_string(raw))
    if not text:
        return None
    _check_length(text, min_length=field.min_length, max_length=field.max_length or TEXT_MAX_LENGTH)
    # RE2, linear time (profiling/patterns.py); a pattern it refuses is the operator's
    # mistake, not the customer's: it is ignored.
    if field.pattern and pattern_fullmatch(field.pattern, text) is False:
        raise FieldInvalid(
            "invalid_format",
            gettext("This answer isn't in the expected format. Please check it."),
        )
    if field.claim == "zoneinfo" and text not in _time_zones():
        # OIDC Core 5.1: a zoneinfo time zone name, e.g. America/Sao_Paulo.
        raise FieldInvalid(
            "invalid_format", gettext("Choose a time zone such as America/Sao_Paulo.")
        )
    if field.claim == "locale":
        # OIDC Core 5.1: a BCP 47 language tag, e.g. pt-BR.
        if not _LANGUAGE_TAG.fullmatch(text):
            raise FieldInvalid("invalid_format", gettext("Enter a language such as pt-BR or en."))
        text = text.replace("_", "-")
    if field.check_junk:
        _check_junk(text, name=field_is_name(field))
    return text


@functools.lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _normalise_email(field: ProfileField, raw: Any) -> str | None:
    text = _clean_text(_string(raw))
    if not text:
        return None
    if len(text) > EMAIL_MAX_LENGTH:
        raise _too_long(EMAIL_MAX_LENGTH)
    try:
        _email_validator(text)
    except ValidationError:
        raise FieldInvalid(
            "invalid_email",
            gettext("Enter your email address in full, e.g. maria@example.com."),
        ) from None
    local, _, domain = text.rpartition("@")
    # RFC 5321 2.4: the domain is case-insensitive, the local part may not be.
    return f"{local}@{domain.lower()}"


def _phone_message(region: str | None) -> str:
    """The invalid_phone message, with an example number of ``region``."""
    sample = None
    if region is not None and region != "BR":
        sample = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if region == "BR":
        example = "(11) 98765-4321"
    elif sample is not None:
        example = phonenumbers.format_number(sample, phonenumbers.PhoneNumberFormat.NATIONAL)
    else:
        return gettext(
            "Enter your mobile number with its country and area code, e.g. +55 11 98765-4321."
        )
    return gettext("Enter your mobile number with its area code, e.g. %(example)s.") % {
        "example": example
    }


def _normalise_phone(field: ProfileField, raw: Any) -> str | None:
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        raw = str(raw)  # A JSON client may send the digits as a number.
    text = _clean_text(_string(raw))
    if not text:
        return None
    region = (field.phone_region or "").strip().upper() or None
    if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
        region = None
    if len(text) > PHONE_MAX_LENGTH:
        raise FieldInvalid("invalid_phone", _phone_message(region))
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise FieldInvalid("invalid_phone", _phone_message(region)) from None
    if not phonenumbers.is_valid_number(number):
        raise FieldInvalid("invalid_phone", _phone_message(region))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _date_format(value: datetime.date) -> str:
    """``value`` as the customer types it back in the messages."""
    return value.strftime("%d/%m/%Y")


def _parse_date(text: str) -> datetime.date:
    iso = _ISO_DATE.fullmatch(text)
    brazilian = _BR_DATE.fullmatch(text)
    try:
        if iso:
            return datetime.date(int(iso[1]), int(iso[2]), int(iso[3]))
        if brazilian:
            return datetime.date(int(brazilian[3]), int(brazilian[2]), int(brazilian[1]))
    except ValueError:
        pass  # 31/02/2000: falls through to the message below.
    raise FieldInvalid("invalid_date", gettext("Enter a date as day/month/year, e.g. 25/12/1990."))


def _normalise_date(field: ProfileField, raw: Any) -> str | None:
    if isinstance(raw, datetime.date) and not isinstance(raw, datetime.datetime):
        value = raw
    else:
        text = _clean_text(_string(raw))
        if not text:
            return None
        value = _parse_date(text)
    earliest = field.min_date or EARLIEST_DATE
    if value < earliest:
        raise FieldInvalid(
            "date_too_early",
            gettext("Enter a date on or after %(date)s.") % {"date": _date_format(earliest)},
        )
    if field.max_date is not None:
        if value > field.max_date:
            raise FieldInvalid(
                "date_too_late",
                gettext("Enter a date on or before %(date)s.")
                % {"date": _date_format(field.max_date)},
            )
    elif value > timezone.localdate():
        raise FieldInvalid(
            "date_in_future", gettext("This date is in the future. Please check it.")
        )
    return value.isoformat()


def _choice_message() -> FieldInvalid:
    return FieldInvalid("invalid_choice", gettext("Please choose one of the options shown."))


def _choice_value(raw: Any) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)  # Choice values are strings; a JSON client may send 3 for "3".
    return _clean_text(_string(raw))


def _normalise_choice(field: ProfileField, raw: Any) -> str | None:
    value = _choice_value(raw)
    if not value:
        return None
    if value not in field.choice_values():
        raise _choice_message()
    return value


def _normalise_multi_choice(field: ProfileField, raw: Any) -> list[str] | None:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list):
        raise _invalid()
    chosen = {value for value in map(_choice_value, items) if value}
    if not chosen:
        return None
    allowed = field.choice_values()
    if not chosen.issubset(allowed):
        raise _choice_message()
    values = [value for value in dict.fromkeys(allowed) if value in chosen]
    if field.min_length and len(values) < field.min_length:
        raise FieldInvalid(
            "too_few_choices",
            ngettext(
                "Please choose at least %(count)d option.",
                "Please choose at least %(count)d options.",
                field.min_length,
            )
            % {"count": field.min_length},
        )
    if field.max_length and len(values) > field.max_length:
        raise FieldInvalid(
            "too_many_choices",
            ngettext(
                "Please choose at most %(count)d option.",
                "Please choose at most %(count)d options.",
                field.max_length,
            )
            % {"count": field.max_length},
        )
    return values


def _normalise_boolean(field: ProfileField, raw: Any) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    word = _clean_text(_string(raw)).casefold()
    if not word:
        return None
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise FieldInvalid("invalid_boolean", gettext("Please answer yes or no."))


def _number_message() -> FieldInvalid:
    return FieldInvalid("invalid_number", gettext("Enter a number, e.g. 12 or 1.5."))


def _parse_number(raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise _number_message()
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        return Decimal(repr(raw))  # The shortest decimal that reads back as this float.
    text = _clean_text(_string(raw)).replace(" ", "")
    if not _NUMBER.fullmatch(text):
        raise _number_message()
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise _number_message() from None


def _bound(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _number_text(value: Decimal) -> str:
    """``value`` as a customer reads it: no trailing zeros, the decimal separator of the
    active language ("1,5" in Portuguese, "1.5" in English)."""
    return format(value.normalize(), "f").replace(".", str(get_format("DECIMAL_SEPARATOR")))


def _normalise_number(field: ProfileField, raw: Any) -> int | float | None:
    if isinstance(raw, str) and not raw.strip():
        return None
    number = _parse_number(raw)
    if not number.is_finite() or abs(number) >= NUMBER_MAX_MAGNITUDE:
        raise _number_message()
    # The stored value is a JSON number: decide int or float on the float, so that a value
    # read back normalises to itself.
    as_float = float(number)
    value: int | float = int(as_float) if as_float.is_integer() else as_float
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    minimum, maximum = _bound(field.min_value), _bound(field.max_value)
    if minimum is not None and exact < minimum:
        raise FieldInvalid(
            "too_small",
            gettext("Enter a number of at least %(value)s.") % {"value": _number_text(minimum)},
        )
    if maximum is not None and exact > maximum:
        raise FieldInvalid(
            "too_large",
            gettext("Enter a number of at most %(value)s.") % {"value": _number_text(maximum)},
        )
    return value


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _normalise_cep(postal_code: str) -> str:
    """A Brazilian postal code (CEP) as ``01310-100``: 8 digits, with or without separators."""
    digits = "".join(c for c in postal_code if c.isdigit())
    if not _CEP.fullmatch(postal_code) or len(digits) != 8:
        raise FieldInvalid(
            "invalid_postal_code",
            gettext("Enter the postal code (CEP) with its 8 digits, e.g. 01310-100."),
        )
    return f"{digits[:5]}-{digits[5:]}"


def _normalise_address(field: ProfileField, raw: Any) -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _invalid()
    if any(part not in ADDRESS_PARTS for part in raw):
        raise FieldInvalid(
            "unknown_part",
            gettext("This address has a part that can't be used. Please type it again."),
        )
    address: dict[str, str] = {}
    for part in ADDRESS_PARTS:
        value = raw.get(part)
        if value is None:
            continue
        text = _clean_text(_string(value))
        if not text:
            continue
        _check_length(text, min_length=None, max_length=ADDRESS_PART_MAX_LENGTH)
        address[part] = text
    if not address:
        return None
    if "postal_code" in address and _fold(address.get("country", "")) in _BRAZIL:
        address["postal_code"] = _normalise_cep(address["postal_code"])
    if field.check_junk:
        for part in ("street_address", "locality"):
            if part in address:
                _check_junk(address[part], name=False)
    return address


def _normalise_document(field: ProfileField, raw: Any) -> str | None:
    text = _clean_text(_string(raw))
    if not text:
        return None
    kind = field.document_kind or DocumentKind.BR_CPF_OR_CNPJ
    if kind == DocumentKind.BR_CPF_OR_CNPJ:
        kind = DocumentKind.BR_CPF if len(cnpj.compact(text)) == 11 else DocumentKind.BR_CNPJ
        message = gettext(
            "This CPF or CNPJ isn't valid. Please check its digits (11 for a CPF, 14 for a CNPJ)."
        )
    elif kind == DocumentKind.BR_CPF:
        message = gettext("This CPF isn't valid. Please check its 11 digits.")
    else:
        message = gettext("This CNPJ isn't valid. Please check its 14 characters.")
    module = cpf if kind == DocumentKind.BR_CPF else cnpj
    try:
        return str(module.validate(text))
    except (DocumentError, ValueError):
        raise FieldInvalid("invalid_document", message) from None


def _normalise_url(field: ProfileField, raw: Any) -> str | None:
    text = _clean_text(_string(raw))
    if not text:
        return None
    if not _HAS_SCHEME.match(text):
        text = f"https://{text}"  # "www.example.com" is typed more often than its scheme.
    if len(text) > URL_MAX_LENGTH:
        raise _too_long(URL_MAX_LENGTH)
    message = gettext("Enter a web address, e.g. https://www.example.com.")
    try:
        _url_validator(text)
        has_credentials = urlsplit(text).username is not None
    except (ValidationError, ValueError):
        raise FieldInvalid("invalid_url", message) from None
    if has_credentials:
        # A user name and password in a profile link is a phishing pattern, never needed.
        raise FieldInvalid("invalid_url", message)
    return text


_NORMALISERS: dict[str, Callable[[ProfileField, Any], Any]] = {
    FieldType.TEXT: _normalise_text,
    FieldType.EMAIL: _normalise_email,
    FieldType.PHONE: _normalise_phone,
    FieldType.DATE: _normalise_date,
    FieldType.CHOICE: _normalise_choice,
    FieldType.MULTI_CHOICE: _normalise_multi_choice,
    FieldType.BOOLEAN: _normalise_boolean,
    FieldType.NUMBER: _normalise_number,
    FieldType.ADDRESS: _normalise_address,
    FieldType.DOCUMENT: _normalise_document,
    FieldType.URL: _normalise_url,
}


def value_normalise(field: ProfileField, raw: Any) -> Any:
    """The value of ``field`` that ``raw`` stands for, ready to store (JSON-serialisable), or
    None when ``raw`` is empty (no value); raises ``FieldInvalid`` when it is refused.

    Per type: text (trimmed, NFC, lengths, pattern, junk), email (domain in lower case),
    phone (E.164, ``+5511987654321``), date (ISO ``YYYY-MM-DD``), choice (the value),
    multi_choice (the values in the order of the choices), boolean, number (int when
    integral, else float), address (a dict of ``ADDRESS_PARTS``, CEP as ``01310-100``),
    document (CPF or CNPJ compact) and url (http or https).
    """
    if raw is None:
        return None
    normaliser = _NORMALISERS.get(field.type)
    if normaliser is None:
        raise _invalid()
    return normaliser(field, raw)
