"""Passkeys in Chromium with its virtual authenticator (CDP WebAuthn domain).

The authenticator is a platform one (internal transport, CTAP2) with resident keys and
user verification, so navigator.credentials behaves as on a laptop with a fingerprint
reader. The relying party is intercepted by the browser fixtures (tests/browser/fixtures.py).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from typing import Any

import pytest

from accounts.passkeys.models import Passkey
from tests.browser.test_pages import check_page
from tests.conftest import query_of, redeem_code

from .authenticator import with_client_data

pytestmark = pytest.mark.browser

OFFER_STEPS = [
    "accounts.steps.SignInStep",
    "accounts.passkeys.steps.PasskeyOfferStep",
    "consent.steps.ConsentStep",
]


def add_virtual_authenticator(tab) -> tuple[Any, str]:
    """Before any page loads: a platform authenticator that verifies the user."""
    cdp = tab.page.context.new_cdp_session(tab.page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def stored_credentials(cdp, authenticator_id: str) -> list[dict[str, Any]]:
    return cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]


def auth_params(client, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": "openid email",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        **extra,
    }


def password_sign_in(tab, email: str, password: str) -> None:
    tab.page.get_by_label("Email").fill(email)
    tab.page.get_by_label("Password").fill(password)
    tab.page.get_by_role("button", name="Sign in", exact=True).click()


def id_token_claims(issuer: str, client, location: str) -> dict:
    """Redeem the code in ``location``; the ID token's claims, signature checked."""
    return redeem_code(issuer, client, query_of(location)["code"])


def sign_out(tab) -> None:
    tab.goto("/logout")
    tab.page.get_by_role("button", name="Sign out", exact=True).click()
    tab.page.wait_for_url(re.compile(r".*/logged-out.*"))


def capture_assertions(tab) -> list[str]:
    """Record the bodies the sign-in script posts to the verify endpoint."""
    bodies: list[str] = []

    def keep(route) -> None:
        bodies.append(route.request.post_data or "")
        route.continue_()

    tab.page.route(re.compile(r".*/account/passkeys/authenticate/complete$"), keep)
    return bodies


def post_from_browser(tab, path: str, body: str) -> Any:
    """POST ``body`` as the page's script would (same cookies, CSRF header)."""
    cookies = {c["name"]: c["value"] for c in tab.page.context.cookies()}
    return tab.page.request.post(
        tab.issuer + path,
        data=body,
        headers={"Content-Type": "application/json", "X-CSRFToken": cookies["ciam_csrf"]},
    )


# Browsers without autofill for passkeys: only the button signs in. (Chromium's virtual
# authenticator answers an autofill request by itself, as if the person had picked the
# passkey from the list.)
WITHOUT_CONDITIONAL_MEDIATION = """
PublicKeyCredential.isConditionalMediationAvailable = async () => false;
"""

# Records the mediation of every navigator.credentials.get call in window.passkeyMediations.
RECORD_MEDIATION = """
window.passkeyMediations = [];
const originalGet = navigator.credentials.get.bind(navigator.credentials);
navigator.credentials.get = (options) => {
  window.passkeyMediations.push(options.mediation || "optional");
  return originalGet(options);
};
"""


def register_on_passkeys_page(tab, email: str, password: str, name: str = "") -> None:
    """Sign in with the password and add a passkey on the passkeys page."""
    page = tab.page
    tab.goto("/account/passkeys/")
    password_sign_in(tab, email, password)
    page.wait_for_url(re.compile(r".*/account/passkeys/$"))
    if name:
        page.get_by_label("Name (optional)").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_text("added.").wait_for()


