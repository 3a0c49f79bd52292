"""The profile API for back ends (/api/profile/, profiling/api.py), driven by Authlib's
client_credentials client against the live provider."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import quote

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from consent.models import Purpose, PurposeKind
from profiling.claims import profile_completeness
from profiling.models import FieldType, Profile, ProfileField, ProfileValue, Sensitivity
from profiling.schema import schema_current, schema_forget
from profiling.services.values import profile_update
from tests.conftest import query_of
from tests.factories import UserFactory, service_session

TIMEOUT = 10


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _schema_read_afresh():
    """Fields created by a test are seen by the live server at once (the schema cache)."""
    schema_forget()
    yield
    schema_forget()


@pytest.fixture
def api_url(issuer, monkeypatch) -> str:
    # Authlib insists on https; the test server runs on http://localhost.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    return issuer + "/api/profile"


@pytest.fixture
def backend(api_url, issuer) -> OAuth2Session:
    """A back end allowed to read and write profiles."""
    return service_session(issuer, "profile:read profile:write")


@pytest.fixture
def reader(api_url, issuer) -> OAuth2Session:
    return service_session(issuer, "profile:read", name="Reporting")


@pytest.fixture
def customer(db):
    """A customer whose names were given when the account was created (source admin)."""
    return UserFactory(email=f"ana-{secrets.token_hex(3)}@example.com")


def user_url(api_url: str, user) -> str:
    return f"{api_url}/users/{quote('email:' + user.email, safe='')}"


def assert_json_error(response: requests.Response, status: int, error: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error, body
    assert body["error_description"]
    return body


def stored_values(user) -> dict:
    profile = Profile.objects.filter(user=user).first()
    return dict(profile.values) if profile is not None else {}


def completeness_of(values: dict) -> int:
    return profile_completeness(values, schema_current())


# --- scopes --------------------------------------------------------------------------------


def test_service_client_gets_the_profile_scopes(backend):
    """A machine client gets profile:read and profile:write with client_credentials."""
    assert set(backend.token["scope"].split()) == {"profile:read", "profile:write"}
    assert "refresh_token" not in backend.token


@pytest.mark.parametrize(
    "scope", ["openid profile:read", "openid profile:write", "openid profile profile:read"]
)
def test_user_facing_client_cannot_ask_for_profile_api_scopes(
    browser, web_client, user, password, scope
):
    """The profile API scopes are for back ends only: an authorization request (code flow)
    for them ends with invalid_scope at the client, without a code."""
    location = browser.authorize(
        {
            "response_type": "code",
            "client_id": web_client.client_id,
            "redirect_uri": web_client.redirect_uri,
            "scope": scope,
            "state": "s1",
        },
        email=user.email,
        password=password,
    )
    params = query_of(location)
    assert location.startswith(web_client.redirect_uri)
    assert params["error"] == "invalid_scope"
    assert "code" not in params


def test_api_is_served_by_the_back_channel_handler(backend, api_url, customer):
    """Like /token and the consent API, the profile API runs without the browser
    middleware: no cookie is set and no language is negotiated (ciam/fastpath.py)."""
    for url in (api_url + "/schema", user_url(api_url, customer)):
        response = backend.get(url, headers={"Accept-Language": "pt-BR"})
        assert response.status_code == 200, response.text
        assert response.headers["Cache-Control"] == "no-store"
        assert "Set-Cookie" not in response.headers
        assert "Content-Language" not in response.headers


# --- the schema ------------------------------------------------------------------------------


def test_schema_lists_the_standard_fields(reader, api_url):
    """GET /schema: the active fields in their order, with their words in both languages,
    claim, scope and the validation that applies to their type."""
    response = reader.get(api_url + "/schema")
    assert response.status_code == 200, response.text
    fields = {field["key"]: field for field in response.json()["fields"]}
    assert [f["key"] for f in response.json()["fields"]] == [f.key for f in schema_current().fields]
    given_name = fields["given_name"]
    assert given_name["type"] == "text"
    assert given_name["labels"] == {"en": "First name", "pt-BR": "Nome"}
    assert given_name["claim"] == "given_name"
    assert given_name["scope"] == "profile"
    assert given_name["sensitivity"] == "personal"
    assert given_name["purpose"] is None
    assert given_name["validation"] == {"max_length": 150, "check_junk": True}
    assert given_name["choices"] == []
    assert fields["phone_number"]["type"] == "phone"
    assert fields["phone_number"]["scope"] == "phone"
    assert fields["phone_number"]["validation"] == {"phone_region": "BR"}
    assert fields["birthdate"]["type"] == "date"
    assert fields["birthdate"]["validation"] == {}
    assert fields["address"]["type"] == "address"
    assert fields["address"]["scope"] == "address"


def test_schema_shows_choices_purpose_and_bounds_and_hides_inactive_fields(reader, api_url):
    """A choice field shows its choices in both languages and its consent purpose; a number
    its bounds as numbers; a date its bounds as ISO dates; an inactive field is absent."""
    purpose = Purpose.objects.create(key="personal-style", kind=PurposeKind.CUSTOM)
    ProfileField.objects.create(
        key="style",
        type=FieldType.CHOICE,
        label_en="Style",
        label_pt_br="Estilo",
        help_en="Pick one.",
        benefit_en="So we show what fits.",
        benefit_pt_br="Para mostrarmos o que combina.",
        choices=[
            {"value": "modern", "label_en": "Modern", "label_pt_br": "Moderno"},
            {"value": "classic", "label_en": "Classic"},
        ],
        claim="https://example.com/style",
        sensitivity=Sensitivity.SENSITIVE,
        purpose=purpose,
        order=1,
    )
    ProfileField.objects.create(
        key="household_size",
        type=FieldType.NUMBER,
        label_en="People at home",
        min_value=Decimal("1"),
        max_value=Decimal("12.5"),
        order=2,
    )
    ProfileField.objects.create(
        key="moved_in",
        type=FieldType.DATE,
        label_en="Moved in",
        min_date="2000-01-01",
        max_date="2030-12-31",
        order=3,
    )
    ProfileField.objects.create(key="retired", type=FieldType.TEXT, label_en="Old", active=False)
    schema_forget()
    response = reader.get(api_url + "/schema")
    assert response.status_code == 200, response.text
    fields = {field["key"]: field for field in response.json()["fields"]}
    assert list(fields)[:3] == ["style", "household_size", "moved_in"]
    assert "retired" not in fields
    style = fields["style"]
    assert style == {
        "key": "style",
        "type": "choice",
        "labels": {"en": "Style", "pt-BR": "Estilo"},
        "help": {"en": "Pick one.", "pt-BR": "Pick one."},
        "benefit": {"en": "So we show what fits.", "pt-BR": "Para mostrarmos o que combina."},
        "claim": "https://example.com/style",
        "scope": "profile",
        "sensitivity": "sensitive",
        "purpose": "personal-style",
        "validation": {},
        "choices": [
            {"value": "modern", "labels": {"en": "Modern", "pt-BR": "Moderno"}},
            {"value": "classic", "labels": {"en": "Classic", "pt-BR": "Classic"}},
        ],
    }
    assert fields["household_size"]["validation"] == {"min_value": 1, "max_value": 12.5}
    assert fields["moved_in"]["validation"] == {
        "min_date": "2000-01-01",
        "max_date": "2030-12-31",
    }


# --- reading a profile -----------------------------------------------------------------------


def test_read_a_profile_with_provenance(reader, api_url, customer):
    """GET /users/<ref>: each value with where it came from, and the completeness."""
    response = reader.get(user_url(api_url, customer))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"] == f"email:{customer.email}"
    assert set(body["values"]) == {"given_name", "family_name"}
    given_name = body["values"]["given_name"]
    assert given_name == {
        "value": "Ana",
        "source": "admin",
        "source_detail": "create_user",
        "client": None,
        "collected_at": given_name["collected_at"],
        "verified": False,
    }
    collected_at = datetime.fromisoformat(given_name["collected_at"])
    assert given_name["collected_at"].endswith("Z")
    assert collected_at.tzinfo is not None
    assert abs((datetime.now(UTC) - collected_at).total_seconds()) < 300
    assert body["completeness"] == completeness_of({"given_name": "Ana", "family_name": "Silva"})
    assert 0 < body["completeness"] < 100


def test_read_a_user_without_a_profile(reader, api_url):
    """A customer without any value: no values, completeness 0, not an error."""
    user = UserFactory(
        email=f"bare-{secrets.token_hex(3)}@example.com", given_name="", family_name=""
    )
    response = reader.get(user_url(api_url, user))
    assert response.status_code == 200, response.text
    assert response.json() == {"user": f"email:{user.email}", "values": {}, "completeness": 0}


def test_user_reference_by_public_subject_and_any_case_email(reader, api_url, customer):
    """A customer is named by email:<address> (any case) or sub:<public subject>."""
    upper = quote("email:" + customer.email.upper(), safe="")
    assert reader.get(f"{api_url}/users/{upper}").status_code == 200
    response = reader.get(f"{api_url}/users/sub:{customer.public_id}")
    assert response.status_code == 200, response.text
    assert response.json()["user"] == f"sub:{customer.public_id}"
    assert response.json()["values"]["given_name"]["value"] == "Ana"


# --- writing ---------------------------------------------------------------------------------


def test_patch_writes_normalised_values_with_provenance(backend, api_url, customer):
    """PATCH /users/<ref>: the values are normalised by the schema and stored with source
    api, the calling client and the detail given; values not named are left alone; the
    answer is the new profile."""
    response = backend.patch(
        user_url(api_url, customer),
        json={
            "values": {
                "given_name": "  Mariana ",
                "phone_number": "(11) 98765-4321",
                "birthdate": "25/12/1990",
            },
            "verified": ["phone_number"],
            "source_detail": "crm-sync 2026-01",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"] == f"email:{customer.email}"
    values = body["values"]
    assert values["given_name"]["value"] == "Mariana"
    assert values["phone_number"]["value"] == "+5511987654321"
    assert values["phone_number"]["verified"] is True
    assert values["birthdate"]["value"] == "1990-12-25"
    assert values["birthdate"]["verified"] is False
    for key in ("given_name", "phone_number", "birthdate"):
        assert values[key]["source"] == "api"
        assert values[key]["client"] == backend.client_id
        assert values[key]["source_detail"] == "crm-sync 2026-01"
    assert values["family_name"]["source"] == "admin"  # untouched, its provenance kept
    assert body["completeness"] == completeness_of(
        {"given_name": 1, "family_name": 1, "phone_number": 1, "birthdate": 1}
    )

    row = ProfileValue.objects.select_related("client").get(
        user=customer, field__key="phone_number"
    )
    assert row.source == "api"
    assert row.client is not None
    assert row.client.client_id == backend.client_id
    assert row.verified is True
    profile = Profile.objects.get(user=customer)
    assert profile.values["given_name"] == "Mariana"
    assert profile.values["birthdate"] == "1990-12-25"
    assert "phone_number" in profile.verified
    assert backend.get(user_url(api_url, customer)).json() == body


def test_null_removes_a_value(backend, api_url, customer):
    """A null value removes the field's value and its provenance."""
    response = backend.patch(user_url(api_url, customer), json={"values": {"family_name": None}})
    assert response.status_code == 200, response.text
    assert set(response.json()["values"]) == {"given_name"}
    assert "family_name" not in stored_values(customer)
    assert not ProfileValue.objects.filter(user=customer, field__key="family_name").exists()


