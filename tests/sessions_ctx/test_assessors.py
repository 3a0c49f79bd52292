"""The risk assessors: what each finds, and what it leaves alone."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from sessions_ctx.context import Browser, RequestContext, browser_of, network_of
from sessions_ctx.geo import Place
from sessions_ctx.models import BrowserSession, Confidence, FindingCode, UserDevice
from sessions_ctx.risk import assessors
from sessions_ctx.risk.findings import Finding, finding_reason
from sessions_ctx.risk.history import History, LastPlace, user_history
from sessions_ctx.services.risk import assess
from tests.factories import UserFactory

from .geo_db import LISBOA, LISBOA_V6, SAO_PAULO, TOKYO, GeoPlace
from .test_context import CHROME_WINDOWS, FIREFOX_LINUX, SAFARI_IPHONE

SIGN_IN = "sign_in"
CONTEXT_CHANGE = "context_change"
DEVICE = "device-id-0123456789abcdef"


def _place(place: GeoPlace) -> Place:
    return Place(
        country=place.country,
        city=place.city,
        latitude=place.latitude,
        longitude=place.longitude,
        asn=place.asn,
        as_org=place.as_org,
    )


def context_at(
    place: GeoPlace | None = LISBOA,
    *,
    ip: str | None = None,
    user_agent: str = CHROME_WINDOWS,
    device_id: str = DEVICE,
) -> RequestContext:
    """A request's context from ``place`` (one of the test databases' places)."""
    address = ip if ip is not None else (place.ip if place else None)
    return RequestContext(
        ip=address,
        network=network_of(address),
        user_agent=user_agent,
        browser=browser_of(user_agent),
        device_id=device_id,
        place=_place(place) if place else None,
    )


def history_from(*places: GeoPlace, minutes_ago: float = 60 * 24 * 30, **kwargs) -> History:
    """A user who signed in (confirmed) from ``places``, the first the latest."""
    last = places[0] if places else None
    values = {
        "user_id": "1",
        "has_history": bool(places),
        "networks": frozenset(network_of(place.ip) for place in places),
        "countries": frozenset(place.country for place in places),
        "asns": frozenset(place.asn for place in places),
        "last_place": LastPlace(
            f"{last.city}, {last.country}",
            last.latitude,
            last.longitude,
            timezone.now() - timedelta(minutes=minutes_ago),
        )
        if last
        else None,
    }
    values.update(kwargs)
    return History(**values)


def codes(findings: list[Finding]) -> list[str]:
    return [finding.code for finding in findings]


FIRST_SIGN_IN = History(user_id="1")
ALL_ASSESSORS = [
    assessors.bad_address,
    assessors.new_device,
    assessors.new_network,
    assessors.new_country,
    assessors.new_asn,
    assessors.impossible_travel,
    assessors.user_agent_changed,
    assessors.velocity,
    assessors.failed_attempts,
]


@pytest.mark.parametrize("assessor", ALL_ASSESSORS, ids=lambda assessor: assessor.__name__)
def test_a_first_sign_in_finds_nothing(assessor):
    """Nothing is new, far or changed on a user's very first sign-in, wherever it is from."""
    assert assessor(context=context_at(TOKYO), history=FIRST_SIGN_IN, trigger=SIGN_IN) == []


# --- new device --------------------------------------------------------------------------------


def test_new_device_is_a_browser_never_allowed_before():
    """A sign-in on a browser that is not one of the user's known devices is a new device
    (medium), with the browser and place in its reason."""
    findings = assessors.new_device(
        context=context_at(LISBOA), history=history_from(LISBOA), trigger=SIGN_IN
    )
    assert findings == [
        Finding(
            FindingCode.NEW_DEVICE,
            Confidence.MEDIUM,
            {"device": "Chrome · Windows", "place": "Lisboa, PT"},
        )
    ]
    assert finding_reason(findings[0].code, findings[0].params) == (
        "A sign-in from a new device (Chrome · Windows) in Lisboa, PT."
    )


