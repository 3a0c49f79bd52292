"""The context of a request: address and network, browser, device cookie, place.

``request_context`` is computed at sign-in and when a session's fingerprint (its user agent
and network, see ``context_fingerprint``) changes, never on every request: parsing a new user
agent costs a millisecond or more (uap-core's rules, tried in turn) and a GeoIP lookup tens of
microseconds, comparing a fingerprint nothing (benchmarks/sessions.py).
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from functools import lru_cache

from django.http import HttpRequest

from .device import device_id_of
from .geo import Place, geo_lookup
from .throttle import client_ip

MAX_USER_AGENT = 512


@dataclass(frozen=True)
class Browser:
    family: str
    os: str
    device_type: str  # "desktop", "phone", "tablet", "bot" or "" when unknown

    @property
    def label(self) -> str:
        return " · ".join(part for part in (self.family, self.os) if part)


@dataclass(frozen=True)
class RequestContext:
    ip: str | None
    network: str
    user_agent: str
    browser: Browser
    device_id: str
    place: Place | None

    @property
    def device_label(self) -> str:
        return self.browser.label

    @property
    def place_label(self) -> str:
        return self.place.label if self.place else ""


def _address(ip: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``ip`` parsed, an IPv4-mapped IPv6 address (``::ffff:192.0.2.1``, from a dual-stack
    listener) as the IPv4 address it is, an IPv6 zone (``%eth0``) dropped; None when it is
    no address."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def network_of(ip: str | None) -> str:
    """The network an address belongs to for "new network": its /24 (IPv4) or /48 (IPv6)."""
    address = _address(ip)
    if address is None:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


@lru_cache(maxsize=2048)
def browser_of(user_agent: str) -> Browser:
    """Browser family, OS family and device type from uap-core's maintained rules
    (``ua-parser``); "Other" families count as unknown."""
    if not user_agent:
        return Browser("", "", "")
    from ua_parser import parse

    result = parse(user_agent)
    family = result.user_agent.family if result.user_agent else ""
    os_family = result.os.family if result.os else ""
    device = result.device.family if result.device else ""
    family = "" if family == "Other" else family
    os_family = "" if os_family == "Other" else os_family
    return Browser(family, os_family, _device_type(user_agent, device, os_family))


def _device_type(user_agent: str, device: str, os_family: str) -> str:
    # uap-core names every crawler's device "Spider" (its generic bot, crawler and spider
    # patterns included); a bare "bot" in the text is no sign (CUBOT phones).
    if device == "Spider":
        return "bot"
    text = user_agent.lower()
    if "ipad" in text or "tablet" in text or (os_family == "Android" and "mobile" not in text):
        return "tablet"
    if "mobile" in text or os_family in {"iOS", "Android"}:
        return "phone"
    return "desktop" if os_family else ""


def user_agent_of(request: HttpRequest) -> str:
    return str(request.META.get("HTTP_USER_AGENT", ""))[:MAX_USER_AGENT]


def request_ip(request: HttpRequest) -> str | None:
    """The client's address (as allauth sees it, see throttle.client_ip), normalised; None
    when there is none."""
    address = _address(client_ip(request))
    return str(address) if address is not None else None


def context_fingerprint(request: HttpRequest) -> str:
    """What, when it changes inside one session, calls for a fresh look: the user agent and
    the network (a cookie replayed elsewhere changes at least one of them)."""
    value = f"{user_agent_of(request)}|{network_of(request_ip(request))}"
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def request_context(request: HttpRequest) -> RequestContext:
    ip = request_ip(request)
    user_agent = user_agent_of(request)
    return RequestContext(
        ip=ip,
        network=network_of(ip),
        user_agent=user_agent,
        browser=browser_of(user_agent),
        device_id=device_id_of(request),
        place=geo_lookup(ip),
    )
