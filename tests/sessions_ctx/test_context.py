"""The context of a request: its network, its browser, and the browser's device cookie."""

from __future__ import annotations

import pytest
from django.core import signing
from django.test import RequestFactory

from sessions_ctx.constants import DEVICE_COOKIE_NAME, DEVICE_COOKIE_SALT
from sessions_ctx.context import (
    Browser,
    browser_of,
    context_fingerprint,
    network_of,
    request_ip,
)

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Safari/605.1.15"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1"
)
SAFARI_IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
CHROME_ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX_ANDROID_PHONE = "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0"
# A phone whose brand contains "bot" is a phone.
CUBOT_PHONE = (
    "Mozilla/5.0 (Linux; Android 10; CUBOT NOTE 20) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GOOGLEBOT_SMARTPHONE = (
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 "
    "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"


@pytest.mark.parametrize(
    ("ip", "network"),
    [
        ("198.51.100.7", "198.51.100.0/24"),
        ("198.51.100.255", "198.51.100.0/24"),
        ("10.1.2.3", "10.1.2.0/24"),
        ("2001:db8:100:7::15", "2001:db8:100::/48"),
        ("2001:DB8:100:FFFF::1", "2001:db8:100::/48"),
        ("::1", "::/48"),
        # A dual-stack listener reports IPv4 clients as IPv4-mapped IPv6 addresses: they
        # are still their IPv4 /24, not all one "::/48".
        ("::ffff:198.51.100.7", "198.51.100.0/24"),
        ("fe80::1%eth0", "fe80::/48"),
    ],
)
def test_network_of_is_the_ipv4_24_or_the_ipv6_48(ip, network):
    """An address's network is its /24 (IPv4) or its /48 (IPv6), written canonically."""
    assert network_of(ip) == network


@pytest.mark.parametrize(
    "ip", ["", None, "unknown", "198.51.100", "198.51.100.300", "2001:db8::g", "host.example"]
)
def test_network_of_an_invalid_address_is_empty(ip):
    """Something that is no address has no network (and raises nothing)."""
    assert network_of(ip) == ""


def test_request_ip_normalises_the_client_address(rf: RequestFactory):
    """The client address is read as allauth reads it (REMOTE_ADDR without a trusted proxy),
    IPv4-mapped addresses as IPv4; a request without one has none."""
    assert request_ip(rf.get("/", REMOTE_ADDR="198.51.100.7")) == "198.51.100.7"
    assert request_ip(rf.get("/", REMOTE_ADDR="::ffff:198.51.100.7")) == "198.51.100.7"
    assert request_ip(rf.get("/", REMOTE_ADDR="2001:DB8::1")) == "2001:db8::1"
    assert request_ip(rf.get("/", REMOTE_ADDR="")) is None


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (CHROME_WINDOWS, Browser("Chrome", "Windows", "desktop")),
        (FIREFOX_LINUX, Browser("Firefox", "Linux", "desktop")),
        (SAFARI_MAC, Browser("Safari", "Mac OS X", "desktop")),
        (SAFARI_IPHONE, Browser("Mobile Safari", "iOS", "phone")),
        (SAFARI_IPAD, Browser("Mobile Safari", "iOS", "tablet")),
        (CHROME_ANDROID_PHONE, Browser("Chrome Mobile", "Android", "phone")),
        (FIREFOX_ANDROID_PHONE, Browser("Firefox Mobile", "Android", "phone")),
        (CHROME_ANDROID_TABLET, Browser("Chrome", "Android", "tablet")),
        (CUBOT_PHONE, Browser("Chrome Mobile", "Android", "phone")),
    ],
)
def test_browser_of_names_family_os_and_device_type(user_agent, expected):
    """Browsers are named by family and OS, devices typed desktop, phone or tablet."""
    assert browser_of(user_agent) == expected


@pytest.mark.parametrize("user_agent", [GOOGLEBOT, GOOGLEBOT_SMARTPHONE, BINGBOT])
def test_crawlers_are_bots(user_agent):
    """Crawlers are bots, also one that claims to be an Android phone."""
    assert browser_of(user_agent).device_type == "bot"


