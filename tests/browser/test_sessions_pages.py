"""The sessions page in a real browser: two sessions listed, the other one signed out
from here without any script, both languages, desktop and phone widths."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.utils import timezone

from sessions_ctx.models import Action, BrowserSession, EndReason, RiskDecision
from tests.browser.conftest import DESKTOP
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("CIAM_SCREENSHOT_DIR", "/tmp/shots"))  # noqa: S108 - images only
WIDTHS = (1280, 390)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


def shots(page, name: str) -> None:
    """Full-page screenshots at 1280 px and 390 px (a phone); the page must not scroll
    sideways at either width."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 860})
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name}: scrolls sideways at {width} px by {overflow}px"
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    if size:
        page.set_viewport_size(size)


def confirmed_and_blocked(user) -> None:
    """Two earlier decisions: a new device confirmed with a passkey, a blocked address."""
    RiskDecision.objects.create(
        user=user,
        trigger=RiskDecision.Trigger.SIGN_IN,
        findings=[
            {
                "code": "new_device",
                "confidence": "medium",
                "params": {"device": "Firefox · Windows", "place": "Lisboa, PT"},
            }
        ],
        action=Action.STEP_UP,
        place="Lisboa, PT",
        device_label="Firefox · Windows",
        resolved_at=timezone.now(),
        resolved_with="hwk",
    )
    RiskDecision.objects.create(
        user=user,
        trigger=RiskDecision.Trigger.SIGN_IN,
        findings=[{"code": "bad_address", "confidence": "high", "params": {"ip": "192.0.2.1"}}],
        action=Action.BLOCK,
    )


def sign_in(page, issuer: str, email: str) -> None:
    page.goto(issuer + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/$"))


def test_two_sessions_listed_and_the_other_signed_out(chromium, open_tab, issuer, settings):
    """A user signed in on a phone and on this browser sees both on the sessions page,
    this one marked; "Sign out" on the phone's entry signs the phone out and leaves one
    session; the page reads the same in pt-BR. The password change page then offers
    "Sign out of all other devices", ticked."""
    settings.ACCOUNT_FORMS = {
        **settings.ACCOUNT_FORMS,
        "change_password": "accounts.password_forms.ChangePasswordForm",
        "reset_password_from_key": "accounts.password_forms.ResetPasswordKeyForm",
    }
    user = UserFactory()
    phone_context = chromium.new_context(user_agent=IPHONE, viewport={"width": 390, "height": 844})
    try:
        phone = phone_context.new_page()
        sign_in(phone, issuer, user.email)
        tab = open_tab(viewport=DESKTOP)
        page = tab.page
        sign_in(page, issuer, user.email)

        page.goto(issuer + "/account/sessions/")
        entries = page.locator("[data-session]")
        assert entries.count() == 2
        assert entries.first.locator(".badge", has_text="This browser").is_visible()
        phone_entry = page.locator("[data-session]", has_text="Safari · iOS")
        assert phone_entry.count() == 1
        assert "Phone" in phone_entry.inner_text()
        assert tab.unlabelled_controls() == []
        shots(page, "sessions-en")

        page.get_by_role("button", name="Português").click()
        page.wait_for_url(re.compile(r".*/account/sessions/$"))
        assert page.locator("html").get_attribute("lang") == "pt-br"
        assert entries.first.locator(".badge", has_text="Este navegador").is_visible()
        shots(page, "sessions-pt-br")
        confirmed_and_blocked(user)
        page.goto(issuer + "/account/sessions/activity/")
        shots(page, "activity-pt-br")
        page.get_by_role("button", name="English").click()
        page.wait_for_url(re.compile(r".*/activity/$"))
        shots(page, "activity-en")

        page.goto(issuer + "/account/sessions/")
        phone_entry.get_by_role("button").click()
        page.wait_for_url(re.compile(r".*/account/sessions/$"))
        assert page.locator("[data-session]").count() == 1
        assert page.locator(".alert--success").is_visible()
        shots(page, "sessions-after-sign-out-en")
        assert tab.csp_violations == []

        phone.goto(issuer + "/account/sessions/")
        assert "/accounts/login/" in phone.url
        ended = BrowserSession.objects.get(user=user, ended_at__isnull=False)
        assert ended.end_reason == EndReason.REVOKED_BY_USER
        assert ended.device_type == "phone"

        page.goto(issuer + "/accounts/password/change/")
        assert page.get_by_label("Sign out of all other devices").is_checked()
        shots(page, "password-change-en")
    finally:
        phone_context.close()
