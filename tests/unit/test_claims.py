"""The scope -> claims table and the claims function (ciam/claims.py, OIDC Core 5.4, 5.5)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ciam.claims import (
    CLAIMS_SUPPORTED,
    PROVIDED_CLAIMS,
    PROVIDED_SCOPE_CLAIMS,
    SCOPE_CLAIMS,
    STANDARD_CLAIMS,
    STANDARD_SCOPE_CLAIMS,
    ClaimSource,
    requested_claim_names,
    user_claims,
)
from ciam.oauth.claim_sources import claim_source_for, with_provided_claims
from profiling.claims import ProfileClaims
from profiling.models import Profile
from tests.factories import UserFactory

# OIDC Core 1.0 section 5.4, verbatim.
SPEC_SCOPE_CLAIMS = {
    "profile": {
        "name",
        "family_name",
        "given_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "updated_at",
    },
    "email": {"email", "email_verified"},
    "address": {"address"},
    "phone": {"phone_number", "phone_number_verified"},
}

# This provider's own scopes (README "Endpoints"): their claims come from CIAM_CLAIM_PROVIDERS.
CIAM_SCOPE_CLAIMS = {
    "consents": {"consents"},
    "interests": {"interests", "best_contact_window", "segments"},
}

# Claims this provider has no data for: never released, whatever is asked.
NEVER_KNOWN = {"preferred_username", "profile"}

UPDATED_AT = datetime(2024, 5, 17, 12, 30, tzinfo=UTC)


ADDRESS_PARTS = ("street_address", "locality", "region", "postal_code", "country")


def profile_of(**fields) -> ProfileClaims:
    """A profile's claims as profiling.claims.profile_claims gives them, from the values of
    its standard fields (an address by its parts, phone_number_verified as a flag)."""
    values = {
        key: value.isoformat() if isinstance(value, date) else value
        for key, value in fields.items()
        if key not in ADDRESS_PARTS and key not in ("phone_number_verified", "updated_at")
    }
    address = {key: fields[key] for key in ADDRESS_PARTS if fields.get(key)}
    if address:
        values["address"] = address
    verified = {"phone_number"} if fields.get("phone_number_verified") else set()
    updated_at = fields.get("updated_at")
    return ProfileClaims(
        values={key: value for key, value in values.items() if value},
        verified=frozenset(verified),
        updated_at=int(updated_at.timestamp()) if updated_at else None,
    )


def full_profile() -> ProfileClaims:
    return profile_of(
        given_name="Ana",
        family_name="Silva",
        middle_name="Maria",
        nickname="Aninha",
        picture="https://cdn.example/ana.png",
        website="https://ana.example",
        gender="female",
        birthdate=date(1990, 2, 28),
        zoneinfo="America/Sao_Paulo",
        locale="pt-BR",
        phone_number="+5511987654321",
        phone_number_verified=True,
        street_address="Rua Augusta 1500\nApto 12",
        locality="São Paulo",
        region="SP",
        postal_code="01304-001",
        country="BR",
        updated_at=UPDATED_AT,
    )


def source(profile: ProfileClaims | None = None, *, verified: bool = True, email: str = "a@x.test"):
    return ClaimSource(sub="42", email=email, email_verified=verified, profile=profile)


def test_scope_table_is_the_one_of_the_spec():
    """The standard part of the table lists exactly the claims of OIDC Core 5.4 for each
    scope; the whole table adds the provider's own scopes and nothing else."""
    assert {
        scope: set(claims) for scope, claims in STANDARD_SCOPE_CLAIMS.items()
    } == SPEC_SCOPE_CLAIMS
    assert set().union(*SPEC_SCOPE_CLAIMS.values()) == STANDARD_CLAIMS
    assert {scope: set(claims) for scope, claims in PROVIDED_SCOPE_CLAIMS.items()} == (
        CIAM_SCOPE_CLAIMS
    )
    assert {scope: set(claims) for scope, claims in SCOPE_CLAIMS.items()} == {
        **SPEC_SCOPE_CLAIMS,
        **CIAM_SCOPE_CLAIMS,
    }
    assert not PROVIDED_CLAIMS & STANDARD_CLAIMS


def test_discovery_claims_cover_every_standard_claim_and_sub():
    """claims_supported names every claim the table can release, and sub."""
    assert STANDARD_CLAIMS | {"sub"} <= set(CLAIMS_SUPPORTED)


