"""Browser session records end to end, through the hosted sign-in form: what a sign-in
records, how a session is kept current, and what the risk engine does about it."""

from __future__ import annotations

import time
from datetime import timedelta
from importlib import import_module

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sessions_ctx.constants import DEVICE_COOKIE_NAME, SESSION_KEY_CONTEXT
from sessions_ctx.models import (
    Action,
    BrowserSession,
    Confidence,
    EndReason,
    FindingCode,
    RiskDecision,
    UserDevice,
)
from sessions_ctx.risk import assessors
from sessions_ctx.services.risk import risk_state
from tests.factories import PASSWORD, UserFactory

from .geo_db import LISBOA, SAO_PAULO, TOKYO, geo_files, geoip
from .test_context import CHROME_WINDOWS, FIREFOX_LINUX, SAFARI_IPHONE

__all__ = ["geo_files", "geoip"]  # fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _places(geoip):
    """Every test here reads places from the test databases."""
    assessors._bad_cache.clear()


@pytest.fixture(autouse=True)
def _default_policy(db):
    """The default policy as its migration installs it (a transactional test that ran
    before in this process may have emptied the tables)."""
    from django.apps import apps

    migration = import_module("sessions_ctx.migrations.0002_default_risk_policy")
    migration.create_default_policy(apps, None)


def browser(ip: str = LISBOA.ip, user_agent: str = CHROME_WINDOWS) -> Client:
    """A browser at ``ip`` (REMOTE_ADDR: no trusted proxy in the test settings)."""
    return Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=user_agent)


def sign_in(client: Client, email: str, password: str = PASSWORD, *, keep: bool = True):
    data = {"login": email, "password": password}
    if keep:
        data["remember"] = "on"
    return client.post("/accounts/login/", data)


def signed_in(client: Client, email: str, **kwargs) -> BrowserSession:
    response = sign_in(client, email, **kwargs)
    assert response.status_code == 302, response.content[-500:]
    return current_record(client)


def current_record(client: Client) -> BrowserSession:
    return BrowserSession.objects.get(pk=client.session[SESSION_KEY_CONTEXT]["id"])


def is_signed_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def ctx_edit(client: Client, **values) -> None:
    """Change the session's context record as time passing would."""
    session = client.session
    data = dict(session[SESSION_KEY_CONTEXT])
    data.update(values)
    session[SESSION_KEY_CONTEXT] = data
    session.save()


def test_sign_in_records_browser_network_and_place():
    """A password sign-in through the hosted form creates one active session record with
    the parsed browser, the network and the place of the address, and the sign-in's amr."""
    user = UserFactory()
    client = browser(LISBOA.ip, SAFARI_IPHONE)
    client.get("/")  # the browser gets its device cookie first
    record = signed_in(client, user.email)
    assert BrowserSession.objects.filter(user=user).count() == 1
    assert record.is_active
    assert (record.browser, record.os, record.device_type) == ("Mobile Safari", "iOS", "phone")
    assert record.user_agent == SAFARI_IPHONE
    assert (record.ip, record.network) == (LISBOA.ip, "198.51.100.0/24")
    assert (record.country, record.city, record.asn) == ("PT", "Lisboa", LISBOA.asn)
    assert record.latitude == pytest.approx(LISBOA.latitude)
    assert record.longitude == pytest.approx(LISBOA.longitude)
    assert record.place == "Lisboa, PT"
    assert record.amr == ["pwd"]
    assert record.keep_signed_in
    assert record.session_key == client.session.session_key
    assert record.device_id
    device_cookie = client.cookies[DEVICE_COOKIE_NAME].value
    assert record.device_id in device_cookie  # the signed cookie carries the id
    # The first sign-in is allowed and its browser becomes a known device.
    decision = RiskDecision.objects.get(session=record)
    assert (decision.trigger, decision.action, decision.findings) == ("sign_in", Action.ALLOW, [])
    assert record.confirmed
    assert UserDevice.objects.filter(user=user, device_id=record.device_id).exists()


def test_sign_in_without_keep_me_signed_in_ends_with_the_browser():
    """Unchecking "keep me signed in" gives a browser-session cookie and a record saying so."""
    user = UserFactory()
    client = browser()
    record = signed_in(client, user.email, keep=False)
    assert not record.keep_signed_in
    assert client.session.get_expire_at_browser_close()


def test_a_returning_browser_is_a_known_device():
    """Signing in again on the same browser and network finds nothing new."""
    user = UserFactory()
    client = browser()
    signed_in(client, user.email)
    client.post("/accounts/logout/")
    assert not is_signed_in(client)
    record = signed_in(client, user.email)
    decision = RiskDecision.objects.filter(session=record).latest("created_at")
    assert decision.findings == []
    assert decision.action == Action.ALLOW


