"""Brute force against password sign-in: wrong passwords are counted per (account, address)
pair and per address with exponential back-off, never per account alone and never per
successful sign-in; no spelling of the email, forwarded-for chain or Host header escapes the
counters."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from allauth.account.adapter import get_adapter
from allauth.core import context as allauth_context
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory

from sessions_ctx import throttle
from sessions_ctx.services.password_attempts import (
    PasswordAttemptRefused,
    password_attempt_admit,
    password_attempt_backoffs,
)
from sessions_ctx.throttle import Backoff
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ATTACKER = "203.0.113.66"
CUSTOMER = "198.51.100.20"
CGNAT = "100.64.12.34"
WRONG = "not-the-password-1"
TOO_MANY = "Too many failed login attempts"
WRONG_PASSWORD = "The email address and/or password you specified are not correct."
DOTLESS_I = "\u0131"


def fullwidth(text: str) -> str:
    """``text`` in fullwidth forms (U+FF01...U+FF5E), which NFKC folds back to ASCII."""
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


class Clock:
    """The throttle's clock, moved by hand (waits end without sleeping)."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(throttle, "time", fake)
    return fake


@pytest.fixture
def victim(db):
    return UserFactory(email="victim@example.com")


def browser(ip: str, **extra: Any) -> Client:
    return Client(REMOTE_ADDR=ip, **extra)


def sign_in(client: Client, email: str, password: str, **extra: Any) -> Any:
    return client.post(LOGIN, {"login": email, "password": password}, **extra)


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def is_signed_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def assert_refused(response) -> int:
    """HTTP 429 with the form's error and a Retry-After; the seconds."""
    assert response.status_code == 429, (response.status_code, text_of(response)[-400:])
    assert TOO_MANY in text_of(response)
    return int(response["Retry-After"])


def adapter_attempt(ip: str, email: str, password: str) -> bool:
    """One password check through allauth's adapter, as the sign-in form makes it (without
    the page around it); False when refused by the throttle before any check."""
    request = RequestFactory().post(LOGIN, REMOTE_ADDR=ip)
    with allauth_context.request_context(request):
        try:
            get_adapter(request).authenticate(request, email=email, password=password)
        except ValidationError as error:
            refusal = error
        else:
            return True
    assert refusal.code == "too_many_login_attempts"
    return False


# --- (a) an attacker cannot lock the customer out -------------------------------------------


def test_a_thousand_wrong_passwords_from_one_address_leave_the_customer_free(
    victim, clock, mailoutbox
):
    """1,000 wrong passwords for one account from an attacker's address, each made after the
    previous wait ended (so every one is checked and counted): the attacker's address stays
    refused, while the customer, from their own address right after, signs in (and, the
    risk engine having seen the failures, confirms it with the code it emails them)."""
    checked = 0
    for _ in range(995):
        clock.advance(901)  # past the longest back-off: the attempt is admitted and fails
        checked += adapter_attempt(ATTACKER, victim.email, WRONG)
    assert checked == 995
    attacker = browser(ATTACKER)
    for _ in range(5):  # the last few through the real sign-in page, the wait now running
        assert 1 <= assert_refused(sign_in(attacker, victim.email, WRONG)) <= 900
    refused = sign_in(attacker, victim.email, PASSWORD)
    assert_refused(refused)  # even the right password is not tried from there
    assert not is_signed_in(attacker)

    customer = browser(CUSTOMER)
    response = sign_in(customer, victim.email, PASSWORD)
    assert response.status_code == 302, text_of(response)[-400:]
    assert is_signed_in(customer)
    confirm = customer.get("/", follow=True)
    assert confirm.request["PATH_INFO"] == "/account/confirm/"
    assert "995 wrong passwords before this sign-in" in text_of(confirm)
    code = re.search(r"\b(\d{6})\b", mailoutbox[-1].body)
    assert code, mailoutbox[-1].body
    confirmed = customer.post(
        "/account/confirm/?next=/", {"action": "code", "code": code.group(1)}, follow=True
    )
    assert confirmed.status_code == 200
    assert confirmed.request["PATH_INFO"] != "/account/confirm/"
    assert is_signed_in(customer)


