"""One re-authentication for every page: an authentication (auth_time moves), one budget.

OIDC Core 2 defines auth_time as the time of the End-User's authentication; confirming "it's
you" with the password or a current code is one. So after it a client's max_age, the
passkeys' and the second factor's "recent sign-in" windows all see a fresh sign-in, and
wrong proofs count against one budget per user and per address, whichever page they were
made on.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.mfa.selectors import authentication_is_recent, session_needs_second_factor
from accounts.mfa.services import CodeCheck, reauthentication_verify, second_factor_verify
from sessions_ctx.constants import SESSION_KEY_AUTH
from sessions_ctx.selectors import session_auth_state
from sessions_ctx.services.authentication import session_record_authentication
from sessions_ctx.services.reauthentication import (
    ReauthenticationProof,
    ReauthenticationThrottled,
    reauthentication_password_check,
    reauthentication_retry_after,
    session_reauthenticate,
)
from sessions_ctx.throttle import Limit, retry_after
from tests.factories import PASSWORD, UserFactory
from tests.mfa.conftest import enrol, next_totp_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_otp_backoff(settings) -> None:
    """django-otp's back-off off: codes may follow each other at test speed."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


MFA_REMOVE = "/account/mfa/totp/remove/"
MFA_CODES = "/account/mfa/recovery-codes/"
MFA_VERIFY_SESSION = "/account/mfa/verify/"


def signed_in_request(user, methods: list[str], *, age: int = 0, address: str = "192.0.2.1"):
    request = RequestFactory().post("/", REMOTE_ADDR=address)
    request.session = SessionStore()
    request.user = user
    session_record_authentication(request=request, user_id=str(user.pk), methods=methods)
    age_state(request.session, age)
    return request


def age_state(session, seconds: int) -> None:
    state = dict(session[SESSION_KEY_AUTH])
    state["auth_time"] -= seconds
    session[SESSION_KEY_AUTH] = state


def age_client(client: Client, seconds: int) -> None:
    session = client.session
    age_state(session, seconds)
    session.save()


def password_check(user, password: str):
    return lambda: reauthentication_password_check(user=user, password=password)


def test_a_reauthentication_is_an_authentication():
    """The password moves auth_time to now (OIDC Core 2) and joins amr; the sid stays, so
    relying parties still see one session."""
    user = UserFactory()
    request = signed_in_request(user, ["fed"], age=3600)
    before = session_auth_state(request)
    outcome = session_reauthenticate(request=request, check=password_check(user, PASSWORD))
    assert outcome.ok
    after = session_auth_state(request)
    assert outcome.state == after
    assert after.sid == before.sid
    assert abs(after.auth_time - time.time()) <= 2
    assert after.amr[:2] == ["fed", "pwd"]


def test_a_failed_proof_changes_nothing_and_past_the_budget_nothing_is_checked(settings):
    """A wrong password leaves the session as it was and is counted; past
    CIAM_SESSIONS_REAUTHENTICATION_MAX_FAILURES the proof is not even looked at."""
    settings.CIAM_SESSIONS_REAUTHENTICATION_MAX_FAILURES = 2
    user = UserFactory()
    request = signed_in_request(user, ["pwd"], age=3600)
    before = session_auth_state(request)
    for _ in range(2):
        outcome = session_reauthenticate(request=request, check=password_check(user, "nope"))
        assert not outcome.ok
        assert outcome.state is None
        assert session_auth_state(request) == before
    checked: list[bool] = []

    def never() -> ReauthenticationProof[None]:
        checked.append(True)
        return ReauthenticationProof(ok=True, methods=("pwd",), detail=None)

    with pytest.raises(ReauthenticationThrottled) as refused:
        session_reauthenticate(request=request, check=never)
    assert 0 < refused.value.retry_after <= 300
    assert checked == []
    assert session_auth_state(request) == before


def test_success_restarts_the_users_count_not_the_addresss(settings):
    """After a success the user's failures start again from zero; the address keeps its."""
    settings.CIAM_SESSIONS_REAUTHENTICATION_MAX_FAILURES = 3
    user = UserFactory()
    request = signed_in_request(user, ["pwd"])
    session_reauthenticate(request=request, check=password_check(user, "nope"))
    assert session_reauthenticate(request=request, check=password_check(user, PASSWORD)).ok
    session_reauthenticate(request=request, check=password_check(user, "nope"))
    assert reauthentication_retry_after(request=request) == 0  # user 1, address 2
    session_reauthenticate(request=request, check=password_check(user, "nope"))
    assert reauthentication_retry_after(request=request) > 0  # address 3