def test_a_new_browser_in_another_country_is_stepped_up():
    """After sign-ins in Lisboa, a sign-in from São Paulo on another browser is a new device,
    network, country and provider; the default policy asks for a step-up (new country) and
    the session stays unconfirmed until then."""
    user = UserFactory()
    lisboa = signed_in(browser(LISBOA.ip), user.email)
    # Two days ago: a flight, not impossible travel.
    BrowserSession.objects.filter(pk=lisboa.pk).update(
        created_at=lisboa.created_at - timedelta(days=2)
    )
    record = signed_in(browser(SAO_PAULO.ip, FIREFOX_LINUX), user.email)
    decision = RiskDecision.objects.get(session=record)
    assert set(decision.finding_codes) == {
        FindingCode.NEW_DEVICE,
        FindingCode.NEW_NETWORK,
        FindingCode.NEW_COUNTRY,
        FindingCode.NEW_ASN,
    }
    assert decision.action == Action.STEP_UP
    record.refresh_from_db()
    assert not record.confirmed
    assert not UserDevice.objects.filter(device_id=record.device_id).exists()


def test_impossible_travel_at_sign_in_is_stepped_up():
    """Lisboa, then Tokyo minutes later: impossible travel (high), a step-up."""
    user = UserFactory()
    signed_in(browser(LISBOA.ip), user.email)
    record = signed_in(browser(TOKYO.ip), user.email)
    decision = RiskDecision.objects.get(session=record)
    travel = [f for f in decision.findings if f["code"] == FindingCode.IMPOSSIBLE_TRAVEL]
    assert travel
    assert travel[0]["confidence"] == Confidence.HIGH
    assert decision.action == Action.STEP_UP


def test_last_seen_is_not_written_on_every_request(settings):
    """Requests within CIAM_SESSIONS_LAST_SEEN_INTERVAL_SECONDS write neither the record nor
    the session; once the interval has passed, one request writes last seen."""
    settings.CIAM_SESSIONS_LAST_SEEN_INTERVAL_SECONDS = 300
    user = UserFactory()
    client = browser()
    record = signed_in(client, user.email)
    client.get("/")
    first_seen = current_record(client).last_seen_at

    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert client.get("/").status_code == 200
    writes = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith(("UPDATE", "INSERT"))
    ]
    assert writes == []
    assert current_record(client).last_seen_at == first_seen

    ctx_edit(client, seen=int(time.time()) - 301)
    with CaptureQueriesContext(connection) as queries:
        client.get("/")
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert any("sessions_ctx_browsersession" in sql and "last_seen_at" in sql for sql in updates)
    record.refresh_from_db()
    assert record.last_seen_at > first_seen
    assert client.session[SESSION_KEY_CONTEXT]["seen"] >= int(time.time()) - 5


def test_a_zero_interval_writes_last_seen_on_each_request(settings):
    """With the interval set to 0, each request moves last seen."""
    settings.CIAM_SESSIONS_LAST_SEEN_INTERVAL_SECONDS = 0
    user = UserFactory()
    client = browser()
    signed_in(client, user.email)
    client.get("/")
    before = current_record(client).last_seen_at
    time.sleep(0.01)
    client.get("/")
    assert current_record(client).last_seen_at > before


def test_another_user_agent_in_the_same_session_asks_for_a_step_up():
    """The session's cookie used by another browser (Firefox on Linux instead of Chrome on
    Windows): a context-change decision with user_agent_changed (high) and, under the
    default policy, a step-up pending; account pages send it to the step-up page first."""
    user = UserFactory()
    client = browser(LISBOA.ip, CHROME_WINDOWS)
    record = signed_in(client, user.email)
    client.get("/")
    assert not RiskDecision.objects.filter(trigger="context_change").exists()

    client.defaults["HTTP_USER_AGENT"] = FIREFOX_LINUX
    response = client.get("/account/mfa/")
    decision = RiskDecision.objects.get(session=record, trigger="context_change")
    assert decision.finding_codes == [FindingCode.USER_AGENT_CHANGED]
    assert decision.findings[0]["confidence"] == Confidence.HIGH
    assert decision.findings[0]["params"]["previous_device"] == "Chrome · Windows"
    assert decision.action == Action.STEP_UP
    record.refresh_from_db()
    assert not record.confirmed
    assert record.is_active

    # The session's risk state: a step-up is owed, and the page asked for waits for it.
    assert response.status_code == 302
    assert response["Location"] == "/account/confirm/?next=%2Faccount%2Fmfa%2F"
    state = risk_state(response.wsgi_request)
    assert state is not None
    assert state.decision_id == decision.pk
    assert state.needs_step_up
    # The same new context is not assessed again on every request.
    client.get("/account/confirm/")
    assert RiskDecision.objects.filter(trigger="context_change").count() == 1


