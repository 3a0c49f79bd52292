"""Places and networks from MaxMind-format databases (GeoLite2/GeoIP2 City and ASN, or any
database in that format), read with ``geoip2`` when the operator configures them.

Without ``CIAM_SESSIONS_GEOIP_CITY_DATABASE`` there are no places: the assessors that need
one (new country, impossible travel) find nothing, and sessions show no place. Readers are
opened once per process and file (memory-mapped by ``maxminddb``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .app_settings import app_settings

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_readers: dict[str, Any] = {}
_UNOPENED = object()


@dataclass(frozen=True)
class Place:
    country: str = ""  # ISO 3166-1 alpha-2
    city: str = ""
    latitude: float | None = None
    longitude: float | None = None
    asn: int | None = None
    as_org: str = ""

    @property
    def label(self) -> str:
        return ", ".join(part for part in (self.city, self.country) if part)

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None


def _reader(path: str) -> Any:
    if not path:
        return None
    reader = _readers.get(path, _UNOPENED)  # opened once: no lock on the hot path
    if reader is not _UNOPENED:
        return reader
    with _lock:
        if path not in _readers:
            try:
                import geoip2.database

                _readers[path] = geoip2.database.Reader(path)
            except Exception as error:  # missing, unreadable or no MaxMind database at all
                # (maxminddb.InvalidDatabaseError is a RuntimeError): no places, no 500.
                logger.warning("GeoIP database %s could not be opened: %s", path, error)
                _readers[path] = None
        return _readers[path]


def geo_readers_reset() -> None:
    """Forget opened databases (a new file was installed; tests)."""
    with _lock:
        for reader in _readers.values():
            if reader is not None:
                reader.close()
        _readers.clear()
    geo_lookup.cache_clear()


@lru_cache(maxsize=4096)
def geo_lookup(ip: str | None) -> Place | None:
    """The place and network owner of ``ip``, or None (no database, unknown address)."""
    if not ip:
        return None
    city_reader = _reader(app_settings.GEOIP_CITY_DATABASE)
    asn_reader = _reader(app_settings.GEOIP_ASN_DATABASE)
    if city_reader is None and asn_reader is None:
        return None
    values: dict[str, Any] = {}
    if city_reader is not None:
        city = _query(city_reader, "city", ip)
        if city is not None:
            values.update(
                country=city.country.iso_code or "",
                city=city.city.names.get("en", "") if city.city.names else "",
                latitude=city.location.latitude,
                longitude=city.location.longitude,
            )
    if asn_reader is not None:
        asn = _query(asn_reader, "asn", ip)
        if asn is not None:
            values.update(
                asn=asn.autonomous_system_number,
                as_org=asn.autonomous_system_organization or "",
            )
    return Place(**values) if values else None


def _query(reader: Any, method: str, ip: str) -> Any:
    """``reader.city(ip)`` or ``reader.asn(ip)``; None for an unknown address, and None with
    a warning when the database fails (damaged, or of another type: an ASN file configured
    as the City database)."""
    import geoip2.errors

    try:
        return getattr(reader, method)(ip)
    except geoip2.errors.AddressNotFoundError:
        return None
    except ValueError:  # not an address
        return None
    except Exception as error:
        logger.warning("GeoIP lookup (%s) of %s failed: %s", method, ip, error)
        return None
