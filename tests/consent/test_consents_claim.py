"""The ``consents`` claim (scope ``consents``, consent/claims.py): a user's purpose decisions
as one client may see them, in its ID tokens and at UserInfo."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from django.db import connection
from django.test import Client as DjangoClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from joserfc import jwt
from joserfc.jwk import KeySet
from oauth2_provider.models import get_access_token_model, get_application_model

from consent.claims import client_purpose_decisions, consents_claim
from consent.models import ClientPurpose, Purpose, PurposeKind, PurposeVersion
from consent.services.ledger import consent_record, purpose_version_publish, purpose_withdraw
from tests.conftest import query_of
from tests.factories import UserFactory, make_client

TIMEOUT = 10
AccessToken = get_access_token_model()
Application = get_application_model()


def make_purpose(key: str, *, versions: int = 1, **fields) -> Purpose:
    purpose = Purpose.objects.create(key=key, kind=fields.pop("kind", PurposeKind.CUSTOM), **fields)
    for number in range(1, versions + 1):
        version = PurposeVersion.objects.create(
            purpose=purpose, number=number, title_en=f"{key} v{number}", summary_en="Summary."
        )
        purpose_version_publish(version=version, change="material")
    return purpose


def link(purpose: Purpose, client_id: str, *, required: bool = False) -> None:
    ClientPurpose.objects.create(
        application=Application.objects.get(client_id=client_id),
        purpose=purpose,
        required=required,
    )


def grant(user, purpose: Purpose, action: str = "granted"):
    return consent_record(
        user=user, version=purpose.current_version(), action=action, channel="signup"
    )


@pytest.fixture
def other_client(db):
    return make_client("web", name="Elsewhere", redirect_uris=["https://else.test/cb"])


@pytest.fixture
def purposes(web_client, other_client) -> dict[str, Purpose]:
    """terms (required of every client), newsletter (offered by the web client), partner
    (offered by another client), analytics (linked to none), retired (inactive, linked)."""
    made = {
        "terms": make_purpose("terms", kind=PurposeKind.TERMS_OF_SERVICE, required=True),
        "newsletter": make_purpose("newsletter", kind=PurposeKind.MARKETING_EMAIL),
        "partner": make_purpose("partner", kind=PurposeKind.PARTNER_SHARING),
        "analytics": make_purpose("analytics", kind=PurposeKind.ANALYTICS),
        "retired": make_purpose("retired"),
    }
    link(made["newsletter"], web_client.client_id)
    link(made["retired"], web_client.client_id)
    link(made["partner"], other_client.client_id)
    return made


@pytest.fixture
def decided_user(purposes, user):
    """The user has decided every purpose (so the consent step asks nothing)."""
    for key in ("terms", "newsletter", "partner", "analytics", "retired"):
        grant(user, purposes[key])
    Purpose.objects.filter(key="retired").update(active=False)
    return user


# --- which decisions a client sees ----------------------------------------------------------


@pytest.mark.django_db
def test_client_sees_its_purposes_and_the_required_ones(decided_user, web_client):
    """The claim holds the purposes linked to the client and the required ones; not another
    client's, not unlinked ones, not inactive ones."""
    application = Application.objects.get(client_id=web_client.client_id)
    decisions = client_purpose_decisions(user=decided_user, application=application)
    assert set(decisions) == {"terms", "newsletter"}
    for decision in decisions.values():
        assert decision["granted"] is True
        assert decision["version"] == 1
        assert isinstance(decision["at"], int)
        assert abs(decision["at"] - timezone.now().timestamp()) < 60


