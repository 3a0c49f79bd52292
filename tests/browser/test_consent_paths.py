"""Every way of signing in stops at the consent step when a purpose every client requires
(the terms) has not been agreed to: Chromium shows it unticked, will not continue until it is
ticked, and then the relying party gets its code and the ledger a ``granted`` record.

Screenshots of the consent page (390 px and desktop, English and pt-BR) and of
/account/consents/ go to var/screenshots/ for a human look.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import Error as PlaywrightError

from consent.models import ConsentAction, ConsentChannel, ConsentRecord, PurposeVersion
from consent.selectors import consent_state
from consent.services.ledger import consent_record
from tests.conftest import query_of
from tests.consent.purposes_helpers import make_purpose, publish
from tests.passkeys.test_browser import (
    WITHOUT_CONDITIONAL_MEDIATION,
    add_virtual_authenticator,
    register_on_passkeys_page,
    sign_out,
)
from tests.social.conftest import PROVIDER_NAME, idp, social_app  # noqa: F401 - fixtures

from .fixtures import DESKTOP

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
PHONE_390 = {"width": 390, "height": 844}
NEW_PASSWORD = "a-long-and-new-passphrase-42"
TERMS_V1 = "terms terms v1"
YESTERDAY = timedelta(days=1)


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


def shot(tab, name: str) -> None:
    """Full-page screenshots at 390 px (a common phone) and at desktop width; no sideways
    scrolling there nor at 320 px."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = tab.page
    page.set_viewport_size({"width": 320, "height": 640})
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: scrolls sideways at 320 px by {overflow}px"
    for suffix, size in (("390", PHONE_390), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name}: scrolls sideways at {size['width']} px by {overflow}px"
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{suffix}.png"), full_page=True)


def code_from(message) -> str:
    """The emailed code: on a line of its own, indented, in the plain-text body."""
    match = re.search(r"^ {4}(\S+)$", message.body, re.MULTILINE)
    assert match, message.body
    return match.group(1)


def password_sign_in(tab, email: str, password: str) -> None:
    tab.page.get_by_label("Email").fill(email)
    tab.page.get_by_label("Password").fill(password)
    tab.page.get_by_role("button", name="Sign in", exact=True).click()


def accept_the_terms(tab, client, params: dict[str, str], *, title: str = TERMS_V1) -> str:
    """On the consent page: the purpose is unticked and required, Continue alone does not
    leave the page nor record anything; ticked, Continue reaches the redirect_uri with a
    code. Returns that URL."""
    page = tab.page
    page.wait_for_url(re.compile(r".*/consent/[^/]+/$"))
    consent_url = page.url
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Before you continue to Test web client"
    )
    box = page.get_by_label(title)
    assert box.is_visible()
    assert not box.is_checked(), "nothing is pre-ticked"
    assert box.evaluate("el => el.required")
    records_before = ConsentRecord.objects.count()

    page.get_by_role("button", name="Continue").click()
    page.wait_for_timeout(300)
    assert page.url == consent_url, "the browser refused to submit without the tick"
    assert box.evaluate("el => el.validity.valueMissing")
    assert tab.rp_requests[tab.rp_consumed :] == []
    assert ConsentRecord.objects.count() == records_before

    box.check()
    page.get_by_role("button", name="Continue").click()
    location = tab.wait_for_rp()
    assert location.startswith(client.redirect_uri + "?"), location
    response = query_of(location)
    assert response.get("code"), location
    assert response["state"] == params["state"]
    assert "error" not in response
    assert tab.csp_violations == []
    return location


def joined_yesterday(user) -> None:
    """The fixture's account is made a second before the request, which the consent view
    counts as a sign-up during the request (consent/views.py _channel): make it older."""
    get_user_model().objects.filter(pk=user.pk).update(date_joined=timezone.now() - YESTERDAY)


def assert_granted(user, *, channel: str, number: int = 1) -> ConsentRecord:
    """The ledger's latest entry for the terms: granted, version ``number``, ``channel``."""
    decision = consent_state(user=user)["terms"]
    assert decision.granted
    assert decision.version.number == number
    record = decision.record
    assert record.action == ConsentAction.GRANTED
    assert record.channel == channel
    assert record.text_sha256 == record.version.text_sha256("en")
    return record


