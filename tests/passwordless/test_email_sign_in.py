"""Email sign-in and sign-up: one email with a 6-digit code and a one-click link."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.passwordless.models import EmailSignIn
from accounts.services.users import user_create
from sessions_ctx.constants import SESSION_KEY_AUTH
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

START = "/account/email-sign-in/"
CODE = "/account/email-sign-in/code/"
RESEND = "/account/email-sign-in/code/resend/"
STATUS = "/account/email-sign-in/code/status/"


def start(client: Client, email: str, next_url: str | None = None):
    data = {"email": email}
    if next_url is not None:
        data["next"] = next_url
    return client.post(START, data)


def code_in(message) -> str:
    match = re.search(r"^ {4}(\d{6})$", message.body, re.MULTILINE)
    assert match, message.body
    return match.group(1)


def link_in(message) -> str:
    match = re.search(r"^(http\S+/account/email-sign-in/link/[\w-]+/)$", message.body, re.M)
    assert match, message.body
    return match.group(1)


def path_of(url: str) -> str:
    return url.removeprefix(settings.CIAM_ISSUER)


def signed_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def auth_state(client: Client) -> dict:
    return client.session[SESSION_KEY_AUTH]


# --- the email ---------------------------------------------------------------------------------


def test_a_known_address_gets_one_email_with_a_code_and_a_link(client, user, mailoutbox):
    """One branded email, text and HTML, with a 6-digit code, a link on the issuer, and the
    expiry; the browser goes on to the code page."""
    response = start(client, user.email)
    assert response.status_code == 302
    assert response["Location"] == CODE
    (message,) = mailoutbox
    assert message.to == [user.email]
    code = code_in(message)
    assert message.subject == f"{code} is your sign-in code · {settings.CIAM_BRAND_NAME}"
    link = link_in(message)
    assert link.startswith(settings.CIAM_ISSUER + "/account/email-sign-in/link/")
    assert "expire in 10 minutes" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert code in html
    assert f'href="{link}"' in html
    assert "Sign in" in html
    assert settings.CIAM_BRAND_NAME in html


def test_an_unknown_address_gets_the_same_answer_and_an_email_to_create_the_account(
    client, user, mailoutbox
):
    """Known and unknown addresses get the same redirect and the same page; only the email,
    which only the address's owner reads, offers to create the account."""
    other = Client()
    known = start(client, user.email)
    unknown = start(other, "newcomer@example.com")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])

    def normalized(page: str, email: str) -> str:
        page = page.replace(email, "EMAIL")
        page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", page)
        return re.sub(r'id="match-number">\d+<', "NUMBER", page)

    known_page = client.get(CODE).content.decode()
    unknown_page = other.get(CODE).content.decode()
    assert normalized(known_page, user.email) == normalized(unknown_page, "newcomer@example.com")

    signup_email = mailoutbox[1]
    assert signup_email.to == ["newcomer@example.com"]
    assert "is your code to create your account" in signup_email.subject
    assert "There is no account with newcomer@example.com yet." in signup_email.body
    assert "Create my account" in signup_email.alternatives[0][0]


