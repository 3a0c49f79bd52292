"""Contextual sessions in a real browser: a replayed cookie, a new device under a step-up
policy, revoking a session from the account area (back-channel logout), prompt=none after."""

from __future__ import annotations

import base64
import json
import re
import secrets

import pytest

from sessions_ctx.models import Action, FindingCode, RiskPolicy, RiskRule
from tests.browser.test_consent_paths import authorize_straight_back
from tests.conftest import query_of
from tests.factories import make_client
from tests.oidc.test_backchannel_logout import Receiver, receiver  # noqa: F401 - fixture

from .fixtures import RP_ORIGIN

pytestmark = pytest.mark.browser

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CALLBACK = RP_ORIGIN + "/callback"


def params(client_id: str, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid email",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        **extra,
    }


def sign_in(tab, email: str, password: str) -> None:
    tab.page.get_by_label("Email").fill(email)
    tab.page.get_by_label("Password").fill(password)
    tab.page.get_by_role("button", name="Sign in", exact=True).click()


def signed_in_tab(open_tab, client_id: str, user, password, **context):
    tab = open_tab(**context)
    tab.authorize(params(client_id))
    sign_in(tab, user.email, password)
    assert "code" in query_of(tab.wait_for_rp())
    return tab


def emailed_code(mailoutbox) -> str:
    match = re.search(r"^\s+(\d{6})\s*$", mailoutbox[-1].body, re.M)
    assert match, mailoutbox[-1].body
    return match.group(1)


def test_a_cookie_replayed_from_another_user_agent_is_challenged(
    open_tab, chromium, web_client, user, password
):
    """The session cookie copied into a browser with another user agent opens no account
    page: it is asked to confirm it is the customer, and told why."""
    tab = signed_in_tab(open_tab, web_client.client_id, user, password)
    cookies = tab.page.context.cookies()
    thief_context = chromium.new_context(user_agent=FIREFOX)
    try:
        thief_context.add_cookies(cookies)
        page = thief_context.new_page()
        page.goto(tab.issuer + "/account/privacy/")
        assert "/account/confirm/" in page.url
        assert page.get_by_role("heading", name="Confirm it's you").is_visible()
        assert "used from another browser" in page.content()
        assert "/account/privacy/" not in page.url
    finally:
        thief_context.close()


def test_new_device_steps_up_by_policy_and_the_decision_shows_in_the_account(
    open_tab, web_client, user, password, mailoutbox
):
    """Policy "new device: step-up": the second browser confirms with the emailed code,
    continues to the client, and the account's security activity names the new device and
    how it was confirmed (in English and Portuguese)."""
    RiskRule.objects.create(
        policy=RiskPolicy.objects.get_or_create(application=None, defaults={"name": "Default"})[0],
        finding=FindingCode.NEW_DEVICE,
        min_confidence="low",
        action=Action.STEP_UP,
    )
    signed_in_tab(open_tab, web_client.client_id, user, password)

    tab = open_tab()
    request = params(web_client.client_id)
    tab.authorize(request)
    sign_in(tab, user.email, password)
    tab.page.wait_for_url(re.compile(".*/account/confirm/.*"))
    assert "A sign-in from a new device" in tab.page.content()
    tab.shot("step-up-new-device")
    tab.page.get_by_label("Code from the email").fill(emailed_code(mailoutbox))
    tab.page.get_by_role("button", name="Confirm", exact=True).click()
    answer = query_of(tab.wait_for_rp())
    assert answer["state"] == request["state"]
    assert "code" in answer

    tab.goto("/account/sessions/activity/")
    text = tab.page.inner_text("main")
    assert "new device" in text.lower()
    tab.shot("security-activity")
    assert not tab.csp_violations

    pt = open_tab(locale="pt-BR")
    pt.page.context.add_cookies(tab.page.context.cookies())
    pt.goto("/account/sessions/activity/")
    assert "novo dispositivo" in pt.page.inner_text("main").lower()
    pt.shot("security-activity-pt-BR")


def test_revoking_a_session_sends_a_logout_token_and_prompt_none_then_needs_login(
    open_tab,
    user,
    password,
    receiver,  # noqa: F811 - the imported fixture
):
    """Two browsers signed in to a client with a back-channel logout URI; from the second,
    the account's sessions page signs the first out: the client's receiver on loopback gets
    a logout token naming the first session, and prompt=none in the first browser answers
    login_required."""
    registered = make_client(
        "web",
        name="Shop",
        redirect_uris=[CALLBACK],
        first_party=True,
        backchannel_logout_uri=receiver.url + "/bcl",
        backchannel_logout_session_required=True,
    )
    first = signed_in_tab(open_tab, registered.client_id, user, password)
    second = signed_in_tab(open_tab, registered.client_id, user, password)

    second.goto("/account/sessions/")
    second.shot("sessions-two")
    other = second.page.locator("form[action$='/sign-out/'] button.button--danger")
    assert other.count() == 1  # the other browser; this one says "Sign out of this browser"
    other.click()
    second.page.wait_for_load_state()
    assert second.page.url.startswith(second.issuer + "/account/sessions/")

    deadline = 50
    while not receiver.tokens and deadline:
        second.page.wait_for_timeout(100)
        deadline -= 1
    assert receiver.paths() == ["/bcl"]
    payload = receiver.tokens[0][1].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sid"]
    assert "nonce" not in claims

    authorize_straight_back(first, params(registered.client_id, prompt="none"))
    assert query_of(first.wait_for_rp())["error"] == "login_required"
    authorize_straight_back(second, params(registered.client_id, prompt="none"))
    assert "code" in query_of(second.wait_for_rp())