def test_register_sign_out_then_sign_in_with_the_passkey(
    open_tab, web_client, user, password, issuer
):
    """Register a passkey on the passkeys page, sign out, sign in with it from an
    authorization request and land at the relying party with a code whose ID token says
    amr hwk/swk + user and acr phrh/phr; the list then shows the last use, and removing
    works."""
    tab = open_tab()
    tab.page.add_init_script(WITHOUT_CONDITIONAL_MEDIATION)
    cdp, authenticator_id = add_virtual_authenticator(tab)
    page = tab.page

    tab.goto("/account/passkeys/")
    assert "/accounts/login/" in page.url
    password_sign_in(tab, user.email, password)
    page.wait_for_url(re.compile(r".*/account/passkeys/$"))
    check_page(tab, "passkeys-empty", heading="Passkeys")
    assert page.get_by_text("You have no passkeys yet.").is_visible()
    page.get_by_label("Name (optional)").fill("Test laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_text("Passkey “Test laptop” added.").wait_for()
    row = page.get_by_role("row").filter(has_text="Test laptop")
    assert row.get_by_text("Never").is_visible()
    [credential] = stored_credentials(cdp, authenticator_id)
    assert credential["isResidentCredential"] is True
    assert credential["rpId"] == "localhost"
    passkey = Passkey.objects.get(user=user)
    assert base64.b64decode(credential["credentialId"]) == bytes(passkey.credential_id)
    check_page(tab, "passkeys-list", heading="Passkeys")

    sign_out(tab)

    bodies = capture_assertions(tab)
    params = auth_params(web_client)
    tab.authorize(params)
    assert "/accounts/login/" in page.url
    assert page.get_by_label("Email").get_attribute("autocomplete") == "username webauthn"
    check_page(tab, "login-with-passkey", heading="Sign in")
    page.get_by_role("button", name="Sign in with a passkey").click()
    location = tab.wait_for_rp()
    assert location.startswith(web_client.redirect_uri + "?"), location
    assert query_of(location)["state"] == params["state"]
    assert query_of(location)["iss"] == issuer
    claims = id_token_claims(issuer, web_client, location)
    assert claims["sub"]
    assert claims["nonce"] == params["nonce"]
    assert "user" in claims["amr"]
    assert {"hwk", "swk"} & set(claims["amr"]), claims["amr"]
    assert claims["acr"] == ("phr" if "swk" in claims["amr"] else "phrh")
    assert len(bodies) == 1

    passkey.refresh_from_db()
    assert passkey.last_used_at is not None
    [credential] = stored_credentials(cdp, authenticator_id)
    assert passkey.sign_count == credential["signCount"]

    # Failed assertions: the captured answer sent again as is (its challenge is used up),
    # then rewritten for a fresh challenge of this session but with another origin.
    verify = "/account/passkeys/authenticate/complete"
    replay = post_from_browser(tab, verify, bodies[0])
    assert replay.status == 400
    assert replay.json()["error"] == "challenge_expired"
    fresh = post_from_browser(tab, "/account/passkeys/authenticate/begin", "{}").json()
    tampered = with_client_data(
        json.loads(bodies[0])["credential"],
        challenge=fresh["challenge"],
        origin="https://evil.example",
    )
    refused = post_from_browser(tab, verify, json.dumps({"credential": tampered}))
    assert refused.status == 400
    assert refused.json()["error"] == "origin_mismatch"
    assert "another website (https://evil.example)" in refused.json()["message"]

    tab.goto("/account/passkeys/")
    row = page.get_by_role("row").filter(has_text="Test laptop")
    assert row.locator("time").count() == 2, "created and last used"
    assert not row.get_by_text("Never").is_visible()

    row.get_by_role("link", name="Rename Test laptop").click()
    check_page(tab, "passkeys-rename", heading="Rename passkey")
    page.get_by_label("Name").fill("Work laptop")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Passkey renamed to “Work laptop”.").wait_for()

    row = page.get_by_role("row").filter(has_text="Work laptop")
    row.get_by_role("link", name="Remove Work laptop").click()
    check_page(tab, "passkeys-remove", heading="Remove the passkey “Work laptop”?")
    page.get_by_role("button", name="Remove passkey").click()
    page.get_by_text("Passkey “Work laptop” removed.").wait_for()
    assert page.get_by_text("You have no passkeys yet.").is_visible()
    assert not Passkey.objects.filter(user=user).exists()
    assert tab.csp_violations == []


def test_autofill_signs_in_with_conditional_mediation(open_tab, web_client, user, password, issuer):
    """The sign-in page starts a conditional request when the browser supports autofill for
    passkeys; choosing the passkey there (done by the virtual authenticator) signs in
    without a click and the relying party gets a code with a phishing-resistant acr."""
    tab = open_tab()
    add_virtual_authenticator(tab)
    register_on_passkeys_page(tab, user.email, password)
    sign_out(tab)

    tab.page.add_init_script(RECORD_MEDIATION)
    params = auth_params(web_client)
    tab.authorize(params)
    location = tab.wait_for_rp()
    claims = id_token_claims(issuer, web_client, location)
    assert claims["acr"] in ("phrh", "phr")
    assert "user" in claims["amr"]
    assert tab.csp_violations == []


def test_login_page_asks_for_conditional_mediation(open_tab, web_client, user, password):
    """The page's first credentials request uses mediation "conditional" (autofill)."""
    tab = open_tab()
    tab.page.add_init_script(RECORD_MEDIATION)
    tab.authorize(auth_params(web_client))
    mediations: list[str] = []
    for _ in range(50):
        mediations = tab.page.evaluate("window.passkeyMediations")
        if mediations:
            break
        tab.page.wait_for_timeout(100)
    assert mediations == ["conditional"]
    assert tab.page.get_by_label("Email").get_attribute("autocomplete") == "username webauthn"


def test_offer_after_password_sign_in_creates_a_passkey(
    open_tab, web_client, user, password, issuer, settings
):
    """Right after a password sign-in in an authorization request, a browser with a
    fingerprint or face unlock is offered a passkey; creating it continues to the relying
    party with a code, and the next sign-in needs no password."""
    settings.CIAM_INTERACTION_STEPS = OFFER_STEPS
    tab = open_tab()
    tab.page.add_init_script(WITHOUT_CONDITIONAL_MEDIATION)
    cdp, authenticator_id = add_virtual_authenticator(tab)
    page = tab.page
    params = auth_params(web_client)
    tab.authorize(params)
    password_sign_in(tab, user.email, password)
    page.wait_for_url(re.compile(r".*/account/passkeys/offer/.*"))
    check_page(tab, "passkeys-offer", heading="Sign in faster next time")
    page.get_by_role("button", name="Create passkey").click()
    location = tab.wait_for_rp()
    assert query_of(location)["state"] == params["state"]
    assert query_of(location).get("code")
    assert Passkey.objects.filter(user=user).count() == 1
    assert len(stored_credentials(cdp, authenticator_id)) == 1

    sign_out(tab)
    params = auth_params(web_client)
    tab.authorize(params)
    page.get_by_role("button", name="Sign in with a passkey").click()
    claims = id_token_claims(issuer, web_client, tab.wait_for_rp())
    assert claims["acr"] in ("phrh", "phr")
    assert tab.csp_violations == []


def test_refused_passkey_shows_why_and_the_password_still_works(
    open_tab, web_client, user, password, issuer
):
    """A passkey the site no longer knows (removed elsewhere) is refused with a message on
    the sign-in page; the password form still signs in."""
    tab = open_tab()
    tab.page.add_init_script(WITHOUT_CONDITIONAL_MEDIATION)
    add_virtual_authenticator(tab)
    register_on_passkeys_page(tab, user.email, password)
    sign_out(tab)
    Passkey.objects.filter(user=user).delete()

    params = auth_params(web_client)
    tab.authorize(params)
    page = tab.page
    page.get_by_role("button", name="Sign in with a passkey").click()
    alert = page.locator("#passkey-login [role=alert]")
    alert.wait_for()
    assert "not registered here" in alert.inner_text()
    assert "/accounts/login/" in page.url
    assert tab.rp_requests == []
    password_sign_in(tab, user.email, password)
    # The user has no passkey any more and this browser can make one: the offer comes first.
    page.wait_for_url(re.compile(r".*/account/passkeys/offer/.*"))
    page.get_by_role("button", name="Not now").click()
    assert query_of(tab.wait_for_rp()).get("code")


def test_sign_in_page_works_without_javascript(chromium, issuer, user, password):
    """Without JavaScript the passkey button stays hidden and the password signs in; the
    passkeys page says that creating one needs JavaScript."""
    context = chromium.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(issuer + "/accounts/login/?next=/account/passkeys/")
        assert not page.get_by_role("button", name="Sign in with a passkey").is_visible()
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_url(re.compile(r".*/account/passkeys/$"))
        assert page.get_by_text("This browser cannot create passkeys").is_visible()
        assert not page.get_by_role("button", name="Add a passkey").is_visible()
    finally:
        context.close()
