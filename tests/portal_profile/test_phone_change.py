"""Changing the mobile number (/account/phone/): a 6-digit code by text message to the new
number, switched through profile_update (source ``account``, verified) only with the right
code in time; the old number told; every malformed input a readable page."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.phone.constants import SESSION_KEY_PHONE_CHANGE
from profiling.models import Profile, ProfileField, ProfileValue, ValueSource
from profiling.services.values import profile_update
from tests.factories import UserFactory

CHANGE = "/account/phone/"
VERIFY = "/account/phone/verify/"
OLD = "+5511987654321"
NEW = "+5521998765432"


def _code(outbox) -> str:
    match = re.search(r"\b(\d{6})\b", outbox[-1].body)
    assert match, outbox[-1].body
    return match.group(1)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


@pytest.fixture
def customer(db):
    user = UserFactory()
    profile_update(
        user=user,
        changes={"phone_number": OLD},
        source=ValueSource.ACCOUNT,
        verified=["phone_number"],
    )
    return user


@pytest.fixture
def signed_in(client, customer):
    client.force_login(customer)
    return client


def _profile(user) -> Profile:
    return Profile.objects.get(user=user)


def test_change_with_code_and_notice_to_old_number(signed_in, customer, sms_outbox):
    """The code goes to the new number; the number is switched only after it is typed,
    verified, with source ``account``; the old number gets a notice."""
    page = signed_in.get(CHANGE)
    assert page.status_code == 200
    assert "+55 11 98765-4321" in page.content.decode()
    response = signed_in.post(CHANGE, {"phone": "(21) 99876-5432", "action": "send"})
    assert response.status_code == 302
    assert response["Location"] == VERIFY
    assert [m.to for m in sms_outbox] == [NEW]
    code = _code(sms_outbox)
    assert code not in str(signed_in.session[SESSION_KEY_PHONE_CHANGE])
    assert _profile(customer).values["phone_number"] == OLD
    assert "+55 21 99876-5432" in signed_in.get(VERIFY).content.decode()

    response = signed_in.post(VERIFY, {"code": f"{code[:3]} {code[3:]}", "action": "verify"})
    assert response.status_code == 302
    profile = _profile(customer)
    assert profile.values["phone_number"] == NEW
    assert "phone_number" in profile.verified
    value = ProfileValue.objects.get(user=customer, field__key="phone_number")
    assert (value.source, value.verified) == ("account", True)
    assert sms_outbox[-1].to == OLD
    assert "5432" in sms_outbox[-1].body
    assert SESSION_KEY_PHONE_CHANGE not in signed_in.session


def test_first_number_is_added_the_same_way(client, db, sms_outbox):
    """A customer without a number adds one by code (no notice: there is no old number)."""
    user = UserFactory()
    client.force_login(user)
    client.post(CHANGE, {"phone": "+351 912 345 678"})
    client.post(VERIFY, {"code": _code(sms_outbox)})
    assert _profile(user).values["phone_number"] == "+351912345678"
    assert len(sms_outbox) == 1


@pytest.mark.parametrize(
    "number", ["12", "abc", "", "+999 123", "1" * 200, "11 98765\u202e4321", "+55 11 3"]
)
def test_bad_numbers_are_refused(signed_in, customer, sms_outbox, number):
    """A number that can't be read is a form error (400); nothing is sent or changed."""
    response = signed_in.post(CHANGE, {"phone": number, "action": "send"})
    assert response.status_code == 400
    assert 'class="errorlist"' in response.content.decode()
    assert sms_outbox == []
    assert _profile(customer).values["phone_number"] == OLD


def test_same_verified_number_is_refused(signed_in, sms_outbox):
    """The current verified number is not sent a code again."""
    response = signed_in.post(CHANGE, {"phone": "11 98765-4321"})
    assert response.status_code == 400
    assert "already your verified" in response.content.decode()
    assert sms_outbox == []