def test_known_and_unknown_addresses_cost_the_same_database_work(user, mailoutbox):
    """Asking for a code runs the same queries whether or not the account exists."""
    counts = []
    for email in (user.email, "nobody-here@example.com"):
        browser = Client()
        with CaptureQueriesContext(connection) as queries:
            assert start(browser, email).status_code == 302
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_email_follows_the_language_of_the_page(client, user, mailoutbox):
    """A Portuguese page sends a Portuguese email."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"
    start(client, user.email)
    (message,) = mailoutbox
    code = code_in(message)
    assert message.subject.startswith(f"{code} é o seu código de acesso")


# --- the code ----------------------------------------------------------------------------------


def test_the_code_signs_in_with_amr_otp_and_returns_to_next(client, user, mailoutbox):
    """The right code signs in the browser that asked, records amr ["otp"] (overriding the
    password that a plain login would imply), verifies the address and goes to ``next``."""
    start(client, user.email, next_url="/accounts/3rdparty/")
    response = client.post(CODE, {"code": code_in(mailoutbox[0])})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/3rdparty/"
    assert signed_in_user_id(client) == str(user.pk)
    state = auth_state(client)
    assert state["user_id"] == str(user.pk)
    assert state["amr"] == ["otp"]
    assert state["acr"] == "1"
    records = client.session["account_authentication_methods"]
    assert records[-1]["method"] == "code"
    assert EmailAddress.objects.get(user=user, email=user.email).verified


def test_the_code_creates_the_account_of_an_unknown_address(client, mailoutbox):
    """Entering the code for a new address creates the account: verified address, no
    password, signed in."""
    start(client, "Fresh.Person@Example.com")
    response = client.post(CODE, {"code": code_in(mailoutbox[0])})
    assert response.status_code == 302
    assert response["Location"] == settings.LOGIN_REDIRECT_URL
    user = get_user_model().objects.get(email="fresh.person@example.com")
    assert signed_in_user_id(client) == str(user.pk)
    assert not user.has_usable_password()
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.verified, address.primary) == (user.email, True, True)
    assert auth_state(client)["amr"] == ["otp"]


def test_the_code_accepts_spaces_and_a_hyphen(client, user, mailoutbox):
    start(client, user.email)
    code = code_in(mailoutbox[0])
    client.post(CODE, {"code": f" {code[:3]}-{code[3:]} "})
    assert signed_in_user_id(client) == str(user.pk)


def test_a_malformed_code_does_not_count_as_an_attempt(client, user, mailoutbox):
    start(client, user.email)
    response = client.post(CODE, {"code": "12345"})
    assert response.status_code == 200
    assert "Enter the 6-digit code from the email." in response.content.decode()
    assert EmailSignIn.objects.get().failed_attempts == 0


def test_five_wrong_codes_spend_the_email(client, user, mailoutbox):
    """At most five attempts: the fifth wrong code spends the email; the right one then
    fails too."""
    start(client, user.email)
    code = code_in(mailoutbox[0])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        response = client.post(CODE, {"code": wrong})
        assert response.status_code == 400
        assert f"You can try {left} more time" in response.content.decode()
    response = client.post(CODE, {"code": wrong})
    assert "Too many wrong codes" in response.content.decode()
    response = client.post(CODE, {"code": code})
    assert response.status_code == 400
    assert signed_in_user_id(client) is None
    # No resend either: a new email needs a new request.
    client.post(RESEND)
    assert len(mailoutbox) == 1


def test_an_expired_code_is_refused_and_a_resent_one_works(client, user, mailoutbox, settings):
    """Codes expire (CIAM_EMAIL_SIGN_IN_SECONDS); a resend brings a new code and link and
    the previous ones stop working."""
    settings.CIAM_EMAIL_SIGN_IN_RESEND_SECONDS = 0
    start(client, user.email)
    old_code, old_link = code_in(mailoutbox[0]), link_in(mailoutbox[0])
    EmailSignIn.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(CODE, {"code": old_code})
    assert response.status_code == 400
    assert "This code has expired or was already used." in response.content.decode()
    assert signed_in_user_id(client) is None

    response = client.post(RESEND)
    assert response["Location"] == CODE
    assert len(mailoutbox) == 2
    new_code = code_in(mailoutbox[1])
    assert link_in(mailoutbox[1]) != old_link
    if new_code != old_code:
        assert client.post(CODE, {"code": old_code}).status_code == 400
    assert client.get(path_of(old_link)).status_code == 410
    client.post(CODE, {"code": new_code})
    assert signed_in_user_id(client) == str(user.pk)


def test_expiry_follows_the_setting(client, user, mailoutbox, settings):
    settings.CIAM_EMAIL_SIGN_IN_SECONDS = 120
    before = timezone.now()
    start(client, user.email)
    sign_in = EmailSignIn.objects.get()
    assert timedelta(seconds=119) <= sign_in.expires_at - before <= timedelta(seconds=121)
    assert "expire in 2 minutes" in mailoutbox[0].body


def test_resend_waits_for_the_cool_down(client, user, mailoutbox):
    """A new code can be asked for once a minute; earlier, the page says how long to wait
    (and tells static/js/passwordless.js to count down)."""
    start(client, user.email)
    response = client.post(RESEND, follow=True)
    assert len(mailoutbox) == 1
    page = response.content.decode()
    assert re.search(r"Please wait \d+ seconds? before asking again", page)
    wait = int(re.search(r'data-resend-wait="(\d+)"', page).group(1))
    assert 50 <= wait <= 60


def test_the_cool_down_is_per_address_not_per_browser(client, user, mailoutbox):
    """Another browser asking for the same address within the cool-down gets the same
    wait, whether or not the address has an account."""
    for email in (user.email, "unknown@example.com"):
        assert start(client, email).status_code == 302
        response = start(Client(), email)
        assert response.status_code == 429
        assert "Please wait" in response.content.decode()
    assert len(mailoutbox) == 2


# --- the link ----------------------------------------------------------------------------------


def test_the_link_signs_in_the_browser_that_asked(client, user, mailoutbox):
    start(client, user.email, next_url="/accounts/email/")
    response = client.get(path_of(link_in(mailoutbox[0])))
    assert response.status_code == 302
    assert response["Location"] == "/accounts/email/"
    assert signed_in_user_id(client) == str(user.pk)
    assert auth_state(client)["amr"] == ["otp"]


def test_the_link_is_single_use(client, user, mailoutbox):
    """Once the code signed in, neither the link nor the code works again."""
    start(client, user.email)
    code, link = code_in(mailoutbox[0]), link_in(mailoutbox[0])
    client.post(CODE, {"code": code})
    response = Client().get(path_of(link))
    assert response.status_code == 410
    assert "This link no longer works" in response.content.decode()
    assert EmailSignIn.objects.get().used_at is not None


def test_an_unknown_link_is_refused(client):
    response = client.get(START + "link/" + "x" * 43 + "/")
    assert response.status_code == 410
    assert "This sign-in link is not valid." in response.content.decode()


def test_a_link_opened_in_another_browser_does_not_sign_it_in(client, user, mailoutbox):
    """Login CSRF: a link opened where it was not asked for (a forwarded link, another
    device) signs nobody in there. Typing the number shown in the asking tab confirms; the
    asking tab then finishes, the other browser stays signed out."""
    start(client, user.email, next_url="/accounts/email/")
    link = path_of(link_in(mailoutbox[0]))
    number = re.search(r'id="match-number">(\d+)<', client.get(CODE).content.decode()).group(1)

    elsewhere = Client()
    page = elsewhere.get(link)
    assert page.status_code == 200
    assert "Confirm on the device where you started" in page.content.decode()
    assert signed_in_user_id(elsewhere) is None
    assert client.get(STATUS).json() == {"state": "waiting"}

    wrong = f"{(int(number) - 10 + 1) % 90 + 10}"
    response = elsewhere.post(link, {"number": wrong})
    assert response.status_code == 400
    assert "That is not right." in response.content.decode()
    assert client.get(STATUS).json() == {"state": "waiting"}

    response = elsewhere.post(link, {"number": number})
    assert response.status_code == 200
    assert "Sign-in confirmed" in response.content.decode()
    assert signed_in_user_id(elsewhere) is None
    assert client.get(STATUS).json() == {"state": "confirmed"}

    # The asking tab, on reload (or when its script sees "confirmed"), finishes.
    response = client.get(CODE)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/email/"
    assert signed_in_user_id(client) == str(user.pk)
    assert auth_state(client)["amr"] == ["otp"]
    assert client.get(STATUS).json() == {"state": "done"}
    assert signed_in_user_id(elsewhere) is None


def test_an_attackers_link_does_not_sign_the_victim_in(user, mailoutbox):
    """Someone who asks for a code for their own account and sends the link to a victim
    cannot sign the victim's browser into it."""
    attacker, victim = Client(), Client()
    start(attacker, user.email)
    link = path_of(link_in(mailoutbox[0]))
    victim.get(link)
    victim.post(link, {"number": "42"})
    assert signed_in_user_id(victim) is None
    assert victim.get(CODE)["Location"] == START