def test_a_known_device_is_not_new():
    """A browser the user's sign-ins were allowed on before is no finding."""
    history = history_from(LISBOA, known_device=True)
    assert assessors.new_device(context=context_at(), history=history, trigger=SIGN_IN) == []


def test_new_device_is_only_looked_at_sign_in():
    """Within a session the device is the session's own: no new-device finding then."""
    history = history_from(LISBOA)
    assert assessors.new_device(context=context_at(), history=history, trigger=CONTEXT_CHANGE) == []


# --- new network, country, provider --------------------------------------------------------------


def test_new_network_is_outside_every_known_24():
    """An address outside the /24 of every confirmed session is a new network (low)."""
    findings = assessors.new_network(
        context=context_at(SAO_PAULO), history=history_from(LISBOA), trigger=SIGN_IN
    )
    assert findings == [
        Finding(FindingCode.NEW_NETWORK, Confidence.LOW, {"network": "203.0.113.0/24"})
    ]


def test_another_address_in_a_known_network_is_not_new():
    """Another address of the same /24 is the same network."""
    context = context_at(LISBOA, ip="198.51.100.201")
    assert (
        assessors.new_network(context=context, history=history_from(LISBOA), trigger=SIGN_IN) == []
    )


def test_new_network_for_ipv6_is_the_48():
    """For IPv6 the network is the /48."""
    history = history_from(LISBOA_V6)
    same = context_at(LISBOA_V6, ip="2001:db8:100:ffff::1")
    other = context_at(LISBOA_V6, ip="2001:db8:101::1")
    assert assessors.new_network(context=same, history=history, trigger=SIGN_IN) == []
    assert codes(assessors.new_network(context=other, history=history, trigger=SIGN_IN)) == [
        FindingCode.NEW_NETWORK
    ]


def test_no_address_is_no_new_network():
    """A request without a known address finds no new network."""
    context = context_at(None, ip="")
    assert (
        assessors.new_network(context=context, history=history_from(LISBOA), trigger=SIGN_IN) == []
    )


def test_new_country_is_a_country_no_confirmed_session_came_from():
    """A sign-in from Brazil by a user only ever in Portugal is a new country (medium)."""
    findings = assessors.new_country(
        context=context_at(SAO_PAULO), history=history_from(LISBOA), trigger=SIGN_IN
    )
    assert findings == [Finding(FindingCode.NEW_COUNTRY, Confidence.MEDIUM, {"country": "BR"})]


def test_a_known_country_is_not_new():
    """Another network in a known country is no new country."""
    history = history_from(LISBOA)
    assert (
        assessors.new_country(context=context_at(LISBOA_V6), history=history, trigger=SIGN_IN) == []
    )


def test_new_country_needs_places_on_both_sides():
    """Without a place now, or without any known country (no City database then), there is
    no new country."""
    no_place_now = context_at(None, ip="100.64.0.1")
    no_countries = history_from(LISBOA, countries=frozenset())
    assert (
        assessors.new_country(context=no_place_now, history=history_from(LISBOA), trigger=SIGN_IN)
        == []
    )
    assert (
        assessors.new_country(context=context_at(TOKYO), history=no_countries, trigger=SIGN_IN)
        == []
    )


def test_new_asn_is_an_internet_provider_never_used():
    """A sign-in through an autonomous system none of the confirmed sessions used is a new
    provider (low), named by its organisation."""
    findings = assessors.new_asn(
        context=context_at(LISBOA_V6), history=history_from(LISBOA), trigger=SIGN_IN
    )
    assert findings == [Finding(FindingCode.NEW_ASN, Confidence.LOW, {"provider": "Fibra Lisboa"})]