def test_wrong_then_too_many_codes(signed_in, customer, sms_outbox, settings):
    """A wrong code says how many tries are left; after the last one the change is
    dropped; the right code then no longer works."""
    settings.CIAM_PHONE_MAX_ATTEMPTS = 3
    signed_in.post(CHANGE, {"phone": NEW})
    code = _code(sms_outbox)
    first = signed_in.post(VERIFY, {"code": _wrong(code)})
    assert first.status_code == 400
    assert "2 more times" in first.content.decode()
    assert signed_in.post(VERIFY, {"code": _wrong(code)}).status_code == 400
    last = signed_in.post(VERIFY, {"code": _wrong(code)})
    assert last.status_code == 302
    assert last["Location"] == CHANGE
    assert signed_in.post(VERIFY, {"code": code})["Location"] == CHANGE
    assert _profile(customer).values["phone_number"] == OLD


def test_parallel_guesses_are_counted_in_the_shared_cache(
    signed_in, customer, sms_outbox, settings
):
    """Parallel requests each see the session's count before the others write it back: the
    guesses also count atomically in the cache, per account and per number, so a code
    allows at most twice the attempts however the requests interleave."""
    settings.CIAM_PHONE_MAX_ATTEMPTS = 3
    signed_in.post(CHANGE, {"phone": NEW})
    code = _code(sms_outbox)
    for _ in range(6):
        session = signed_in.session
        state = session[SESSION_KEY_PHONE_CHANGE]
        state["attempts"] = 0  # what a request racing the others read
        session[SESSION_KEY_PHONE_CHANGE] = state
        session.save()
        assert signed_in.post(VERIFY, {"code": _wrong(code)}).status_code == 400
    blocked = signed_in.post(VERIFY, {"code": code})
    assert blocked.status_code == 302
    assert blocked["Location"] == CHANGE
    assert _profile(customer).values["phone_number"] == OLD


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "x" * 1000])
def test_malformed_codes(signed_in, customer, sms_outbox, code):
    """A code that is not 6 digits is a form error (400), not counted as an attempt."""
    signed_in.post(CHANGE, {"phone": NEW})
    response = signed_in.post(VERIFY, {"code": code, "action": "verify"})
    assert response.status_code == 400
    assert signed_in.session[SESSION_KEY_PHONE_CHANGE]["attempts"] == 0
    assert _profile(customer).values["phone_number"] == OLD


def test_expired_code(signed_in, customer, sms_outbox, settings):
    """A code past its time changes nothing; the customer starts again."""
    signed_in.post(CHANGE, {"phone": NEW})
    code = _code(sms_outbox)
    session = signed_in.session
    state = session[SESSION_KEY_PHONE_CHANGE]
    state["expires"] = 0
    session[SESSION_KEY_PHONE_CHANGE] = state
    session.save()
    response = signed_in.post(VERIFY, {"code": code})
    assert response.status_code == 302
    assert response["Location"] == CHANGE
    assert _profile(customer).values["phone_number"] == OLD
    assert "expired" in signed_in.get(CHANGE).content.decode()


def test_number_verified_by_someone_else_is_not_leaked(signed_in, customer, sms_outbox):
    """A number another account verified looks the same to the customer (a code page) but
    gets no code: it is told someone tried; no code switches to it."""
    other = UserFactory()
    profile_update(
        user=other,
        changes={"phone_number": NEW},
        source=ValueSource.ACCOUNT,
        verified=["phone_number"],
    )
    response = signed_in.post(CHANGE, {"phone": NEW})
    assert response["Location"] == VERIFY
    assert [m.to for m in sms_outbox] == [NEW]
    assert not re.search(r"\b\d{6}\b", sms_outbox[0].body)
    for guess in ("000000", "123456"):
        signed_in.post(VERIFY, {"code": guess})
    assert _profile(customer).values["phone_number"] == OLD
    assert _profile(other).values["phone_number"] == NEW


def test_resend_is_spaced_and_limited(signed_in, sms_outbox, settings):
    """A new code waits for the pause (429 with Retry-After); codes per hour are limited;
    the previous code stops working."""
    settings.CIAM_PHONE_RESEND_SECONDS = 0
    settings.CIAM_PHONE_SENDS_PER_HOUR = 2
    signed_in.post(CHANGE, {"phone": NEW})
    first = _code(sms_outbox)
    assert signed_in.post(VERIFY, {"action": "resend"}).status_code == 302
    assert len(sms_outbox) == 2
    refused = signed_in.post(VERIFY, {"action": "resend"})
    assert refused.status_code == 429
    assert refused["Retry-After"]
    second = _code(sms_outbox)
    if first != second:
        assert signed_in.post(VERIFY, {"code": first}).status_code == 400
    assert signed_in.post(VERIFY, {"code": second}).status_code == 302