def test_import_source_is_recorded(backend, api_url, customer):
    """source import: the values are stored as carried over from an earlier system."""
    response = backend.patch(
        user_url(api_url, customer),
        json={"values": {"nickname": "Aninha"}, "source": "import", "source_detail": "legacy"},
    )
    assert response.status_code == 200, response.text
    nickname = response.json()["values"]["nickname"]
    assert nickname["source"] == "import"
    assert nickname["source_detail"] == "legacy"
    assert nickname["client"] == backend.client_id


def test_junk_is_refused_from_the_api_but_kept_from_an_import(backend, api_url, customer):
    """Text a back end collected is checked for junk like the customer's own answers (400
    invalid_profile, code junk, nothing written); an import is kept as given."""
    refused = backend.patch(user_url(api_url, customer), json={"values": {"given_name": "asdf"}})
    body = assert_json_error(refused, 400, "invalid_profile")
    assert body["fields"]["given_name"]["code"] == "junk"
    assert body["fields"]["given_name"]["message"]
    assert stored_values(customer)["given_name"] == "Ana"

    imported = backend.patch(
        user_url(api_url, customer), json={"values": {"given_name": "asdf"}, "source": "import"}
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["values"]["given_name"]["value"] == "asdf"
    assert imported.json()["values"]["given_name"]["source"] == "import"
    assert stored_values(customer)["given_name"] == "asdf"


def test_a_refused_value_writes_nothing(backend, api_url, customer):
    """An invalid phone number next to a valid name: 400 invalid_profile naming the phone
    with its code and message; the name is not written either."""
    response = backend.patch(
        user_url(api_url, customer),
        json={"values": {"given_name": "Mariana", "phone_number": "123"}},
    )
    body = assert_json_error(response, 400, "invalid_profile")
    assert set(body["fields"]) == {"phone_number"}
    assert body["fields"]["phone_number"]["code"] == "invalid_phone"
    assert body["fields"]["phone_number"]["message"]
    assert stored_values(customer) == {"given_name": "Ana", "family_name": "Silva"}
    assert not ProfileValue.objects.filter(user=customer, source="api").exists()


@pytest.mark.parametrize(
    ("values", "key", "code"),
    [
        pytest.param({"shoe_size": 42}, "shoe_size", "unknown_field", id="unknown-field"),
        pytest.param({"given_name": 42}, "given_name", "invalid", id="name-number"),
        pytest.param({"given_name": ["Ana"]}, "given_name", "invalid", id="name-list"),
        pytest.param({"birthdate": "31/02/1990"}, "birthdate", "invalid_date", id="bad-date"),
        pytest.param({"birthdate": "2999-01-01"}, "birthdate", "date_in_future", id="future"),
        pytest.param({"address": "Rua A, 1"}, "address", "invalid", id="address-string"),
        pytest.param({"address": {"planet": "Mars"}}, "address", "unknown_part", id="address-part"),
        pytest.param({"given_name": "x" * 151}, "given_name", "too_long", id="too-long"),
    ],
)
def test_values_the_schema_refuses_are_invalid_profile(
    backend, api_url, customer, values, key, code
):
    """Unknown fields and values of the wrong type or form: 400 invalid_profile with the
    field's code; nothing written."""
    response = backend.patch(user_url(api_url, customer), json={"values": values})
    body = assert_json_error(response, 400, "invalid_profile")
    assert body["fields"][key]["code"] == code
    assert stored_values(customer) == {"given_name": "Ana", "family_name": "Silva"}


def _bodies():
    return [
        ("array", [{"values": {"given_name": "Mariana"}}]),
        ("string", "values"),
        ("null", None),
        ("no-values", {"source": "api"}),
        ("values-array", {"values": [["given_name", "Mariana"]]}),
        ("values-string", {"values": "given_name=Mariana"}),
        ("values-null", {"values": None}),
        ("unknown-member", {"values": {"given_name": "Mariana"}, "force": True}),
        ("source-signup", {"values": {"given_name": "Mariana"}, "source": "signup"}),
        ("source-admin", {"values": {"given_name": "Mariana"}, "source": "admin"}),
        ("source-number", {"values": {"given_name": "Mariana"}, "source": 1}),
        ("verified-string", {"values": {"phone_number": "11987654321"}, "verified": "phone"}),
        ("verified-numbers", {"values": {"phone_number": "11987654321"}, "verified": [1]}),
        ("verified-not-set", {"values": {"given_name": "Mariana"}, "verified": ["phone_number"]}),
        ("detail-long", {"values": {"given_name": "Mariana"}, "source_detail": "x" * 65}),
        ("detail-number", {"values": {"given_name": "Mariana"}, "source_detail": 7}),
        ("detail-control", {"values": {"given_name": "Mariana"}, "source_detail": "a\x00b"}),
        ("too-many", {"values": {f"f{i}": "x" for i in range(201)}}),
    ]


@pytest.mark.parametrize("body", [pytest.param(body, id=name) for name, body in _bodies()])
def test_malformed_change_is_400_invalid_request(backend, api_url, customer, body):
    """A body that is not {"values": {...}, ...} with the right types: 400 invalid_request,
    nothing written."""
    response = backend.patch(user_url(api_url, customer), json=body)
    assert_json_error(response, 400, "invalid_request")
    assert stored_values(customer) == {"given_name": "Ana", "family_name": "Silva"}


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        pytest.param("application/json", b"{not json", id="broken-json"),
        pytest.param("application/json", b"", id="empty"),
        pytest.param("application/json", b"\xff\xfe{}", id="not-utf8"),
        pytest.param("application/json", b"[" * 5000 + b"]" * 5000, id="deeply-nested"),
        pytest.param(
            "application/json",
            b'{"values": {"given_name": "' + b"x" * 70000 + b'"}}',
            id="too-large",
        ),
        pytest.param("application/x-www-form-urlencoded", b"given_name=Mariana", id="form"),
        pytest.param("text/plain", b'{"values": {}}', id="text"),
        pytest.param(None, b'{"values": {}}', id="no-content-type"),
    ],
)
def test_malformed_body_is_400(backend, api_url, customer, content_type, data):
    """A body that is not a small JSON document: 400 invalid_request, never a 500."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = backend.patch(user_url(api_url, customer), data=data, headers=headers)
    assert_json_error(response, 400, "invalid_request")
    assert stored_values(customer) == {"given_name": "Ana", "family_name": "Silva"}


def test_an_empty_change_changes_nothing(backend, api_url, customer):
    """{"values": {}} is accepted and answers the profile as it is."""
    response = backend.patch(user_url(api_url, customer), json={"values": {}})
    assert response.status_code == 200, response.text
    assert set(response.json()["values"]) == {"given_name", "family_name"}
    assert response.json()["values"]["given_name"]["source"] == "admin"


def test_the_same_value_keeps_its_provenance(backend, api_url, customer):
    """Sending the stored value again writes nothing: its source stays the original one."""
    response = backend.patch(user_url(api_url, customer), json={"values": {"given_name": "Ana"}})
    assert response.status_code == 200, response.text
    assert response.json()["values"]["given_name"]["source"] == "admin"


def test_values_written_elsewhere_are_read_back(reader, api_url, customer):
    """Values written by another channel (a question during sign-in) show their source."""
    profile_update(user=customer, changes={"nickname": "Aninha"}, source="question")
    nickname = reader.get(user_url(api_url, customer)).json()["values"]["nickname"]
    assert nickname["value"] == "Aninha"
    assert nickname["source"] == "question"
    assert nickname["client"] is None


# --- errors ----------------------------------------------------------------------------------


def _endpoints(api_url: str, user) -> list[tuple[str, str, dict]]:
    return [
        ("GET", api_url + "/schema", {}),
        ("GET", user_url(api_url, user), {}),
        ("PATCH", user_url(api_url, user), {"json": {"values": {"given_name": "Mariana"}}}),
    ]


def test_no_token_is_401_with_a_bearer_challenge(api_url, customer):
    """RFC 6750 3.1: without credentials, 401 and a Bearer challenge without an error code."""
    for method, url, kwargs in _endpoints(api_url, customer):
        response = requests.request(method, url, timeout=TIMEOUT, **kwargs)
        assert_json_error(response, 401, "invalid_token")
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="profile"'
    assert stored_values(customer)["given_name"] == "Ana"


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer not-a-token", id="unknown"),
        pytest.param("Bearer " + "x" * 5000, id="very-long"),
        pytest.param("Basic dXNlcjpwYXNz", id="basic"),
        pytest.param("Bearer", id="empty-bearer"),
    ],
)
def test_bad_token_is_401_invalid_token(api_url, customer, authorization):
    """Unknown or malformed credentials: 401 invalid_token with a Bearer challenge."""
    for method, url, kwargs in _endpoints(api_url, customer):
        response = requests.request(
            method, url, headers={"Authorization": authorization}, timeout=TIMEOUT, **kwargs
        )
        assert_json_error(response, 401, "invalid_token")
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="profile"')
    assert stored_values(customer)["given_name"] == "Ana"


def test_revoked_token_is_401(backend, api_url, issuer, customer):
    """A token revoked at /revoke no longer reads or writes."""
    backend.revoke_token(issuer + "/revoke", token=backend.token["access_token"])
    response = backend.get(user_url(api_url, customer))
    assert_json_error(response, 401, "invalid_token")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_consent_token_is_403_on_every_endpoint(api_url, issuer, customer):
    """A token for the consent API (consent:read consent:write) has no profile scope: 403
    insufficient_scope naming the scope needed."""
    consent_client = service_session(issuer, "consent:read consent:write", name="Consents")
    needed = {"GET": "profile:read", "PATCH": "profile:write"}
    for method, url, kwargs in _endpoints(api_url, customer):
        response = consent_client.request(method, url, **kwargs)
        assert_json_error(response, 403, "insufficient_scope")
        challenge = response.headers["WWW-Authenticate"]
        assert 'error="insufficient_scope"' in challenge
        assert f'scope="{needed[method]}"' in challenge
    assert stored_values(customer)["given_name"] == "Ana"


def test_a_reader_cannot_write_and_a_writer_cannot_read(reader, api_url, issuer, customer):
    """profile:read alone reads but does not write; profile:write alone writes but does not
    read: 403 insufficient_scope."""
    refused = reader.patch(user_url(api_url, customer), json={"values": {"nickname": "Aninha"}})
    assert_json_error(refused, 403, "insufficient_scope")
    assert "nickname" not in stored_values(customer)
    writer = service_session(issuer, "profile:write", name="Importer")
    assert_json_error(writer.get(user_url(api_url, customer)), 403, "insufficient_scope")
    assert_json_error(writer.get(api_url + "/schema"), 403, "insufficient_scope")
    written = writer.patch(user_url(api_url, customer), json={"values": {"nickname": "Aninha"}})
    assert written.status_code == 200, written.text


def test_token_in_the_query_string_is_refused(backend, api_url, customer):
    """RFC 9700 4.3.2: an access token in the URL is an invalid_request."""
    response = requests.get(
        user_url(api_url, customer),
        params={"access_token": backend.token["access_token"]},
        timeout=TIMEOUT,
    )
    assert_json_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        pytest.param("POST", "/schema", "GET", id="post-schema"),
        pytest.param("PATCH", "/schema", "GET", id="patch-schema"),
        pytest.param("POST", "/users/{ref}", "GET, PATCH", id="post-user"),
        pytest.param("PUT", "/users/{ref}", "GET, PATCH", id="put-user"),
        pytest.param("DELETE", "/users/{ref}", "GET, PATCH", id="delete-user"),
    ],
)
def test_wrong_method_is_405(backend, api_url, customer, method, path, allow):
    """Each endpoint answers its own methods only: 405 with Allow, in JSON."""
    ref = quote("email:" + customer.email, safe="")
    response = backend.request(method, api_url + path.format(ref=ref), json={"values": {}})
    assert_json_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == allow


def test_unknown_user_is_404(backend, api_url):
    """A well-formed reference that names nobody: 404 unknown_user, for reads and writes."""
    for ref in ("email:nobody%40example.com", "sub:AAAAAAAAAAAAAAAAAAAAAA"):
        assert_json_error(backend.get(f"{api_url}/users/{ref}"), 404, "unknown_user")
        response = backend.patch(
            f"{api_url}/users/{ref}", json={"values": {"given_name": "Mariana"}}
        )
        assert_json_error(response, 404, "unknown_user")


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("ana%40example.com", id="no-prefix"),
        pytest.param("email:", id="empty-email"),
        pytest.param("sub:", id="empty-sub"),
        pytest.param("phone:%2B5511999999999", id="unknown-kind"),
        pytest.param("email:a%00b%40example.com", id="nul"),
        pytest.param("email:" + "a" * 400 + "%40example.com", id="too-long"),
        pytest.param("id:1", id="database-id"),
    ],
)
def test_malformed_user_reference_is_400(backend, api_url, ref):
    """A reference that is not email:<address> or sub:<subject>: 400 invalid_request."""
    assert_json_error(backend.get(f"{api_url}/users/{ref}"), 400, "invalid_request")
    response = backend.patch(f"{api_url}/users/{ref}", json={"values": {"given_name": "Mariana"}})
    assert_json_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "path", ["/", "/users", "/users/", "/schema/", "/users/email:a%40b.test/values", "/x/y"]
)
def test_unknown_path_is_a_json_404(backend, api_url, path):
    """Paths of no endpoint answer a JSON 404 too."""
    assert_json_error(backend.get(api_url + path), 404, "not_found")


def test_value_of_an_ungranted_purpose_is_not_read(reader, api_url, customer):
    """A value collected for a consent purpose the customer has not granted (or withdrew)
    is left out of the API's answer, as it is from the claims."""
    from consent.models import ConsentAction
    from consent.services.ledger import consent_record
    from profiling.models import FieldType, ProfileField, ValueSource
    from profiling.services.values import profile_update
    from tests.consent.purposes_helpers import make_purpose

    purpose = make_purpose("style-tips")
    ProfileField.objects.create(
        key="home_style", type=FieldType.TEXT, label_en="Style", purpose=purpose
    )
    schema_forget()
    profile_update(user=customer, changes={"home_style": "Rustic"}, source=ValueSource.API)
    assert "home_style" not in reader.get(user_url(api_url, customer)).json()["values"]
    consent_record(
        user=customer,
        version=purpose.versions.get(),
        action=ConsentAction.GRANTED,
        channel="portal",
    )
    values = reader.get(user_url(api_url, customer)).json()["values"]
    assert values["home_style"]["value"] == "Rustic"
