"""Signing in with a passkey: login, amr/acr, counters, refusals and rate limiting."""

from __future__ import annotations

import time

import pytest
from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from accounts.passkeys.app_settings import app_settings
from accounts.passkeys.constants import SESSION_KEY_AUTHENTICATION
from accounts.passkeys.models import Passkey
from sessions_ctx.constants import SESSION_KEY_AUTH
from sessions_ctx.strength import acr_satisfies
from tests.factories import UserFactory

from .authenticator import SoftAuthenticator, with_client_data
from .conftest import begin_sign_in, complete_sign_in, register, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def enrolled(user, authenticator) -> SoftAuthenticator:
    """``user`` has registered ``authenticator``; the browser that did it is gone."""
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    assert register(client, authenticator).status_code == 200
    return authenticator


def test_request_options_allow_any_discoverable_passkey(client):
    """Sign-in options name the RP ID, require user verification and list no credentials
    (the browser offers the site's discoverable passkeys, also in autofill)."""
    options = begin_sign_in(client)
    assert options["rpId"] == "localhost"
    assert options["userVerification"] == "required"
    assert options["allowCredentials"] == []
    assert client.session[SESSION_KEY_AUTHENTICATION][0]["challenge"] == options["challenge"]


def test_device_bound_passkey_signs_in_with_hwk_and_phrh(client, user, enrolled):
    """A device-bound passkey signs the user in: amr hwk + user, acr phrh; the passkey's
    counter and last use are updated."""
    before = time.time()
    response = sign_in(client, enrolled, next_url="/authorize/resume/abc")
    assert response.status_code == 200, response.content
    assert response.json() == {"redirect": "/authorize/resume/abc"}
    session = client.session
    assert session[SESSION_KEY] == str(user.pk)
    state = session[SESSION_KEY_AUTH]
    assert state["user_id"] == str(user.pk)
    assert state["amr"] == ["hwk", "user"]
    assert state["acr"] == "phrh"
    assert state["auth_time"] >= int(before)
    passkey = Passkey.objects.get(user=user)
    assert passkey.sign_count == 1
    assert passkey.last_used_at is not None


def test_synced_passkey_signs_in_with_swk_and_phr(client, user, synced_authenticator):
    """A synced (backed-up) passkey gives amr swk + user and acr phr; a counter that stays
    0 is accepted."""
    other = Client()
    other.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    register(other, synced_authenticator)
    for _ in range(2):
        response = sign_in(client, synced_authenticator)
        assert response.status_code == 200, response.content
    state = client.session[SESSION_KEY_AUTH]
    assert state["amr"] == ["swk", "user"]
    assert state["acr"] == "phr"
    assert acr_satisfies(state["acr"], "phr")
    assert not acr_satisfies(state["acr"], "phrh")


def test_passkey_methods_replace_password_records_of_allauth(client, user, enrolled):
    """A password sign-in recorded by allauth minutes ago does not leak into the amr of a
    passkey sign-in (the user_logged_in receiver runs first, the passkey's methods win)."""
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [{"method": "password", "at": time.time()}]
    session.save()
    assert sign_in(client, enrolled).status_code == 200
    assert client.session[SESSION_KEY_AUTH]["amr"] == ["hwk", "user"]


def test_passkey_sign_in_steps_up_a_password_session(client, user, password, enrolled):
    """Signed in with a password (acr 1), a passkey sign-in raises the session to phrh and
    keeps its sid."""
    assert client.login(email=user.email, password=password)
    first = client.session[SESSION_KEY_AUTH]
    assert first["acr"] == "1"
    assert sign_in(client, enrolled).status_code == 200
    second = client.session[SESSION_KEY_AUTH]
    assert second["acr"] == "phrh"
    assert second["sid"] == first["sid"]


def test_reused_assertion_is_refused(client, user, enrolled):
    """Replaying an accepted assertion fails: its challenge was used up."""
    assertion = enrolled.get(begin_sign_in(client))
    assert complete_sign_in(client, assertion).status_code == 200
    client.logout()
    replay = complete_sign_in(client, assertion)
    assert replay.status_code == 400
    assert replay.json()["error"] == "challenge_expired"
    assert "expired or was already used" in replay.json()["message"]
    assert SESSION_KEY not in client.session


def test_assertion_with_another_origin_is_refused(client, enrolled):
    """An assertion made on another website (phishing proxy) is refused with a clear
    message, even with a valid challenge."""
    assertion = enrolled.get(begin_sign_in(client), origin="https://login.evil.example")
    response = complete_sign_in(client, assertion)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "origin_mismatch"
    assert "another website (https://login.evil.example)" in body["message"]
    assert SESSION_KEY not in client.session


def test_tampered_origin_in_client_data_is_refused(client, enrolled):
    """Changing the origin in clientDataJSON of a genuine assertion is refused."""
    assertion = with_client_data(enrolled.get(begin_sign_in(client)), origin="https://x.test")
    response = complete_sign_in(client, assertion)
    assert response.status_code == 400
    assert response.json()["error"] == "origin_mismatch"


def test_assertion_for_another_rp_id_is_refused(client, enrolled):
    """Authenticator data scoped to another RP ID does not verify."""
    response = sign_in(client, enrolled, rp_id="evil.example")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_response"


