"""The second factor's rules without HTTP: demands, remembered browsers, single use."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core import signing
from django.test import RequestFactory

from accounts.mfa.constants import REMEMBER_COOKIE_NAME, REMEMBER_COOKIE_SALT
from accounts.mfa.selectors import (
    Outcome,
    SecondFactorDecision,
    UnmetReason,
    remembered_device_valid,
    second_factor_decision,
    session_needs_second_factor,
)
from accounts.mfa.services import (
    CodeCheck,
    _code_check,
    normalize_code,
    recovery_codes_generate,
    remembered_device_cookie_value,
    second_factor_verify,
    totp_disable,
)
from ciam.interaction import pending_new
from sessions_ctx.policy import UNSUPPORTED_ACR, client_acr_requirement
from sessions_ctx.services.authentication import session_record_authentication
from tests.factories import UserFactory

from .conftest import enrol, next_totp_code

pytestmark = pytest.mark.django_db


def pending(**params: str):
    return pending_new(client_id="c", client_name="C", query=urlencode(params), scopes=["openid"])


def essential(**acr: object) -> str:
    return json.dumps({"id_token": {"acr": {"essential": True, **acr}}})


@pytest.mark.parametrize(
    ("params", "min_acr", "expected"),
    [
        ({}, "", None),
        ({"acr_values": "2"}, "", "2"),
        ({"acr_values": "phr 2"}, "", "2"),  # any listed value is acceptable: the weakest
        ({"acr_values": "1 2"}, "", "1"),
        ({"acr_values": "urn:x:gold"}, "", None),  # unknown voluntary values demand nothing
        ({}, "2", "2"),
        ({"acr_values": "1"}, "phr", "phr"),  # the client's minimum wins
        ({"claims": essential(values=["2", "phrh"])}, "", "2"),
        ({"claims": essential(value="phr")}, "", "phr"),
        ({"claims": essential()}, "", None),  # essential, any value
        ({"claims": essential(values=["urn:x:gold"])}, "", UNSUPPORTED_ACR),
        ({"claims": json.dumps({"id_token": {"acr": {"values": ["2"]}}})}, "", None),
        (
            {"claims": json.dumps({"userinfo": {"acr": {"essential": True, "value": "2"}}})},
            "",
            None,
        ),
    ],
)
def test_client_acr_requirement(params, min_acr, expected):
    """acr_values (weakest known), essential id_token acr (weakest known; unknown only:
    unsupported) and min_acr combine into the strongest demand."""
    request = pending(**params)
    assert (
        client_acr_requirement(
            acr_values=request.acr_values, essential_acr=request.essential_acr, min_acr=min_acr
        )
        == expected
    )


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [(" 123 456 ", "123456"), ("ABCDE-FGHIJ", "abcdefghij"), ("abcde fghij", "abcdefghij")],
)
def test_codes_are_normalized(typed, normalized):
    assert normalize_code(typed) == normalized


def request_with_cookie(user, value: str | None):
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.user = user
    if value is not None:
        request.COOKIES[REMEMBER_COOKIE_NAME] = value
    return request


def test_remembered_browser_cookie_is_bound_to_user_and_secret():
    """The cookie is valid for its user only, and stops being valid when the recovery codes
    are regenerated, the password changes, or two-step verification is turned off."""
    enrolled = enrol(UserFactory())
    user = enrolled.user
    value = remembered_device_cookie_value(user=user)
    assert remembered_device_valid(request=request_with_cookie(user, value), user=user)

    other = enrol(UserFactory()).user
    assert not remembered_device_valid(request=request_with_cookie(other, value), user=other)
    assert not remembered_device_valid(request=request_with_cookie(user, value + "x"), user=user)
    assert not remembered_device_valid(request=request_with_cookie(user, None), user=user)

    recovery_codes_generate(user=user)
    assert not remembered_device_valid(request=request_with_cookie(user, value), user=user)

    value = remembered_device_cookie_value(user=user)
    user.set_password("another-passphrase-77")
    user.save()
    assert not remembered_device_valid(request=request_with_cookie(user, value), user=user)

    value = remembered_device_cookie_value(user=user)
    totp_disable(user=user)
    assert not remembered_device_valid(request=request_with_cookie(user, value), user=user)
    assert remembered_device_cookie_value(user=user) is None


def test_remembered_browser_cookie_expires(settings, monkeypatch):
    """After CIAM_MFA_REMEMBER_DEVICE_DAYS the cookie no longer counts (signed timestamp),
    and 0 days turns remembering off."""
    user = enrol(UserFactory()).user
    value = remembered_device_cookie_value(user=user)
    settings.CIAM_MFA_REMEMBER_DEVICE_DAYS = 30
    real_time = signing.time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() + 31 * 24 * 3600)
    assert not remembered_device_valid(request=request_with_cookie(user, value), user=user)
    monkeypatch.setattr(signing.time, "time", real_time)
    assert remembered_device_valid(request=request_with_cookie(user, value), user=user)
    settings.CIAM_MFA_REMEMBER_DEVICE_DAYS = 0
    assert not remembered_device_valid(request=request_with_cookie(user, value), user=user)


def test_cookie_for_another_salt_is_refused():
    """A value signed for another purpose (same SECRET_KEY) is not a remembered browser."""
    user = enrol(UserFactory()).user
    forged = signing.dumps({"u": str(user.pk), "f": "x"}, salt="another.purpose")
    assert not remembered_device_valid(request=request_with_cookie(user, forged), user=user)
    unsigned_fingerprint = signing.dumps({"u": str(user.pk), "f": ""}, salt=REMEMBER_COOKIE_SALT)
    assert not remembered_device_valid(
        request=request_with_cookie(user, unsigned_fingerprint), user=user
    )


def test_totp_code_is_single_use(settings):
    """django-otp refuses a time step it has accepted before (RFC 6238 5.2): the same code
    twice is "reused", not accepted."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    enrolled = enrol(UserFactory())
    code = next_totp_code(enrolled.device)
    assert _code_check(enrolled.user, code) is CodeCheck.ACCEPTED
    assert _code_check(enrolled.user, code) is CodeCheck.REUSED
    assert _code_check(enrolled.user, next_totp_code(enrolled.device)) is CodeCheck.ACCEPTED


