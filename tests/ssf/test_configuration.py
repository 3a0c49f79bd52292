"""SSF 1.0 7: the transmitter configuration document."""

from __future__ import annotations

import requests

from .conftest import TIMEOUT


def test_configuration_names_the_endpoints_and_keys(issuer):
    """GET /.well-known/ssf-configuration answers SSF 1.0 7.1 metadata: spec_version 1_0,
    the issuer, the provider's JWKS, push delivery only, every management endpoint on the
    issuer, OAuth 2.0 authorization and the default subjects."""
    response = requests.get(issuer + "/.well-known/ssf-configuration", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    document = response.json()
    assert document["spec_version"] == "1_0"
    assert document["issuer"] == issuer
    assert document["jwks_uri"] == issuer + "/jwks"
    assert document["delivery_methods_supported"] == ["urn:ietf:rfc:8935"]
    assert document["configuration_endpoint"] == issuer + "/ssf/streams"
    assert document["status_endpoint"] == issuer + "/ssf/status"
    assert document["add_subject_endpoint"] == issuer + "/ssf/subjects:add"
    assert document["remove_subject_endpoint"] == issuer + "/ssf/subjects:remove"
    assert document["verification_endpoint"] == issuer + "/ssf/verify"
    assert document["authorization_schemes"] == [{"spec_urn": "urn:ietf:rfc:6749"}]
    assert document["default_subjects"] == "ALL"
    keys = requests.get(document["jwks_uri"], timeout=TIMEOUT).json()["keys"]
    assert any(key["alg"] == "RS256" for key in keys)


def test_configuration_follows_the_default_subjects_setting(issuer, settings):
    """CIAM_SSF_DEFAULT_SUBJECTS=NONE is announced as default_subjects NONE."""
    settings.CIAM_SSF_DEFAULT_SUBJECTS = "NONE"
    document = requests.get(issuer + "/.well-known/ssf-configuration", timeout=TIMEOUT).json()
    assert document["default_subjects"] == "NONE"