def test_another_address_in_the_same_network_is_no_context_change():
    """A new address within the session's /24 (a DHCP renewal) is not assessed again."""
    user = UserFactory()
    client = browser(LISBOA.ip)
    signed_in(client, user.email)
    client.defaults["REMOTE_ADDR"] = "198.51.100.200"
    client.get("/")
    assert not RiskDecision.objects.filter(trigger="context_change").exists()


def test_a_bad_address_sign_in_is_blocked_and_the_user_emailed(settings):
    """A sign-in from a known-bad network (CIAM_SESSIONS_BAD_NETWORKS) is blocked: the next
    request is signed out, the session ends for risk, and the user gets an email."""
    settings.CIAM_SESSIONS_BAD_NETWORKS = ["203.0.113.0/24"]
    user = UserFactory()
    client = browser(SAO_PAULO.ip)
    record = signed_in(client, user.email)
    decision = RiskDecision.objects.get(session=record)
    assert decision.finding_codes == [FindingCode.BAD_ADDRESS]
    assert decision.action == Action.BLOCK
    mail.outbox.clear()

    response = client.get("/", follow=True)
    assert response.status_code == 200
    assert not is_signed_in(client)
    assert not response.wsgi_request.user.is_authenticated
    record.refresh_from_db()
    assert record.ended_at is not None
    assert record.end_reason == EndReason.RISK
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert SAO_PAULO.ip in mail.outbox[0].body
    # Signed out, not blocked forever: the next request is an ordinary anonymous one.
    client.get("/")
    assert len(mail.outbox) == 1


def test_a_bad_address_from_a_list_file_is_blocked(settings, tmp_path):
    """The same with the network listed in a DROP-format file."""
    drop = tmp_path / "drop.txt"
    drop.write_text("; Spamhaus DROP List\n192.0.2.0/24 ; SBL000001\n")
    settings.CIAM_SESSIONS_BAD_NETWORK_FILES = [str(drop)]
    user = UserFactory()
    client = browser(TOKYO.ip)
    record = signed_in(client, user.email)
    assert RiskDecision.objects.get(session=record).action == Action.BLOCK
    client.get("/")
    assert not is_signed_in(client)


def test_absolute_expiry_ends_the_session():
    """A session past its absolute end is ended (expired) on its next request, whatever
    its use."""
    user = UserFactory()
    client = browser()
    record = signed_in(client, user.email)
    ctx_edit(client, end=int(time.time()) - 1)
    client.get("/")
    assert not is_signed_in(client)
    record.refresh_from_db()
    assert record.end_reason == EndReason.EXPIRED
    assert record.ended_at is not None


def test_absolute_end_follows_the_setting(settings):
    """The absolute end is CIAM_SESSIONS_ABSOLUTE_DAYS after sign-in."""
    settings.CIAM_SESSIONS_ABSOLUTE_DAYS = 7
    user = UserFactory()
    client = browser()
    record = signed_in(client, user.email)
    lifetime = record.expires_at - record.created_at
    assert abs(lifetime.total_seconds() - 7 * 86400) < 5
    assert abs(client.session[SESSION_KEY_CONTEXT]["end"] - record.expires_at.timestamp()) < 1


@pytest.mark.parametrize(
    ("keep", "idle_seconds"),
    [(True, 30 * 86400), (False, 720 * 60)],
    ids=["keep-signed-in", "browser-session"],
)
def test_idle_expiry_ends_the_session(keep, idle_seconds):
    """A session unused for longer than its idle period (CIAM_SESSIONS_IDLE_DAYS, or
    BROWSER_SESSION_IDLE_MINUTES without keep me signed in) ends expired; just under it, it
    goes on."""
    user = UserFactory()
    client = browser()
    record = signed_in(client, user.email, keep=keep)
    ctx_edit(client, seen=int(time.time()) - idle_seconds + 60)
    client.get("/")
    assert is_signed_in(client)

    ctx_edit(client, seen=int(time.time()) - idle_seconds - 1)
    response = client.get("/")
    assert not is_signed_in(client)
    assert not response.wsgi_request.user.is_authenticated
    record.refresh_from_db()
    assert record.end_reason == EndReason.EXPIRED


