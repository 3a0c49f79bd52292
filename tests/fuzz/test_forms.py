"""Fuzzing the hosted forms: sign-in, sign-up, email verification, password reset and
change, email sign-in by code, re-authentication, the account portal's forms and the
language switcher, anonymous and signed in, with valid CSRF tokens (so the input reaches
the form) and with form bodies of every encoding and declared charset.

Whatever arrives, no answer is a 5xx, no redirect (``next``!) leaves the site, and no page
shows an input unescaped (tests/fuzz/harness.py). Each test is bounded by its number of
examples and takes well under a minute on one core.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.factories import PASSWORD

from .conftest import FORM, World, budget
from .harness import Browser
from .strategies import (
    encoded,
    form_content_type,
    hostile,
    hostile_email,
    marker,
)

pytestmark = pytest.mark.long

# Passwords from a short list (each new one costs an Argon2 hash), now and then a hostile one.
_KNOWN_PASSWORDS = st.sampled_from([PASSWORD, "Another-pass-123", "x", ""])
PASSWORDS = st.one_of(_KNOWN_PASSWORDS, _KNOWN_PASSWORDS, _KNOWN_PASSWORDS, hostile())
NEXT = st.one_of(
    st.sampled_from(
        [
            "/",
            "/account/security/",
            "/authorize?client_id=x",
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "/\t/evil.example",
            "https:evil.example",
            "http://localhost@evil.example/",
            "javascript:x_fuzz(1)",
            "/%2F%2Fevil.example",
            " //evil.example",
            "\\\\evil.example",
        ]
    ),
    hostile(),
)
CODE = st.one_of(st.sampled_from(["123456", "000000", "123 456", "12345678", "abcdef"]), hostile())
URLS = st.one_of(
    st.sampled_from(
        [
            "https://shop.example/me.png",
            "javascript:x_fuzz(1)",
            "data:text/html,x",
            "https://evil.example/",
            "//evil.example",
        ]
    ),
    hostile(),
)


def field_values() -> dict[str, st.SearchStrategy[str]]:
    return {
        "login": hostile_email(),
        "email": hostile_email(),
        "password": PASSWORDS,
        "password1": PASSWORDS,
        "password2": PASSWORDS,
        "oldpassword": st.sampled_from(["wrong-old-password", ""]),
        "remember": st.sampled_from(["on", "", "1"]),
        "next": NEXT,
        "code": CODE,
        "language": st.one_of(st.sampled_from(["pt-br", "en", "xx", "PT-BR", ""]), hostile()),
        "phone": st.one_of(st.sampled_from(["+5511999999999", "11999999999", "+1"]), hostile()),
        "action": st.one_of(
            st.sampled_from(["send", "verify", "remove", "grant", "withdraw", "code", "password"]),
            hostile(),
        ),
        "action_add": st.just(""),
        "action_send": st.just(""),
        "action_primary": st.just(""),
        "action_remove": st.just(""),
        "birthdate": st.one_of(
            st.sampled_from(["2000-01-31", "0000-00-00", "9999-12-31", "2000-02-30", "31/01/2000"]),
            hostile(),
        ),
        "website": URLS,
        "picture": URLS,
        "zoneinfo": st.one_of(
            st.sampled_from(["America/Sao_Paulo", "Mars/Base", "../../x"]), hostile()
        ),
        "locale": st.one_of(st.sampled_from(["pt-BR", "en", "xx_YY"]), hostile()),
        "gender": st.one_of(st.sampled_from(["female", "male", "other"]), hostile()),
        "decision": st.sampled_from(["allow", "deny", ""]),
        "purpose": st.one_of(st.sampled_from(["terms", "newsletter", "analytics"]), hostile()),
        "client_id": hostile(),
        "kind": st.one_of(st.sampled_from(["brand", "category", "item"]), hostile()),
        "name": hostile(),
        "sign_out_other_sessions": st.sampled_from(["on", ""]),
    }


# path, fields, who may post it ("anonymous", "signed_in", "both")
FORMS = [
    ("/accounts/login/", ["login", "password", "remember", "next"], "anonymous"),
    ("/accounts/signup/", ["email", "password1", "next"], "anonymous"),
    ("/accounts/password/reset/", ["email", "next"], "both"),
    ("/accounts/confirm-email/", ["code"], "anonymous"),
    ("/accounts/login/code/confirm/", ["code"], "anonymous"),
    ("/account/email-sign-in/", ["email", "next"], "both"),
    ("/account/email-sign-in/code/", ["code", "next"], "anonymous"),
    ("/account/email-sign-in/code/resend/", ["next"], "anonymous"),
    ("/account/email-sign-in/code/restart/", ["next"], "anonymous"),
    ("/accounts/reauthenticate/", ["password", "next"], "signed_in"),
    (
        "/accounts/email/",
        ["email", "action_add", "action_send", "action_primary", "action_remove"],
        "signed_in",
    ),
    (
        "/accounts/password/change/",
        ["oldpassword", "password1", "password2", "sign_out_other_sessions"],
        "signed_in",
    ),
    (
        "/account/profile/",
        [
            "given_name",
            "family_name",
            "middle_name",
            "nickname",
            "birthdate",
            "gender",
            "locale",
            "zoneinfo",
            "website",
            "picture",
            "address__street_address",
            "address__locality",
            "address__postal_code",
            "address__region",
            "address__country",
        ],
        "signed_in",
    ),
    ("/account/phone/", ["phone", "action"], "signed_in"),
    ("/account/phone/verify/", ["code", "action"], "signed_in"),
    ("/account/confirm/again/", ["action", "code", "password", "next"], "signed_in"),
    ("/account/mfa/totp/", ["code"], "signed_in"),
    ("/account/privacy/delete/", ["password"], "signed_in"),
    ("/account/consents/", ["action", "purpose", "client_id"], "signed_in"),
    ("/account/interests/add", ["kind", "name"], "signed_in"),
    ("/account/interests/switch", ["action", "purpose"], "signed_in"),
    ("/account/passkeys/", ["name"], "signed_in"),
    ("/account/email/remove/", ["email"], "signed_in"),
    ("/i18n/setlang/", ["language", "next"], "both"),
]


def form_fields(world: World) -> st.SearchStrategy[tuple[str, str, list[tuple[str, str]]]]:
    values = field_values()

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, str, list[tuple[str, str]]]:
        path, names, who = draw(st.sampled_from(FORMS))
        if who == "both":
            who = draw(st.sampled_from(["anonymous", "signed_in"]))
        pairs = []
        for name in names:
            if draw(st.integers(0, 6)) == 0:
                continue  # a field left out
            pairs.append((name, draw(values.get(name, hostile()))))
            if draw(st.integers(0, 12)) == 0:
                pairs.append((name, draw(hostile())))  # and repeated
        if draw(st.integers(0, 4)) == 0:
            pairs.append((draw(st.one_of(marker(), hostile())), draw(hostile())))
        return path, who, pairs

    return build()


@budget
@given(data=st.data())
def test_hosted_forms(world: World, requests_made, data):
    """Every hosted form posted with a valid CSRF token and hostile field values: emails
    whose domain IDNA cannot encode, NUL and control characters, markers, huge values,
    repeated and unknown fields, hostile ``next`` targets."""
    path, who, pairs = data.draw(world.strategy("forms", lambda: form_fields(world)))
    browser = world.signed_in if who == "signed_in" else world.anonymous
    world.form_post(path, pairs, browser=browser)
    if data.draw(st.integers(0, 3)) == 0:
        # The page as shown next (messages and prefilled values of the post).
        world.provider.send("GET", path, query=urlencode(pairs[:3]).encode(), browser=browser)


@budget
@given(data=st.data())
def test_hosted_forms_encodings(world: World, requests_made, data):
    """The same forms with bodies in every encoding (raw UTF-8, latin-1, broken escapes,
    invalid UTF-8) and every declared content type and charset: utf-7, x-unknown, utf-16,
    an empty or quoted charset, multipart without a boundary, JSON."""
    path, who, pairs = data.draw(world.strategy("forms", lambda: form_fields(world)))
    browser = world.signed_in if who == "signed_in" else world.anonymous
    body = b"csrfmiddlewaretoken=" + world.csrf_token(browser).encode() + b"&"
    body += data.draw(encoded(pairs))
    world.provider.send(
        "POST",
        path,
        body=body,
        content_type=data.draw(st.one_of(st.just(FORM), form_content_type())),
        headers={"Referer": world.provider.issuer + path},
        browser=browser,
    )


@budget
@given(
    path=st.sampled_from(
        [
            "/accounts/login/",
            "/accounts/signup/",
            "/account/email-sign-in/",
            "/accounts/password/reset/",
            "/logout/confirm",
            "/i18n/setlang/",
        ]
    ),
    csrf=st.one_of(st.sampled_from(["", "x" * 64, "x" * 32]), hostile()),
    origin=st.one_of(st.none(), st.sampled_from(["https://evil.example", "null", ""]), hostile()),
    fresh=st.booleans(),
)
def test_forms_without_a_valid_csrf_token(world: World, requests_made, path, csrf, origin, fresh):
    """Posts with a missing, malformed or foreign CSRF token or Origin: 403 (a readable
    page), never a 5xx or a redirect elsewhere."""
    browser = Browser() if fresh else world.anonymous
    headers = {} if origin is None else {"Origin": origin.encode("utf-8").decode("latin-1")}
    world.provider.send(
        "POST",
        path,
        body=urlencode({"csrfmiddlewaretoken": csrf, "login": world.email}).encode(),
        content_type=FORM,
        headers=headers,
        browser=browser,
    )