def test_resend_pause(signed_in, sms_outbox, settings):
    """Two codes to one number in a row wait for CIAM_PHONE_RESEND_SECONDS."""
    settings.CIAM_PHONE_RESEND_SECONDS = 60
    signed_in.post(CHANGE, {"phone": NEW})
    response = signed_in.post(CHANGE, {"phone": NEW})
    assert response.status_code == 429
    assert len(sms_outbox) == 1


def test_wrong_step_and_methods(signed_in, customer, sms_outbox):
    """The code page without a change in progress sends to the first page (GET or POST);
    unknown actions are 400; PUT is 405; cancel forgets the change."""
    assert signed_in.get(VERIFY)["Location"] == CHANGE
    assert signed_in.post(VERIFY, {"code": "123456"})["Location"] == CHANGE
    assert signed_in.post(CHANGE, {"phone": NEW, "action": "explode"}).status_code == 400
    assert signed_in.put(CHANGE).status_code == 405
    signed_in.post(CHANGE, {"phone": NEW})
    assert signed_in.post(VERIFY, {"action": "dance"}).status_code == 400
    assert signed_in.post(VERIFY, {"action": "cancel"})["Location"] == CHANGE
    assert SESSION_KEY_PHONE_CHANGE not in signed_in.session
    assert _profile(customer).values["phone_number"] == OLD


def test_change_of_another_session_user_is_ignored(client, customer, sms_outbox):
    """A change started by one account is not finished by another signed in later in the
    same browser."""
    client.force_login(customer)
    client.post(CHANGE, {"phone": NEW})
    code = _code(sms_outbox)
    session_state = client.session[SESSION_KEY_PHONE_CHANGE]
    other = UserFactory()
    client.force_login(other)
    session = client.session
    session[SESSION_KEY_PHONE_CHANGE] = session_state
    session.save()
    assert client.post(VERIFY, {"code": code})["Location"] == CHANGE
    assert "phone_number" not in _profile(other).values


def test_remove_number_tells_it(signed_in, customer, sms_outbox):
    """Removing the number removes it from the profile and tells the old number."""
    response = signed_in.post(CHANGE, {"action": "remove"})
    assert response.status_code == 302
    assert "phone_number" not in _profile(customer).values
    assert sms_outbox[-1].to == OLD


def test_needs_sign_in_and_csrf(db, customer):
    """Anonymous visitors sign in first; posts without the CSRF token are refused."""
    anonymous = Client()
    assert anonymous.get(CHANGE)["Location"].startswith("/accounts/login/")
    assert anonymous.get(VERIFY)["Location"].startswith("/accounts/login/")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(customer)
    assert strict.post(CHANGE, {"phone": NEW}).status_code == 403


def test_no_phone_field(signed_in, db):
    """Without a customer-editable phone field the page says so (404), never a 500."""
    ProfileField.objects.filter(claim="phone_number").update(editable=False)
    from profiling.schema import schema_forget

    schema_forget()
    response = signed_in.get(CHANGE)
    assert response.status_code == 404
    assert "no mobile number" in response.content.decode()
    assert signed_in.get(VERIFY)["Location"] == CHANGE


def test_portuguese_pages_and_messages(signed_in, sms_outbox):
    """The pages and the text message follow the customer's language."""
    page = signed_in.get(CHANGE, HTTP_ACCEPT_LANGUAGE="pt-BR")
    assert '<html lang="pt-br"' in page.content.decode()
    signed_in.post(CHANGE, {"phone": NEW}, HTTP_ACCEPT_LANGUAGE="pt-BR")
    assert signed_in.get(VERIFY, HTTP_ACCEPT_LANGUAGE="pt-BR").status_code == 200
