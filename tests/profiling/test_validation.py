"""Validation and normalisation of profile values (profiling/validation.py), per field type.

Fields are built in memory: the functions never touch the database.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation
from hypothesis import given, settings
from hypothesis import strategies as st

from profiling.models import DocumentKind, FieldType, ProfileField
from profiling.validation import (
    ADDRESS_PARTS,
    FieldInvalid,
    FieldJunk,
    field_is_name,
    value_normalise,
)

FAST = settings(max_examples=200, deadline=None)

CHOICES = [
    {"value": "modern", "label_en": "Modern", "label_pt_br": "Moderno"},
    {"value": "rustic", "label_en": "Rustic", "label_pt_br": "Rústico"},
    {"value": "classic", "label_en": "Classic", "label_pt_br": "Clássico"},
    {"value": "3", "label_en": "Three", "label_pt_br": "Três"},
]

VALID_CPF = "111.444.777-35"
VALID_CNPJ = "16.727.230/0001-97"
VALID_ALPHANUMERIC_CNPJ = "12.ABC.345/01DE-35"


def make_field(type: str, key: str = "answer", **options: Any) -> ProfileField:
    """A field of the schema, in memory."""
    if type in (FieldType.CHOICE, FieldType.MULTI_CHOICE):
        options.setdefault("choices", CHOICES)
    if type == FieldType.DOCUMENT:
        options.setdefault("document_kind", DocumentKind.BR_CPF)
    return ProfileField(key=key, type=type, label_en=key, **options)


def refused(field: ProfileField, raw: Any) -> FieldInvalid:
    with pytest.raises(FieldInvalid) as caught:
        value_normalise(field, raw)
    assert caught.value.message
    assert str(caught.value) == caught.value.message
    return caught.value


# Every field type, with the options that change its rules.
ALL_FIELDS = [
    make_field(FieldType.TEXT),
    make_field(FieldType.TEXT, key="given_name"),
    make_field(FieldType.TEXT, key="code", pattern=r"[A-Z]{2}\d+", min_length=3, max_length=9),
    make_field(FieldType.EMAIL),
    make_field(FieldType.PHONE),
    make_field(FieldType.PHONE, phone_region=""),
    make_field(FieldType.DATE),
    make_field(
        FieldType.DATE, min_date=datetime.date(1800, 1, 1), max_date=datetime.date(2100, 1, 1)
    ),
    make_field(FieldType.CHOICE),
    make_field(FieldType.MULTI_CHOICE),
    make_field(FieldType.MULTI_CHOICE, min_length=1, max_length=2),
    make_field(FieldType.BOOLEAN),
    make_field(FieldType.NUMBER),
    make_field(FieldType.NUMBER, min_value=Decimal("-10.5"), max_value=Decimal("1000")),
    make_field(FieldType.ADDRESS),
    make_field(FieldType.DOCUMENT, document_kind=DocumentKind.BR_CPF),
    make_field(FieldType.DOCUMENT, document_kind=DocumentKind.BR_CNPJ),
    make_field(FieldType.DOCUMENT, document_kind=DocumentKind.BR_CPF_OR_CNPJ),
    make_field(FieldType.URL),
]


# -- Every type ----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ALL_FIELDS, ids=lambda f: f"{f.type}-{f.key}")
def test_none_is_no_value(field: ProfileField) -> None:
    """None is "no value" for every type."""
    assert value_normalise(field, None) is None


@pytest.mark.parametrize(
    "field",
    [f for f in ALL_FIELDS if f.type != FieldType.ADDRESS],
    ids=lambda f: f"{f.type}-{f.key}",
)
@pytest.mark.parametrize("raw", ["", "   ", "\n\t"])
def test_empty_string_is_no_value(field: ProfileField, raw: str) -> None:
    """An empty or blank form input is "no value" for every type a form sends as a string."""
    assert value_normalise(field, raw) is None


@pytest.mark.parametrize(
    ("type", "raw"),
    [
        (FieldType.TEXT, {"a": "b"}),
        (FieldType.TEXT, ["Maria"]),
        (FieldType.TEXT, 42),
        (FieldType.TEXT, True),
        (FieldType.EMAIL, ["a@example.com"]),
        (FieldType.PHONE, {"number": "11987654321"}),
        (FieldType.PHONE, 3.5),
        (FieldType.DATE, ["1990-01-01"]),
        (FieldType.DATE, 19900101),
        (FieldType.CHOICE, ["modern"]),
        (FieldType.CHOICE, True),
        (FieldType.MULTI_CHOICE, {"modern": True}),
        (FieldType.MULTI_CHOICE, [["modern"]]),
        (FieldType.MULTI_CHOICE, 7),
        (FieldType.BOOLEAN, []),
        (FieldType.BOOLEAN, 2),
        (FieldType.NUMBER, [1]),
        (FieldType.NUMBER, {"value": 1}),
        (FieldType.ADDRESS, "Rua Augusta 1500"),
        (FieldType.ADDRESS, ["Rua Augusta 1500"]),
        (FieldType.ADDRESS, {"locality": ["São Paulo"]}),
        (FieldType.ADDRESS, {"postal_code": 1310100}),
        (FieldType.DOCUMENT, 11144477735),
        (FieldType.URL, {"href": "https://example.com"}),
    ],
)
def test_wrong_json_types_are_refused(type: str, raw: Any) -> None:
    """A value of the wrong JSON type is refused with a FieldInvalid (code "invalid" or the
    type's own code), never another exception."""
    error = refused(make_field(type), raw)
    assert error.code in {"invalid", "invalid_number", "invalid_boolean", "invalid_phone"}


def test_unknown_field_type_is_refused() -> None:
    """A field of a type the schema doesn't know refuses every value rather than storing it."""
    assert refused(make_field("colour"), "red").code == "invalid"


def test_errors_carry_code_and_message() -> None:
    """FieldInvalid carries a machine code and the customer's message; FieldJunk its reason."""
    error = FieldInvalid("too_long", "Too long.")
    assert (error.code, error.message, str(error)) == ("too_long", "Too long.", "Too long.")
    junk = FieldJunk("keyboard_run")
    assert isinstance(junk, FieldInvalid)
    assert (junk.code, junk.reason) == ("junk", "keyboard_run")
    assert "skip this question" in junk.message


# -- Text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Maria  ", "Maria"),
        ("Maria \n  da\t Graça", "Maria da Graça"),
        ("Jose\u0301", "José"),  # Decomposed accent: stored composed (NFC).
        ("Apartamento\u00a0pequeno", "Apartamento pequeno"),
        ("Sofá 😀", "Sofá 😀"),
    ],
)
def test_text_is_trimmed_collapsed_and_composed(raw: str, expected: str) -> None:
    """Text is trimmed, inner whitespace made single spaces, and stored in Unicode NFC."""
    assert value_normalise(make_field(FieldType.TEXT), raw) == expected


