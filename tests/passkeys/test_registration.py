"""Registering passkeys: options, verification, single-use challenges, recent sign-in."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from webauthn.helpers import base64url_to_bytes

from accounts.passkeys.app_settings import app_settings
from accounts.passkeys.constants import SESSION_KEY_REGISTRATION
from accounts.passkeys.models import Passkey
from accounts.passkeys.selectors import user_has_passkey
from accounts.passkeys.services import PasskeyError, passkey_register_begin
from tests.factories import UserFactory

from .authenticator import SoftAuthenticator, with_client_data
from .conftest import age_authentication, post_json, register

pytestmark = pytest.mark.django_db


def test_settings_default_to_the_issuer(settings):
    """The RP ID is the issuer's host and the only allowed origin is the issuer's origin."""
    assert settings.CIAM_ISSUER.startswith("http://localhost:")
    assert app_settings.RP_ID == "localhost"
    assert app_settings.ORIGINS == [settings.CIAM_ISSUER]


def test_creation_options_require_a_discoverable_user_verified_passkey(signed_in, user):
    """Options name this site and the user, ask for a resident key and user verification,
    and list none to exclude for a first passkey."""
    options = post_json(signed_in, "passkeys:register-begin").json()
    assert options["rp"] == {"id": "localhost", "name": app_settings.RP_NAME}
    assert options["user"]["name"] == user.email
    assert len(base64url_to_bytes(options["user"]["id"])) == 32
    assert user.email.encode() not in base64url_to_bytes(options["user"]["id"])
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["requireResidentKey"] is True
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    assert options["excludeCredentials"] == []
    assert len(base64url_to_bytes(options["challenge"])) >= 32
    assert signed_in.session[SESSION_KEY_REGISTRATION][0]["challenge"] == options["challenge"]


def test_register_stores_the_passkey(signed_in, user, authenticator):
    """A verified response becomes a passkey with its key, counter, transports and name."""
    response = register(signed_in, authenticator, name="  Work laptop  ")
    assert response.status_code == 200, response.content
    passkey = Passkey.objects.get(user=user)
    assert response.json() == {"id": passkey.pk, "name": "Work laptop"}
    assert bytes(passkey.credential_id) == authenticator.credential_id
    assert bytes(passkey.user_handle) == authenticator.user_handle
    assert passkey.sign_count == 0
    assert passkey.transports == ["internal", "hybrid"]
    assert passkey.aaguid == "01234567-89ab-cdef-0123-456789abcdef"
    assert passkey.backed_up is False
    assert passkey.last_used_at is None
    assert user_has_passkey(user)


def test_second_passkey_excludes_the_first_and_shares_the_user_handle(
    signed_in, user, authenticator
):
    """excludeCredentials lists existing passkeys (the authenticator refuses a duplicate)
    and every passkey of a user carries the same user handle."""
    register(signed_in, authenticator)
    options = post_json(signed_in, "passkeys:register-begin").json()
    excluded = options["excludeCredentials"]
    assert len(excluded) == 1
    assert base64url_to_bytes(excluded[0]["id"]) == authenticator.credential_id
    assert excluded[0]["transports"] == ["internal", "hybrid"]
    assert base64url_to_bytes(options["user"]["id"]) == authenticator.user_handle


def test_default_names_are_numbered(signed_in, user):
    """Without a name, passkeys are called "Passkey 1", "Passkey 2"."""
    for _ in range(2):
        device = SoftAuthenticator(rp_id=app_settings.RP_ID, origin=app_settings.ORIGINS[0])
        assert register(signed_in, device).status_code == 200
    assert list(Passkey.objects.filter(user=user).values_list("name", flat=True)) == [
        "Passkey 1",
        "Passkey 2",
    ]


def test_synced_passkey_is_recorded_as_backed_up(signed_in, user, synced_authenticator):
    """The backup state flag of a synced passkey is kept (it decides amr swk vs hwk)."""
    assert register(signed_in, synced_authenticator).status_code == 200
    assert Passkey.objects.get(user=user).backed_up is True


def test_registration_challenge_is_single_use(signed_in, user, authenticator):
    """Posting the same registration response twice: the second is refused."""
    options = post_json(signed_in, "passkeys:register-begin").json()
    credential = authenticator.create(options)
    body = {"credential": credential}
    assert post_json(signed_in, "passkeys:register-complete", body).status_code == 200
    again = post_json(signed_in, "passkeys:register-complete", body)
    assert again.status_code == 400
    assert again.json()["error"] == "challenge_expired"
    assert Passkey.objects.filter(user=user).count() == 1


def test_registration_from_another_origin_is_refused(signed_in, user, authenticator):
    """A response whose clientDataJSON names another origin is refused with a clear
    message, and nothing is stored."""
    response = register(signed_in, authenticator, origin="https://evil.example")
    assert response.status_code == 400
    assert response.json()["error"] == "origin_mismatch"
    assert "another website (https://evil.example)" in response.json()["message"]
    assert not Passkey.objects.exists()


def test_registration_without_user_verification_is_refused(signed_in, user):
    """An authenticator that did not verify the user (no PIN, no biometric) is refused."""
    device = SoftAuthenticator(
        rp_id=app_settings.RP_ID, origin=app_settings.ORIGINS[0], user_verified=False
    )
    response = register(signed_in, device)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_response"
    assert not Passkey.objects.exists()


def test_registration_for_another_rp_id_is_refused(signed_in, authenticator):
    """Authenticator data made for another RP ID does not verify."""
    authenticator.rp_id = "evil.example"
    response = register(signed_in, authenticator)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_response"


def test_tampered_challenge_is_refused(signed_in, authenticator):
    """A response answering a challenge this session never received is refused."""
    options = post_json(signed_in, "passkeys:register-begin").json()
    credential = with_client_data(authenticator.create(options), challenge="AAAA")
    response = post_json(signed_in, "passkeys:register-complete", {"credential": credential})
    assert response.status_code == 400
    assert response.json()["error"] == "challenge_expired"


def test_expired_registration_challenge_is_refused(signed_in, authenticator, settings):
    """A challenge past CIAM_PASSKEYS_CHALLENGE_SECONDS no longer counts."""
    settings.CIAM_PASSKEYS_CHALLENGE_SECONDS = -1
    response = register(signed_in, authenticator)
    assert response.status_code == 400
    assert response.json()["error"] == "challenge_expired"


def test_challenge_of_another_session_is_refused(signed_in, user, authenticator):
    """Challenges are bound to the session: another browser of the same user cannot answer
    them."""
    options = post_json(signed_in, "passkeys:register-begin").json()
    credential = authenticator.create(options)
    other = Client()
    other.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = post_json(other, "passkeys:register-complete", {"credential": credential})
    assert response.status_code == 400
    assert response.json()["error"] == "challenge_expired"


def test_registration_needs_a_recent_sign_in(signed_in, authenticator):
    """Ten minutes after signing in, adding a passkey asks to confirm it's you (403)."""
    age_authentication(signed_in, 600)
    response = post_json(signed_in, "passkeys:register-begin")
    assert response.status_code == 403
    assert response.json()["error"] == "reauthentication_required"