@pytest.mark.django_db
def test_latest_decision_wins(purposes, user, web_client):
    """A later withdrawal or decline shows as granted false; a grant of a newer version
    shows its number."""
    application = Application.objects.get(client_id=web_client.client_id)
    grant(user, purposes["newsletter"])
    purpose_withdraw(user=user, purpose=purposes["newsletter"], channel="portal")
    grant(user, purposes["terms"])
    version = PurposeVersion.objects.create(purpose=purposes["terms"], number=2, title_en="v2")
    purpose_version_publish(version=version, change="material")
    grant(user, purposes["terms"])
    decisions = client_purpose_decisions(user=user, application=application)
    assert decisions["newsletter"]["granted"] is False
    assert decisions["terms"] == {**decisions["terms"], "granted": True, "version": 2}


@pytest.mark.django_db
def test_decisions_are_the_users_own(purposes, user, web_client):
    """Another user's records never appear; a user who decided nothing gets {}."""
    other = UserFactory(email=f"other-{secrets.token_hex(3)}@example.com")
    grant(other, purposes["terms"])
    application = Application.objects.get(client_id=web_client.client_id)
    assert consents_claim(user, application, frozenset({"openid", "consents"})) == {"consents": {}}


@pytest.mark.django_db
def test_no_claim_without_the_scope(decided_user, web_client, django_assert_num_queries):
    """Without the consents scope the provider returns nothing and reads nothing."""
    application = Application.objects.get(client_id=web_client.client_id)
    with django_assert_num_queries(0):
        assert consents_claim(decided_user, application, frozenset({"openid", "email"})) == {}


@pytest.mark.django_db
def test_the_claim_is_one_query(decided_user, web_client, django_assert_num_queries):
    """The decisions a client sees are read in one query."""
    application = Application.objects.get(client_id=web_client.client_id)
    with django_assert_num_queries(1):
        claim = consents_claim(decided_user, application, frozenset({"openid", "consents"}))
    assert set(claim["consents"]) == {"terms", "newsletter"}


def _userinfo_queries(user, application, scope: str) -> tuple[int, dict]:
    value = secrets.token_urlsafe(32)
    AccessToken.objects.create(
        user=user,
        application=application,
        token=value,
        scope=scope,
        expires=timezone.now() + timedelta(hours=1),
    )
    client = DjangoClient()
    client.get("/userinfo", HTTP_AUTHORIZATION=f"Bearer {value}")  # warm-up (prepared lookup)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/userinfo", HTTP_AUTHORIZATION=f"Bearer {value}")
    assert response.status_code == 200, response.content
    return len(queries), response.json()


@pytest.mark.django_db
def test_userinfo_costs_one_more_query_with_the_scope_only(decided_user, web_client):
    """UserInfo stays one query per bearer token; the consents scope adds exactly one."""
    application = Application.objects.get(client_id=web_client.client_id)
    without, plain = _userinfo_queries(decided_user, application, "openid email")
    with_scope, claims = _userinfo_queries(decided_user, application, "openid email consents")
    assert "consents" not in plain
    assert set(claims["consents"]) == {"terms", "newsletter"}
    assert with_scope == without + 1


# --- relying party's view (Authlib against the live provider) ------------------------------


@pytest.fixture
def rp_session(issuer, web_client, monkeypatch):
    """Authlib's client for the first-party web client, and the provider's metadata."""
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    metadata = requests.get(issuer + "/.well-known/openid-configuration", timeout=TIMEOUT).json()

    def session(scope: str) -> OAuth2Session:
        return OAuth2Session(
            web_client.client_id,
            web_client.client_secret,
            scope=scope,
            redirect_uri=web_client.redirect_uri,
            default_timeout=TIMEOUT,
        )

    return metadata, session


def sign_in(browser, metadata, session, user, password) -> dict:
    url, state = session.create_authorization_url(
        metadata["authorization_endpoint"], nonce=secrets.token_urlsafe(8)
    )
    location = browser.authorize(query_of(url), email=user.email, password=password)
    return dict(
        session.fetch_token(
            metadata["token_endpoint"], authorization_response=location, state=state
        )
    )