@pytest.mark.parametrize("user_agent", ["", "curl/8.5.0", "Mozilla/5.0", "x" * 600])
def test_unknown_or_empty_user_agents_have_no_device_type(user_agent):
    """Nothing is made up for an empty or unrecognised user agent: no OS, no device type,
    and no family "Other"."""
    browser = browser_of(user_agent)
    assert browser.os == ""
    assert browser.device_type == ""
    assert browser.family != "Other"
    assert browser_of("") == Browser("", "", "")


def test_browser_label_joins_family_and_os():
    """A browser reads "family · OS", or just what is known."""
    assert browser_of(CHROME_WINDOWS).label == "Chrome · Windows"
    assert browser_of("curl/8.5.0").label == "curl"
    assert browser_of("").label == ""


def test_fingerprint_changes_with_user_agent_or_network_only(rf: RequestFactory):
    """The fingerprint changes with the browser or the /24, not with another address in the
    same network."""

    def fingerprint(ip: str, user_agent: str) -> str:
        return context_fingerprint(rf.get("/", REMOTE_ADDR=ip, HTTP_USER_AGENT=user_agent))

    base = fingerprint("198.51.100.7", CHROME_WINDOWS)
    assert fingerprint("198.51.100.200", CHROME_WINDOWS) == base
    assert fingerprint("198.51.101.7", CHROME_WINDOWS) != base
    assert fingerprint("198.51.100.7", FIREFOX_LINUX) != base


# --- the device cookie -------------------------------------------------------------------------


def _device_id(cookie_value: str) -> str:
    return signing.get_cookie_signer(salt=DEVICE_COOKIE_SALT).unsign(cookie_value)


@pytest.mark.django_db
def test_device_cookie_is_assigned_once_and_signed(client):
    """A browser's first page view sets a signed, long-lived, HttpOnly device cookie; the
    next views keep it and set nothing."""
    first = client.get("/")
    assert first.status_code == 200
    morsel = first.cookies[DEVICE_COOKIE_NAME]
    assert morsel["httponly"]
    assert morsel["samesite"] == "Lax"
    assert int(morsel["max-age"]) == 400 * 24 * 3600
    device_id = _device_id(morsel.value)
    assert len(device_id) >= 20

    second = client.get("/")
    assert DEVICE_COOKIE_NAME not in second.cookies
    assert _device_id(client.cookies[DEVICE_COOKIE_NAME].value) == device_id


@pytest.mark.django_db
def test_two_browsers_get_different_device_ids(client):
    """Each browser has an id of its own."""
    from django.test import Client

    one = _device_id(client.get("/").cookies[DEVICE_COOKIE_NAME].value)
    other = _device_id(Client().get("/").cookies[DEVICE_COOKIE_NAME].value)
    assert one != other


@pytest.mark.django_db
@pytest.mark.parametrize(
    "forged",
    [
        "made-up-device-id-000000000000",
        "made-up-device-id-000000000000:forgedsignature",
        signing.Signer(salt="another.salt").sign("made-up-device-id-000000000000"),
    ],
)
def test_forged_device_cookie_is_replaced(client, forged):
    """A device cookie not signed by this provider is ignored: the browser gets a new id."""
    client.cookies[DEVICE_COOKIE_NAME] = forged
    response = client.get("/")
    assert response.status_code == 200
    replaced = response.cookies[DEVICE_COOKIE_NAME].value
    assert replaced != forged
    assert _device_id(replaced) != "made-up-device-id-000000000000"


@pytest.mark.django_db
def test_signed_device_id_of_the_wrong_length_is_replaced(client):
    """A correctly signed value that is no device id (too short) is replaced too."""
    client.cookies[DEVICE_COOKIE_NAME] = signing.get_cookie_signer(salt=DEVICE_COOKIE_SALT).sign(
        "short"
    )
    response = client.get("/")
    assert _device_id(response.cookies[DEVICE_COOKIE_NAME].value) != "short"