@pytest.mark.parametrize("raw", ["Ma\x00ria", "a\x07b", "abc\u202etxt.exe", "\ud800x"])
def test_text_refuses_control_characters(raw: str) -> None:
    """Control characters, lone surrogates and bidirectional overrides are refused."""
    assert refused(make_field(FieldType.TEXT), raw).code == "invalid_characters"


def test_text_lengths() -> None:
    """Text is at most 500 characters by default, else between the field's bounds."""
    assert refused(make_field(FieldType.TEXT), "ab " * 200).code == "too_long"
    assert value_normalise(make_field(FieldType.TEXT, check_junk=False), "b" * 500) == "b" * 500
    bounded = make_field(FieldType.TEXT, min_length=3, max_length=5)
    assert refused(bounded, "Jo").code == "too_short"
    assert refused(bounded, "Joaquim").code == "too_long"
    assert value_normalise(bounded, " Lia ") == "Lia"
    assert refused(make_field(FieldType.TEXT, max_length=1), "Li").message == (
        "Please use at most 1 character."
    )


def test_text_pattern_must_match_whole_value() -> None:
    """The field's pattern must match the whole normalised value."""
    field = make_field(FieldType.TEXT, pattern=r"[A-Z]{2}\d{3}")
    assert value_normalise(field, " AB123 ") == "AB123"
    assert refused(field, "AB1234").code == "invalid_format"
    assert refused(field, "xAB123").code == "invalid_format"


