"""In Chromium: a customer opens "Your interests", reads why each interest is there, removes
one, adds one and turns personalization off (after the confirmation page: the interests are
gone); the page in pt-BR, without sideways scrolling at phone width."""

from __future__ import annotations

import re

import pytest
from django.utils import translation
from django.utils.translation import gettext

from consent.models import ConsentAction, ConsentRecord
from personalization.models import Insight, Interest, InterestSource
from tests.factories import PASSWORD

from .fixtures_portal import interests_customer, interests_purpose  # noqa: F401 - fixtures

# F811: the fixtures come from fixtures_portal.py (imported above by name).
# ruff: noqa: F811

pytestmark = pytest.mark.browser

PAGE = "/account/interests/"


def sign_in(tab, email: str, button: str = "Sign in") -> None:
    tab.page.get_by_label(re.compile("^(Email|E-mail)$")).fill(email)
    tab.page.get_by_label(re.compile("^(Password|Senha)$")).fill(PASSWORD)
    tab.page.get_by_role("button", name=button, exact=True).click()
    tab.page.wait_for_url(re.compile(r".*/account/interests/$"))


def test_customer_sees_removes_adds_and_turns_off(open_tab, interests_customer):
    """Sent to sign in and back; the inferred interests with their reasons; "Remove Shoes"
    moves it under "You removed"; adding the brand Initech lists it as added by the
    customer; "Turn off personalization" asks first, then deletes everything and records
    the withdrawal. Labelled inputs, no CSP violations; screenshots at both widths."""
    tab = open_tab()
    page = tab.page
    tab.goto(PAGE)
    sign_in(tab, interests_customer.email)
    assert page.get_by_role("heading", level=1).inner_text() == "Your interests"
    acme = page.locator("li.consent-item", has_text="Acme")
    assert acme.get_by_text(
        "Because you bought from Acme 3 times and viewed it twice."
    ).is_visible()
    assert page.get_by_text(
        "You are usually active around 19:00–20:00 on Tuesdays and Thursdays."  # noqa: RUF001
    ).is_visible()
    assert tab.unlabelled_controls() == []
    tab.shot("interests")

    page.get_by_role("button", name="Remove Shoes").click()
    page.wait_for_url(re.compile(r".*/account/interests/$"))
    assert page.get_by_text("“Shoes” was removed.").is_visible()
    removed = page.locator("section", has=page.get_by_role("heading", name="You removed"))
    assert removed.get_by_role("button", name="Add back Shoes").is_visible()
    assert Interest.objects.get(user=interests_customer, key="Shoes").hidden

    page.get_by_label("A brand").check()
    page.get_by_label("Name", exact=True).fill("Initech")
    page.get_by_role("button", name="Add", exact=True).click()
    page.wait_for_url(re.compile(r".*/account/interests/$"))
    assert page.get_by_text("“Initech” was added to your interests.").is_visible()
    initech = page.locator("li.consent-item", has_text="Initech")
    assert initech.get_by_text("You added this.").is_visible()
    assert Interest.objects.get(user=interests_customer, key="Initech").source == (
        InterestSource.CUSTOMER
    )

    page.get_by_role("button", name="Turn off personalization").click()
    page.wait_for_url(re.compile(r".*/account/interests/switch$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Turn off personalization?"
    assert Interest.objects.filter(user=interests_customer).exists()
    tab.shot("interests-switch-off")
    page.get_by_role("button", name="Turn off and delete").click()
    page.wait_for_url(re.compile(r".*/account/interests/$"))
    assert page.get_by_text("Personalization is off. Your interests").is_visible()
    assert page.get_by_role("button", name="Turn on personalization").is_visible()
    assert page.get_by_text("Acme").count() == 0
    assert page.get_by_text("Initech").count() == 0
    assert not Interest.objects.filter(user=interests_customer).exists()
    assert not Insight.objects.filter(user=interests_customer).exists()
    assert (
        ConsentRecord.objects.filter(user=interests_customer).order_by("-sequence").first().action
        == ConsentAction.WITHDRAWN
    )
    tab.shot("interests-off")
    assert tab.csp_violations == []


def test_page_in_portuguese_fits_a_phone(open_tab, interests_customer):
    """In pt-BR the page speaks Portuguese; at 375 px nothing scrolls sideways
    (screenshots)."""
    tab = open_tab(locale="pt-BR", viewport={"width": 375, "height": 812})
    tab.goto(PAGE)
    sign_in(tab, interests_customer.email, button="Entrar")
    with translation.override("pt-br"):
        heading = gettext("Your interests")
    assert tab.page.get_by_role("heading", level=1).inner_text() == heading
    assert tab.page.evaluate("document.documentElement.lang") == "pt-br"
    overflow = tab.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"scrolls sideways by {overflow}px at 375 px"
    tab.shot("interests-pt")
    assert tab.csp_violations == []