def test_next_must_be_a_path_on_this_site(user, mailoutbox):
    for next_url in ("https://evil.example/steal", "//evil.example/steal", "/\\evil.example"):
        browser = Client()
        cache.clear()
        start(browser, user.email, next_url=next_url)
        response = browser.post(CODE, {"code": code_in(mailoutbox[-1])})
        assert response["Location"] == settings.LOGIN_REDIRECT_URL, next_url


# --- throttling --------------------------------------------------------------------------------


def test_sending_is_limited_per_address(settings, user, mailoutbox):
    settings.CIAM_EMAIL_SIGN_IN_RESEND_SECONDS = 0
    settings.CIAM_EMAIL_SIGN_IN_SENDS_PER_EMAIL = 2
    settings.CIAM_EMAIL_SIGN_IN_SENDS_PER_IP = 100
    for email in (user.email, "unknown@example.com"):
        assert start(Client(REMOTE_ADDR="10.0.0.1"), email).status_code == 302
        assert start(Client(REMOTE_ADDR="10.0.0.2"), email).status_code == 302
        response = start(Client(REMOTE_ADDR="10.0.0.3"), email)
        assert response.status_code == 429
        assert "Too many attempts. Try again in 60 minutes." in response.content.decode()
        assert 3500 < int(response["Retry-After"]) <= 3600
    assert len(mailoutbox) == 4