def test_bad_signature_is_refused(client, enrolled):
    """A signature made with another key is refused."""
    options = begin_sign_in(client)
    impostor = SoftAuthenticator(
        rp_id=app_settings.RP_ID,
        origin=app_settings.ORIGINS[0],
        credential_id=enrolled.credential_id,
        user_handle=enrolled.user_handle,
    )
    response = complete_sign_in(client, impostor.get(options))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_response"
    assert SESSION_KEY not in client.session


def test_user_verification_is_required(client, enrolled):
    """An assertion without the UV flag is refused."""
    enrolled.user_verified = False
    response = sign_in(client, enrolled)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_response"


@pytest.mark.parametrize("count", [0, 1, 4])
def test_counter_that_does_not_grow_is_refused(client, user, enrolled, count):
    """After the counter reached 5, an assertion with a counter of 0, 1 or 4 (a cloned
    authenticator) is refused and the stored counter stays."""
    assert sign_in(client, enrolled, sign_count=5).status_code == 200
    client.logout()
    response = sign_in(client, enrolled, sign_count=count)
    assert response.status_code == 400
    assert response.json()["error"] == "counter_regressed"
    assert Passkey.objects.get(user=user).sign_count == 5


def test_unknown_passkey_is_refused(client, authenticator):
    """A passkey this site does not know (removed here, still on the device) is refused."""
    authenticator.user_handle = b"\x01" * 32
    response = sign_in(client, authenticator)
    assert response.status_code == 400
    assert response.json()["error"] == "unknown_credential"


def test_user_handle_of_another_account_is_refused(client, enrolled):
    """The userHandle must be the one the passkey was registered with."""
    response = sign_in(client, enrolled, user_handle=b"\x02" * 32)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_response"


def test_inactive_user_is_refused(client, user, enrolled):
    """A deactivated account cannot sign in with its passkey."""
    user.is_active = False
    user.save()
    response = sign_in(client, enrolled)
    assert response.status_code == 400
    assert response.json()["error"] == "account_inactive"
    assert SESSION_KEY not in client.session


def test_expired_challenge_is_refused(client, enrolled, settings):
    """A challenge older than CIAM_PASSKEYS_CHALLENGE_SECONDS is refused."""
    settings.CIAM_PASSKEYS_CHALLENGE_SECONDS = -1
    response = sign_in(client, enrolled)
    assert response.status_code == 400
    assert response.json()["error"] == "challenge_expired"


def test_autofill_and_button_challenges_are_both_usable_once(client, user, enrolled):
    """Two requests pending on one page (autofill started, then the button): each challenge
    answers one assertion, once."""
    first = begin_sign_in(client)
    second = begin_sign_in(client)
    answer_to_second = enrolled.get(second)
    assert complete_sign_in(client, answer_to_second).status_code == 200
    assert complete_sign_in(client, enrolled.get(first)).status_code == 200
    replay = complete_sign_in(client, answer_to_second)
    assert replay.status_code == 400
    assert replay.json()["error"] == "challenge_expired"


def test_next_url_must_stay_on_this_site(client, enrolled):
    """An off-site next URL is replaced by the default landing page."""
    for next_url in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = sign_in(client, enrolled, next_url=next_url)
        assert response.status_code == 200
        assert response.json()["redirect"] == "/", next_url
        client.logout()


def test_failed_assertions_are_rate_limited_per_address(client, enrolled, settings):
    """After the allowed number of failures from one address, even a valid assertion is
    refused with 429 until the window ends."""
    settings.CIAM_PASSKEYS_MAX_FAILED_ATTEMPTS = 3
    for _ in range(3):
        response = sign_in(client, enrolled, origin="https://evil.example")
        assert response.status_code == 400
    blocked = sign_in(client, enrolled)
    assert blocked.status_code == 429
    assert blocked.json()["error"] == "too_many_attempts"
    assert SESSION_KEY not in client.session
    other_address = Client(REMOTE_ADDR="192.0.2.9")
    assert sign_in(other_address, enrolled).status_code == 200


def test_only_post_is_allowed(client):
    """The endpoints answer POST only."""
    assert client.get(reverse("passkeys:authenticate-begin")).status_code == 405
    assert client.get(reverse("passkeys:authenticate-complete")).status_code == 405


def test_passkey_sign_in_over_another_account_signs_in_the_passkey_owner(client, user, enrolled):
    """The passkey decides who signs in: a browser signed in as someone else ends up signed
    in as the passkey's owner."""
    other = UserFactory()
    client.force_login(other, backend="django.contrib.auth.backends.ModelBackend")
    response = sign_in(client, enrolled)
    assert response.status_code == 200
    assert client.session[SESSION_KEY] == str(user.pk)


def test_rate_limited_sign_in_says_when_to_try_again(client, enrolled, settings):
    """The JSON 429 of a refused passkey sign-in carries Retry-After (RFC 6585 4)."""
    settings.CIAM_PASSKEYS_MAX_FAILED_ATTEMPTS = 1
    assert sign_in(client, enrolled, origin="https://evil.example").status_code == 400
    blocked = sign_in(client, enrolled)
    assert blocked.status_code == 429
    assert 0 < int(blocked["Retry-After"]) <= 300