def test_recovery_codes_are_single_use_and_throttled(settings):
    """Each recovery code works once; after a wrong one django-otp's back-off refuses even
    a right one for a moment."""
    settings.OTP_STATIC_THROTTLE_FACTOR = 0
    enrolled = enrol(UserFactory())
    first, second = enrolled.recovery_codes[:2]
    assert _code_check(enrolled.user, first) is CodeCheck.ACCEPTED
    assert _code_check(enrolled.user, first) is CodeCheck.REJECTED
    settings.OTP_STATIC_THROTTLE_FACTOR = 1  # back-off of one second after that failure
    assert _code_check(enrolled.user, second) is CodeCheck.THROTTLED
    settings.OTP_STATIC_THROTTLE_FACTOR = 0
    assert _code_check(enrolled.user, second) is CodeCheck.ACCEPTED


def test_users_without_authenticator_have_no_code_to_check():
    user = UserFactory()
    assert _code_check(user, "123456") is CodeCheck.REJECTED


def signed_in_request(user, methods: list[str]):
    request = request_with_cookie(user, None)
    session_record_authentication(request=request, user_id=str(user.pk), methods=methods)
    return request


@pytest.mark.parametrize(
    ("methods", "acr_values", "outcome", "reason"),
    [
        (["pwd"], "", Outcome.ASK_CODE, None),
        (["pwd"], "2", Outcome.ASK_CODE, None),
        (["pwd"], "phr", Outcome.UNMET, UnmetReason.PASSKEY_REQUIRED),
        (["fed"], "", Outcome.ASK_CODE, None),
        (["fed"], "2", Outcome.UNMET, UnmetReason.FIRST_FACTOR_TOO_WEAK),
        (["otp"], "2", Outcome.UNMET, UnmetReason.FIRST_FACTOR_TOO_WEAK),
        (["pwd", "otp", "mfa"], "2", Outcome.SATISFIED, None),
        (["swk", "user"], "2", Outcome.SATISFIED, None),  # a passkey outranks "2"
    ],
)
def test_decision_for_users_with_an_authenticator(methods, acr_values, outcome, reason):
    """What the step asks of a user with an authenticator app, by how the session signed in
    and what the client demands: a code when it helps, otherwise an unmet requirement."""
    user = enrol(UserFactory()).user
    request = signed_in_request(user, methods)
    params = {"acr_values": acr_values} if acr_values else {}
    decision = second_factor_decision(request=request, pending=pending(**params))
    assert decision.outcome is outcome
    assert decision.reason is reason


def test_code_after_another_first_factor_satisfies_the_users_policy_once(settings):
    """After a federated (or emailed-code) sign-in the code from the app is asked once; it
    leaves acr at "1" (two possession factors are not two kinds), yet the user's own policy
    is met for the session, without asking again in a loop; a new sign-in asks again."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    enrolled = enrol(UserFactory())
    request = signed_in_request(enrolled.user, ["fed"])
    result, state = second_factor_verify(request=request, code=next_totp_code(enrolled.device))
    assert result is CodeCheck.ACCEPTED
    assert state.acr == "1"
    assert state.amr == ["fed", "otp"]
    decision = second_factor_decision(request=request, pending=pending())
    assert decision.outcome is Outcome.SATISFIED
    assert not session_needs_second_factor(request=request)

    session_record_authentication(request=request, user_id=str(enrolled.user.pk), methods=["fed"])
    assert second_factor_decision(request=request, pending=pending()).outcome is Outcome.ASK_CODE
    assert session_needs_second_factor(request=request)


def test_prompt_none_errors_by_outcome():
    """login_required when a code would do, unmet_authentication_requirements otherwise."""
    assert SecondFactorDecision(Outcome.ASK_CODE).prompt_none_error == "login_required"
    assert SecondFactorDecision(Outcome.SIGN_IN).prompt_none_error == "login_required"
    assert (
        SecondFactorDecision(Outcome.UNMET).prompt_none_error == "unmet_authentication_requirements"
    )