def test_sending_is_limited_per_client_address(settings, client, mailoutbox):
    settings.CIAM_EMAIL_SIGN_IN_SENDS_PER_IP = 2
    assert start(client, "one@example.com").status_code == 302
    assert start(client, "two@example.com").status_code == 302
    assert start(client, "three@example.com").status_code == 429
    assert start(Client(REMOTE_ADDR="10.9.9.9"), "three@example.com").status_code == 302


def test_wrong_codes_are_limited_per_client_address(settings, user, mailoutbox):
    """Failures add up across emails from one address; then even the right code waits."""
    settings.CIAM_EMAIL_SIGN_IN_FAILURES_PER_IP = 3
    browser = Client()
    for n in range(3):
        start(browser, f"someone{n}@example.com")
        browser.post(CODE, {"code": f"{(int(code_in(mailoutbox[-1])) + 1) % 1_000_000:06d}"})
    start(browser, user.email)
    response = browser.post(CODE, {"code": code_in(mailoutbox[-1])})
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert 800 < int(response["Retry-After"]) <= 900
    assert signed_in_user_id(browser) is None


def test_wrong_codes_are_limited_per_address(settings, user, mailoutbox):
    """Failures for one address add up across emails and client addresses."""
    settings.CIAM_EMAIL_SIGN_IN_FAILURES_PER_EMAIL = 3
    settings.CIAM_EMAIL_SIGN_IN_RESEND_SECONDS = 0
    for n in range(3):
        browser = Client(REMOTE_ADDR=f"10.1.1.{n}")
        start(browser, user.email)
        browser.post(CODE, {"code": f"{(int(code_in(mailoutbox[-1])) + 1) % 1_000_000:06d}"})
    browser = Client(REMOTE_ADDR="10.1.1.9")
    start(browser, user.email)
    assert browser.post(CODE, {"code": code_in(mailoutbox[-1])}).status_code == 429
    assert signed_in_user_id(browser) is None


# --- which account ----------------------------------------------------------------------------


def test_an_unverified_sign_up_loses_its_password(client, mailoutbox):
    """Account pre-hijacking: someone signed up first with a password on an address they do
    not own. When the owner proves the address, that password stops working."""
    squatter = user_create(email="owner@example.com", password=PASSWORD, email_verified=False)
    start(client, "owner@example.com")
    client.post(CODE, {"code": code_in(mailoutbox[0])})
    squatter.refresh_from_db()
    assert signed_in_user_id(client) == str(squatter.pk)
    assert not squatter.has_usable_password()
    assert EmailAddress.objects.get(user=squatter).verified