def test_a_known_asn_is_not_new_and_no_asn_database_finds_nothing():
    """A provider used before is no finding; without ASN data there is nothing to compare."""
    history = history_from(LISBOA)
    assert assessors.new_asn(context=context_at(LISBOA), history=history, trigger=SIGN_IN) == []
    without_asn = RequestContext(
        ip=TOKYO.ip,
        network=network_of(TOKYO.ip),
        user_agent="",
        browser=Browser("", "", ""),
        device_id=DEVICE,
        place=Place(country="JP", city="Tokyo"),
    )
    assert assessors.new_asn(context=without_asn, history=history, trigger=SIGN_IN) == []


# --- impossible travel -----------------------------------------------------------------------


def test_lisboa_to_tokyo_in_30_minutes_is_impossible_travel_with_high_confidence():
    """About 11,000 km in half an hour is far beyond any airliner: impossible travel, high."""
    history = history_from(LISBOA, minutes_ago=30)
    findings = assessors.impossible_travel(
        context=context_at(TOKYO), history=history, trigger=SIGN_IN
    )
    assert codes(findings) == [FindingCode.IMPOSSIBLE_TRAVEL]
    finding = findings[0]
    assert finding.confidence == Confidence.HIGH
    assert 11000 < int(finding.params["distance_km"]) < 11300
    assert finding.params["previous_place"] == "Lisboa, PT"
    assert finding.params["place"] == "Tokyo, JP"
    assert finding.params["minutes"] == "30"
    assert "11" in finding_reason(finding.code, finding.params)


def test_lisboa_to_sao_paulo_over_two_days_is_no_finding():
    """About 7,900 km in two days is a flight, not impossible travel."""
    history = history_from(LISBOA, minutes_ago=2 * 24 * 60)
    context = context_at(SAO_PAULO)
    assert assessors.impossible_travel(context=context, history=history, trigger=SIGN_IN) == []


def test_travel_just_above_the_limit_is_medium(settings):
    """Between the limit and twice the limit the confidence is medium."""
    # Lisboa -> São Paulo is about 7,900 km: 6 hours is about 1,300 km/h.
    history = history_from(LISBOA, minutes_ago=6 * 60)
    findings = assessors.impossible_travel(
        context=context_at(SAO_PAULO), history=history, trigger=SIGN_IN
    )
    assert [(f.code, f.confidence) for f in findings] == [
        (FindingCode.IMPOSSIBLE_TRAVEL, Confidence.MEDIUM)
    ]
    settings.CIAM_SESSIONS_IMPOSSIBLE_TRAVEL_KMH = 1500
    assert (
        assessors.impossible_travel(context=context_at(SAO_PAULO), history=history, trigger=SIGN_IN)
        == []
    )


def test_the_same_city_at_once_is_no_travel():
    """Two networks in one city (under the GeoIP noise distance) are no travel, even a minute
    apart."""
    history = history_from(LISBOA, minutes_ago=1)
    context = context_at(LISBOA_V6)
    assert assessors.impossible_travel(context=context, history=history, trigger=SIGN_IN) == []


def test_no_place_is_no_travel():
    """Without a located place now or before, there is no travel to judge."""
    assert (
        assessors.impossible_travel(
            context=context_at(None, ip="100.64.0.1"),
            history=history_from(LISBOA, minutes_ago=5),
            trigger=SIGN_IN,
        )
        == []
    )
    no_last = history_from(LISBOA, last_place=None)
    assert (
        assessors.impossible_travel(context=context_at(TOKYO), history=no_last, trigger=SIGN_IN)
        == []
    )


# --- user agent changed ------------------------------------------------------------------------


def test_another_browser_in_the_same_session_is_high():
    """A session signed in on Chrome on Windows, now used by Firefox on Linux: its cookie
    was probably copied (high)."""
    history = history_from(LISBOA, session_browser="Chrome", session_os="Windows")
    findings = assessors.user_agent_changed(
        context=context_at(LISBOA, user_agent=FIREFOX_LINUX),
        history=history,
        trigger=CONTEXT_CHANGE,
    )
    assert [(f.code, f.confidence) for f in findings] == [
        (FindingCode.USER_AGENT_CHANGED, Confidence.HIGH)
    ]
    assert findings[0].params["previous_device"] == "Chrome · Windows"
    assert findings[0].params["device"] == "Firefox · Linux"