def test_text_broken_pattern_is_ignored() -> None:
    """A pattern that is not a valid regular expression is treated as no pattern."""
    assert value_normalise(make_field(FieldType.TEXT, pattern="([a-z"), "Lia") == "Lia"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("asdf", "keyboard_run"),
        ("test test", "repeated_words"),
        ("aaaa", "repeated_characters"),
        ("não sei", "placeholder"),
    ],
)
def test_text_junk_is_refused_politely(raw: str, reason: str) -> None:
    """Junk text is refused with code "junk", its reason, and a message offering to skip."""
    error = refused(make_field(FieldType.TEXT), raw)
    assert isinstance(error, FieldJunk)
    assert (error.code, error.reason) == ("junk", reason)
    assert "skip" in error.message


def test_text_junk_check_can_be_turned_off() -> None:
    """A field with check_junk off stores "asdf" as typed."""
    assert value_normalise(make_field(FieldType.TEXT, check_junk=False), "asdf") == "asdf"


@pytest.mark.parametrize(
    ("key", "claim", "is_name"),
    [
        ("given_name", "", True),
        ("family_name", "", True),
        ("middle_name", "", True),
        ("nickname", "", True),
        ("name", "", True),
        ("pet_name", "", True),
        ("first", "given_name", True),
        ("style", "https://example.com/style", False),
        ("username", "preferred_username", False),
        ("city", "", False),
    ],
)
def test_name_fields(key: str, claim: str, is_name: bool) -> None:
    """A field is a name by its key or its claim: the OIDC name claims, or "*_name"."""
    field = make_field(FieldType.TEXT, key=key, claim=claim)
    assert field_is_name(field) is is_name


def test_name_fields_refuse_digits() -> None:
    """A name with digits is junk; the same answer is fine for another text field."""
    error = refused(make_field(FieldType.TEXT, key="given_name"), "Maria2")
    assert isinstance(error, FieldJunk)
    assert error.reason == "digits_in_name"
    assert value_normalise(make_field(FieldType.TEXT, key="apartment"), "Maria2") == "Maria2"


@pytest.mark.parametrize("name", ["Li", "Ng", "Anne-Marie", "O'Brien", "D'Ávila", "Nguyễn", "Na"])
def test_real_names_are_stored(name: str) -> None:
    """Short, accented and hyphenated real names pass a name field."""
    assert value_normalise(make_field(FieldType.TEXT, key="family_name"), name) == name


# -- Email ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("maria@example.com", "maria@example.com"),
        ("  Maria.Silva@Example.COM.BR ", "Maria.Silva@example.com.br"),
        ("a+shop@sub.example.org", "a+shop@sub.example.org"),
    ],
)
def test_email_domain_lower_cased(raw: str, expected: str) -> None:
    """An email address is trimmed and its domain lower-cased (the local part is kept)."""
    assert value_normalise(make_field(FieldType.EMAIL), raw) == expected


@pytest.mark.parametrize(
    "raw", ["maria", "maria@", "@example.com", "maria@example", "ma ria@example.com", "a@b@c.com"]
)
def test_email_malformed(raw: str) -> None:
    """A malformed email address is refused with an example."""
    error = refused(make_field(FieldType.EMAIL), raw)
    assert error.code == "invalid_email"
    assert "@" in error.message


def test_email_too_long() -> None:
    """An email address is at most 254 characters."""
    raw = "a" * 60 + "@" + ".".join(["b" * 60] * 4) + ".com"
    assert refused(make_field(FieldType.EMAIL), raw).code == "too_long"


# -- Phone ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(11) 98765-4321", "+5511987654321"),
        ("11 98765 4321", "+5511987654321"),
        ("11987654321", "+5511987654321"),
        ("+55 11 98765-4321", "+5511987654321"),
        ("0xx11 98765-4321", "+5511987654321"),
        ("+5511987654321", "+5511987654321"),
        ("+44 20 7946 0958", "+442079460958"),
        (11987654321, "+5511987654321"),
    ],
)
def test_phone_to_e164(raw: Any, expected: str) -> None:
    """Phone numbers, national (Brazil by default) or international, are stored in E.164."""
    assert value_normalise(make_field(FieldType.PHONE), raw) == expected


@pytest.mark.parametrize(
    "raw", ["98765-4321", "12345", "abc", "+55 11 1234", "(00) 98765-4321", "1" * 80, "-5"]
)
def test_phone_malformed(raw: str) -> None:
    """A number that is not a valid phone number is refused with a hint about the area code."""
    error = refused(make_field(FieldType.PHONE), raw)
    assert error.code == "invalid_phone"
    assert "area code" in error.message
    assert "(11) 98765-4321" in error.message


