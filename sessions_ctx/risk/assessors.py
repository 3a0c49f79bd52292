"""The built-in assessors (CIAM_SESSIONS_RISK_ASSESSORS lists them; operators may add theirs).

Each is ``assessor(*, context, history, trigger) -> list[Finding]``: pure functions of the
request's context (context.RequestContext), what the engine remembers of the user
(history.History) and why it runs ("sign_in" or "context_change"). Nothing is "new" on a
user's first sign-in (no history). Confidence follows Auth0's Adaptive MFA vocabulary (low,
medium, high).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import threading

from django.utils import timezone

from ..app_settings import app_settings
from ..context import RequestContext
from ..models import Confidence, FindingCode, RiskDecision
from .findings import Finding
from .history import History

logger = logging.getLogger(__name__)
SIGN_IN = RiskDecision.Trigger.SIGN_IN
CONTEXT_CHANGE = RiskDecision.Trigger.CONTEXT_CHANGE
# Places closer than this are the same place to a GeoIP database (city centroids).
TRAVEL_NOISE_KM = 100


def _where(context: RequestContext) -> dict[str, str]:
    params = {"device": context.device_label}
    if context.place_label:
        params["place"] = context.place_label
    return params


def new_device(*, context: RequestContext, history: History, trigger: str) -> list[Finding]:
    """A browser (device cookie) this user's sign-ins were never allowed on."""
    if trigger != SIGN_IN or not history.has_history or history.known_device:
        return []
    return [Finding(FindingCode.NEW_DEVICE, Confidence.MEDIUM, _where(context))]


def new_network(*, context: RequestContext, history: History, trigger: str) -> list[Finding]:
    """An address outside every /24 (IPv4) or /48 (IPv6) of the user's confirmed sessions."""
    if not history.has_history or not context.network or context.network in history.networks:
        return []
    return [Finding(FindingCode.NEW_NETWORK, Confidence.LOW, {"network": context.network})]


def new_country(*, context: RequestContext, history: History, trigger: str) -> list[Finding]:
    """A country none of the user's confirmed sessions came from (GeoIP City database)."""
    country = context.place.country if context.place else ""
    if not history.has_history or not country or not history.countries:
        return []
    if country in history.countries:
        return []
    return [Finding(FindingCode.NEW_COUNTRY, Confidence.MEDIUM, {"country": country})]


def new_asn(*, context: RequestContext, history: History, trigger: str) -> list[Finding]:
    """An autonomous system (internet provider) the user never signed in through (ASN
    database)."""
    asn = context.place.asn if context.place else None
    if not history.has_history or asn is None or not history.asns or asn in history.asns:
        return []
    provider = (context.place.as_org if context.place else "") or f"AS{asn}"
    return [Finding(FindingCode.NEW_ASN, Confidence.LOW, {"provider": provider})]


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(a)))


def impossible_travel(*, context: RequestContext, history: History, trigger: str) -> list[Finding]:
    """The speed between the last confirmed place and this one is above
    CIAM_SESSIONS_IMPOSSIBLE_TRAVEL_KMH."""
    place, last = context.place, history.last_place
    if place is None or not place.located or last is None:
        return []
    distance = _distance_km(
        last.latitude, last.longitude, float(place.latitude or 0), float(place.longitude or 0)
    )
    if distance < TRAVEL_NOISE_KM:
        return []
    hours = max((timezone.now() - last.at).total_seconds() / 3600, 1 / 60)
    speed = distance / hours
    limit = app_settings.IMPOSSIBLE_TRAVEL_KMH
    if speed <= limit:
        return []
    confidence = Confidence.HIGH if speed > 2 * limit else Confidence.MEDIUM
    return [
        Finding(
            FindingCode.IMPOSSIBLE_TRAVEL,
            confidence,
            {
                **_where(context),
                "distance_km": str(round(distance)),
                "previous_place": last.label,
                "minutes": str(round(hours * 60)),
            },
        )
    ]