def test_an_operator_created_account_keeps_its_password(client, mailoutbox):
    """An account created without an address record (createsuperuser, admin) keeps its
    password; the address is recorded as verified and primary."""
    staff = get_user_model().objects.create_user(email="ops@example.com", password=PASSWORD)
    start(client, "ops@example.com")
    client.post(CODE, {"code": code_in(mailoutbox[0])})
    staff.refresh_from_db()
    assert signed_in_user_id(client) == str(staff.pk)
    assert staff.has_usable_password()
    assert EmailAddress.objects.filter(user=staff, verified=True, primary=True).exists()


def test_an_unverified_secondary_address_does_not_open_another_account(client, mailoutbox):
    """Adding someone else's address to your account (unverified) does not give you their
    email sign-ins: the address's owner gets an account of their own."""
    holder = UserFactory()
    EmailAddress.objects.create(user=holder, email="theirs@example.com", verified=False)
    start(client, "theirs@example.com")
    assert "is your code to create your account" in mailoutbox[0].subject
    client.post(CODE, {"code": code_in(mailoutbox[0])})
    owner = get_user_model().objects.get(email="theirs@example.com")
    assert owner != holder
    assert signed_in_user_id(client) == str(owner.pk)


def test_an_inactive_account_is_not_signed_in(client, mailoutbox):
    inactive = UserFactory()
    get_user_model().objects.filter(pk=inactive.pk).update(is_active=False)
    start(client, inactive.email)
    response = client.post(CODE, {"code": code_in(mailoutbox[0])})
    assert response["Location"] == "/accounts/inactive/"
    assert signed_in_user_id(client) is None


# --- pages -------------------------------------------------------------------------------------


def test_switched_off_email_sign_in_is_not_found(client, settings):
    settings.CIAM_EMAIL_SIGN_IN_ENABLED = False
    assert client.get(START).status_code == 404
    assert client.get("/accounts/login/").context["email_sign_in_url"] == ""


def test_sign_in_pages_get_the_email_sign_in_url_with_next(client):
    """The sign-in and sign-up pages receive ``email_sign_in_url``, carrying ``next``."""
    for page in ("/accounts/login/", "/accounts/signup/"):
        response = client.get(page + "?next=/authorize/resume/abc")
        assert response.context["email_sign_in_url"] == START + "?next=%2Fauthorize%2Fresume%2Fabc"
    response = client.get("/accounts/login/?next=https://evil.example/")
    assert response.context["email_sign_in_url"] == START


def test_use_another_address(client, user, mailoutbox):
    start(client, user.email, next_url="/accounts/email/")
    response = client.post(START + "code/restart/")
    assert response["Location"] == START + "?next=%2Faccounts%2Femail%2F"
    assert client.get(CODE)["Location"] == START


def test_pages_are_not_cached(client, user, mailoutbox):
    start(client, user.email)
    for url in (START, CODE, STATUS, path_of(link_in(mailoutbox[0]))):
        response = Client().get(url) if "link" in url else client.get(url)
        assert "no-store" in response["Cache-Control"], url


def test_the_sign_in_page_links_to_email_sign_in(client):
    """The sign-in page offers "Email me a sign-in code", keeping the pending request."""
    page = client.get("/accounts/login/?next=/authorize/resume/abc").content.decode()
    assert 'href="/account/email-sign-in/?next=%2Fauthorize%2Fresume%2Fabc"' in page


def test_long_expired_rows_are_deleted(client, user, mailoutbox):
    """Rows expired for more than a day go away as new emails are asked for."""
    start(client, user.email)
    old = EmailSignIn.objects.get()
    EmailSignIn.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=2))
    start(Client(), "someone-else@example.com")
    assert not EmailSignIn.objects.filter(pk=old.pk).exists()
    assert EmailSignIn.objects.count() == 1