def test_the_callers_own_limits_count_the_same_attempt():
    """A page's own budget (``also``) counts each failure too and refuses when spent."""
    user = UserFactory()
    request = signed_in_request(user, ["pwd"])
    own = [Limit("test.own:ip:x", 1, 60)]
    session_reauthenticate(request=request, check=password_check(user, "nope"), also=own)
    assert retry_after(own) > 0
    with pytest.raises(ReauthenticationThrottled):
        session_reauthenticate(request=request, check=password_check(user, PASSWORD), also=own)


def test_mfa_code_reauthentication_keeps_the_second_factor_given(settings):
    """After another provider and the authenticator code (acr stays "1"), confirming with a
    current code moves auth_time and the session still counts its second factor as given:
    the account pages do not ask for the code again."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    enrolled = enrol(UserFactory())
    request = signed_in_request(enrolled.user, ["fed"])
    result, _state = second_factor_verify(request=request, code=next_totp_code(enrolled.device))
    assert result is CodeCheck.ACCEPTED
    age_state(request.session, 3600)
    assert not authentication_is_recent(request=request)
    result = reauthentication_verify(
        request=request, password="", code=next_totp_code(enrolled.device)
    )
    assert result is CodeCheck.ACCEPTED
    assert authentication_is_recent(request=request)
    assert session_auth_state(request).acr == "1"
    assert not session_needs_second_factor(request=request)


def sign_in_with_both_factors(client: Client, enrolled) -> None:
    client.force_login(enrolled.user)
    response = client.post(MFA_VERIFY_SESSION, {"code": next_totp_code(enrolled.device)})
    assert response.status_code == 302, response.content


def test_mfa_reauthentication_opens_the_recent_sign_in_windows(client, no_otp_backoff):
    """Confirming with the password on a two-step page is a fresh sign-in for the passkeys
    page too (it no longer asks for the password), as the passkeys page's own
    confirmation always was."""
    enrolled = enrol(UserFactory())
    sign_in_with_both_factors(client, enrolled)
    age_client(client, 3600)
    manage = reverse("passkeys:manage")
    assert 'name="password"' in client.get(manage).content.decode()
    assert client.post(MFA_CODES, {"password": PASSWORD}).status_code == 302
    assert abs(client.session[SESSION_KEY_AUTH]["auth_time"] - time.time()) <= 2
    html = client.get(manage).content.decode()
    assert 'id="passkey-create"' in html
    assert 'name="password"' not in html
    assert client.get("/account/mfa/").status_code == 200  # the second factor still counts


def test_one_budget_for_every_page_per_user_and_per_address(no_otp_backoff):
    """Wrong passwords on the two-step page and on the passkeys page add up (five by
    default): then both refuse even the right password with 429, for this user from another
    address, and for another user from this address."""
    enrolled = enrol(UserFactory())
    here = Client(REMOTE_ADDR="192.0.2.10")
    sign_in_with_both_factors(here, enrolled)
    manage = reverse("passkeys:manage")
    for _ in range(3):
        assert here.post(MFA_REMOVE, {"password": "guess"}).status_code == 200
    for _ in range(2):
        assert here.post(manage, {"password": "guess"}).status_code == 400
    blocked = here.post(manage, {"password": PASSWORD})
    assert blocked.status_code == 429
    assert 0 < int(blocked["Retry-After"]) <= 300
    assert here.post(MFA_REMOVE, {"password": PASSWORD}).status_code == 429

    elsewhere = Client(REMOTE_ADDR="198.51.100.20")
    sign_in_with_both_factors(elsewhere, enrolled)
    assert elsewhere.post(manage, {"password": PASSWORD}).status_code == 429

    neighbour = Client(REMOTE_ADDR="192.0.2.10")
    neighbour.force_login(UserFactory())
    assert neighbour.post(manage, {"password": PASSWORD}).status_code == 429


def test_max_age_is_met_by_a_reauthentication(client, web_client):
    """An authorization with max_age after an old sign-in asks to sign in again; after the
    user confirmed it is them, the same request completes without a sign-in page."""
    user = UserFactory()
    client.force_login(user)
    age_client(client, 3600)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": web_client.client_id,
            "redirect_uri": web_client.redirect_uri,
            "scope": "openid",
            "max_age": "600",
        }
    )
    response = client.get(f"/authorize?{query}")
    assert response.status_code == 302
    assert not response["Location"].startswith(web_client.redirect_uri)

    assert client.post(reverse("passkeys:manage"), {"password": PASSWORD}).status_code == 302
    response = client.get(f"/authorize?{query}")
    assert response.status_code == 302
    assert response["Location"].startswith(web_client.redirect_uri + "?code=")