def test_the_same_browser_after_an_update_is_no_change():
    """A browser update (another version, same family and OS) is the same browser."""
    history = history_from(LISBOA, session_browser="Chrome", session_os="Windows")
    updated = CHROME_WINDOWS.replace("Chrome/131.0.0.0", "Chrome/132.0.6834.83")
    context = context_at(LISBOA, user_agent=updated)
    assert (
        assessors.user_agent_changed(context=context, history=history, trigger=CONTEXT_CHANGE) == []
    )


def test_user_agent_changed_is_only_within_a_session():
    """At sign-in there is no session browser to compare: no finding."""
    history = history_from(LISBOA, session_browser="Chrome", session_os="Windows")
    context = context_at(LISBOA, user_agent=SAFARI_IPHONE)
    assert assessors.user_agent_changed(context=context, history=history, trigger=SIGN_IN) == []
    unknown = history_from(LISBOA)  # a session whose browser was not recognised
    assert (
        assessors.user_agent_changed(context=context, history=unknown, trigger=CONTEXT_CHANGE) == []
    )


# --- velocity and failed attempts ------------------------------------------------------------


def test_velocity_counts_this_sign_in_with_the_last_hours(settings):
    """The tenth sign-in within an hour is velocity (medium), the twentieth high; the ninth
    is nothing."""
    settings.CIAM_SESSIONS_VELOCITY_SIGN_INS_PER_HOUR = 10

    def velocity(previous: int) -> list[tuple[str, str]]:
        history = history_from(LISBOA, sign_ins_last_hour=previous)
        findings = assessors.velocity(context=context_at(), history=history, trigger=SIGN_IN)
        return [(f.code, f.confidence) for f in findings]

    assert velocity(8) == []
    assert velocity(9) == [(FindingCode.VELOCITY, Confidence.MEDIUM)]
    assert velocity(19) == [(FindingCode.VELOCITY, Confidence.HIGH)]
    history = history_from(LISBOA, sign_ins_last_hour=30)
    assert assessors.velocity(context=context_at(), history=history, trigger=CONTEXT_CHANGE) == []
    settings.CIAM_SESSIONS_VELOCITY_SIGN_INS_PER_HOUR = 0
    assert assessors.velocity(context=context_at(), history=history, trigger=SIGN_IN) == []


def test_failed_attempts_before_success(settings):
    """Three wrong passwords before a success are a finding (medium), nine high, two none,
    also on a first sign-in (wrong passwords are no history)."""
    settings.CIAM_SESSIONS_FAILED_ATTEMPTS_THRESHOLD = 3

    def failed(count: int, history: History | None = None) -> list[tuple[str, str]]:
        history = history or history_from(LISBOA, failed_attempts=count)
        findings = assessors.failed_attempts(context=context_at(), history=history, trigger=SIGN_IN)
        return [(f.code, f.confidence) for f in findings]

    assert failed(2) == []
    assert failed(3) == [(FindingCode.FAILED_ATTEMPTS, Confidence.MEDIUM)]
    assert failed(9) == [(FindingCode.FAILED_ATTEMPTS, Confidence.HIGH)]
    assert failed(4, History(user_id="1", failed_attempts=4)) == [
        (FindingCode.FAILED_ATTEMPTS, Confidence.MEDIUM)
    ]
    settings.CIAM_SESSIONS_FAILED_ATTEMPTS_THRESHOLD = 0
    assert failed(50) == []


# --- known-bad addresses --------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_bad_lists():
    assessors._bad_cache.clear()
    assessors._bad_missing.clear()