def id_token_claims(metadata, token: str) -> dict:
    keys = KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=TIMEOUT).json())
    return dict(jwt.decode(token, keys, algorithms=["RS256", "ES256"]).claims)


def test_discovery_lists_the_scope_and_the_claim(rp_session):
    """Discovery names the consents scope and claim (and the back-end API scopes)."""
    metadata, _session = rp_session
    assert "consents" in metadata["scopes_supported"]
    assert "consents" in metadata["claims_supported"]


def test_id_token_and_userinfo_carry_consents_with_the_scope(
    rp_session, browser, decided_user, password
):
    """scope=openid consents: the ID token and UserInfo hold the decisions this client may
    see, as {key: {granted, version, at}}."""
    metadata, make_session = rp_session
    session = make_session("openid consents")
    token = sign_in(browser, metadata, session, decided_user, password)
    assert set(token["scope"].split()) == {"openid", "consents"}
    claims = id_token_claims(metadata, token["id_token"])
    assert set(claims["consents"]) == {"terms", "newsletter"}
    assert claims["consents"]["terms"]["granted"] is True
    assert claims["consents"]["terms"]["version"] == 1
    assert isinstance(claims["consents"]["terms"]["at"], int)
    userinfo = session.get(metadata["userinfo_endpoint"])
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["consents"] == claims["consents"]
    assert userinfo.json()["sub"] == claims["sub"]


def test_no_consents_claim_without_the_scope(rp_session, browser, decided_user, password):
    """Without the consents scope neither the ID token nor UserInfo carries the claim."""
    metadata, make_session = rp_session
    session = make_session("openid email")
    token = sign_in(browser, metadata, session, decided_user, password)
    assert "consents" not in id_token_claims(metadata, token["id_token"])
    userinfo = session.get(metadata["userinfo_endpoint"]).json()
    assert "consents" not in userinfo
    assert userinfo["email"] == decided_user.email


def test_withdrawal_shows_at_the_next_call(rp_session, browser, decided_user, password, purposes):
    """A withdrawal is in the very next UserInfo answer and in the next (refreshed) ID
    token: nothing is cached."""
    metadata, make_session = rp_session
    session = make_session("openid consents")
    token = sign_in(browser, metadata, session, decided_user, password)
    assert session.get(metadata["userinfo_endpoint"]).json()["consents"]["newsletter"]["granted"]
    purpose_withdraw(user=decided_user, purpose=purposes["newsletter"], channel="portal")
    after = session.get(metadata["userinfo_endpoint"]).json()["consents"]
    assert after["newsletter"]["granted"] is False
    assert after["terms"]["granted"] is True
    refreshed = session.refresh_token(
        metadata["token_endpoint"], refresh_token=token["refresh_token"]
    )
    claims = id_token_claims(metadata, refreshed["id_token"])
    assert claims["consents"]["newsletter"]["granted"] is False


def test_withdrawal_from_the_account_page_shows_in_the_next_token(
    rp_session, browser, decided_user, password
):
    """The customer withdraws on /account/consents/ (one click): the client's next UserInfo
    answer and its next refreshed ID token say so."""
    metadata, make_session = rp_session
    session = make_session("openid consents")
    token = sign_in(browser, metadata, session, decided_user, password)
    page = browser.get("/account/consents/")
    assert page.status_code == 200
    response = browser.post(
        "/account/consents/",
        data={
            "csrfmiddlewaretoken": browser.csrf(page.text),
            "action": "withdraw",
            "purpose": "newsletter",
        },
        headers={"Referer": page.url},
    )
    assert response.status_code == 302
    after = session.get(metadata["userinfo_endpoint"]).json()["consents"]
    assert after["newsletter"]["granted"] is False
    refreshed = session.refresh_token(
        metadata["token_endpoint"], refresh_token=token["refresh_token"]
    )
    assert (
        id_token_claims(metadata, refreshed["id_token"])["consents"]["newsletter"]
        == after["newsletter"]
    )
