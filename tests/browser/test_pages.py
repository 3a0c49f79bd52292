"""Every hosted page: no CSP violations, labelled inputs, language set, usable at 320 px.

Each page is also saved as a screenshot (desktop and 375 px wide) under /tmp/shots (or
$CIAM_SCREENSHOT_DIR) for a human look at layout and contrast.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, SHOTS
from tests.factories import UserFactory

pytestmark = pytest.mark.browser

NARROW = {"width": 320, "height": 640}

# WCAG 2.x contrast ratio of the computed colours of an element (text on background), with
# colours resolved through a canvas so that oklch()/color-mix() values become sRGB.
CONTRAST_JS = """
(el) => {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const rgb = (css) => {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = '#000';
    ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1);
    return Array.from(ctx.getImageData(0, 0, 1, 1).data).slice(0, 3);
  };
  const luminance = ([r, g, b]) => {
    const lin = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  let node = el, bg = 'rgba(0, 0, 0, 0)';
  while (node && (bg === 'rgba(0, 0, 0, 0)' || bg === 'transparent')) {
    bg = getComputedStyle(node).backgroundColor;
    node = node.parentElement;
  }
  const a = luminance(rgb(getComputedStyle(el).color));
  const b = luminance(rgb(bg === 'rgba(0, 0, 0, 0)' ? '#fff' : bg));
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}
"""


def check_page(tab, name: str, *, heading: str | None = None) -> None:
    """The checks every page passes; then screenshots."""
    page = tab.page
    page.wait_for_load_state("load")
    assert page.locator("html").get_attribute("lang") in ("en", "pt-br"), name
    assert page.locator("h1").count() == 1, f"{name}: one h1 per page"
    if heading is not None:
        assert page.locator("h1").inner_text().strip() == heading, name
    assert tab.unlabelled_controls() == [], f"{name}: inputs without a label"
    # The stylesheets loaded (the brand colour comes from /brand.css).
    accent = page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--brand-color')"
    )
    assert accent.strip().startswith("#"), f"{name}: /brand.css not applied"
    assert page.locator(".language-switcher button").count() == 2, f"{name}: language switcher"
    for selector in (".button", "a", "h1", "label", ".muted"):
        for element in page.locator(f"main {selector}").all()[:6]:
            if element.is_visible():
                ratio = element.evaluate(CONTRAST_JS)
                assert ratio >= 4.5, f"{name}: {selector} contrast {ratio:.2f}"
    size = page.viewport_size
    page.set_viewport_size(NARROW)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: scrolls sideways at 320 px by {overflow}px"
    page.set_viewport_size(size)
    tab.shot(name)
    assert tab.csp_violations == [], f"{name}: {tab.csp_violations}"


def assert_code_is_prominent(tab, message, name: str) -> None:
    """The HTML email shows the code on its own in large type; saved as a screenshot."""
    code = re.search(r"^ {4}(\S+)$", message.body, re.MULTILINE).group(1)
    preview = tab.page.context.new_page()
    preview.set_content(message.alternatives[0][0])
    element = preview.get_by_text(code, exact=True)
    assert float(element.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")) >= 24
    preview.set_viewport_size(PHONE)
    preview.screenshot(path=str(SHOTS / f"{name}-375.png"), full_page=True)
    preview.set_viewport_size(DESKTOP)
    preview.screenshot(path=str(SHOTS / f"{name}-desktop.png"), full_page=True)
    preview.close()


def sign_in(tab, email: str, password: str) -> None:
    tab.goto("/accounts/login/")
    tab.page.get_by_label("Email").fill(email)
    tab.page.get_by_label("Password").fill(password)
    tab.page.get_by_role("button", name="Sign in", exact=True).click()
    tab.page.wait_for_url(re.compile(r".*/$"))


def test_signed_out_pages(tab, web_client, mailoutbox, user):
    """Pages a visitor sees before signing in pass the common checks."""
    tab.goto("/")
    check_page(tab, "home-anonymous", heading="Your CIAM account")

    params = {
        "response_type": "code",
        "client_id": web_client.client_id,
        "redirect_uri": web_client.redirect_uri,
        "scope": "openid",
        "state": "s",
    }
    tab.goto("/authorize?" + urlencode(params))
    check_page(tab, "login", heading="Sign in")

    # Validation errors are shown next to the form and still pass the checks.
    tab.page.get_by_label("Email").fill(user.email)
    tab.page.get_by_label("Password").fill("wrong-password")
    tab.page.get_by_role("button", name="Sign in", exact=True).click()
    assert tab.page.get_by_role("alert").is_visible()
    check_page(tab, "login-error", heading="Sign in")

    tab.page.get_by_role("link", name="Create an account").click()
    check_page(tab, "signup", heading="Create an account")
    tab.page.get_by_label("Email").fill("not-an-email")
    tab.page.get_by_label("Password").fill("123")
    tab.page.locator("form.form").evaluate("form => form.noValidate = true")
    tab.page.get_by_role("button", name="Create account").click()
    # The answer page may still be loading: wait for it (Playwright's expect retries).
    expect(tab.page.locator("[aria-invalid=true]")).to_have_count(2)
    assert tab.page.locator("[aria-invalid=true]").count() == 2
    check_page(tab, "signup-errors", heading="Create an account")

    tab.goto("/accounts/password/reset/")
    check_page(tab, "password-reset", heading="Reset your password")
    tab.page.get_by_label("Email").fill(user.email)
    tab.page.get_by_role("button", name="Send reset link").click()
    check_page(tab, "password-reset-done", heading="Check your email")
    reset_link = re.search(r"https?://\S+/password/reset/key/\S+", mailoutbox[-1].body)
    assert reset_link, mailoutbox[-1].body
    tab.goto(reset_link.group(0))
    check_page(tab, "password-reset-from-key", heading="Choose a new password")
    tab.page.get_by_label("New Password", exact=True).fill("another-strong-pass-77")
    tab.page.get_by_label("New Password (again)").fill("another-strong-pass-77")
    tab.page.get_by_role("button", name="Change password").click()
    check_page(tab, "password-reset-from-key-done", heading="Password changed")

    tab.goto("/accounts/password/reset/key/1-bad-key/")
    check_page(tab, "password-reset-bad-key", heading="This link no longer works")

    tab.goto("/accounts/inactive/")
    check_page(tab, "account-inactive", heading="Account disabled")

    tab.goto("/authorize?client_id=nobody&response_type=code")
    check_page(tab, "error-unknown-client")

    tab.goto("/authorize/resume/expired-or-unknown")
    check_page(tab, "error-expired", heading="This sign-in request has expired")

    response = tab.goto("/no-such-page")
    assert response.status == 404
    check_page(tab, "not-found", heading="Page not found")

    tab.goto("/logged-out")
    check_page(tab, "logged-out", heading="You have signed out")


def test_signed_in_pages(tab, user, password, third_party_client, settings):
    """Pages of a signed-in user pass the common checks."""
    settings.CIAM_DEMO = True
    sign_in(tab, user.email, password)
    check_page(tab, "home-signed-in", heading="Your account")
    assert tab.page.get_by_text(user.email).is_visible()

    tab.goto("/accounts/email/")
    check_page(tab, "email-management", heading="Email address")
    tab.goto("/accounts/password/change/")
    check_page(tab, "password-change", heading="Change password")
    tab.goto("/accounts/reauthenticate/")
    check_page(tab, "reauthenticate", heading="Confirm it is you")
    tab.goto("/accounts/logout/")
    check_page(tab, "logout-allauth", heading="Sign out")

    params = {
        "response_type": "code",
        "client_id": third_party_client.client_id,
        "redirect_uri": third_party_client.redirect_uri,
        "scope": "openid email profile phone offline_access",
        "prompt": "consent",
        "claims": '{"userinfo": {"birthdate": null}}',
        "state": "s",
    }
    tab.goto("/authorize?" + urlencode(params))
    check_page(tab, "consent", heading="Partner Shop wants to access your account")

    tab.goto(
        "/logout?"
        + urlencode(
            {
                "client_id": third_party_client.client_id,
                "post_logout_redirect_uri": third_party_client.post_logout_redirect_uri,
            }
        )
    )
    check_page(tab, "logout-confirm", heading="Sign out?")
    tab.page.get_by_role("button", name="Stay signed in").click()
    tab.page.wait_for_url(re.compile(r".*/$"))
    assert tab.page.get_by_text(user.email).is_visible(), "still signed in after cancelling"

    tab.goto("/demo/callback?code=" + "c" * 30 + "&state=demo")
    check_page(tab, "demo-callback", heading="Demo application")
    curl = tab.page.locator("pre").inner_text()
    assert "grant_type=authorization_code" in curl
    assert "demo-web:" in curl
    assert "code=" + "c" * 30 in curl
    tab.goto("/demo/callback?error=access_denied&error_description=The+user+said+no")
    check_page(tab, "demo-callback-error", heading="Demo application")


def test_email_verification_page(tab, web_client, mailoutbox):
    """The page that asks for the emailed code passes the common checks, in both languages."""
    tab.goto(f"/authorize?response_type=code&scope=openid&client_id={web_client.client_id}")
    tab.page.get_by_role("link", name="Create an account").click()
    tab.page.get_by_label("Email").fill(f"code-{secrets.token_hex(3)}@example.com")
    tab.page.get_by_label("Password").fill("a-long-and-new-passphrase-42")
    tab.page.get_by_role("button", name="Create account").click()
    check_page(tab, "verify-email-code", heading="Check your email")
    assert_code_is_prominent(tab, mailoutbox[-1], "email-verification-code")
    tab.page.get_by_label("Code").fill("WRONG1")
    tab.page.get_by_role("button", name="Confirm").click()
    assert tab.page.locator("[aria-invalid=true]").count() == 1
    check_page(tab, "verify-email-code-error", heading="Check your email")

    tab.page.get_by_role("button", name="Português").click()
    check_page(tab, "verify-email-code-pt", heading="Verifique seu e-mail")
    assert tab.page.get_by_label("Código").is_visible()


def test_language_switcher_changes_language_and_stays_on_the_page(tab, web_client):
    """The switcher posts to set_language and comes back to the same page, translated."""
    tab.goto(f"/authorize?response_type=code&scope=openid&client_id={web_client.client_id}")
    url = tab.page.url
    tab.page.get_by_role("button", name="Português").click()
    tab.page.wait_for_load_state("load")
    assert tab.page.url == url
    assert tab.page.locator("h1").inner_text() == "Entrar"
    assert tab.page.get_by_label("E-mail").is_visible()
    assert tab.page.get_by_role("button", name="Português").get_attribute("aria-current") == (
        "true"
    )
    tab.page.get_by_role("button", name="English").click()
    tab.page.wait_for_load_state("load")
    assert tab.page.locator("h1").inner_text() == "Sign in"


@pytest.mark.parametrize("colour", ["#ffd400", "#7cfc00", "#00ffff", "#ff69b4", "#1f5fbf"])
def test_any_brand_colour_keeps_aa_contrast(tab, colour):
    """Buttons and links stay readable (4.5:1) whatever brand colour the operator picks."""
    tab.page.route(
        re.compile(r".*/brand\.css$"),
        lambda route: route.fulfill(
            status=200, content_type="text/css", body=f":root {{ --brand-color: {colour}; }}"
        ),
    )
    tab.goto("/")
    button = tab.page.locator("main .button").first
    link = tab.page.locator("footer .language-switcher button").first
    assert button.evaluate(CONTRAST_JS) >= 4.5
    assert link.evaluate(CONTRAST_JS) >= 4.5


def test_inactive_account_sees_the_inactive_page(tab, db):
    """A disabled account cannot sign in and is told why on a readable page."""
    user = UserFactory(email="disabled@example.com")
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    tab.goto("/accounts/login/")
    tab.page.get_by_label("Email").fill("disabled@example.com")
    tab.page.get_by_label("Password").fill("correct-horse-battery-9")
    tab.page.get_by_role("button", name="Sign in", exact=True).click()
    tab.page.wait_for_url(re.compile(r".*/accounts/inactive/$"))
    assert tab.page.locator("h1").inner_text() == "Account disabled"
    check_page(tab, "account-inactive-after-sign-in", heading="Account disabled")


def test_branding_name_and_logo(tab, settings):
    """The operator's name and logo replace the defaults on every page."""
    settings.CIAM_BRAND_NAME = "Acme Store"
    settings.CIAM_BRAND_LOGO_URL = (
        "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='160' height='40'%3E"
        "%3Crect width='160' height='40' rx='6' fill='%23b3261e'/%3E%3Ctext x='14' y='27' "
        "font-family='sans-serif' font-size='20' fill='white'%3EAcme Store%3C/text%3E%3C/svg%3E"
    )
    tab.goto("/accounts/login/")
    logo = tab.page.locator("header img")
    assert logo.get_attribute("alt") == "Acme Store"
    assert logo.evaluate("img => img.complete && img.naturalWidth > 0")
    assert tab.page.title() == "Sign in · Acme Store"
    check_page(tab, "login-branded", heading="Sign in")


@pytest.mark.parametrize(
    ("template", "heading"),
    [
        ("500.html", "Something went wrong on our side"),
        ("400.html", "The request could not be understood"),
    ],
)
def test_error_templates_render_without_a_request(tab, template, heading):
    """500.html and 400.html render with no request or context processors (as Django does
    for them) and still look like the other pages."""
    from django.template.loader import render_to_string

    from ciam.middleware import CONTENT_SECURITY_POLICY

    body = render_to_string(template)
    assert "language-switcher" not in body  # no CSRF token to post it with
    tab.page.route(
        re.compile(r".*/__error$"),
        lambda route: route.fulfill(
            status=500,
            content_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
            body=body,
        ),
    )
    tab.goto("/__error")
    page = tab.page
    assert page.locator("h1").inner_text() == heading
    assert (
        page.evaluate("getComputedStyle(document.querySelector('main')).backgroundColor")
        == "rgb(255, 255, 255)"
    ), "the stylesheet applies"
    tab.shot(f"error-{template.removesuffix('.html')}")
    assert tab.csp_violations == []