def test_password_sign_up_stops_at_the_terms(tab, web_client, mailoutbox):
    """A sign-up with a password and the emailed verification code reaches the terms
    before the client; accepting them is recorded with channel "signup"."""
    make_purpose("terms", required_everywhere=True)
    email = f"new-{secrets.token_hex(4)}@example.com"
    params = auth_params(web_client)
    tab.authorize(params)
    page = tab.page
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r".*/accounts/confirm-email/.*"))
    page.get_by_label("Code").fill(code_from(mailoutbox[-1]))
    page.get_by_role("button", name="Confirm").click()

    accept_the_terms(tab, web_client, params)
    assert_granted(get_user_model().objects.get(email=email), channel=ConsentChannel.SIGNUP)


@pytest.mark.parametrize("who", ["newcomer", "existing"])
def test_emailed_code_stops_at_the_terms(tab, web_client, user, mailoutbox, who):
    """Signing in (or up) with an emailed code reaches the terms before the client; the
    record's channel says whether the account was made during this request."""
    make_purpose("terms", required_everywhere=True)
    joined_yesterday(user)
    email = user.email if who == "existing" else f"new-{secrets.token_hex(4)}@example.com"
    params = auth_params(web_client)
    tab.authorize(params)
    page = tab.page
    page.get_by_role("link", name="Email me a sign-in code").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Email me a code").click()
    page.wait_for_url(re.compile(r".*/account/email-sign-in/code/$"))
    code = re.search(r"^ {4}(\d{6})$", mailoutbox[-1].body, re.M).group(1)
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Continue").click()

    accept_the_terms(tab, web_client, params)
    channel = ConsentChannel.SIGNIN if who == "existing" else ConsentChannel.SIGNUP
    assert_granted(get_user_model().objects.get(email=email), channel=channel)


def test_first_social_sign_in_stops_at_the_terms(tab, web_client, social_app, idp):  # noqa: F811
    """The first sign-in with the upstream provider creates the account and then reaches
    the terms before the client (channel "signup")."""
    make_purpose("terms", required_everywhere=True)
    params = auth_params(web_client)
    tab.authorize(params)
    tab.page.get_by_role("button", name=f"Continue with {PROVIDER_NAME}").click()

    accept_the_terms(tab, web_client, params)
    account = SocialAccount.objects.get(uid=idp.identity.sub)
    assert_granted(account.user, channel=ConsentChannel.SIGNUP)


def test_passkey_sign_in_stops_at_the_terms(open_tab, web_client, user, password):
    """A passkey registered earlier signs in from an authorization request, and the terms
    come before the client (channel "signin")."""
    joined_yesterday(user)
    tab = open_tab()
    tab.page.add_init_script(WITHOUT_CONDITIONAL_MEDIATION)
    add_virtual_authenticator(tab)
    register_on_passkeys_page(tab, user.email, password)
    sign_out(tab)
    make_purpose("terms", required_everywhere=True)

    params = auth_params(web_client)
    tab.authorize(params)
    assert "/accounts/login/" in tab.page.url
    tab.page.get_by_role("button", name="Sign in with a passkey").click()

    accept_the_terms(tab, web_client, params)
    assert_granted(user, channel=ConsentChannel.SIGNIN)


def test_returning_user_is_asked_again_after_a_material_change_only(
    open_tab, web_client, user, password, issuer
):
    """A returning user who agreed to v1 is asked again, in a new browser, once a material
    v2 is published; a minor v3 afterwards lets them through without asking."""
    terms = make_purpose("terms", required_everywhere=True)
    joined_yesterday(user)
    first = open_tab()
    params = auth_params(web_client)
    first.authorize(params)
    password_sign_in(first, user.email, password)
    accept_the_terms(first, web_client, params)
    assert_granted(user, channel=ConsentChannel.SIGNIN, number=1)

    publish(terms, change="material")
    tab = open_tab()
    params = auth_params(web_client)
    tab.authorize(params)
    password_sign_in(tab, user.email, password)
    accept_the_terms(tab, web_client, params, title="terms terms v2")
    assert_granted(user, channel=ConsentChannel.SIGNIN, number=2)

    publish(terms, change="minor")
    records = ConsentRecord.objects.filter(user=user).count()
    params = auth_params(web_client)
    authorize_straight_back(tab, params)
    location = tab.wait_for_rp()
    assert query_of(location).get("code"), location
    assert query_of(location)["state"] == params["state"]
    assert ConsentRecord.objects.filter(user=user).count() == records


def authorize_straight_back(tab, params: dict[str, str]) -> None:
    """An authorization request answered with a redirect to the client at once: Chromium
    may report the cross-site redirect as a failed navigation before it retries it through
    the relying party's route (tests/browser/fixtures.py Tab.wait_for_rp)."""
    try:
        tab.authorize(params)
    except PlaywrightError as error:
        if "ERR_NAME_NOT_RESOLVED" not in str(error):
            raise