def test_registration_needs_a_signed_in_user(client):
    """Anonymous requests get a JSON 401, not a sign-in page."""
    response = post_json(client, "passkeys:register-begin")
    assert response.status_code == 401
    assert response.json()["error"] == "login_required"


def test_registration_endpoints_check_csrf(user):
    """The JSON endpoints are CSRF-protected like forms (the script sends X-CSRFToken)."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = post_json(client, "passkeys:register-begin")
    assert response.status_code == 403


def test_same_credential_cannot_be_registered_twice(signed_in, authenticator):
    """A credential ID already registered (to anyone) is refused."""
    assert register(signed_in, authenticator).status_code == 200
    other = Client()
    other.force_login(UserFactory(), backend="django.contrib.auth.backends.ModelBackend")
    response = register(other, authenticator)
    assert response.status_code == 400
    assert response.json()["error"] == "already_registered"


def test_malformed_bodies_are_refused_as_json(signed_in):
    """Garbage in, a JSON 400 out (never a server error)."""
    url = reverse("passkeys:register-complete")
    for body in ("not json", "[]", '{"credential": "x"}', '{"credential": {"response": {}}}'):
        post_json(signed_in, "passkeys:register-begin")
        response = signed_in.post(url, body, content_type="application/json")
        assert response.status_code == 400, body
        assert response.json()["error"] in ("invalid_request", "invalid_response"), body


def test_password_alone_cannot_add_a_passkey_when_the_user_has_an_authenticator_app(
    signed_in, user, rf
):
    """A session that has the password but not the user's authenticator app code gets no
    registration options (it would turn a stolen password into a phishing-resistant
    sign-in): the second-factor middleware sends it to the code page, and the service
    refuses on its own too."""
    TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    response = post_json(signed_in, "passkeys:register-begin")
    assert response.status_code in (303, 403)
    assert SESSION_KEY_REGISTRATION not in signed_in.session

    request = rf.post("/")
    request.user = user
    request.session = signed_in.session
    with pytest.raises(PasskeyError) as refused:
        passkey_register_begin(request=request, user=user)
    assert refused.value.code == "second_factor_required"
    assert refused.value.status == 403