def test_discovery_claims_and_scopes_name_the_consents_claim(settings):
    """claims_supported lists consents; the consents scope is a registered scope (so
    discovery's scopes_supported and DOT's scope checks know it)."""
    assert "consents" in CLAIMS_SUPPORTED
    assert "consents" in settings.OAUTH2_PROVIDER["SCOPES"]


@pytest.mark.parametrize("scope", sorted(SPEC_SCOPE_CLAIMS))
def test_each_scope_yields_its_standard_claims_and_no_others(scope):
    """With every profile field filled, a scope releases sub plus its own claims (those the
    provider knows), and nothing of the other scopes."""
    claims = user_claims(source(full_profile()), scopes=["openid", scope])
    assert set(claims) == {"sub"} | (SPEC_SCOPE_CLAIMS[scope] - NEVER_KNOWN)


def test_openid_alone_yields_only_sub():
    """scope=openid: the ID token and UserInfo carry sub and nothing else."""
    assert user_claims(source(full_profile()), scopes=["openid"]) == {"sub": "42"}


def test_unknown_scopes_are_ignored():
    """Scopes without claims (offline_access, made-up ones) add nothing."""
    claims = user_claims(source(full_profile()), scopes=["openid", "offline_access", "bogus"])
    assert claims == {"sub": "42"}


def test_all_scopes_values():
    """The released values are the profile's, in the formats of OIDC Core 5.1."""
    claims = user_claims(
        source(full_profile()), scopes=["openid", "profile", "email", "address", "phone"]
    )
    assert claims["sub"] == "42"
    assert claims["name"] == "Ana Silva"
    assert claims["given_name"] == "Ana"
    assert claims["family_name"] == "Silva"
    assert claims["middle_name"] == "Maria"
    assert claims["nickname"] == "Aninha"
    assert claims["birthdate"] == "1990-02-28"
    assert claims["updated_at"] == int(UPDATED_AT.timestamp())
    assert isinstance(claims["updated_at"], int)
    assert claims["zoneinfo"] == "America/Sao_Paulo"
    assert claims["locale"] == "pt-BR"
    assert claims["email"] == "a@x.test"
    assert claims["email_verified"] is True
    assert claims["phone_number"] == "+5511987654321"
    assert claims["phone_number_verified"] is True


def test_address_is_a_structured_claim_with_formatted_lines():
    """OIDC Core 5.1.1: address is a JSON object; formatted joins the parts with newlines."""
    address = user_claims(source(full_profile()), scopes=["address"])["address"]
    assert address == {
        "street_address": "Rua Augusta 1500\nApto 12",
        "locality": "São Paulo",
        "region": "SP",
        "postal_code": "01304-001",
        "country": "BR",
        "formatted": "Rua Augusta 1500\nApto 12\n01304-001 São Paulo\nSP\nBR",
    }


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"country": "BR"}, {"country": "BR", "formatted": "BR"}, id="country-only"),
        pytest.param(
            {"locality": "Recife", "postal_code": "50000"},
            {"locality": "Recife", "postal_code": "50000", "formatted": "50000 Recife"},
            id="city-and-postal-code",
        ),
        pytest.param(
            {"street_address": "Rua A 1", "region": "PE"},
            {"street_address": "Rua A 1", "region": "PE", "formatted": "Rua A 1\nPE"},
            id="street-and-region",
        ),
    ],
)
def test_partial_address_keeps_only_known_parts(fields, expected):
    """Empty address parts are left out of the object and of formatted."""
    claims = user_claims(source(profile_of(**fields)), scopes=["address"])
    assert claims["address"] == expected


def test_empty_profile_releases_no_profile_claims_and_no_nulls():
    """Unknown values are omitted, never sent as null or empty strings (OIDC Core 5.3.2)."""
    claims = user_claims(
        source(profile_of()), scopes=["openid", "profile", "address", "phone", "email"]
    )
    assert claims == {"sub": "42", "email": "a@x.test", "email_verified": True}


def test_missing_profile_releases_only_sub_and_email():
    """A user without a profile row: the profile, address and phone scopes add nothing."""
    claims = user_claims(source(None), scopes=["openid", "profile", "address", "phone", "email"])
    assert claims == {"sub": "42", "email": "a@x.test", "email_verified": True}


