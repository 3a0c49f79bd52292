"""The portal in a real browser: every section's page reached through the navigation, in
English and in Brazilian Portuguese, the current page marked; at phone width the navigation
stays one line and no page scrolls sideways."""

from __future__ import annotations

import re

import pytest
from django.utils import translation
from django.utils.translation import gettext

from tests.browser.conftest import DESKTOP
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.browser

PHONE_WIDTH = {"width": 390, "height": 844}

# (link in the navigation, the page's heading, its section or None), in the navigation's
# order. English msgids: the pt-BR words come from the catalogue.
WALK = [
    ("Overview", "Your account", None),
    ("Personal information", "Your profile", "Profile"),
    ("Email addresses", "Email address", "Profile"),
    ("Phone", "Mobile number", "Profile"),
    ("Security overview", "Security", "Security"),
    ("Password", "Change password", "Security"),
    ("Passkeys", "Passkeys", "Security"),
    ("Two-step verification", "Two-step verification", "Security"),
    ("Connected social accounts", "Connected accounts", "Security"),
    ("Security activity", "Security activity", "Security"),
    ("Sessions and devices", "Where you're signed in", None),
    ("Connected apps", "Connected apps", None),
    ("Consents", "Your consents", "Privacy"),
    ("Your interests", "Your interests", "Privacy"),
    ("Your data", "Your data", "Privacy"),
]


def words(msgid: str, language: str) -> str:
    with translation.override(language):
        return gettext(msgid)


def sign_in(page, issuer: str, email: str) -> None:
    page.goto(issuer + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/$"))


def check_phone_layout(page, name: str) -> None:
    """At 390 px: no sideways scrolling of the page, the navigation on one line above the
    content."""
    size = page.viewport_size
    page.set_viewport_size(PHONE_WIDTH)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: scrolls sideways by {overflow}px at 390 px"
    nav = page.locator(".portal-nav").bounding_box()
    main = page.locator("main").bounding_box()
    link = page.locator(".portal-nav a").first.bounding_box()
    assert nav
    assert main
    assert link
    assert nav["y"] + nav["height"] <= main["y"], f"{name}: navigation not above the page"
    assert nav["height"] < 2 * link["height"], f"{name}: navigation wraps at 390 px"
    if size:
        page.set_viewport_size(size)


def walk(page, language: str) -> None:
    nav = page.locator("nav.portal-nav")
    for link_msgid, heading_msgid, section_msgid in WALK:
        link_text = words(link_msgid, language)
        nav.get_by_role("link", name=link_text, exact=True).click()
        page.wait_for_load_state("load")
        name = f"{link_msgid.lower().replace(' ', '-')}-{language}"
        heading = page.locator("main h1")
        assert heading.count() == 1, name
        assert heading.inner_text().strip() == words(heading_msgid, language), name
        current = nav.locator('a[aria-current="page"]')
        assert current.count() == 1, f"{name}: one current page"
        assert current.inner_text().strip() == link_text, name
        sections = nav.locator('.portal-nav__section[aria-current="true"]')
        if section_msgid is None:
            assert sections.count() == 0, name
        else:
            assert sections.count() == 1, name
            heading_of_section = sections.locator(".portal-nav__heading").inner_text()
            assert heading_of_section.strip().lower() == words(section_msgid, language).lower()
        check_phone_layout(page, name)


def test_portal_navigation_walk_in_both_languages(open_tab, issuer):
    """Signed in, each link of the navigation opens its page: the heading is the page's,
    the link is marked as the current page and its section as the current section; the
    same in pt-BR after switching with the language switcher; at 390 px the navigation is
    a single line above the page and nothing scrolls sideways."""
    user = UserFactory()
    tab = open_tab(viewport=DESKTOP)
    page = tab.page
    sign_in(page, issuer, user.email)
    assert page.locator("nav.portal-nav").is_visible()
    walk(page, "en")

    page.get_by_role("button", name="Português").click()
    page.wait_for_load_state("load")
    assert page.locator("html").get_attribute("lang") == "pt-br"
    walk(page, "pt-br")
    assert tab.csp_violations == []
