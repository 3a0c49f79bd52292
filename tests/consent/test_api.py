"""The consent API for back ends (/api/consent/, consent/api.py), driven by Authlib's
client_credentials client against the live provider."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta
from urllib.parse import quote

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from django.utils import timezone
from joserfc import jws
from joserfc.jwk import KeySet
from oauth2_provider.models import get_access_token_model, get_application_model

from consent.models import ConsentAction, ConsentRecord, Purpose, PurposeKind, PurposeVersion
from consent.services.ledger import consent_record, purpose_version_publish
from tests.conftest import query_of
from tests.factories import UserFactory, service_session

TIMEOUT = 10
AccessToken = get_access_token_model()
Application = get_application_model()


# --- fixtures --------------------------------------------------------------------------------


def publish_version(purpose: Purpose, number: int, *, change: str = "material") -> PurposeVersion:
    version = PurposeVersion.objects.create(
        purpose=purpose,
        number=number,
        title_en=f"{purpose.key} v{number}",
        title_pt_br=f"{purpose.key} v{number} (pt)",
        summary_en="What we do with your data.",
        summary_pt_br="O que fazemos com os seus dados.",
        text_en="The full text.",
        text_pt_br="O texto completo.",
    )
    return purpose_version_publish(version=version, change=change)


def make_purpose(key: str, *, kind: str = PurposeKind.MARKETING_EMAIL, **fields) -> Purpose:
    purpose = Purpose.objects.create(key=key, kind=kind, **fields)
    publish_version(purpose, 1)
    return purpose


@pytest.fixture
def purposes(db) -> dict[str, Purpose]:
    return {
        "terms": make_purpose("terms", kind=PurposeKind.TERMS_OF_SERVICE, required=True),
        "newsletter": make_purpose("newsletter"),
    }


@pytest.fixture
def customer(db):
    return UserFactory(email=f"ana-{secrets.token_hex(3)}@example.com")


@pytest.fixture
def api_url(issuer, monkeypatch) -> str:
    # Authlib insists on https; the test server runs on http://localhost.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    return issuer + "/api/consent"


@pytest.fixture
def backend(api_url, issuer) -> OAuth2Session:
    """A back end allowed to read and write consent records."""
    return service_session(issuer, "consent:read consent:write")


@pytest.fixture
def reader(api_url, issuer) -> OAuth2Session:
    return service_session(issuer, "consent:read", name="Reporting")


def user_url(api_url: str, user, suffix: str = "") -> str:
    return f"{api_url}/users/{quote('email:' + user.email, safe='')}{suffix}"


def record_body(version: PurposeVersion, **overrides) -> dict:
    body = {
        "purpose": version.purpose.key,
        "version": version.number,
        "action": "granted",
        "text_sha256": version.text_sha256("en"),
    }
    body.update(overrides)
    return body


def assert_json_error(response: requests.Response, status: int, error: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error, body
    return body


# --- scopes --------------------------------------------------------------------------------


def test_service_client_gets_the_consent_scopes(backend):
    """A machine client gets consent:read and consent:write with client_credentials."""
    assert set(backend.token["scope"].split()) == {"consent:read", "consent:write"}
    assert "refresh_token" not in backend.token


@pytest.mark.parametrize("scope", ["consents", "openid consent:read", "email"])
def test_service_client_cannot_get_user_scopes(api_url, issuer, scope):
    """User scopes (consents among them) are refused to machine clients: invalid_scope."""
    with pytest.raises(OAuthError) as refused:
        service_session(issuer, scope)
    assert refused.value.error == "invalid_scope"


@pytest.mark.parametrize("scope", ["openid consent:read", "openid consent:write"])
def test_user_facing_client_cannot_ask_for_consent_api_scopes(
    browser, web_client, user, password, scope
):
    """The consent API scopes are for back ends only: an authorization request for them
    ends with invalid_scope at the client."""
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


def test_user_token_is_refused_by_the_api(api_url, issuer, browser, web_client, user, password):
    """A token issued to a user-facing client (scope openid) lacks the API scopes: 403."""
    location = browser.authorize(
        {
            "response_type": "code",
            "client_id": web_client.client_id,
            "redirect_uri": web_client.redirect_uri,
            "scope": "openid",
            "state": "s1",
        },
        email=user.email,
        password=password,
    )
    token = requests.post(
        issuer + "/token",
        data={
            "grant_type": "authorization_code",
            "code": query_of(location)["code"],
            "redirect_uri": web_client.redirect_uri,
        },
        auth=(web_client.client_id, web_client.client_secret),
        timeout=TIMEOUT,
    ).json()["access_token"]
    response = requests.get(
        user_url(api_url, user), headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    )
    assert_json_error(response, 403, "insufficient_scope")


def test_api_is_served_by_the_back_channel_handler(backend, api_url, customer):
    """Like /token and /userinfo, the API runs without the browser middleware: no session or
    CSRF cookie is set, no language is negotiated (ciam/fastpath.py)."""
    response = backend.get(user_url(api_url, customer), headers={"Accept-Language": "pt-BR"})
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "Content-Language" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")


# --- reading -------------------------------------------------------------------------------


def test_read_state(backend, api_url, customer, purposes):
    """GET /users/<ref>: the standing decision per purpose (the latest record of each)."""
    terms = purposes["terms"].current_version()
    newsletter = purposes["newsletter"].current_version()
    consent_record(user=customer, version=terms, action="granted", channel="signup")
    consent_record(user=customer, version=newsletter, action="granted", channel="signup")
    withdrawal = consent_record(
        user=customer, version=newsletter, action="withdrawn", channel="portal"
    )
    response = backend.get(user_url(api_url, customer))
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["user"] == f"email:{customer.email}"
    assert set(body["purposes"]) == {"terms", "newsletter"}
    assert body["purposes"]["terms"]["granted"] is True
    assert body["purposes"]["terms"]["version"] == 1
    assert body["purposes"]["newsletter"] == {
        "granted": False,
        "version": 1,
        "action": "withdrawn",
        "at": body["purposes"]["newsletter"]["at"],
        "record_id": str(withdrawal.id),
        "receipt_id": str(withdrawal.receipt_id),
    }
    assert body["purposes"]["newsletter"]["at"].endswith("Z")


def test_read_state_of_a_user_without_records(backend, api_url, customer):
    """A user who decided nothing has an empty state, not an error."""
    response = backend.get(user_url(api_url, customer))
    assert response.status_code == 200
    assert response.json()["purposes"] == {}


def test_user_reference_by_public_subject_and_any_case_email(backend, api_url, customer):
    """A user is named by email:<address> (any case, URL-encoded) or sub:<public subject>."""
    upper = quote("email:" + customer.email.upper(), safe="")
    assert backend.get(f"{api_url}/users/{upper}").status_code == 200
    response = backend.get(f"{api_url}/users/sub:{customer.public_id}")
    assert response.status_code == 200, response.text
    assert response.json()["user"] == f"sub:{customer.public_id}"


def test_history_newest_first_by_page(backend, api_url, customer, purposes):
    """GET /users/<ref>/history: records newest first with hash chain and receipt id, in
    pages of ``limit`` followed with ``cursor``."""
    terms = purposes["terms"].current_version()
    newsletter = purposes["newsletter"].current_version()
    written = [
        consent_record(user=customer, version=terms, action="granted", channel="signup"),
        consent_record(user=customer, version=newsletter, action="granted", channel="signup"),
        consent_record(user=customer, version=newsletter, action="withdrawn", channel="portal"),
    ]
    first = backend.get(user_url(api_url, customer, "/history"), params={"limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [r["id"] for r in page["records"]] == [str(written[2].id), str(written[1].id)]
    assert page["next_cursor"]
    newest = page["records"][0]
    assert newest["action"] == "withdrawn"
    assert newest["purpose"] == "newsletter"
    assert newest["version"] == 1
    assert newest["channel"] == "portal"
    assert newest["hash"] == written[2].hash
    assert newest["previous_hash"] == written[1].hash
    assert newest["receipt_id"] == str(written[2].receipt_id)
    second = backend.get(
        user_url(api_url, customer, "/history"), params={"limit": 2, "cursor": page["next_cursor"]}
    ).json()
    assert [r["id"] for r in second["records"]] == [str(written[0].id)]
    assert second["records"][0]["previous_hash"] is None
    assert second["next_cursor"] is None
    everything = backend.get(user_url(api_url, customer, "/history")).json()
    assert len(everything["records"]) == 3
    assert everything["next_cursor"] is None


def test_history_is_the_users_own(backend, api_url, customer, purposes):
    """Another user's records never appear in a user's history."""
    other = UserFactory(email=f"other-{secrets.token_hex(3)}@example.com")
    consent_record(
        user=other, version=purposes["terms"].current_version(), action="granted", channel="api"
    )
    response = backend.get(user_url(api_url, customer, "/history"))
    assert response.json() == {
        "user": f"email:{customer.email}",
        "records": [],
        "next_cursor": None,
    }


# --- writing -------------------------------------------------------------------------------


def test_write_a_record_then_read_it(backend, api_url, issuer, customer, purposes):
    """POST /users/<ref>/records appends the decision for the current version, answers 201
    with the record and its receipt (a JWS verifiable against /jwks), and the state and
    history show it."""
    version = purposes["newsletter"].current_version()
    body = record_body(
        version,
        language="pt-BR",
        text_sha256=version.text_sha256("pt-BR"),
        channel="import",
        ip_address="2001:db8::1",
        user_agent="Shop checkout",
    )
    response = backend.post(user_url(api_url, customer, "/records"), json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    record = created["record"]
    assert record["purpose"] == "newsletter"
    assert record["version"] == 1
    assert record["action"] == "granted"
    assert record["channel"] == "import"
    assert record["language"] == "pt-BR"
    assert record["client_id"] == backend.client_id
    assert record["ip_address"] == "2001:db8::1"
    assert record["user_agent"] == "Shop checkout"

    stored = ConsentRecord.objects.get(pk=record["id"])
    assert stored.user_id == customer.pk
    assert stored.hash == record["hash"] == stored.compute_hash()
    assert stored.text_sha256 == version.text_sha256("pt-BR")

    keys = KeySet.import_key_set(requests.get(issuer + "/jwks", timeout=TIMEOUT).json())
    receipt = jws.deserialize_compact(created["receipt"], keys, algorithms=["ES256"])
    claims = json.loads(receipt.payload)
    assert claims["recordHash"] == record["hash"]
    assert claims["consentReceiptID"] == record["receipt_id"]
    assert claims["action"] == "granted"

    state = backend.get(user_url(api_url, customer)).json()
    assert state["purposes"]["newsletter"]["granted"] is True
    assert state["purposes"]["newsletter"]["record_id"] == record["id"]
    history = backend.get(user_url(api_url, customer, "/history")).json()
    assert history["records"][0]["id"] == record["id"]


def test_write_a_withdrawal(backend, api_url, customer, purposes):
    """A withdrawn decision (channel api by default) turns the purpose's state to not
    granted."""
    version = purposes["newsletter"].current_version()
    consent_record(user=customer, version=version, action="granted", channel="signup")
    response = backend.post(
        user_url(api_url, customer, "/records"), json=record_body(version, action="withdrawn")
    )
    assert response.status_code == 201, response.text
    assert response.json()["record"]["channel"] == "api"
    state = backend.get(user_url(api_url, customer)).json()
    assert state["purposes"]["newsletter"]["granted"] is False
    assert state["purposes"]["newsletter"]["action"] == ConsentAction.WITHDRAWN


def test_a_reader_cannot_write(reader, api_url, customer, purposes):
    """consent:read alone: reading works, writing is 403 insufficient_scope naming the scope."""
    assert reader.get(user_url(api_url, customer)).status_code == 200
    version = purposes["terms"].current_version()
    response = reader.post(user_url(api_url, customer, "/records"), json=record_body(version))
    assert_json_error(response, 403, "insufficient_scope")
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert 'scope="consent:write"' in response.headers["WWW-Authenticate"]
    assert not ConsentRecord.objects.filter(user=customer).exists()


def test_a_writer_without_read_cannot_read(api_url, issuer, customer):
    """consent:write alone does not read: 403 insufficient_scope."""
    writer = service_session(issuer, "consent:write", name="Importer")
    assert_json_error(writer.get(user_url(api_url, customer)), 403, "insufficient_scope")
    assert_json_error(
        writer.get(user_url(api_url, customer, "/history")), 403, "insufficient_scope"
    )


# --- errors --------------------------------------------------------------------------------


def test_no_token_is_401_with_a_bearer_challenge(api_url, customer):
    """RFC 6750 3.1: without credentials, 401 and a Bearer challenge without an error code."""
    response = requests.get(user_url(api_url, customer), timeout=TIMEOUT)
    assert_json_error(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "error=" not in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer not-a-token", id="unknown"),
        pytest.param("Bearer " + "x" * 5000, id="very-long"),
        pytest.param("Basic dXNlcjpwYXNz", id="basic"),
        pytest.param("Bearer", id="empty-bearer"),
        pytest.param("Bearer a b", id="three-parts"),
    ],
)
def test_bad_token_is_401_invalid_token(api_url, customer, authorization):
    """Unknown or malformed credentials: 401 invalid_token with a Bearer challenge."""
    response = requests.get(
        user_url(api_url, customer), headers={"Authorization": authorization}, timeout=TIMEOUT
    )
    assert_json_error(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_and_revoked_tokens_are_401(backend, api_url, issuer, customer):
    """An expired token, and a token revoked at /revoke, are invalid_token."""
    token = AccessToken.objects.get(token_checksum=_checksum(backend.token["access_token"]))
    expired_value = secrets.token_urlsafe(32)
    AccessToken.objects.create(
        application=token.application,
        token=expired_value,
        scope=token.scope,
        expires=timezone.now() - timedelta(seconds=1),
    )
    response = requests.get(
        user_url(api_url, customer),
        headers={"Authorization": f"Bearer {expired_value}"},
        timeout=TIMEOUT,
    )
    body = assert_json_error(response, 401, "invalid_token")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert body["error_description"]
    backend.revoke_token(issuer + "/revoke", token=backend.token["access_token"])
    assert_json_error(backend.get(user_url(api_url, customer)), 401, "invalid_token")


def _checksum(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_token_in_the_query_string_is_refused(backend, api_url, customer):
    """RFC 9700 4.3.2: an access token in the URL is an invalid_request."""
    response = requests.get(
        user_url(api_url, customer),
        params={"access_token": backend.token["access_token"]},
        timeout=TIMEOUT,
    )
    assert_json_error(response, 400, "invalid_request")


def test_unknown_user_is_404(backend, api_url):
    """A well-formed reference that names nobody: 404 unknown_user."""
    for ref in ("email:nobody%40example.com", "sub:AAAAAAAAAAAAAAAAAAAAAA"):
        for suffix in ("", "/history"):
            response = backend.get(f"{api_url}/users/{ref}{suffix}")
            assert_json_error(response, 404, "unknown_user")


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("ana%40example.com", id="no-prefix"),
        pytest.param("email:", id="empty-email"),
        pytest.param("phone:%2B5511999999999", id="unknown-kind"),
        pytest.param("email:a%00b%40example.com", id="nul"),
        pytest.param("email:" + "a" * 400 + "%40example.com", id="too-long"),
        pytest.param("id:1", id="database-id"),
    ],
)
def test_malformed_user_reference_is_400(backend, api_url, ref):
    """A reference that is not email:<address> or sub:<subject>: 400 invalid_request."""
    assert_json_error(backend.get(f"{api_url}/users/{ref}"), 400, "invalid_request")


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        pytest.param("POST", "", id="post-state"),
        pytest.param("DELETE", "", id="delete-state"),
        pytest.param("PUT", "/history", id="put-history"),
        pytest.param("GET", "/records", id="get-records"),
        pytest.param("PATCH", "/records", id="patch-records"),
    ],
)
def test_wrong_method_is_405(backend, api_url, customer, method, suffix):
    """Each endpoint answers its own method only: 405 with Allow, in JSON."""
    response = backend.request(method, user_url(api_url, customer, suffix))
    assert_json_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] in ("GET", "POST")


@pytest.mark.parametrize(
    "path", ["/users", "/users/", "/", "/users/email:a%40b.test/history/", "/users/x/y/z"]
)
def test_unknown_path_is_a_json_404(backend, api_url, path):
    """Paths of no endpoint answer a JSON 404 too."""
    assert_json_error(backend.get(api_url + path), 404, "not_found")


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "-1"},
        {"limit": "ten"},
        {"limit": "\u0661\u0660"},  # Arabic-Indic digits: not ASCII
        {"cursor": "abc"},
        {"cursor": "9" * 40},
    ],
)
def test_malformed_pagination_is_400(backend, api_url, customer, params):
    """limit is 1-100 and cursor a previous next_cursor: anything else is invalid_request."""
    response = backend.get(user_url(api_url, customer, "/history"), params=params)
    assert_json_error(response, 400, "invalid_request")


def _bodies():
    """(id, body builder) for every malformed record request: a function of the versions."""

    def good(v):
        return record_body(v)

    return [
        ("not-an-object", lambda v: [good(v)]),
        ("string", lambda v: "granted"),
        ("null", lambda v: None),
        ("missing-purpose", lambda v: {k: x for k, x in good(v).items() if k != "purpose"}),
        ("missing-version", lambda v: {k: x for k, x in good(v).items() if k != "version"}),
        ("missing-action", lambda v: {k: x for k, x in good(v).items() if k != "action"}),
        ("missing-hash", lambda v: {k: x for k, x in good(v).items() if k != "text_sha256"}),
        ("unknown-purpose", lambda v: {**good(v), "purpose": "no-such-purpose"}),
        ("inactive-purpose", lambda v: {**good(v), "purpose": "retired"}),
        ("purpose-not-string", lambda v: {**good(v), "purpose": ["newsletter"]}),
        ("version-string", lambda v: {**good(v), "version": "1"}),
        ("version-bool", lambda v: {**good(v), "version": True}),
        ("version-float", lambda v: {**good(v), "version": 1.0}),
        ("version-zero", lambda v: {**good(v), "version": 0}),
        ("version-huge", lambda v: {**good(v), "version": 10**30}),
        ("version-unknown", lambda v: {**good(v), "version": 9}),
        ("version-stale", lambda v: {**good(v), "purpose": "terms", "version": 1}),
        ("version-draft", lambda v: {**good(v), "purpose": "terms", "version": 3}),
        ("hash-mismatch", lambda v: {**good(v), "text_sha256": "0" * 64}),
        ("hash-other-language", lambda v: {**good(v), "language": "pt-BR"}),
        ("hash-upper-case", lambda v: {**good(v), "text_sha256": v.text_sha256("en").upper()}),
        ("hash-short", lambda v: {**good(v), "text_sha256": "abc"}),
        ("action-unknown", lambda v: {**good(v), "action": "maybe"}),
        ("action-expired", lambda v: {**good(v), "action": "expired"}),
        ("channel-signup", lambda v: {**good(v), "channel": "signup"}),
        ("channel-unknown", lambda v: {**good(v), "channel": "fax"}),
        ("language-unknown", lambda v: {**good(v), "language": "fr"}),
        ("ip-invalid", lambda v: {**good(v), "ip_address": "999.1.1.1"}),
        ("ip-number", lambda v: {**good(v), "ip_address": 2130706433}),
        ("user-agent-object", lambda v: {**good(v), "user_agent": {"a": 1}}),
        ("user-agent-nul", lambda v: {**good(v), "user_agent": "a\x00b"}),
        ("user-agent-huge", lambda v: {**good(v), "user_agent": "a" * 5000}),
        ("collected-at", lambda v: {**good(v), "collected_at": "2024-01-01T00:00:00Z"}),
        ("unknown-field", lambda v: {**good(v), "admin": True}),
    ]


@pytest.mark.parametrize("make_body", [pytest.param(build, id=name) for name, build in _bodies()])
def test_malformed_record_is_400_and_records_nothing(
    backend, api_url, customer, purposes, make_body
):
    """Wrong types, values and versions, and a text hash that is not the version's: 400
    invalid_request with a description; nothing is appended to the ledger."""
    terms = purposes["terms"]
    publish_version(terms, 2)  # terms v1 is now stale
    PurposeVersion.objects.create(purpose=terms, number=3, title_en="draft")
    Purpose.objects.create(key="retired", kind=PurposeKind.CUSTOM, active=False)
    version = purposes["newsletter"].current_version()
    response = backend.post(user_url(api_url, customer, "/records"), json=make_body(version))
    body = assert_json_error(response, 400, "invalid_request")
    assert body["error_description"]
    assert not ConsentRecord.objects.filter(user=customer).exists()


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        pytest.param("application/json", b"{not json", id="broken-json"),
        pytest.param("application/json", b"", id="empty"),
        pytest.param("application/json", b"\xff\xfe{}", id="not-utf8"),
        pytest.param("application/json", b"[" * 5000 + b"]" * 5000, id="deeply-nested"),
        pytest.param("application/json", b'{"a": "' + b"x" * 20000 + b'"}', id="too-large"),
        pytest.param("application/x-www-form-urlencoded", b"purpose=terms", id="form"),
        pytest.param("text/plain", b"{}", id="text"),
        pytest.param(None, b"{}", id="no-content-type"),
    ],
)
def test_malformed_body_is_400(backend, api_url, customer, content_type, data):
    """A body that is not a small JSON document: 400 invalid_request, never a 500."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = backend.post(user_url(api_url, customer, "/records"), data=data, headers=headers)
    if content_type is None:
        # requests sends no Content-Type for raw bytes.
        assert "Content-Type" not in response.request.headers
    assert_json_error(response, 400, "invalid_request")


def test_write_for_unknown_user_is_404(backend, api_url, purposes):
    """Recording for nobody: 404 unknown_user, nothing appended."""
    version = purposes["terms"].current_version()
    response = backend.post(
        f"{api_url}/users/email:ghost%40example.com/records", json=record_body(version)
    )
    assert_json_error(response, 404, "unknown_user")
    assert not ConsentRecord.objects.exists()
