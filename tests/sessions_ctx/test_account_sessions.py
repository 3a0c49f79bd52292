"""The account's sessions page and security activity (sessions_ctx/views.py): see where
you are signed in, sign one session or all others out, read what the risk checks did."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_application_model

from ciam.models import AuthorizationContext, BackchannelLogoutDelivery
from sessions_ctx.models import Action, BrowserSession, EndReason, RiskDecision
from tests.factories import PASSWORD, UserFactory, make_client

pytestmark = pytest.mark.django_db

LAPTOP = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
PAGE = "/account/sessions/"
ACTIVITY = "/account/sessions/activity/"


def signed_in_browser(user, user_agent: str = LAPTOP, address: str = "198.51.100.7") -> Client:
    """A browser signed in through the hosted sign-in form (a session record is made)."""
    browser = Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address)
    response = browser.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content[:400]
    return browser


def is_signed_in(browser: Client) -> bool:
    """Whether the browser is still signed in: an account page answers instead of sending
    it to the sign-in page."""
    response = browser.get(PAGE)
    return response.status_code == 200 and SESSION_KEY in browser.session


def record_of(browser: Client) -> BrowserSession:
    return BrowserSession.objects.get(session_key=browser.session.session_key)


def with_backchannel_client(user, record: BrowserSession):
    """A client with a back-channel logout URI that signed the user in during ``record``."""
    registered = make_client(
        "web",
        name="Shop",
        redirect_uris=["https://shop.example.test/callback"],
        backchannel_logout_uri="https://shop.example.test/bcl",
    )
    application = get_application_model().objects.get(client_id=registered.client_id)
    AuthorizationContext.objects.create(
        application=application,
        user=user,
        code_hash=secrets.token_hex(32),
        sid=record.sid,
        auth_time=int(timezone.now().timestamp()),
    )
    return application


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def laptop(user) -> Client:
    return signed_in_browser(user, LAPTOP)


@pytest.fixture
def phone(user) -> Client:
    return signed_in_browser(user, PHONE, "203.0.113.9")


def test_page_lists_active_sessions_with_this_browser_marked(laptop, phone):
    """Both sessions are listed with browser, device, network, when and how; only the
    requesting browser is marked "This browser"; ended sessions are not listed."""
    ended = BrowserSession.objects.create(
        user=record_of(laptop).user,
        sid="ended",
        last_seen_at=timezone.now(),
        auth_time=timezone.now(),
        expires_at=timezone.now(),
        browser="Firefox",
        ended_at=timezone.now(),
        end_reason=EndReason.SIGNED_OUT,
    )
    response = laptop.get(PAGE)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Chrome · Linux" in text
    assert "Safari · iOS" in text
    assert "Firefox" not in text
    assert text.count("This browser") == 1
    assert "203.0.113.0/24" in text
    assert "Signed in with" in text
    assert "<dd>password</dd>" in text
    assert "Sign out all other sessions" in text
    mine = text.index(f'data-session="{record_of(laptop).pk}"')
    assert text.index("This browser") > mine  # the badge is on the laptop's own entry
    assert text.index(f'data-session="{record_of(phone).pk}"') > mine  # this browser first
    assert f"/account/sessions/{ended.pk}/sign-out/" not in text


def test_page_speaks_portuguese(laptop, phone):
    """In pt-BR the page uses the Portuguese words (and Django's localised dates)."""
    laptop.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"
    text = laptop.get(PAGE).content.decode()
    assert 'lang="pt-br"' in text
    assert "Este navegador" in text


def test_signing_out_another_session_signs_that_browser_out_and_tells_its_clients(
    user, laptop, phone
):
    """ "Sign out" on the phone's session, from the laptop: the phone is signed out on its
    next request, its record ends as revoked by the user, and the client it signed in to
    gets a back-channel logout delivery; the laptop stays signed in."""
    target = record_of(phone)
    application = with_backchannel_client(user, target)
    response = laptop.post(f"/account/sessions/{target.pk}/sign-out/", follow=True)
    assert response.redirect_chain == [(PAGE, 302)]
    assert f"You signed out of {target.browser_label}." in response.content.decode()
    target.refresh_from_db()
    assert target.ended_at is not None
    assert target.end_reason == EndReason.REVOKED_BY_USER
    assert not is_signed_in(phone)
    assert is_signed_in(laptop)
    delivery = BackchannelLogoutDelivery.objects.get()
    assert delivery.application == application
    assert delivery.sid == target.sid


def test_signing_out_this_browser_signs_it_out_here(laptop, phone):
    """ "Sign out of this browser" ends the laptop's own session like signing out does; the
    phone stays signed in."""
    mine = record_of(laptop)
    response = laptop.post(f"/account/sessions/{mine.pk}/sign-out/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    mine.refresh_from_db()
    assert mine.end_reason == EndReason.SIGNED_OUT
    assert not is_signed_in(laptop)
    assert is_signed_in(phone)


def test_sign_out_all_others_keeps_only_this_browser(user, laptop, phone):
    """ "Sign out all other sessions" ends every other session (each client told) and
    keeps this one."""
    tablet = signed_in_browser(user, PHONE, "192.0.2.44")
    with_backchannel_client(user, record_of(tablet))
    response = laptop.post("/account/sessions/sign-out-others/")
    assert response.status_code == 302
    assert not is_signed_in(phone)
    assert not is_signed_in(tablet)
    assert is_signed_in(laptop)
    assert list(
        BrowserSession.objects.filter(user=user, ended_at__isnull=True).values_list("pk", flat=True)
    ) == [record_of(laptop).pk]
    assert set(
        BrowserSession.objects.filter(user=user, ended_at__isnull=False).values_list(
            "end_reason", flat=True
        )
    ) == {EndReason.REVOKED_BY_USER}
    assert BackchannelLogoutDelivery.objects.count() == 1
    again = laptop.post("/account/sessions/sign-out-others/", follow=True)
    assert "You were not signed in anywhere else." in again.content.decode()


def test_another_users_session_is_not_found(laptop):
    """Someone else's session id answers 404 and that session stays signed in."""
    stranger = signed_in_browser(UserFactory())
    theirs = record_of(stranger)
    response = laptop.post(f"/account/sessions/{theirs.pk}/sign-out/")
    assert response.status_code == 404
    assert is_signed_in(stranger)
    theirs.refresh_from_db()
    assert theirs.ended_at is None


@pytest.mark.parametrize(
    "raw_id",
    ["abc", "-1", "0", "1e3", "1.5", "%EF%BC%99", "9" * 40, "%00", "1%20", "0x1f", " "],
)
def test_malformed_session_ids_are_not_found(laptop, raw_id):
    """Whatever stands where the id should be: 404, never a server error."""
    response = laptop.post(f"/account/sessions/{raw_id}/sign-out/")
    assert response.status_code == 404


def test_an_ended_session_is_not_found(user, laptop, phone):
    """Signing out a session that already ended answers 404 (nothing to do)."""
    target = record_of(phone)
    assert laptop.post(f"/account/sessions/{target.pk}/sign-out/").status_code == 302
    assert laptop.post(f"/account/sessions/{target.pk}/sign-out/").status_code == 404


def test_sign_out_needs_post_with_csrf(user):
    """A GET does not sign anything out (405); a POST without the CSRF token is refused."""
    browser = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=LAPTOP)
    browser.force_login(user)
    other = signed_in_browser(user, PHONE)
    target = record_of(other)
    assert browser.get(f"/account/sessions/{target.pk}/sign-out/").status_code == 405
    assert browser.get("/account/sessions/sign-out-others/").status_code == 405
    assert browser.post(f"/account/sessions/{target.pk}/sign-out/").status_code == 403
    assert browser.post("/account/sessions/sign-out-others/").status_code == 403
    assert is_signed_in(other)


@pytest.mark.parametrize("path", [PAGE, ACTIVITY])
def test_signed_out_browser_is_sent_to_sign_in(path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_post_from_signed_out_browser_ends_nothing(laptop):
    """A signed-out browser posting a real id is sent to sign in and nothing ends."""
    target = record_of(laptop)
    response = Client().post(f"/account/sessions/{target.pk}/sign-out/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert is_signed_in(laptop)


def test_home_links_to_both_pages(laptop):
    text = laptop.get("/").content.decode()
    assert 'href="/account/sessions/"' in text
    assert 'href="/account/sessions/activity/"' in text


def decision(user, **fields) -> RiskDecision:
    created_at = fields.pop("created_at", None)
    row = RiskDecision.objects.create(user=user, trigger=RiskDecision.Trigger.SIGN_IN, **fields)
    if created_at is not None:
        RiskDecision.objects.filter(pk=row.pk).update(created_at=created_at)
    return row


def test_activity_tells_each_decision_in_plain_words(user, laptop):
    """A confirmed new device reads "New device in Lisboa ... Confirmed with your passkey on
    3 Dec", with the reason; ended and blocked decisions say so; an uneventful sign-in is
    "nothing unusual"."""
    decision(
        user,
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
        resolved_at=datetime(2026, 12, 3, 12, 0, tzinfo=UTC),
        resolved_with="hwk",
    )
    decision(
        user,
        findings=[{"code": "impossible_travel", "confidence": "high", "params": {}}],
        action=Action.END_SESSION,
    )
    decision(
        user,
        findings=[{"code": "bad_address", "confidence": "high", "params": {"ip": "192.0.2.1"}}],
        action=Action.BLOCK,
    )
    decision(
        user,
        findings=[{"code": "new_country", "confidence": "high", "params": {"country": "PT"}}],
        action=Action.STEP_UP,
    )
    text = laptop.get(ACTIVITY).content.decode()
    assert "New device in Lisboa, PT" in text
    assert "A sign-in from a new device (Firefox · Windows) in Lisboa, PT." in text
    assert "Confirmed with your passkey on 3 Dec." in text
    assert "We signed this session out for your protection." in text
    assert "We blocked this sign-in and emailed you about it." in text
    assert "The address 192.0.2.1 is on a list of addresses used for attacks." in text
    assert "It was not confirmed" in text
    assert "Nothing unusual." in text  # the laptop's own sign-in
    laptop.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"
    portuguese = laptop.get(ACTIVITY).content.decode()
    assert "3 Dez" in portuguese or "3 dez" in portuguese  # Django's own month names


def test_activity_lists_sign_ins_and_ended_sessions(user, laptop, phone):
    """Recent sign-ins show browser, device and how; ended sessions show why they ended."""
    laptop.post(f"/account/sessions/{record_of(phone).pk}/sign-out/")
    text = laptop.get(ACTIVITY).content.decode()
    sign_ins = text[text.index("Recent sign-ins") : text.index("Ended sessions")]
    ended = text[text.index("Ended sessions") :]
    assert "Chrome · Linux" in sign_ins
    assert "Safari · iOS" in sign_ins
    assert "Phone" in sign_ins
    assert "password" in sign_ins
    assert "Safari · iOS" in ended
    assert "Chrome · Linux" not in ended
    assert "Signed out from another session" in ended


def test_activity_shows_only_the_users_own_rows(user, laptop):
    """Another user's decisions and sessions never appear."""
    stranger = UserFactory()
    signed_in_browser(stranger, PHONE)
    decision(stranger, findings=[], action=Action.BLOCK, place="Recife, BR")
    text = laptop.get(ACTIVITY).content.decode()
    assert "Recife" not in text
    assert "Safari · iOS" not in text


def test_activity_keeps_the_last_fifty_decisions(user, laptop):
    for _ in range(55):
        decision(user, findings=[], action=Action.ALLOW)
    text = laptop.get(ACTIVITY).content.decode()
    # 55 made here plus the laptop's own sign-in: the page shows 50.
    assert text.count('class="consent-item activity-item"') == 50