def test_idle_period_follows_the_setting(settings):
    """Shorter idle settings end sessions sooner."""
    settings.CIAM_SESSIONS_BROWSER_SESSION_IDLE_MINUTES = 10
    user = UserFactory()
    client = browser()
    record = signed_in(client, user.email, keep=False)
    ctx_edit(client, seen=int(time.time()) - 11 * 60)
    client.get("/")
    record.refresh_from_db()
    assert record.end_reason == EndReason.EXPIRED


def test_wrong_passwords_then_success_is_a_failed_attempts_finding():
    """Three wrong passwords, then the right one: the sign-in has a failed_attempts finding
    (medium) and, under the default policy, a step-up; the count starts over afterwards."""
    user = UserFactory()
    client = browser()
    for _ in range(3):
        response = sign_in(client, user.email, "wrong-password-123")
        assert response.status_code == 200
        assert not is_signed_in(client)
    record = signed_in(client, user.email)
    decision = RiskDecision.objects.get(session=record)
    assert decision.finding_codes == [FindingCode.FAILED_ATTEMPTS]
    assert decision.findings[0]["confidence"] == Confidence.MEDIUM
    assert decision.findings[0]["params"]["count"] == "3"
    assert decision.action == Action.STEP_UP
    assert risk_state(client.get("/").wsgi_request).needs_step_up

    client.post("/accounts/logout/")
    again = signed_in(client, user.email)
    assert RiskDecision.objects.get(session=again).findings == []


def test_two_wrong_passwords_are_no_finding():
    """Fewer wrong passwords than the threshold (3) are no finding."""
    user = UserFactory()
    client = browser()
    for _ in range(2):
        sign_in(client, user.email, "wrong-password-123")
    record = signed_in(client, user.email)
    assert RiskDecision.objects.get(session=record).findings == []


def test_signing_out_ends_the_record():
    """Signing out closes the record (signed out), and the browser is signed out."""
    user = UserFactory()
    client = browser()
    record = signed_in(client, user.email)
    client.post("/accounts/logout/")
    record.refresh_from_db()
    assert record.end_reason == EndReason.SIGNED_OUT
    assert record.session_key == ""
    assert not is_signed_in(client)


def test_a_pending_step_up_is_not_cleared_by_a_later_context_change():
    """Going back to the first browser after a step-up was asked does not cancel it: the
    step-up stays owed until it is given."""
    user = UserFactory()
    client = browser(LISBOA.ip, CHROME_WINDOWS)
    signed_in(client, user.email)
    client.defaults["HTTP_USER_AGENT"] = FIREFOX_LINUX
    assert risk_state(client.get("/account/mfa/").wsgi_request).needs_step_up
    client.defaults["HTTP_USER_AGENT"] = CHROME_WINDOWS
    response = client.get("/account/mfa/")
    assert risk_state(response.wsgi_request).needs_step_up
    assert response.status_code == 302
    assert response["Location"].startswith("/account/confirm/")


def test_a_session_used_from_the_other_side_of_the_world_is_impossible_travel():
    """A session signed in at Lisboa, used from Tokyo minutes later (its cookie copied):
    impossible travel and a new country, a step-up; also in the user's first session."""
    user = UserFactory()
    client = browser(LISBOA.ip)
    record = signed_in(client, user.email)
    client.defaults["REMOTE_ADDR"] = TOKYO.ip
    client.get("/")
    decision = RiskDecision.objects.get(session=record, trigger="context_change")
    assert FindingCode.IMPOSSIBLE_TRAVEL in decision.finding_codes
    assert FindingCode.NEW_COUNTRY in decision.finding_codes
    assert decision.action == Action.STEP_UP


def test_a_known_device_is_one_row_whose_last_seen_moves():
    """Signing in again from a known browser keeps its one device row: first seen and
    label stay, last seen moves (one upsert per sign-in)."""
    user = UserFactory()
    client = browser(LISBOA.ip, SAFARI_IPHONE)
    client.get("/")
    record = signed_in(client, user.email)
    device = UserDevice.objects.get(user=user, device_id=record.device_id)
    UserDevice.objects.filter(pk=device.pk).update(
        label="My phone", last_seen_at=device.last_seen_at - timedelta(days=3)
    )
    client.post("/accounts/logout/")
    again = signed_in(client, user.email)
    assert again.device_id == record.device_id
    rows = list(UserDevice.objects.filter(user=user))
    assert [row.pk for row in rows] == [device.pk]
    assert rows[0].first_seen_at == device.first_seen_at
    assert rows[0].label == "My phone"
    assert rows[0].last_seen_at > device.last_seen_at