def test_phone_region_of_the_field() -> None:
    """National numbers are read in the field's region; without a region, + is needed."""
    assert value_normalise(make_field(FieldType.PHONE, phone_region="US"), "(201) 555-0123") == (
        "+12015550123"
    )
    no_region = make_field(FieldType.PHONE, phone_region="")
    assert value_normalise(no_region, "+55 11 98765-4321") == "+5511987654321"
    error = refused(no_region, "(11) 98765-4321")
    assert "country" in error.message
    assert refused(make_field(FieldType.PHONE, phone_region="ZZ"), "987").code == "invalid_phone"


# -- Date ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1990-12-25", "1990-12-25"),
        ("25/12/1990", "1990-12-25"),
        ("5/1/1990", "1990-01-05"),
        (" 29/02/2000 ", "2000-02-29"),
        (datetime.date(1990, 12, 25), "1990-12-25"),
    ],
)
def test_date_iso_or_brazilian(raw: Any, expected: str) -> None:
    """Dates are accepted as YYYY-MM-DD or DD/MM/YYYY and stored in ISO 8601."""
    assert value_normalise(make_field(FieldType.DATE), raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["31/02/2020", "2020-13-01", "12/25/1990", "1990/12/25", "25-12-1990", "yesterday", "1990"],
)
def test_date_malformed(raw: str) -> None:
    """A date that doesn't exist or in another format is refused with an example."""
    error = refused(make_field(FieldType.DATE), raw)
    assert error.code == "invalid_date"
    assert "25/12/1990" in error.message


def test_date_in_future_refused_without_latest_date() -> None:
    """Without a latest date (birthdates), a date in the future is refused; today is fine."""
    today = timezone.localdate()
    field = make_field(FieldType.DATE)
    assert value_normalise(field, today.isoformat()) == today.isoformat()
    tomorrow = today + datetime.timedelta(days=1)
    assert refused(field, tomorrow.isoformat()).code == "date_in_future"


def test_date_bounds() -> None:
    """A date before 1900 is refused unless the earliest date allows it; the latest date
    replaces the "not in the future" rule."""
    assert refused(make_field(FieldType.DATE), "31/12/1899").code == "date_too_early"
    old = make_field(FieldType.DATE, min_date=datetime.date(1850, 1, 1))
    assert value_normalise(old, "1880-05-01") == "1880-05-01"
    assert refused(old, "1849-12-31").code == "date_too_early"
    window = make_field(
        FieldType.DATE, min_date=datetime.date(2020, 1, 1), max_date=datetime.date(2999, 1, 1)
    )
    assert value_normalise(window, "2500-01-01") == "2500-01-01"
    error = refused(window, "2019-12-31")
    assert (error.code, "01/01/2020" in error.message) == ("date_too_early", True)
    assert refused(window, "2999-01-02").code == "date_too_late"


# -- Choices -------------------------------------------------------------------------------


def test_choice() -> None:
    """A choice must be one of the field's values."""
    field = make_field(FieldType.CHOICE)
    assert value_normalise(field, " rustic ") == "rustic"
    assert value_normalise(field, 3) == "3"
    assert refused(field, "Rustic").code == "invalid_choice"
    assert refused(field, "other").code == "invalid_choice"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["classic", "modern"], ["modern", "classic"]),
        (["rustic", "rustic", "modern"], ["modern", "rustic"]),
        ("classic", ["classic"]),
        (["", "rustic"], ["rustic"]),
        ([], None),
        ([""], None),
    ],
)
def test_multi_choice(raw: Any, expected: Any) -> None:
    """Several choices are de-duplicated and stored in the order of the choices; none is
    no value."""
    assert value_normalise(make_field(FieldType.MULTI_CHOICE), raw) == expected


def test_multi_choice_refusals() -> None:
    """An unknown value is refused, and so is a count outside the field's bounds."""
    field = make_field(FieldType.MULTI_CHOICE, min_length=2, max_length=3)
    assert refused(field, ["modern", "other"]).code == "invalid_choice"
    assert refused(field, ["modern"]).code == "too_few_choices"
    assert refused(field, ["modern", "rustic", "classic", "3"]).code == "too_many_choices"
    assert value_normalise(field, ["3", "modern"]) == ["modern", "3"]