def test_bad_address_from_the_setting(settings):
    """An address inside a network of CIAM_SESSIONS_BAD_NETWORKS is bad (high), wherever and
    whoever it is, first sign-in included; others are not."""
    settings.CIAM_SESSIONS_BAD_NETWORKS = ["203.0.113.0/24", "2001:db8:bad::/48"]
    found = assessors.bad_address(
        context=context_at(SAO_PAULO), history=FIRST_SIGN_IN, trigger=SIGN_IN
    )
    assert found == [Finding(FindingCode.BAD_ADDRESS, Confidence.HIGH, {"ip": SAO_PAULO.ip})]
    v6 = context_at(None, ip="2001:db8:bad:1::1")
    assert codes(
        assessors.bad_address(context=v6, history=FIRST_SIGN_IN, trigger=CONTEXT_CHANGE)
    ) == [FindingCode.BAD_ADDRESS]
    assert (
        assessors.bad_address(context=context_at(LISBOA), history=FIRST_SIGN_IN, trigger=SIGN_IN)
        == []
    )


def test_bad_address_setting_as_one_string(settings):
    """The setting may be one comma- or space-separated string (an environment variable)."""
    settings.CIAM_SESSIONS_BAD_NETWORKS = "192.0.2.0/25, 203.0.113.9"
    assert codes(
        assessors.bad_address(context=context_at(TOKYO), history=FIRST_SIGN_IN, trigger=SIGN_IN)
    )
    assert codes(
        assessors.bad_address(context=context_at(SAO_PAULO), history=FIRST_SIGN_IN, trigger=SIGN_IN)
    )
    other = context_at(TOKYO, ip="192.0.2.200")
    assert assessors.bad_address(context=other, history=FIRST_SIGN_IN, trigger=SIGN_IN) == []


SPAMHAUS_DROP = """\
; Spamhaus DROP List 2026/12/01 - (c) 2026 The Spamhaus Project SLU
; https://www.spamhaus.org/drop/drop.txt
; Last-Modified: Tue, 1 Dec 2026 10:00:00 GMT
; Expires: Tue, 1 Dec 2026 11:00:00 GMT
1.10.16.0/20 ; SBL256894
192.0.2.0/24 ; SBL000001
# a FireHOL-style comment
2001:db8:bad::/48 ; SBL000002
not-a-network ; SBL000003

"""


def test_bad_address_from_a_spamhaus_drop_file(settings, tmp_path):
    """A file in the DROP format (``;`` comments, one CIDR and its SBL reference per line)
    lists bad networks; lines that are no network are skipped."""
    drop = tmp_path / "drop.txt"
    drop.write_text(SPAMHAUS_DROP)
    settings.CIAM_SESSIONS_BAD_NETWORK_FILES = [str(drop)]
    assert [str(n) for n in assessors.bad_networks()] == [
        "1.10.16.0/20",
        "192.0.2.0/24",
        "2001:db8:bad::/48",
    ]
    assert codes(
        assessors.bad_address(context=context_at(TOKYO), history=FIRST_SIGN_IN, trigger=SIGN_IN)
    )
    assert (
        assessors.bad_address(context=context_at(LISBOA), history=FIRST_SIGN_IN, trigger=SIGN_IN)
        == []
    )


def test_a_changed_file_is_read_again(settings, tmp_path):
    """A list updated in place, or replaced by renaming a new file over it, is read again on
    the next evaluation (no restart)."""
    drop = tmp_path / "drop.txt"
    drop.write_text("192.0.2.0/24 ; SBL1\n")
    settings.CIAM_SESSIONS_BAD_NETWORK_FILES = [str(drop)]
    lisboa = context_at(LISBOA)
    assert assessors.bad_address(context=lisboa, history=FIRST_SIGN_IN, trigger=SIGN_IN) == []

    drop.write_text("192.0.2.0/24 ; SBL1\n198.51.100.0/24 ; SBL2\n")  # at once, same second
    assert codes(assessors.bad_address(context=lisboa, history=FIRST_SIGN_IN, trigger=SIGN_IN))

    replacement = tmp_path / "drop.txt.new"
    replacement.write_text("203.0.113.0/24 ; SBL3\n")
    os.replace(replacement, drop)
    assert assessors.bad_address(context=lisboa, history=FIRST_SIGN_IN, trigger=SIGN_IN) == []
    assert codes(
        assessors.bad_address(context=context_at(SAO_PAULO), history=FIRST_SIGN_IN, trigger=SIGN_IN)
    )