def open_details(tab) -> None:
    for details in tab.page.locator("main details").all():
        details.evaluate("el => { el.open = true; }")


@pytest.mark.parametrize("locale", ["en", "pt-BR"])
def test_consent_page_screenshots(open_tab, web_client, third_party_client, user, password, locale):
    """The consent page with a required and an optional purpose, for a first-party client
    and, with the OAuth grant on the same page, for a third-party one: labelled controls,
    no sideways scrolling at 390 px, no refusal by the page's policy; saved as screenshots.
    """
    make_purpose("terms", required_everywhere=True)
    make_purpose(
        "newsletter",
        kind="marketing_email",
        clients={web_client.client_id: False, third_party_client.client_id: False},
    )
    extra = {"ui_locales": "pt-BR"} if locale == "pt-BR" else {}
    tab = open_tab(locale="pt-BR" if locale == "pt-BR" else "en-US")
    page = tab.page
    suffix = locale.lower()

    tab.authorize(auth_params(web_client, **extra))
    password_sign_in_any(tab, user.email, password, locale)
    page.wait_for_url(re.compile(r".*/consent/[^/]+/$"))
    assert page.locator("html").get_attribute("lang") == ("pt-br" if suffix == "pt-br" else "en")
    assert page.locator("input[name=accept]").count() == 2
    assert page.locator("input[name=accept][required]").count() == 1
    assert tab.unlabelled_controls() == []
    shot(tab, f"consent-first-party-{suffix}")
    open_details(tab)
    shot(tab, f"consent-first-party-details-{suffix}")

    claims = '{"userinfo": {"birthdate": null}}'
    tab.authorize(
        auth_params(third_party_client, scope="openid email profile", claims=claims, **extra)
    )
    page.wait_for_url(re.compile(r".*/consent/[^/]+/$"))
    assert page.locator("input[name=accept]").count() == 2
    assert tab.unlabelled_controls() == []
    shot(tab, f"consent-third-party-{suffix}")
    assert tab.csp_violations == []


def password_sign_in_any(tab, email: str, password: str, locale: str) -> None:
    if locale == "pt-BR":
        tab.page.get_by_label("E-mail").fill(email)
        tab.page.get_by_label("Senha").fill(password)
        tab.page.get_by_role("button", name="Entrar", exact=True).click()
    else:
        password_sign_in(tab, email, password)


def test_account_consents_page_screenshots(open_tab, web_client, user, password):
    """/account/consents/ lists a purpose agreed to (whose words changed since) and one not
    agreed to, each with its button, and the history; saved as screenshots."""
    terms = make_purpose("terms", required_everywhere=True)
    make_purpose("newsletter", kind="marketing_email", clients={web_client.client_id: False})
    version: Any = PurposeVersion.objects.get(purpose=terms, number=1)
    consent_record(
        user=user, version=version, action=ConsentAction.GRANTED, channel=ConsentChannel.SIGNIN
    )
    publish(terms, change="material", title="Terms of service, now with a much longer title")

    tab = open_tab()
    page = tab.page
    tab.goto("/account/consents/")
    password_sign_in(tab, user.email, password)
    page.wait_for_url(re.compile(r".*/account/consents/$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Your consents"
    assert page.get_by_text("Agreed", exact=True).is_visible()
    assert page.get_by_text("Not agreed", exact=True).is_visible()
    assert tab.unlabelled_controls() == []
    open_details(tab)
    shot(tab, "account-consents-en")
    assert tab.csp_violations == []


def test_purpose_sections_are_translated_to_portuguese(open_tab, web_client, user, password):
    """With ui_locales=pt-BR the purposes' headings and the full-text link are Portuguese."""
    make_purpose("terms", required_everywhere=True)
    make_purpose("newsletter", kind="marketing_email", clients={web_client.client_id: False})
    tab = open_tab(locale="pt-BR")
    tab.authorize(auth_params(web_client, ui_locales="pt-BR"))
    password_sign_in_any(tab, user.email, password, "pt-BR")
    page = tab.page
    page.wait_for_url(re.compile(r".*/consent/[^/]+/$"))
    english = {
        "To continue, please accept",
        "Optional: choose what you want",
        "You can change these choices at any time in your account.",
        "Read the full text",
        "Continue",
    }
    shown = set(page.locator("main legend, main .purpose-list > p, main summary").all_inner_texts())
    shown |= {page.locator("button[value=allow]").inner_text()}
    assert not (english & {text.strip() for text in shown}), shown
    assert not page.locator("h1").inner_text().startswith("Before you continue")