# -- Boolean -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("on", True),
        ("true", True),
        ("True", True),
        ("1", True),
        ("yes", True),
        ("sim", True),
        ("Sim", True),
        (True, True),
        (1, True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("nao", False),
        ("não", False),
        ("NÃO", False),
        (False, False),
        (0, False),
        ("", None),
    ],
)
def test_boolean(raw: Any, expected: bool | None) -> None:
    """Form and JSON yes/no values, English and Portuguese, become True or False."""
    assert value_normalise(make_field(FieldType.BOOLEAN), raw) is expected


@pytest.mark.parametrize("raw", ["maybe", "talvez", "2", "yes please"])
def test_boolean_malformed(raw: str) -> None:
    """Anything else is refused."""
    assert refused(make_field(FieldType.BOOLEAN), raw).code == "invalid_boolean"


# -- Number --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", 12),
        (" 1,5 ", 1.5),
        ("1.5", 1.5),
        ("-3", -3),
        ("+3", 3),
        ("2.0", 2),
        (",5", 0.5),
        ("1e3", 1000),
        (7, 7),
        (2.5, 2.5),
        (4.0, 4),
        ("0.1", 0.1),
    ],
)
def test_number(raw: Any, expected: int | float) -> None:
    """Numbers (a decimal comma too) are stored as an int when integral, else a float."""
    value = value_normalise(make_field(FieldType.NUMBER), raw)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "1.2.3",
        "1,234.5",
        "NaN",
        "nan",
        "inf",
        "Infinity",
        "1e999",
        "1e16",
        "١٢",
        "12 kg",
        float("nan"),
        float("inf"),
        10**20,
        True,
    ],
)
def test_number_malformed(raw: Any) -> None:
    """Non-numbers, infinities and absurdly large numbers are refused with an example."""
    error = refused(make_field(FieldType.NUMBER), raw)
    assert error.code == "invalid_number"
    assert "12" in error.message


def test_number_bounds() -> None:
    """The field's minimum and maximum are inclusive bounds."""
    field = make_field(FieldType.NUMBER, min_value=Decimal("1.5"), max_value=Decimal("10.000000"))
    assert value_normalise(field, "1,5") == 1.5
    assert value_normalise(field, 10) == 10
    low = refused(field, "1.4")
    assert (low.code, "1.5" in low.message) == ("too_small", True)
    high = refused(field, "10.01")
    assert (high.code, "10" in high.message, "10.0" in high.message) == ("too_large", True, False)


def test_number_bounds_in_the_customers_language() -> None:
    """A bound in a message uses the decimal separator of the customer's language."""
    field = make_field(FieldType.NUMBER, min_value=Decimal("1.5"))
    with translation.override("pt-br"):
        assert "1,5" in refused(field, "1").message
    with translation.override("en"):
        assert "1.5" in refused(field, "1").message


# -- Address -------------------------------------------------------------------------------


def test_address_normalised() -> None:
    """An address keeps its known parts, trimmed, in a fixed order; a Brazilian CEP is
    written 01310-100."""
    raw = {
        "country": "Brasil",
        "postal_code": "01310100",
        "locality": "  São   Paulo ",
        "street_address": "Av. Paulista, 1578",
        "region": "",
    }
    assert value_normalise(make_field(FieldType.ADDRESS), raw) == {
        "street_address": "Av. Paulista, 1578",
        "locality": "São Paulo",
        "postal_code": "01310-100",
        "country": "Brasil",
    }


@pytest.mark.parametrize("raw", [{}, {"street_address": "", "locality": "   "}, {"country": None}])
def test_address_empty_is_no_value(raw: dict[str, Any]) -> None:
    """An address with every part empty is no value."""
    assert value_normalise(make_field(FieldType.ADDRESS), raw) is None


@pytest.mark.parametrize(
    ("country", "postal_code", "expected"),
    [
        ("", "01310-100", "01310-100"),
        ("BR", "01.310-100", "01310-100"),
        ("Brazil", " 01310 100 ", "01310-100"),
        ("brasil", "01310100", "01310-100"),
        ("PT", "1000-001", "1000-001"),
        ("US", "94103", "94103"),
    ],
)
def test_address_postal_code(country: str, postal_code: str, expected: str) -> None:
    """A CEP (Brazil or no country) becomes 8 digits as 01310-100; other countries' codes are
    kept as typed."""
    raw = {"postal_code": postal_code, "country": country}
    assert value_normalise(make_field(FieldType.ADDRESS), raw)["postal_code"] == expected