def test_an_unchanged_file_is_not_read_again(settings, tmp_path, monkeypatch):
    """Evaluations reuse a list while its file is unchanged."""
    drop = tmp_path / "drop.txt"
    drop.write_text("192.0.2.0/24\n")
    settings.CIAM_SESSIONS_BAD_NETWORK_FILES = [str(drop)]
    assessors.bad_networks()
    reads: list[str] = []
    real_parse = assessors._parse_networks
    monkeypatch.setattr(
        assessors, "_parse_networks", lambda lines: reads.append("read") or real_parse(lines)
    )
    assessors.bad_networks()
    assessors.bad_networks()
    assert reads == ["read", "read"]  # the setting's (empty) list only, never the file


def test_a_missing_list_file_is_a_warning_once(settings, tmp_path, caplog):
    """A configured list that cannot be read protects nobody: a warning (once), no finding,
    no exception."""
    missing = Path(tmp_path / "drop.txt")
    settings.CIAM_SESSIONS_BAD_NETWORK_FILES = [str(missing)]
    with caplog.at_level(logging.WARNING, logger="sessions_ctx.risk.assessors"):
        for _ in range(3):
            assert (
                assessors.bad_address(
                    context=context_at(TOKYO), history=FIRST_SIGN_IN, trigger=SIGN_IN
                )
                == []
            )
    assert [str(missing) in record.getMessage() for record in caplog.records] == [True]


def test_bad_address_without_an_address_finds_nothing(settings):
    """No address (or a malformed one in a hand-made context) is no finding, no error."""
    settings.CIAM_SESSIONS_BAD_NETWORKS = ["0.0.0.0/0"]
    for ip in ("", "garbage"):
        context = context_at(None, ip=ip)
        assert assessors.bad_address(context=context, history=FIRST_SIGN_IN, trigger=SIGN_IN) == []


# --- assess ----------------------------------------------------------------------------------


def broken_assessor(**kwargs):
    raise RuntimeError("assessor bug")


def test_an_assessor_that_raises_is_skipped_and_logged(settings, caplog):
    """A failing assessor (an operator's own, say) is logged and skipped; the others still
    find what they find."""
    settings.CIAM_SESSIONS_RISK_ASSESSORS = [
        "tests.sessions_ctx.test_assessors.broken_assessor",
        "sessions_ctx.risk.assessors.new_country",
    ]
    with caplog.at_level(logging.ERROR, logger="sessions_ctx.services.risk"):
        findings = assess(context=context_at(TOKYO), history=history_from(LISBOA), trigger=SIGN_IN)
    assert codes(findings) == [FindingCode.NEW_COUNTRY]
    assert any("broken_assessor" in record.getMessage() for record in caplog.records)
    assert caplog.records[0].exc_info is not None


def test_an_assessor_path_that_does_not_exist_is_skipped(settings, caplog):
    """A mistyped assessor path is logged, not a failed sign-in."""
    settings.CIAM_SESSIONS_RISK_ASSESSORS = (
        "sessions_ctx.risk.assessors.nope, sessions_ctx.risk.assessors.new_network"
    )
    with caplog.at_level(logging.ERROR, logger="sessions_ctx.services.risk"):
        findings = assess(context=context_at(TOKYO), history=history_from(LISBOA), trigger=SIGN_IN)
    assert codes(findings) == [FindingCode.NEW_NETWORK]
    assert caplog.records