def test_unverified_email_is_reported_as_such():
    """email_verified is false, not omitted, when the address is not verified."""
    claims = user_claims(source(None, verified=False), scopes=["email"])
    assert claims["email_verified"] is False


def test_no_email_means_no_email_claims():
    """Without an address there is neither email nor email_verified."""
    assert user_claims(source(None, email=""), scopes=["email"]) == {"sub": "42"}


def test_phone_verified_only_with_a_phone_number():
    """phone_number_verified describes a number: without one it is omitted."""
    claims = user_claims(source(profile_of(phone_number_verified=True)), scopes=["phone"])
    assert claims == {"sub": "42"}
    claims = user_claims(source(profile_of(phone_number="+351911111111")), scopes=["phone"])
    assert claims["phone_number_verified"] is False


def test_claims_parameter_releases_individual_claims_for_its_member():
    """OIDC Core 5.5: a claim requested for userinfo is released there even without its
    scope, and only there."""
    request = {"userinfo": {"email": None, "given_name": {"essential": True}}}
    userinfo = user_claims(
        source(full_profile()), scopes=["openid"], claims_request=request, member="userinfo"
    )
    assert userinfo == {"sub": "42", "email": "a@x.test", "given_name": "Ana"}
    id_token = user_claims(
        source(full_profile()), scopes=["openid"], claims_request=request, member="id_token"
    )
    assert id_token == {"sub": "42"}


def test_claims_parameter_for_id_token_member():
    """Claims requested for the ID token are released in the ID token."""
    request = {"id_token": {"phone_number": None}}
    claims = user_claims(
        source(full_profile()), scopes=["openid"], claims_request=request, member="id_token"
    )
    assert claims == {"sub": "42", "phone_number": "+5511987654321"}


@pytest.mark.parametrize(
    "request_value",
    [
        pytest.param({"userinfo": {"favourite_colour": None}}, id="unknown-claim"),
        pytest.param({"userinfo": {"password": {"essential": True}}}, id="sensitive-name"),
        pytest.param({"userinfo": ["email"]}, id="member-is-a-list"),
        pytest.param({"userinfo": "email"}, id="member-is-a-string"),
        pytest.param({"userinfo": None}, id="member-is-null"),
        pytest.param({"other": {"email": None}}, id="unknown-member"),
        pytest.param(["userinfo"], id="request-is-a-list"),
        pytest.param("email", id="request-is-a-string"),
        pytest.param(None, id="no-request"),
        pytest.param({"userinfo": {"preferred_username": None}}, id="claim-without-data"),
    ],
)
def test_claims_parameter_ignores_unknown_and_malformed_requests(request_value):
    """Unknown claim names, malformed members and claims without data release nothing."""
    claims = user_claims(
        source(full_profile()), scopes=["openid"], claims_request=request_value, member="userinfo"
    )
    assert claims == {"sub": "42"}


def test_requested_names_keep_only_strings_of_the_member():
    """requested_claim_names reads one member of the claims request."""
    request = {"userinfo": {"email": None, "name": None}, "id_token": {"auth_time": None}}
    assert requested_claim_names(request, "userinfo") == ["email", "name"]
    assert requested_claim_names(request, "id_token") == ["auth_time"]
    assert requested_claim_names({"userinfo": {1: None}}, "userinfo") == []


def test_essential_claim_without_value_is_omitted():
    """An essential claim the provider cannot fill is left out, not null (OIDC Core 5.5.1)."""
    request = {"userinfo": {"nickname": {"essential": True}}}
    claims = user_claims(source(None), scopes=["openid"], claims_request=request)
    assert claims == {"sub": "42"}


def test_sub_cannot_be_overridden_by_a_claims_request():
    """sub is always the user's identifier, whatever the claims request says."""
    request = {"userinfo": {"sub": {"value": "1"}}}
    assert user_claims(source(None), scopes=["openid"], claims_request=request) == {"sub": "42"}


@pytest.mark.django_db
def test_claim_source_for_user_without_profile_row():
    """A user with no Profile row gives a source without profile (no exception)."""
    user = UserFactory(given_name="", family_name="")
    assert not Profile.objects.filter(user=user).exists()
    claim_source = claim_source_for(user)
    assert claim_source.profile is None
    assert claim_source.sub == user.public_id
    assert claim_source.email_verified is True
    assert user_claims(claim_source, scopes=["openid", "profile"]) == {"sub": user.public_id}


