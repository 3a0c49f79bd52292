"""In a browser, in English and in Brazilian Portuguese: an operator searches a customer by
phone, opens the customer page and runs every action on it, seeing each outcome."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from sessions_ctx.models import BrowserSession
from tests.factories import PASSWORD, UserFactory
from tests.sessions_ctx.test_account_sessions import signed_in_browser

from .customers_fixtures import PHONE_TYPED

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
User = get_user_model()


def _customer(email: str, phone: str, address: str):
    from allauth.account.models import EmailAddress

    from profiling.models import ValueSource
    from profiling.services.values import profile_update

    user = UserFactory(email=email, given_name="Maria", family_name="Lima")
    profile_update(user=user, changes={"phone_number": phone}, source=ValueSource.ACCOUNT)
    signed_in_browser(user, address=address)
    assert BrowserSession.objects.filter(user=user, ended_at__isnull=True).exists()
    # Signed in before the address was changed back to unverified (an import, say).
    EmailAddress.objects.filter(user=user).update(verified=False)
    return user


def _confirm(page) -> None:
    page.locator("form:has(input[name=confirm]) [type=submit]").click()
    page.wait_for_load_state()


def _run(tab, email: str, verb: str, confirm: bool) -> None:
    """Press an action's button (and confirm it); its success message names the customer."""
    page = tab.page
    page.locator(f"button[data-action='{verb}']").click()
    page.wait_for_load_state()
    if confirm:
        assert email in page.locator("#content").inner_text()
        tab.shot(f"console-confirm-{verb}-{page.locator('html').get_attribute('lang')}")
        _confirm(page)
    assert email in page.locator("body").inner_text()


def test_operator_runs_every_action_in_both_languages(open_tab, issuer):
    """Search by a formatted phone, open the page (panels, dates in the language), then
    resend verification, verify email, send password reset, sign out everywhere (confirmed),
    disable (confirmed), enable and erase (confirmed)."""
    operator = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    for language, phone, address in (
        ("en", PHONE_TYPED, "198.51.100.7"),
        ("pt-br", "(21) 98765-4321", "198.51.100.8"),
    ):
        email = f"maria.{language}@example.com"
        user = _customer(email, phone, address)
        tab = open_tab(locale="pt-BR" if language == "pt-br" else "en-US")
        page = tab.page
        page.context.add_cookies([{"name": "ciam_language", "value": language, "url": issuer}])
        tab.goto("/admin/login/")
        page.fill("input[name=username]", operator.email)
        page.fill("input[name=password]", PASSWORD)
        page.locator("button[type=submit], input[type=submit]").first.click()
        page.wait_for_load_state()
        tab.goto("/admin/accounts/user/")
        assert page.locator("html").get_attribute("lang") == language
        page.fill("input[name=q]", phone)
        page.press("input[name=q]", "Enter")
        page.wait_for_load_state()
        page.locator(f"a:text-is('{email}')").first.click()
        page.wait_for_load_state()
        for panel in ("profile", "sign-in", "sessions", "consents", "security", "apps"):
            assert page.locator(f"#panel-{panel}").is_visible(), panel
        if language == "pt-br":
            assert " de 20" in page.locator("#panel-profile").inner_text()
        tab.shot(f"console-customer-{language}")

        def run(verb: str, confirm: bool = False, tab=tab, email=email) -> None:
            _run(tab, email, verb, confirm)

        sent = len(mail.outbox)
        run("resend-verification")
        assert mail.outbox[-1].to == [email]
        assert len(mail.outbox) == sent + 1
        run("verify-email")
        assert page.locator("button[data-action='verify-email']").count() == 0
        run("password-reset")
        assert "/accounts/password/reset/key/" in mail.outbox[-1].body
        run("sign-out", confirm=True)
        assert not BrowserSession.objects.filter(user=user, ended_at__isnull=True).exists()
        assert "(0 " in page.locator("#panel-sessions-title").inner_text()
        run("disable", confirm=True)
        assert page.locator("button[data-action='enable']").is_visible()
        assert not User.objects.get(pk=user.pk).is_active
        run("enable")
        assert page.locator("button[data-action='disable']").is_visible()
        assert User.objects.get(pk=user.pk).is_active
        page.locator("button[data-action='erase']").click()
        page.wait_for_load_state()
        assert email in page.locator("#content").inner_text()
        tab.shot(f"console-confirm-erase-{language}")
        _confirm(page)
        assert page.url.endswith("/admin/accounts/user/")
        assert not User.objects.filter(pk=user.pk).exists()
        assert email in page.locator("body").inner_text()  # "The account of ... was erased."