def test_the_default_assessors_together():
    """Tokyo half an hour after Lisboa, on a new device: new device, network, country,
    provider and impossible travel; nothing else."""
    findings = assess(
        context=context_at(TOKYO), history=history_from(LISBOA, minutes_ago=30), trigger=SIGN_IN
    )
    assert sorted(codes(findings)) == sorted(
        [
            FindingCode.NEW_DEVICE,
            FindingCode.NEW_NETWORK,
            FindingCode.NEW_COUNTRY,
            FindingCode.NEW_ASN,
            FindingCode.IMPOSSIBLE_TRAVEL,
        ]
    )


# --- history ---------------------------------------------------------------------------------


def _session(user, place: GeoPlace, *, confirmed: bool = True, ago: timedelta = timedelta(0)):
    now = timezone.now()
    record = BrowserSession.objects.create(
        user=user,
        sid="sid-" + place.ip,
        last_seen_at=now,
        auth_time=now,
        expires_at=now + timedelta(days=90),
        ip=place.ip,
        network=network_of(place.ip),
        browser="Chrome",
        os="Windows",
        country=place.country,
        city=place.city,
        asn=place.asn,
        latitude=place.latitude,
        longitude=place.longitude,
        confirmed=confirmed,
        device_id=DEVICE,
    )
    BrowserSession.objects.filter(pk=record.pk).update(created_at=now - ago)
    return record


@pytest.mark.django_db
def test_history_of_a_new_user_is_empty():
    """A user without sessions has no history: a first sign-in."""
    user = UserFactory()
    history = user_history(user_id=str(user.pk), device_id=DEVICE)
    assert not history.has_history
    assert not history.known_device
    assert history.last_place is None


@pytest.mark.django_db
def test_history_counts_confirmed_sessions_only():
    """Networks, countries, providers and the last place come from confirmed sessions; an
    unconfirmed one (its step-up never met) still counts towards velocity."""
    user = UserFactory()
    _session(user, LISBOA, ago=timedelta(days=3))
    _session(user, SAO_PAULO, ago=timedelta(days=1))
    _session(user, TOKYO, confirmed=False, ago=timedelta(minutes=10))
    history = user_history(user_id=str(user.pk), device_id=DEVICE)
    assert history.has_history
    assert history.networks == {"198.51.100.0/24", "203.0.113.0/24"}
    assert history.countries == {"PT", "BR"}
    assert history.asns == {LISBOA.asn, SAO_PAULO.asn}
    assert history.last_place is not None
    assert history.last_place.label == "São Paulo, BR"
    assert history.sign_ins_last_hour == 1


@pytest.mark.django_db
def test_history_excludes_the_session_under_evaluation_and_knows_devices():
    """The session being assessed is no history of itself; a browser with a known-device row
    is known."""
    user = UserFactory()
    current = _session(user, LISBOA)
    assert not user_history(
        user_id=str(user.pk), device_id=DEVICE, exclude_session_id=current.pk
    ).has_history
    UserDevice.objects.create(user=user, device_id=DEVICE, last_seen_at=timezone.now())
    history = user_history(user_id=str(user.pk), device_id=DEVICE)
    assert history.known_device
    assert not user_history(user_id=str(user.pk), device_id="another-device-id-0000").known_device


@pytest.mark.django_db
def test_impossible_travel_from_recorded_sessions():
    """Recorded in Lisboa 30 minutes ago, now in Tokyo: high; São Paulo two days after
    Lisboa: nothing."""
    user = UserFactory()
    _session(user, LISBOA, ago=timedelta(minutes=30))
    history = user_history(user_id=str(user.pk), device_id=DEVICE)
    found = assessors.impossible_travel(context=context_at(TOKYO), history=history, trigger=SIGN_IN)
    assert [(f.code, f.confidence) for f in found] == [
        (FindingCode.IMPOSSIBLE_TRAVEL, Confidence.HIGH)
    ]

    other = UserFactory()
    _session(other, LISBOA, ago=timedelta(days=2))
    history = user_history(user_id=str(other.pk), device_id=DEVICE)
    assert (
        assessors.impossible_travel(context=context_at(SAO_PAULO), history=history, trigger=SIGN_IN)
        == []
    )
