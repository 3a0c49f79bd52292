"""Places and networks from MaxMind-format City and ASN databases."""

from __future__ import annotations

import logging

import pytest

from sessions_ctx.geo import Place, geo_lookup, geo_readers_reset

from .geo_db import LISBOA, LISBOA_V6, PLACES, SAO_PAULO, TOKYO, UNKNOWN_IP, geo_files, geoip

__all__ = ["geo_files", "geoip"]  # fixtures


@pytest.fixture(autouse=True)
def _fresh_readers():
    geo_readers_reset()
    yield
    geo_readers_reset()


@pytest.mark.parametrize("place", PLACES, ids=lambda place: place.city + "-" + place.network)
def test_lookup_reads_country_city_location_and_asn(geoip, place):
    """An address inside a database's network has its country, city, coordinates and the
    autonomous system that announces it."""
    found = geo_lookup(place.ip)
    assert found == Place(
        country=place.country,
        city=place.city,
        latitude=pytest.approx(place.latitude),
        longitude=pytest.approx(place.longitude),
        asn=place.asn,
        as_org=place.as_org,
    )
    assert found.located
    assert found.label == f"{place.city}, {place.country}"


def test_lookup_of_an_address_in_no_network_is_none(geoip):
    """An address the databases do not know has no place."""
    assert geo_lookup(UNKNOWN_IP) is None
    assert geo_lookup("127.0.0.1") is None


@pytest.mark.parametrize("ip", [None, "", "not-an-address", "198.51.100.300"])
def test_lookup_of_no_address_or_an_invalid_one_is_none(geoip, ip):
    """No address, or text that is no address, has no place and raises nothing."""
    assert geo_lookup(ip) is None


def test_asn_database_alone_gives_the_network_owner_without_a_place(settings, geo_files):
    """With only the ASN database, the provider is known and the place is not."""
    settings.CIAM_SESSIONS_GEOIP_CITY_DATABASE = ""
    settings.CIAM_SESSIONS_GEOIP_ASN_DATABASE = str(geo_files.asn)
    geo_readers_reset()
    found = geo_lookup(TOKYO.ip)
    assert found == Place(asn=TOKYO.asn, as_org=TOKYO.as_org)
    assert not found.located
    assert found.label == ""


def test_city_database_alone_gives_the_place_without_a_provider(settings, geo_files):
    """With only the City database, the place is known and the provider is not."""
    settings.CIAM_SESSIONS_GEOIP_CITY_DATABASE = str(geo_files.city)
    settings.CIAM_SESSIONS_GEOIP_ASN_DATABASE = ""
    geo_readers_reset()
    found = geo_lookup(SAO_PAULO.ip)
    assert found is not None
    assert (found.country, found.city, found.asn) == ("BR", "São Paulo", None)


def test_no_database_configured_means_no_place(settings):
    """Without a configured database there are no places (the default)."""
    settings.CIAM_SESSIONS_GEOIP_CITY_DATABASE = ""
    settings.CIAM_SESSIONS_GEOIP_ASN_DATABASE = ""
    geo_readers_reset()
    assert geo_lookup(LISBOA.ip) is None


def test_a_missing_database_file_means_no_place_and_a_warning(settings, tmp_path, caplog):
    """A configured file that does not exist gives no place and a warning naming it, never
    an exception."""
    missing = tmp_path / "GeoLite2-City.mmdb"
    settings.CIAM_SESSIONS_GEOIP_CITY_DATABASE = str(missing)
    settings.CIAM_SESSIONS_GEOIP_ASN_DATABASE = str(tmp_path / "GeoLite2-ASN.mmdb")
    geo_readers_reset()
    with caplog.at_level(logging.WARNING, logger="sessions_ctx.geo"):
        assert geo_lookup(LISBOA.ip) is None
    assert any(str(missing) in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    "content",
    [b"", b"this is no MaxMind database\n" * 100, b"\xab\xcd\xefMaxMind.com" + b"\x00" * 64],
    ids=["empty", "text", "bad-metadata"],
)
def test_a_corrupt_database_file_means_no_place_and_a_warning(settings, tmp_path, caplog, content):
    """A damaged file gives no place and a warning, never an exception."""
    corrupt = tmp_path / "GeoLite2-City.mmdb"
    corrupt.write_bytes(content)
    settings.CIAM_SESSIONS_GEOIP_CITY_DATABASE = str(corrupt)
    settings.CIAM_SESSIONS_GEOIP_ASN_DATABASE = ""
    geo_readers_reset()
    with caplog.at_level(logging.WARNING, logger="sessions_ctx.geo"):
        assert geo_lookup(LISBOA.ip) is None
    assert [record.levelno for record in caplog.records] == [logging.WARNING]


def test_a_truncated_database_file_means_no_place(settings, tmp_path, geo_files, caplog):
    """A database cut short (a download interrupted) gives no place, never an exception."""
    whole = geo_files.city.read_bytes()
    truncated = tmp_path / "GeoLite2-City.mmdb"
    truncated.write_bytes(whole[: len(whole) // 3] + whole[-200:])
    settings.CIAM_SESSIONS_GEOIP_CITY_DATABASE = str(truncated)
    settings.CIAM_SESSIONS_GEOIP_ASN_DATABASE = ""
    geo_readers_reset()
    with caplog.at_level(logging.WARNING, logger="sessions_ctx.geo"):
        assert geo_lookup(LISBOA.ip) is None
    assert caplog.records


def test_databases_swapped_by_mistake_give_no_place_and_a_warning(settings, geo_files, caplog):
    """An ASN file configured as the City database (and the other way round) is a warning,
    not a 500."""
    settings.CIAM_SESSIONS_GEOIP_CITY_DATABASE = str(geo_files.asn)
    settings.CIAM_SESSIONS_GEOIP_ASN_DATABASE = str(geo_files.city)
    geo_readers_reset()
    with caplog.at_level(logging.WARNING, logger="sessions_ctx.geo"):
        assert geo_lookup(LISBOA.ip) is None
    assert len(caplog.records) == 2


def test_readers_reset_reads_a_new_database(settings, tmp_path, geo_files):
    """After geo_readers_reset a database installed since is read (cached answers too)."""
    path = tmp_path / "GeoIP2-City.mmdb"
    settings.CIAM_SESSIONS_GEOIP_CITY_DATABASE = str(path)
    settings.CIAM_SESSIONS_GEOIP_ASN_DATABASE = ""
    geo_readers_reset()
    assert geo_lookup(LISBOA_V6.ip) is None
    path.write_bytes(geo_files.city.read_bytes())
    geo_readers_reset()
    found = geo_lookup(LISBOA_V6.ip)
    assert found is not None
    assert found.city == "Lisboa"
