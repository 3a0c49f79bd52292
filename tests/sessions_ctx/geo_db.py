"""Small MaxMind-format City and ASN databases for tests and benchmarks (``mmdb_writer``).

The files are read by ``geoip2.database.Reader`` as MaxMind's own are: ``.city()`` on a
"GeoIP2-City" database (country.iso_code, city.names.en, location.latitude/longitude) and
``.asn()`` on a "GeoLite2-ASN" one (autonomous_system_number and _organization). Addresses
are the documentation ranges (RFC 5737, RFC 3849), so no test depends on a real network.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mmdb_writer import MmdbF64, MmdbU32, MMDBWriter
from netaddr import IPSet


@dataclass(frozen=True)
class GeoPlace:
    network: str
    ip: str  # an address inside ``network``
    country: str
    city: str
    latitude: float
    longitude: float
    asn: int
    as_org: str


LISBOA = GeoPlace(
    "198.51.100.0/24", "198.51.100.7", "PT", "Lisboa", 38.7167, -9.1333, 64500, "Rede Lisboa"
)
SAO_PAULO = GeoPlace(
    "203.0.113.0/24", "203.0.113.9", "BR", "São Paulo", -23.5475, -46.6361, 64501, "Rede Paulista"
)
TOKYO = GeoPlace("192.0.2.0/24", "192.0.2.44", "JP", "Tokyo", 35.6895, 139.6917, 64502, "Tokyo Net")
# An IPv6 place (RFC 3849's documentation prefix), a second Lisbon network of another provider.
LISBOA_V6 = GeoPlace(
    "2001:db8:100::/48",
    "2001:db8:100::15",
    "PT",
    "Lisboa",
    38.7167,
    -9.1333,
    64503,
    "Fibra Lisboa",
)
PLACES = (LISBOA, SAO_PAULO, TOKYO, LISBOA_V6)
# Inside no network of the databases.
UNKNOWN_IP = "100.64.0.1"


@dataclass(frozen=True)
class GeoDatabases:
    city: Path
    asn: Path


def _city_record(place: GeoPlace) -> dict[str, object]:
    return {
        "continent": {"code": "EU" if place.country == "PT" else "XX"},
        "country": {"iso_code": place.country, "names": {"en": place.country}},
        "city": {"names": {"en": place.city}, "geoname_id": MmdbU32(1000 + place.asn % 100)},
        "location": {
            "latitude": MmdbF64(place.latitude),
            "longitude": MmdbF64(place.longitude),
            "accuracy_radius": MmdbU32(20),
        },
    }


def _asn_record(place: GeoPlace) -> dict[str, object]:
    return {
        "autonomous_system_number": MmdbU32(place.asn),
        "autonomous_system_organization": place.as_org,
    }


def geo_databases_write(directory: Path, places: tuple[GeoPlace, ...] = PLACES) -> GeoDatabases:
    """Write ``GeoIP2-City.mmdb`` and ``GeoLite2-ASN.mmdb`` for ``places`` into
    ``directory`` (IPv6 databases holding IPv4 as MaxMind's do)."""
    directory.mkdir(parents=True, exist_ok=True)
    city = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type="GeoIP2-City",
        languages=["en"],
        description="Test City database",
    )
    asn = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type="GeoLite2-ASN",
        languages=["en"],
        description="Test ASN database",
    )
    for place in places:
        city.insert_network(IPSet([place.network]), _city_record(place))
        asn.insert_network(IPSet([place.network]), _asn_record(place))
    paths = GeoDatabases(directory / "GeoIP2-City.mmdb", directory / "GeoLite2-ASN.mmdb")
    city.to_db_file(str(paths.city))
    asn.to_db_file(str(paths.asn))
    return paths


try:
    import pytest
except ImportError:  # benchmarks/sessions.py writes the databases without the test tools
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture(scope="session")
    def geo_files(tmp_path_factory: pytest.TempPathFactory) -> GeoDatabases:
        """The test databases, written once per test process."""
        return geo_databases_write(tmp_path_factory.mktemp("geoip"))

    @pytest.fixture
    def geoip(settings, geo_files: GeoDatabases) -> Iterator[GeoDatabases]:
        """The provider reads places from the test databases during the test."""
        from sessions_ctx.geo import geo_readers_reset

        settings.CIAM_SESSIONS_GEOIP_CITY_DATABASE = str(geo_files.city)
        settings.CIAM_SESSIONS_GEOIP_ASN_DATABASE = str(geo_files.asn)
        geo_readers_reset()
        yield geo_files
        geo_readers_reset()