def test_the_customer_is_not_held_by_failures_from_anywhere_else(victim, clock):
    """Wrong passwords for the account from many addresses never add up to a lock of the
    account: the customer still signs in from their own."""
    for n in range(60):
        for _ in range(7):
            adapter_attempt(f"192.0.2.{n + 1}", victim.email, WRONG)
    customer = browser(CUSTOMER)
    assert sign_in(customer, victim.email, PASSWORD).status_code == 302
    assert is_signed_in(customer)


# --- (b) exponential back-off ---------------------------------------------------------------


def test_the_attackers_pair_backs_off_exponentially_up_to_the_cap(victim, clock, settings):
    """Past 5 free wrong passwords for the account from one address, each one makes the next
    wait twice as long (2, 4, 8 ... seconds, at most CIAM_SIGNIN_BACKOFF_MAX_SECONDS):
    HTTP 429 with Retry-After and the form's error meanwhile, never a 500."""
    settings.CIAM_SIGNIN_BACKOFF_MAX_SECONDS = 60
    attacker = browser(ATTACKER)
    for _ in range(5):
        response = sign_in(attacker, victim.email, WRONG)
        assert response.status_code == 200
        assert WRONG_PASSWORD in text_of(response)
    waits = []
    for _ in range(8):
        response = sign_in(attacker, victim.email, WRONG)  # admitted, wrong: a wait starts
        assert response.status_code == 200
        assert WRONG_PASSWORD in text_of(response)
        wait = assert_refused(sign_in(attacker, victim.email, WRONG))
        assert assert_refused(sign_in(attacker, victim.email, PASSWORD)) == wait
        waits.append(wait)
        clock.advance(wait - 0.5)
        assert assert_refused(sign_in(attacker, victim.email, WRONG)) == 1
        clock.advance(0.5)
    assert waits == [2, 4, 8, 16, 32, 60, 60, 60]


def test_the_right_password_after_a_wait_forgets_the_pairs_failures(victim, clock):
    """A right password from the pair's address, once its wait ended, signs in and starts
    its count afresh: the customer's own typos do not keep growing their wait."""
    own = browser(CUSTOMER)
    for _ in range(6):
        sign_in(own, victim.email, WRONG)
    wait = assert_refused(sign_in(own, victim.email, PASSWORD))
    clock.advance(wait)
    assert sign_in(own, victim.email, PASSWORD).status_code == 302
    again = browser(CUSTOMER)
    for _ in range(5):
        assert sign_in(again, victim.email, WRONG).status_code == 200
    assert sign_in(again, victim.email, PASSWORD).status_code == 302


def test_an_address_spraying_many_accounts_backs_off_exponentially(db, clock, settings):
    """Wrong passwords for many different accounts from one address (password spraying):
    past CIAM_SIGNIN_FAILURES_PER_ADDRESS the address waits 2, 4, 8 ... seconds, for any
    account; another address is not affected."""
    settings.CIAM_SIGNIN_FAILURES_PER_ADDRESS = 10
    customers = [UserFactory() for _ in range(3)]
    attacker = browser(ATTACKER)
    for n in range(11):
        assert sign_in(attacker, f"guess{n}@example.com", WRONG).status_code == 200
    waits = []
    for n in range(4):
        wait = assert_refused(sign_in(attacker, f"other{n}@example.com", WRONG))
        waits.append(wait)
        clock.advance(wait)
        assert sign_in(attacker, f"again{n}@example.com", WRONG).status_code == 200
    assert waits == [2, 4, 8, 16]
    assert_refused(sign_in(attacker, customers[0].email, PASSWORD))
    elsewhere = browser(CUSTOMER)
    assert sign_in(elsewhere, customers[0].email, PASSWORD).status_code == 302


def test_concurrent_attempts_past_the_free_ones_let_one_through(db):
    """Attempts arriving together once the free ones are spent: exactly one is admitted
    (it starts the next wait), the others are refused and not counted."""
    backoff = Backoff("test.race", free=3, window=600, base=5, cap=60)
    for _ in range(3):
        attempt, wait = throttle.backoff_admit([backoff])
        assert attempt is not None
        assert wait == 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: throttle.backoff_admit([backoff]), range(40)))
    admitted = [attempt for attempt, _ in results if attempt is not None]
    assert len(admitted) == 1
    assert all(wait >= 1 for attempt, wait in results if attempt is None)


