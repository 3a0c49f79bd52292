"""The portal's own pages with Django's test client: the security overview, the
confirmation before an email address is removed, the overview on the home page, the
navigation and /favicon.ico."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from accounts.passkeys.models import Passkey
from ciam.views.favicon import favicon
from sessions_ctx.models import Action, RiskDecision
from tests.factories import PASSWORD, UserFactory
from tests.mfa.conftest import enrol, next_totp_code

pytestmark = pytest.mark.django_db

SECURITY = "/account/security/"
EMAILS = "/accounts/email/"
REMOVE = "/account/email/remove/"
LAPTOP = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)


def signed_in(user) -> Client:
    """A browser signed in through the hosted sign-in form (a session record is made)."""
    browser = Client(HTTP_USER_AGENT=LAPTOP, REMOTE_ADDR="198.51.100.7")
    response = browser.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content[:400]
    return browser


def current_links(html: str) -> list[str]:
    """Texts of the navigation's links marked as the current page."""
    nav = html[html.index('class="portal-nav"') :]
    nav = nav[: nav.index("</nav>")]
    return [text.strip() for text in re.findall(r'aria-current="page"[^>]*>([^<]+)</a>', nav)]


def add_passkey(user, name: str, *, disabled: bool = False) -> Passkey:
    return Passkey.objects.create(
        user=user,
        name=name,
        credential_id=name.encode(),
        public_key=b"key",
        sign_count=0,
        user_handle=b"handle",
        disabled_at=timezone.now() if disabled else None,
    )


def test_security_overview_of_a_new_account():
    """A new account's security overview: a password set, no passkey, the authenticator app
    off, no social account, its sign-in listed; every item links to its page and the
    navigation marks "Security overview"."""
    user = UserFactory()
    browser = signed_in(user)
    response = browser.get(SECURITY)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Security</h1>" in html
    assert 'href="/accounts/password/change/"' in html
    assert 'href="/account/passkeys/"' in html
    assert 'href="/account/mfa/"' in html
    assert 'href="/accounts/3rdparty/"' in html
    assert 'href="/account/sessions/activity/"' in html
    assert "Turn on two-step verification" in html
    assert "Available once two-step verification is on." in html
    assert "Recent sign-ins" in html
    assert current_links(html) == ["Security overview"]


def test_security_overview_counts_methods_and_shows_recent_activity():
    """With two passkeys (one disabled), an authenticator app and its recovery codes, the
    overview counts them; the latest security event is listed."""
    user = UserFactory()
    add_passkey(user, "Laptop")
    add_passkey(user, "Old phone", disabled=True)
    enrolled = enrol(user)
    RiskDecision.objects.create(
        user=user,
        trigger=RiskDecision.Trigger.SIGN_IN,
        findings=[{"code": "bad_address", "confidence": "high", "params": {"ip": "192.0.2.1"}}],
        action=Action.BLOCK,
    )
    browser = signed_in(user)
    response = browser.post("/account/mfa/verify/", {"code": next_totp_code(enrolled.device)})
    assert response.status_code == 302, response.content[:400]
    html = browser.get(SECURITY).content.decode()
    assert "1 passkey" in html
    assert "1 disabled" in html
    assert f"{len(enrolled.recovery_codes)} codes left" in html
    assert "Manage two-step verification" in html
    assert 'href="/account/mfa/recovery-codes/"' in html
    assert "Blocked" in html


def test_security_overview_needs_sign_in():
    """Signed out, the security overview sends to the sign-in page."""
    response = Client().get(SECURITY)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_email_removal_is_confirmed_first():
    """ "Remove" beside a secondary address leads to "Remove x?"; the confirmation posts to
    the email page, which removes it; the primary address has no "Remove"."""
    user = UserFactory()
    EmailAddress.objects.filter(user=user).update(primary=True, verified=True)
    EmailAddress.objects.create(user=user, email="second@example.com", verified=True)
    browser = signed_in(user)
    confirm = browser.get(REMOVE, {"email": "second@example.com"})
    assert confirm.status_code == 200
    text = confirm.content.decode()
    assert "Remove second@example.com?" in text
    assert 'name="action_remove"' in text
    assert f'action="{EMAILS}"' in text
    assert current_links(text) == ["Email addresses"]
    assert EmailAddress.objects.filter(email="second@example.com").exists()

    done = browser.post(EMAILS, {"email": "second@example.com", "action_remove": ""})
    assert done.status_code == 302
    assert not EmailAddress.objects.filter(email="second@example.com").exists()