@pytest.mark.parametrize("postal_code", ["0131010", "013101000", "CEP 01310-100", "01310-10a"])
def test_address_bad_cep(postal_code: str) -> None:
    """A Brazilian CEP without exactly 8 digits is refused with an example."""
    error = refused(make_field(FieldType.ADDRESS), {"postal_code": postal_code})
    assert error.code == "invalid_postal_code"
    assert "01310-100" in error.message


def test_address_refusals() -> None:
    """Unknown parts, overlong parts and junk street or city are refused."""
    field = make_field(FieldType.ADDRESS)
    assert refused(field, {"street_address": "Rua A", "formatted": "x"}).code == "unknown_part"
    assert refused(field, {"locality": "São Paulo " * 25}).code == "too_long"
    street = refused(field, {"street_address": "asdf"})
    assert isinstance(street, FieldJunk)
    assert street.reason == "keyboard_run"
    city = refused(field, {"locality": "teste"})
    assert isinstance(city, FieldJunk)
    assert value_normalise(field, {"street_address": "Rua Augusta 1234"}) == {
        "street_address": "Rua Augusta 1234"
    }


# -- Document ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        (DocumentKind.BR_CPF, VALID_CPF, "11144477735"),
        (DocumentKind.BR_CPF, " 11144477735 ", "11144477735"),
        (DocumentKind.BR_CNPJ, VALID_CNPJ, "16727230000197"),
        (DocumentKind.BR_CNPJ, VALID_ALPHANUMERIC_CNPJ, "12ABC34501DE35"),
        (DocumentKind.BR_CPF_OR_CNPJ, VALID_CPF, "11144477735"),
        (DocumentKind.BR_CPF_OR_CNPJ, VALID_CNPJ, "16727230000197"),
        ("", VALID_CPF, "11144477735"),
    ],
)
def test_document(kind: str, raw: str, expected: str) -> None:
    """CPF and CNPJ are checked (check digits) and stored compact; CPF-or-CNPJ chooses by
    length."""
    field = make_field(FieldType.DOCUMENT, document_kind=kind)
    assert value_normalise(field, raw) == expected


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (DocumentKind.BR_CPF, "111.444.777-36"),
        (DocumentKind.BR_CPF, "000.000.000-00"),
        (DocumentKind.BR_CPF, "123"),
        (DocumentKind.BR_CPF, VALID_CNPJ),
        (DocumentKind.BR_CPF, "CPF 11144477735"),
        (DocumentKind.BR_CNPJ, "16.727.230/0001-98"),
        (DocumentKind.BR_CNPJ, VALID_CPF),
        (DocumentKind.BR_CPF_OR_CNPJ, "1234567890123"),
        (DocumentKind.BR_CPF_OR_CNPJ, "111.444.777-00"),
    ],
)
def test_document_malformed(kind: str, raw: str) -> None:
    """A document with a wrong check digit, length or characters is refused."""
    field = make_field(FieldType.DOCUMENT, document_kind=kind)
    assert refused(field, raw).code == "invalid_document"


# -- URL -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.example.com/loja", "https://www.example.com/loja"),
        ("http://example.com", "http://example.com"),
        ("www.loja.com.br", "https://www.loja.com.br"),
        (" instagram.com/maria ", "https://instagram.com/maria"),
    ],
)
def test_url(raw: str, expected: str) -> None:
    """Web addresses are http or https; one typed without a scheme gets https."""
    assert value_normalise(make_field(FieldType.URL), raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "ftp://example.com/file",
        "javascript:alert(1)",
        "data:text/html,hi",
        "https://",
        "https://user:secret@example.com/",
        "not a url",
        "https://example.com/" + "a" * 500,
    ],
)
def test_url_malformed(raw: str) -> None:
    """Other schemes, credentials in the address, malformed and overlong addresses are refused."""
    assert refused(make_field(FieldType.URL), raw).code in {"invalid_url", "too_long"}


# -- Properties ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["", "on", "1,5", "25/12/1990", VALID_CPF, "modern", "+5511987654321"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=10), children, max_size=4)
        | st.dictionaries(st.sampled_from(ADDRESS_PARTS), children, max_size=5)
    ),
    max_leaves=12,
)