def test_a_refusal_checks_nothing(victim, clock):
    """A refused attempt never reaches the password check: Django sends no wrong-password
    signal for it (nor do the metrics and the risk engine count it)."""
    from django.contrib.auth.signals import user_login_failed

    for _ in range(6):
        adapter_attempt(ATTACKER, victim.email, WRONG)
    seen = []

    def failed(**kwargs):
        seen.append(kwargs)

    user_login_failed.connect(failed, dispatch_uid="test.refusal")
    try:
        assert adapter_attempt(ATTACKER, victim.email, WRONG) is False
    finally:
        user_login_failed.disconnect(dispatch_uid="test.refusal")
    assert seen == []


# --- (c) no bypass ------------------------------------------------------------------------


SPELLINGS = [
    "VICTIM@EXAMPLE.COM",
    "Victim@Example.Com",
    "  victim@example.com  ",
    "victim@example.com.",
    "victim@EXAMPLE.com.",
    "victim@" + fullwidth("example.com"),
    fullwidth("victim") + "@example.com",
    fullwidth("VICTIM@EXAMPLE.COM"),
    f"v{DOTLESS_I}ctim@example.com",  # PostgreSQL's UPPER makes it "I"
    "victim@example.com\u3002",  # ideographic full stop as trailing dot
    "victim\uff20example.com",  # fullwidth commercial at
    "victi\u217f@exa\u217fple.co\u217f",  # small roman numeral one thousand: NFKC "m"
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_of_the_address_shares_the_counters(spelling):
    """Case, surrounding space, trailing dots, Unicode compatibility forms (fullwidth
    letters, the dotless i) and the IDNA form of the domain all name the same counters."""
    assert throttle.email_normal_form(spelling) == "victim@example.com"
    assert throttle.email_digest(spelling) == throttle.email_digest("victim@example.com")


@pytest.mark.parametrize(
    ("spelling", "normal"),
    [
        ("ana@bücher.example", "ana@xn--bcher-kva.example"),
        ("ana@BÜCHER.example", "ana@xn--bcher-kva.example"),
        ("ana@xn--bcher-kva.example", "ana@xn--bcher-kva.example"),
        (
            fullwidth("Ana@b") + "\u00fc" + fullwidth("cher") + ".example",
            "ana@xn--bcher-kva.example",
        ),
    ],
)
def test_an_internationalised_domain_counts_in_its_idna_form(spelling, normal):
    """The Unicode and the punycode spelling of a domain are one domain."""
    assert throttle.email_normal_form(spelling) == normal


@pytest.mark.parametrize(
    "email",
    [
        "victim@" + "a" * 70 + ".com",  # a label longer than IDNA allows
        "victim@xn--.com",
        "victim@a..com",
        "victim@",
        "no-at-sign",
        "",
        "victim@b\u00fccher\u200b.example",  # a character IDNA prohibits
    ],
)
def test_an_address_idna_cannot_encode_is_a_refusal_not_a_500(victim, email):
    """An email whose domain IDNA cannot encode gets a normal form and the sign-in page its
    usual error, never a server error."""
    assert isinstance(throttle.email_normal_form(email), str)
    response = sign_in(browser(ATTACKER), email, WRONG)
    assert response.status_code == 200


def test_a_lone_surrogate_has_a_normal_form():
    """Text that is not even valid Unicode (a lone surrogate) still gets a normal form."""
    assert isinstance(throttle.email_normal_form("victim@\udcff.com"), str)
    assert len(throttle.email_digest("victim@\udcff.com")) == 32


def test_spellings_of_the_address_are_held_by_the_pairs_back_off(victim, settings):
    """Once the pair (account, attacker's address) backs off, no spelling of the address
    accepted by the sign-in form gets a fresh count, even with the right password; another
    account from the same address still may be tried (the pair holds, not the address)."""
    other = UserFactory(email="other@example.com")
    attacker = browser(ATTACKER)
    for _ in range(6):
        sign_in(attacker, victim.email, WRONG)
    for spelling in SPELLINGS:
        response = sign_in(attacker, spelling, PASSWORD)
        assert response.status_code in (200, 429), spelling
        if response.status_code == 200:  # refused by the form itself: no password checked
            assert WRONG_PASSWORD not in text_of(response), spelling
            assert "Enter a valid email address." in text_of(response), spelling
        assert not is_signed_in(attacker), spelling
    assert_refused(sign_in(attacker, "VICTIM@example.com", PASSWORD))
    assert_refused(sign_in(attacker, "victim@" + fullwidth("EXAMPLE") + ".com", PASSWORD))
    assert_refused(sign_in(attacker, f"v{DOTLESS_I}ctim@example.com", PASSWORD))
    assert sign_in(attacker, other.email, PASSWORD).status_code == 302


@pytest.mark.parametrize(
    "forwarded_for",
    [
        ATTACKER,
        f"1.2.3.4, {ATTACKER}",
        f"{CUSTOMER}, {ATTACKER}",
        f"{CUSTOMER}, 10.9.9.9, {ATTACKER}",
        f"not-an-address, {ATTACKER}",
        f"unknown,{ATTACKER}",
        f"{ATTACKER},{ATTACKER}",
        f"  {ATTACKER}  ",
        f"2001:db8::1, {ATTACKER}",
    ],
)
def test_forwarded_for_entries_beyond_the_trusted_proxy_are_ignored(
    victim, settings, forwarded_for
):
    """Behind one trusted proxy (CIAM_TRUSTED_PROXY_COUNT=1) the address is the entry it
    appended: entries the client put before it change nothing, so the attacker stays held
    whatever chain it sends, and cannot make the customer's address held either."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.1"
    attacker = browser(proxy, HTTP_X_FORWARDED_FOR=ATTACKER)
    for _ in range(6):
        sign_in(attacker, victim.email, WRONG)
    spoofing = browser(proxy, HTTP_X_FORWARDED_FOR=forwarded_for)
    assert_refused(sign_in(spoofing, victim.email, PASSWORD))
    customer = browser(proxy, HTTP_X_FORWARDED_FOR=CUSTOMER)
    assert sign_in(customer, victim.email, PASSWORD).status_code == 302


def test_fewer_forwarded_for_entries_than_trusted_proxies_is_no_500(victim, settings):
    """A request that did not pass every trusted proxy (fewer X-Forwarded-For entries than
    CIAM_TRUSTED_PROXY_COUNT) is not a server error: its attempts share one counter."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 2
    short = browser("10.0.0.1", HTTP_X_FORWARDED_FOR=ATTACKER)
    statuses = {sign_in(short, victim.email, WRONG).status_code for _ in range(8)}
    assert statuses <= {200, 403, 429}
    assert 429 in statuses


@pytest.mark.parametrize(
    "host", ["id.example.test", "id.example.test:443", "id.example.test:8443", "testserver:1"]
)
def test_the_host_header_plays_no_part(victim, host):
    """The counters name the account and the address, not the host: another port (or
    host name) in the Host header does not restart them."""
    attacker = browser(ATTACKER)
    for _ in range(6):
        sign_in(attacker, victim.email, WRONG, HTTP_HOST="testserver")
    assert_refused(sign_in(attacker, victim.email, PASSWORD, HTTP_HOST=host))


def test_addresses_of_one_ipv6_network_share_the_counters(victim):
    """An IPv6 client counts as its /64 (one subscriber's allocation): rotating addresses
    inside it does not restart the counters; an IPv4-mapped address is the IPv4 one."""
    first = browser("2001:db8:1:2::1")
    for _ in range(6):
        sign_in(first, victim.email, WRONG)
    assert_refused(sign_in(browser("2001:db8:1:2:ffff:ffff:ffff:ffff"), victim.email, PASSWORD))
    assert sign_in(browser("2001:db8:1:3::1"), victim.email, PASSWORD).status_code == 302

    mapped = browser(f"::ffff:{ATTACKER}")
    for _ in range(6):
        sign_in(mapped, victim.email, WRONG)
    assert_refused(sign_in(browser(ATTACKER), victim.email, PASSWORD))


def test_the_counters_name_the_normal_forms(victim, settings):
    """The pair counter of a spelling is the pair counter of the address's normal form, and
    the address counter follows the trusted proxy count."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    factory = RequestFactory()
    plain = factory.post(LOGIN, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=ATTACKER)
    spoofed = factory.post(
        LOGIN,
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR=f"{CUSTOMER}, {ATTACKER}",
        HTTP_HOST="id.example.test:8443",
    )
    assert password_attempt_backoffs(
        request=plain, identifier="victim@example.com"
    ) == password_attempt_backoffs(
        request=spoofed, identifier=fullwidth("VICTIM") + "@example.com."
    )


# --- (d) carrier-grade NAT ------------------------------------------------------------------


def test_a_hundred_customers_behind_one_address_all_sign_in_within_a_minute(db):
    """A hundred customers behind one carrier-grade NAT address sign in within a minute,
    twenty of them after a typo: every one gets in (successful sign-ins are not limited per
    address, and their typos stay within the address's budget)."""
    customers = [UserFactory() for _ in range(100)]
    started = time.monotonic()
    for n, customer in enumerate(customers):
        phone = browser(CGNAT)
        if n % 5 == 0:
            assert sign_in(phone, customer.email, WRONG).status_code == 200
        response = sign_in(phone, customer.email, PASSWORD)
        assert response.status_code == 302, (n, text_of(response)[-300:])
        assert is_signed_in(phone)
    assert time.monotonic() - started < 60


def test_a_per_minute_cap_on_attempts_per_address_is_off_unless_set(victim, settings):
    """CIAM_SIGNIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE (0 by default) caps every password
    sign-in, right or wrong, from one address: HTTP 429 until the minute ends."""
    settings.CIAM_SIGNIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE = 3
    for _ in range(3):
        assert sign_in(browser(CGNAT), victim.email, PASSWORD).status_code == 302
    assert 1 <= assert_refused(sign_in(browser(CGNAT), victim.email, PASSWORD)) <= 60
    assert sign_in(browser(CUSTOMER), victim.email, PASSWORD).status_code == 302


# --- (e) other ways in ----------------------------------------------------------------------


def test_an_emailed_code_signs_the_customer_in_when_their_shared_address_is_held(
    victim, settings, mailoutbox, clock
):
    """An attacker behind the customer's own carrier-grade NAT address holds its password
    sign-ins (pair and address back-off): the customer still signs in there with an emailed
    code, which the password counters do not touch."""
    settings.CIAM_SIGNIN_FAILURES_PER_ADDRESS = 10
    attacker = browser(CGNAT)
    for _ in range(6):
        sign_in(attacker, victim.email, WRONG)
    for n in range(10):
        sign_in(attacker, f"guess{n}@example.com", WRONG)
    customer = browser(CGNAT)
    assert_refused(sign_in(customer, victim.email, PASSWORD))
    assert_refused(sign_in(customer, "someone.else@example.com", PASSWORD))

    response = customer.post("/account/email-sign-in/", {"email": victim.email})
    assert response.status_code == 302
    code = re.search(r"^ {4}(\d{6})$", mailoutbox[-1].body, re.MULTILINE)
    assert code, mailoutbox[-1].body
    response = customer.post("/account/email-sign-in/code/", {"code": code.group(1)})
    assert response.status_code == 302
    assert customer.session[SESSION_KEY] == str(victim.pk)


def test_the_service_refuses_with_the_seconds_to_wait(victim, clock):
    """password_attempt_admit raises PasswordAttemptRefused with the wait, not counted."""
    request = RequestFactory().post(LOGIN, REMOTE_ADDR=ATTACKER)
    for _ in range(6):
        password_attempt_admit(request=request, identifier=victim.email)
    with pytest.raises(PasswordAttemptRefused) as refused:
        password_attempt_admit(request=request, identifier="Victim@Example.com")
    assert refused.value.retry_after == 2