def user_agent_changed(*, context: RequestContext, history: History, trigger: str) -> list[Finding]:
    """Inside one session, the browser family or the OS changed: browsers do not become
    other browsers, a copied session cookie does."""
    if trigger != CONTEXT_CHANGE or not (history.session_browser or history.session_os):
        return []
    browser = context.browser
    if browser.family == history.session_browser and browser.os == history.session_os:
        return []
    previous = " · ".join(part for part in (history.session_browser, history.session_os) if part)
    return [
        Finding(
            FindingCode.USER_AGENT_CHANGED,
            Confidence.HIGH,
            {**_where(context), "previous_device": previous},
        )
    ]


def velocity(*, context: RequestContext, history: History, trigger: str) -> list[Finding]:
    """Many sign-ins of one account within an hour (credential stuffing that succeeds, a
    shared account)."""
    limit = app_settings.VELOCITY_SIGN_INS_PER_HOUR
    count = history.sign_ins_last_hour + (1 if trigger == SIGN_IN else 0)
    if trigger != SIGN_IN or limit <= 0 or count < limit:
        return []
    confidence = Confidence.HIGH if count >= 2 * limit else Confidence.MEDIUM
    return [Finding(FindingCode.VELOCITY, confidence, {"count": str(count)})]


def failed_attempts(*, context: RequestContext, history: History, trigger: str) -> list[Finding]:
    """Wrong passwords for the account before this sign-in succeeded."""
    threshold = app_settings.FAILED_ATTEMPTS_THRESHOLD
    count = history.failed_attempts
    if trigger != SIGN_IN or threshold <= 0 or count < threshold:
        return []
    confidence = Confidence.HIGH if count >= 3 * threshold else Confidence.MEDIUM
    return [Finding(FindingCode.FAILED_ATTEMPTS, confidence, {"count": str(count)})]


# --- known-bad addresses ------------------------------------------------------------------------

_bad_lock = threading.Lock()
Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
# Per file: its (mtime in ns, size, inode) when read, and its networks. The size and inode
# notice a rewrite within the file system's timestamp granularity, and a list replaced by
# renaming a new file over it (how list updaters install them).
_bad_cache: dict[str, tuple[tuple[int, int, int], Networks]] = {}
_bad_missing: set[str] = set()


def _parse_networks(lines: list[str]) -> Networks:
    networks = []
    for line in lines:
        text = line.split("#", 1)[0].split(";", 1)[0].strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text.split()[0], strict=False))
        except ValueError:
            continue
    return tuple(networks)


def _file_networks(path: str) -> Networks:
    try:
        status = os.stat(path)
    except OSError as error:
        with _bad_lock:
            unreadable = _bad_cache.pop(path, None) is not None or path not in _bad_missing
            _bad_missing.add(path)
        if unreadable:  # once, not on every sign-in: a configured list protects nobody
            logger.warning("Known-bad network list %s cannot be read: %s", path, error)
        return ()
    with _bad_lock:
        _bad_missing.discard(path)
    version = (status.st_mtime_ns, status.st_size, status.st_ino)
    with _bad_lock:
        cached = _bad_cache.get(path)
        if cached is not None and cached[0] == version:
            return cached[1]
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            networks = _parse_networks(handle.readlines())
    except OSError:
        return ()
    with _bad_lock:
        _bad_cache[path] = (version, networks)
    return networks


def bad_networks() -> Networks:
    networks = list(_parse_networks(list(app_settings.BAD_NETWORKS)))
    for path in app_settings.BAD_NETWORK_FILES:
        networks.extend(_file_networks(path))
    return tuple(networks)


def bad_address(*, context: RequestContext, history: History, trigger: str) -> list[Finding]:
    """The address is on a list of known-bad networks the operator configured."""
    if not context.ip:
        return []
    try:
        address = ipaddress.ip_address(context.ip)
    except ValueError:
        return []
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for network in bad_networks():
        if address.version == network.version and address in network:
            return [Finding(FindingCode.BAD_ADDRESS, Confidence.HIGH, {"ip": context.ip})]
    return []
