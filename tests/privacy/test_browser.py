"""In Chromium: look at your data, delete the account, and sign in again to cancel."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from accounts.models import ErasureRequest
from tests.factories import UserFactory

from .conftest import furnish

pytestmark = pytest.mark.browser


def sign_in(tab, email: str, password: str, button: str = "Sign in") -> None:
    tab.page.get_by_label(re.compile("^(Email|E-mail)$")).fill(email)
    tab.page.get_by_label(re.compile("^(Password|Senha)$")).fill(password)
    tab.page.get_by_role("button", name=button, exact=True).click()


def test_delete_account_then_cancel_by_signing_in(open_tab, password, issuer):
    """A user opens "Your data" from the account page, downloads the copy, asks for the
    deletion with their password, lands signed out on the confirmation with the date, is
    emailed; signing in again cancels the deletion and says so. Labelled inputs, no CSP
    violations; screenshots at desktop and phone widths."""
    user = UserFactory()
    furnish(user)
    user.totpdevice_set.all().delete()  # the password alone signs in
    tab = open_tab()
    tab.goto("/")
    tab.page.get_by_role("link", name="Sign in").click()
    sign_in(tab, user.email, password)
    page = tab.page
    page.wait_for_url(re.compile(r".*/$"))
    page.get_by_role("link", name="Your data").first.click()
    page.wait_for_url(re.compile(r".*/account/privacy/$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Your data"
    assert page.get_by_text("Partner Shop").first.is_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download a copy (JSON)").click()
    assert re.fullmatch(r"account-data-\d{4}-\d{2}-\d{2}\.json", download.value.suggested_filename)
    tab.shot("privacy-overview")

    page.get_by_role("link", name="Delete my account").click()
    page.wait_for_url(re.compile(r".*/account/privacy/delete/$"))
    assert tab.unlabelled_controls() == []
    tab.shot("privacy-delete")
    page.get_by_label("Your password").fill("wrong-password-1")
    page.get_by_role("button", name="Delete my account").click()
    assert page.get_by_text("That password or code is not right.").is_visible()
    page.get_by_label("Your password").fill(password)
    page.get_by_role("button", name="Delete my account").click()

    page.wait_for_url(re.compile(r".*/account/privacy/delete/scheduled/$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Your account will be deleted"
    assert page.get_by_text("Your account will be deleted on").is_visible()
    tab.shot("privacy-scheduled")
    assert ErasureRequest.objects.filter(user=user, cancelled_at__isnull=True).exists()
    assert "deleted on" in mail.outbox[-1].body

    page.get_by_role("link", name="Sign in to cancel").click()
    sign_in(tab, user.email, password)
    assert page.get_by_text("Your account will not be deleted").is_visible()
    assert not ErasureRequest.objects.filter(user=user, cancelled_at__isnull=True).exists()
    assert tab.csp_violations == []


def test_pages_in_portuguese(open_tab, password):
    """The data page and the deletion page in pt-BR (screenshots)."""
    user = UserFactory()
    furnish(user)
    user.totpdevice_set.all().delete()
    tab = open_tab(locale="pt-BR")
    tab.goto("/account/privacy/")
    sign_in(tab, user.email, password, button="Entrar")
    tab.page.wait_for_url(re.compile(r".*/account/privacy/$"))
    assert tab.page.get_by_role("heading", level=1).inner_text() == "Seus dados"
    tab.shot("privacy-overview-pt")
    tab.page.get_by_role("link", name="Excluir minha conta").click()
    tab.page.wait_for_url(re.compile(r".*/account/privacy/delete/$"))
    tab.shot("privacy-delete-pt")
    assert tab.csp_violations == []