@FAST
@given(raw=json_values, field=st.sampled_from(ALL_FIELDS))
def test_property_only_field_invalid_for_any_json(raw: Any, field: ProfileField) -> None:
    """Any JSON value on any field gives a JSON-serialisable value or a FieldInvalid with a
    code and a message: nothing else is ever raised."""
    try:
        outcome: Any = value_normalise(field, raw)
    except FieldInvalid as error:
        outcome = error
    if isinstance(outcome, FieldInvalid):
        assert outcome.code
        assert outcome.message
    else:
        json.dumps(outcome, allow_nan=False)


digits = st.text(alphabet="0123456789", min_size=1, max_size=14)
separated_digits = st.text(alphabet="0123456789 .-/()+", min_size=1, max_size=20)
plausible_values = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="abcdeáéçAB 12\n\t-'", max_size=30),
    separated_digits,
    st.builds(lambda d, m, y: f"{d}/{m}/{y}", st.integers(0, 32), st.integers(0, 13), digits),
    st.dates().map(datetime.date.isoformat),
    st.emails(),
    st.from_regex(r"(https?://)?[a-z]{1,8}\.(com|com\.br|org)(/[a-z0-9]{0,5})?", fullmatch=True),
    st.lists(st.sampled_from([c["value"] for c in CHOICES] + [""]), max_size=5),
    st.integers(-(10**16), 10**16),
    st.floats(allow_nan=False, allow_infinity=False),
    st.builds(lambda a, b: f"{a},{b}", st.integers(-999, 999), st.integers(0, 999)),
    st.dictionaries(st.sampled_from(ADDRESS_PARTS), st.text(max_size=20) | digits, max_size=5),
    st.sampled_from([VALID_CPF, VALID_CNPJ, VALID_ALPHANUMERIC_CNPJ, "on", "não", "sim"]),
)


@FAST
@given(raw=plausible_values, field=st.sampled_from(ALL_FIELDS))
def test_property_normalisation_is_idempotent(raw: Any, field: ProfileField) -> None:
    """A normalised value normalises to itself: stored values can be checked again."""
    try:
        value = value_normalise(field, raw)
    except FieldInvalid:
        return  # Refused values have nothing to normalise again.
    assert value_normalise(field, value) == value


@FAST
@given(
    value=st.one_of(
        st.integers(-(10**12), 10**12),
        st.floats(min_value=-1e12, max_value=1e12),
        st.decimals(min_value=-(10**12), max_value=10**12, places=3),
    )
)
def test_property_numbers_round_trip(value: Any) -> None:
    """A number normalises to a JSON number equal (as a float) to the one typed, and its
    text form with a decimal comma reads the same."""
    field = make_field(FieldType.NUMBER)
    normalised = value_normalise(field, value if not isinstance(value, Decimal) else str(value))
    assert float(normalised) == float(value)
    as_text = str(Decimal(repr(normalised)) if isinstance(normalised, float) else normalised)
    assert value_normalise(field, as_text.replace(".", ",")) == normalised


def test_pattern_runs_in_linear_time() -> None:
    """A pattern that backtracks exponentially in Python's engine (nested quantifiers) is
    run by RE2: a long crafted answer is refused at once, not after minutes."""
    field = make_field(FieldType.TEXT, pattern=r"([a-z]+)+", max_length=5000, check_junk=False)
    with pytest.raises(FieldInvalid) as refused:
        value_normalise(field, "a" * 4000 + "1")
    assert refused.value.code == "invalid_format"
    assert value_normalise(field, "abc") == "abc"


def test_pattern_with_back_reference_is_ignored() -> None:
    """RE2 refuses back-references: such a pattern is ignored (the admin form refuses it)."""
    assert value_normalise(make_field(FieldType.TEXT, pattern=r"(a)\1"), "Lia") == "Lia"


@pytest.mark.parametrize(
    ("claim", "raw", "expected"),
    [
        ("zoneinfo", "America/Sao_Paulo", "America/Sao_Paulo"),
        ("zoneinfo", "Mars/Olympus", None),
        ("locale", "pt-BR", "pt-BR"),
        ("locale", "pt_BR", "pt-BR"),
        ("locale", "Portuguese please", None),
    ],
)
def test_zoneinfo_and_locale_follow_oidc_formats(claim, raw, expected) -> None:
    """OIDC Core 5.1: zoneinfo is a time zone database name, locale a BCP 47 tag."""
    field = make_field(FieldType.TEXT, key=claim, claim=claim, check_junk=False)
    if expected is None:
        assert refused(field, raw).code == "invalid_format"
    else:
        assert value_normalise(field, raw) == expected