def test_email_list_links_removal_to_the_confirmation(rf):
    """The list of addresses (account/email.html, allauth's page when addresses are added
    rather than changed) has "Remove" beside each secondary address, leading to the
    confirmation, and none beside the primary one; nothing removes without confirming."""
    user = UserFactory()
    EmailAddress.objects.filter(user=user).update(primary=True, verified=True)
    second = EmailAddress.objects.create(user=user, email="second@example.com", verified=True)
    primary = EmailAddress.objects.get(user=user, primary=True)
    request = rf.get(EMAILS)
    request.user = user
    html = render_to_string(
        "account/email.html",
        {
            "emailaddresses": [primary, second],
            "emailaddress_radios": [
                {"id": "email_radio_0", "checked": True, "emailaddress": primary},
                {"id": "email_radio_1", "checked": False, "emailaddress": second},
            ],
            "can_add_email": False,
        },
        request=request,
    )
    assert f'href="{REMOVE}?email=second%40example.com"' in html
    assert f"{REMOVE}?email={user.email.replace('@', '%40')}" not in html
    assert 'name="action_remove"' not in html


def test_primary_email_cannot_be_removed():
    """The confirmation page of the primary address explains it cannot be removed and has
    no Remove button; posting the removal anyway leaves it in place."""
    user = UserFactory()
    EmailAddress.objects.filter(user=user).update(primary=True, verified=True)
    EmailAddress.objects.create(user=user, email="second@example.com", verified=True)
    browser = signed_in(user)
    response = browser.get(REMOVE, {"email": user.email})
    assert response.status_code == 200
    html = response.content.decode()
    assert "is your primary address, so it cannot be removed" in html
    assert 'name="action_remove"' not in html
    browser.post(EMAILS, {"email": user.email, "action_remove": ""})
    assert EmailAddress.objects.filter(user=user, email=user.email, primary=True).exists()


@pytest.mark.parametrize(
    ("raw", "status", "words"),
    [
        ("", 400, "That is not an email address."),
        ("not-an-email", 400, "That is not an email address."),
        ("a@b@c", 400, "That is not an email address."),
        ("x" * 300 + "@example.com", 400, "That is not an email address."),
        ("\x00@example.com", 400, "That is not an email address."),
        ("someone.else@example.com", 404, "This email address is not one of yours."),
    ],
)
def test_email_removal_of_a_malformed_or_foreign_address(raw, status, words):
    """A malformed address, or one that is not the user's, is a readable error page."""
    UserFactory(email="someone.else@example.com")
    browser = signed_in(UserFactory())
    response = browser.get(REMOVE, {"email": raw})
    assert response.status_code == status
    html = response.content.decode()
    assert words in html
    assert 'name="action_remove"' not in html


def test_email_removal_page_only_answers_get():
    """Only the email page removes: a POST to the confirmation page is refused."""
    browser = signed_in(UserFactory())
    assert browser.post(REMOVE, {"email": "x@example.com"}).status_code == 405


def test_overview_summarises_each_section():
    """Signed in, the home page is the portal's overview: who is signed in, a summary per
    section with counts, links to each section, "Overview" marked in the navigation."""
    user = UserFactory()
    add_passkey(user, "Laptop")
    browser = signed_in(user)
    html = browser.get("/").content.decode()
    assert user.email in html
    assert current_links(html) == ["Overview"]
    assert 'class="portal-nav"' in html
    assert "1 email address" in html
    assert "1 passkey" in html
    assert "Signed in on 1 device or browser" in html
    assert 'href="/account/security/"' in html


def test_signed_out_home_is_the_welcome_card():
    """Signed out, the home page keeps its single card without the portal's navigation."""
    html = Client().get("/").content.decode()
    assert 'class="portal-nav"' not in html
    assert 'href="/accounts/login/"' in html


def test_entrance_pages_keep_the_single_card():
    """The sign-in page has no portal navigation; every page links the SVG icon."""
    html = Client().get("/accounts/login/").content.decode()
    assert 'class="portal-nav"' not in html
    assert 'rel="icon"' in html
    assert "favicon.svg" in html


def test_connections_page_hides_connect_heading_without_providers():
    """With no social provider configured, "Connect another account" is not shown."""
    browser = signed_in(UserFactory())
    html = browser.get("/accounts/3rdparty/").content.decode()
    assert "Connected accounts" in html
    assert "Connect another account" not in html


def test_favicon_is_an_icon(rf):
    """/favicon.ico answers with the ICO file, cached for a day; HEAD too; POST refused."""
    response = favicon(rf.get("/favicon.ico"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"
    assert "max-age=86400" in response["Cache-Control"]
    assert favicon(rf.head("/favicon.ico")).status_code == 200
    assert favicon(rf.post("/favicon.ico")).status_code == 405