@pytest.mark.django_db
def test_claim_source_for_user_with_unverified_email():
    """email_verified follows allauth's EmailAddress record of the user's address."""
    from accounts.services.users import user_create

    user = user_create(email="unverified@example.com", password=None, email_verified=False)
    assert claim_source_for(user).email_verified is False


# --- claims provided by other apps (CIAM_CLAIM_PROVIDERS) ------------------------------------

DECISIONS = {"terms": {"granted": True, "version": 2, "at": 1700000000}}


def provided_source(provided: dict | None = None) -> ClaimSource:
    return ClaimSource(
        sub="42", email="a@x.test", email_verified=True, profile=None, provided=provided or {}
    )


def test_provided_claim_released_with_its_scope_only():
    """consents comes from ClaimSource.provided, and only when the consents scope was
    granted."""
    source = provided_source({"consents": DECISIONS})
    assert user_claims(source, scopes=["openid", "consents"]) == {
        "sub": "42",
        "consents": DECISIONS,
    }
    assert user_claims(source, scopes=["openid", "email"]) == {
        "sub": "42",
        "email": "a@x.test",
        "email_verified": True,
    }


def test_empty_decisions_are_released_as_an_empty_object():
    """With the scope but no decision yet, the claim is {} (not omitted): the client tells
    "nothing decided" from "scope not granted"."""
    source = provided_source({"consents": {}})
    assert user_claims(source, scopes=["openid", "consents"]) == {"sub": "42", "consents": {}}


def test_provided_claim_cannot_be_requested_without_its_scope():
    """The claims parameter (OIDC Core 5.5) releases standard claims only: consents needs
    its scope."""
    source = provided_source({"consents": DECISIONS})
    request = {"userinfo": {"consents": None}, "id_token": {"consents": {"essential": True}}}
    for member in ("userinfo", "id_token"):
        claims = user_claims(source, scopes=["openid"], claims_request=request, member=member)
        assert claims == {"sub": "42"}


def test_provided_values_never_replace_standard_claims():
    """A provided value named like a standard claim is ignored by the claims function."""
    source = provided_source({"sub": "1", "email": "other@x.test", "consents": {}})
    claims = user_claims(source, scopes=["openid", "email", "consents"])
    assert claims == {"sub": "42", "email": "a@x.test", "email_verified": True, "consents": {}}


CALLS: list[tuple] = []


def recording_provider(user, application, scopes):
    CALLS.append((user, application, scopes))
    return {"consents": {"news": {"granted": False, "version": 1, "at": 1}}, "sub": "evil"}


@pytest.fixture
def recording_providers(settings):
    settings.CIAM_CLAIM_PROVIDERS = [f"{__name__}.recording_provider"]
    CALLS.clear()
    yield CALLS
    CALLS.clear()


def test_providers_called_only_when_their_scope_was_granted(recording_providers):
    """with_provided_claims calls CIAM_CLAIM_PROVIDERS only for a granted provided scope (no
    extra query otherwise), and keeps only the names of the provided claims."""
    source = ClaimSource(sub="42", email="", email_verified=False, profile=None)
    same = with_provided_claims(source, user="u", application="app", scopes=["openid", "email"])
    assert same is source
    assert recording_providers == []
    provided = with_provided_claims(
        source, user="u", application="app", scopes=["openid", "consents"]
    )
    assert recording_providers == [("u", "app", frozenset({"openid", "consents"}))]
    assert provided.provided == {"consents": {"news": {"granted": False, "version": 1, "at": 1}}}
    assert user_claims(provided, scopes=["openid", "consents"])["sub"] == "42"


def test_no_provider_without_a_user_or_a_client(recording_providers):
    """A token without a user (client_credentials) or without a client gets no provided
    claims, and no provider is called."""
    source = ClaimSource(sub="42", email="", email_verified=False, profile=None)
    assert with_provided_claims(source, user=None, application="app", scopes=["consents"]) is (
        source
    )
    assert with_provided_claims(source, user="u", application=None, scopes=["consents"]) is (source)
    assert recording_providers == []
