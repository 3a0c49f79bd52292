"""The profile section of the portal in a real browser, in English and in pt-BR: the
profile edited with each value's provenance, the email address changed by code (notice to
the old one) and the mobile number changed by code (notice to the old number), without any
script of ours, at desktop and phone widths."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from accounts import sms
from profiling.models import Profile, ValueSource
from profiling.services.values import profile_update
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.browser

EMAIL_CODE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4})\b")
SMS_CODE = re.compile(r"\b(\d{6})\b")


def _sign_in(tab, email: str) -> None:
    tab.goto("/accounts/login/")
    tab.page.fill("input[name=login]", email)
    tab.page.fill("input[name=password]", PASSWORD)
    tab.page.locator("main button[type=submit]").first.click()
    tab.page.wait_for_url(re.compile(r".*/$"))


def _no_sideways_scroll(tab, name: str) -> None:
    for width in (1280, 375):
        tab.page.set_viewport_size({"width": width, "height": 860})
        overflow = tab.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name}: scrolls sideways at {width} px"
    tab.page.set_viewport_size({"width": 1280, "height": 860})
    assert tab.unlabelled_controls() == [], name


def _walk(tab, *, old_email: str, new_email: str, area: str, words: dict[str, str]) -> None:
    page = tab.page
    # Profile: provenance shown, a change saved and then said to be the customer's.
    tab.goto("/account/profile/")
    assert words["staff"] in page.content()
    page.fill("input[name=nickname]", "Aninha")
    page.locator("form.form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/account/profile/$"))
    assert words["yours"] in page.content()
    assert page.input_value("input[name=nickname]") == "Aninha"
    _no_sideways_scroll(tab, "profile")

    # Email: the code goes to the new address; the switch only after it.
    mail.outbox.clear()
    tab.goto("/accounts/email/")
    page.fill("input[name=email]", new_email)
    page.locator("button[name=action_add]").click()
    page.wait_for_url(re.compile(r".*/accounts/confirm-email/$"))
    assert [m.to for m in mail.outbox] == [[new_email]]
    assert EmailAddress.objects.get(primary=True, email__in=[old_email, new_email]).email == (
        old_email
    )
    page.fill("input[name=code]", EMAIL_CODE.search(mail.outbox[0].body).group(1))
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/accounts/email/$"))
    assert new_email in page.content()
    assert mail.outbox[-1].to == [old_email]
    _no_sideways_scroll(tab, "email")

    # Phone: the code goes to the new number; the old one is told.
    sms.outbox.clear()
    tab.goto("/account/phone/")
    page.fill("input[name=phone]", f"({area}) 99876-5432")
    page.locator("button[name=action][value=send]").click()
    page.wait_for_url(re.compile(r".*/account/phone/verify/$"))
    assert f"+55 {area} 99876-5432" in page.content()
    _no_sideways_scroll(tab, "phone-verify")
    code = SMS_CODE.search(sms.outbox[0].body).group(1)
    page.fill("input[name=code]", "000000" if code != "000000" else "111111")
    page.locator("button[name=action][value=verify]").click()
    assert words["wrong"] in page.content()
    page.fill("input[name=code]", code)
    page.locator("button[name=action][value=verify]").click()
    page.wait_for_url(re.compile(r".*/account/phone/$"))
    assert words["changed"] in page.content()
    assert [m.to for m in sms.outbox] == [f"+55{area}998765432", "+5511987654321"]
    tab.goto("/account/profile/")
    assert f"+55 {area} 99876-5432" in page.content()
    _no_sideways_scroll(tab, "profile-after")


def test_profile_email_and_phone_in_both_languages(open_tab, issuer, settings):
    """In English and then in pt-BR a customer edits the profile (provenance in plain
    words), changes the email address by code and the mobile number by code; each old
    address or number is told; nothing switches before its code."""
    settings.ACCOUNT_EMAIL_NOTIFICATIONS = True
    settings.CIAM_PHONE_RESEND_SECONDS = 0
    for locale, area, words in (
        (
            "en-US",
            "21",
            {
                "staff": "Added by our staff on",
                "yours": "You added this on",
                "wrong": "That code is not right",
                "changed": "Your mobile number was changed",
            },
        ),
        (
            "pt-BR",
            "31",
            {
                "staff": "Adicionado pela nossa equipe em",
                "yours": "Você informou em",
                "wrong": "Esse código não está certo",
                "changed": "Seu celular foi alterado",
            },
        ),
    ):
        tag = locale[:2]
        user = UserFactory(email=f"old-{tag}@example.com")
        profile_update(
            user=user,
            changes={"phone_number": "+5511987654321"},
            source=ValueSource.ACCOUNT,
            verified=["phone_number"],
        )
        tab = open_tab(locale=locale)
        _sign_in(tab, user.email)
        _walk(tab, old_email=user.email, new_email=f"new-{tag}@example.com", area=area, words=words)
        assert Profile.objects.get(user=user).values["phone_number"] == f"+55{area}998765432"
        assert tab.csp_violations == []
