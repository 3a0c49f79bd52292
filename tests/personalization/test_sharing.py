"""The ``interests`` claims and the back-end API: a relying party gets a customer's
interests, best contact window and segments only with the scope (or the claim asked for one
by one) and only while the customer grants a personalization purpose that client may see;
withdrawing deletes the derived data and the next answer says nothing."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet
from oauth2_provider.models import get_application_model

from consent.models import ClientPurpose, ConsentAction, ConsentRecord, Purpose, PurposeKind
from consent.services.ledger import consent_record, purpose_withdraw
from personalization.claims import interests_claim
from personalization.models import Insight, Interest, Segment, SegmentMembership
from personalization.services.consent import personalization_switch
from personalization.services.forget import personalization_forget
from personalization.services.insight import insight_refresh
from tests.conftest import query_of
from tests.consent.purposes_helpers import make_purpose
from tests.factories import UserFactory, service_session

TIMEOUT = 10
Application = get_application_model()


@pytest.fixture
def purpose(db) -> Purpose:
    return make_purpose("personalization", kind=PurposeKind.PERSONALIZATION)


def grant(user: Any, purpose: Purpose) -> None:
    consent_record(
        user=user,
        version=purpose.current_version(),
        action=ConsentAction.GRANTED,
        channel="portal",
    )


def link(purpose: Purpose, client_id: str) -> None:
    ClientPurpose.objects.get_or_create(
        application=Application.objects.get(client_id=client_id), purpose=purpose
    )


def derive(user: Any) -> Insight:
    """What a training run leaves for ``user``: two interests, a window, a segment."""
    Interest.objects.create(
        user=user, kind="brand", key="Acme", score=0.9, evidence={"purchase": 3}
    )
    Interest.objects.create(user=user, kind="category", key="Shoes", score=0.4)
    segment = Segment.objects.create(key="acme-fans", name_en="Acme fans", conditions=[])
    SegmentMembership.objects.create(segment=segment, user=user)
    return insight_refresh(
        user=user,
        best_hours=[19, 20, 12],
        best_weekdays=[2, 4],
        time_zone="America/Sao_Paulo",
        window_from_prior=False,
        recommendations=[{"item": "sku-2", "score": 0.5, "because": "sku-1"}],
    )


@pytest.fixture
def customer(purpose, user) -> Any:
    grant(user, purpose)
    derive(user)
    return user


@pytest.fixture
def rp(issuer, web_client, monkeypatch):
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


def sign_in(browser, metadata, session, user, password, **extra: str) -> dict:
    url, state = session.create_authorization_url(
        metadata["authorization_endpoint"], nonce=secrets.token_urlsafe(8), **extra
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


EXPECTED_INTERESTS = [
    {"kind": "brand", "name": "Acme", "score": 0.9, "source": "inferred"},
    {"kind": "category", "name": "Shoes", "score": 0.4, "source": "inferred"},
]


def test_discovery_names_the_scope_and_its_claims(rp):
    metadata, _session = rp
    assert "interests" in metadata["scopes_supported"]
    assert {"interests", "best_contact_window", "segments"} <= set(metadata["claims_supported"])


def test_relying_party_gets_the_claims_with_scope_and_consent(
    rp, browser, customer, password, purpose, web_client
):
    """scope=openid interests, the client offers the personalization purpose and the
    customer grants it: the ID token and UserInfo carry interests, window and segments."""
    link(purpose, web_client.client_id)
    metadata, make_session = rp
    session = make_session("openid interests")
    token = sign_in(browser, metadata, session, customer, password)
    claims = id_token_claims(metadata, token["id_token"])
    assert claims["interests"] == EXPECTED_INTERESTS
    assert claims["segments"] == ["acme-fans"]
    assert claims["best_contact_window"] == {
        "hours": [19, 20, 12],
        "weekdays": [2, 4],
        "time_zone": "America/Sao_Paulo",
        "from_population": False,
    }
    userinfo = session.get(metadata["userinfo_endpoint"]).json()
    assert userinfo["interests"] == EXPECTED_INTERESTS
    assert "recommendations" not in userinfo

    # Withdrawn: the derived data is gone and the next answer has no interests.
    purpose_withdraw(user=customer, purpose=purpose, channel="portal")
    assert not Interest.objects.filter(user=customer).exists()
    assert not Insight.objects.filter(user=customer).exists()
    assert not SegmentMembership.objects.filter(user=customer).exists()
    after = session.get(metadata["userinfo_endpoint"]).json()
    assert "interests" not in after
    assert "segments" not in after


def test_no_claims_without_consent_or_for_a_client_without_the_purpose(
    rp, browser, user, password, purpose, web_client
):
    """The scope alone releases nothing: not to a client the purpose is not linked to, and
    not while the customer has not granted the purpose."""
    derive(user)
    metadata, make_session = rp
    session = make_session("openid interests")
    token = sign_in(browser, metadata, session, user, password)
    assert "interests" not in id_token_claims(metadata, token["id_token"])
    assert "interests" not in session.get(metadata["userinfo_endpoint"]).json()

    link(purpose, web_client.client_id)
    assert "interests" not in session.get(metadata["userinfo_endpoint"]).json()
    grant(user, purpose)
    assert session.get(metadata["userinfo_endpoint"]).json()["interests"] == EXPECTED_INTERESTS
    ClientPurpose.objects.all().delete()
    assert "interests" not in session.get(metadata["userinfo_endpoint"]).json()


def test_claims_parameter_asks_for_one_claim(rp, browser, customer, password, purpose, web_client):
    """Without the scope, ``claims={"userinfo": {"interests": null}}`` releases that claim
    alone, at UserInfo only; the ID token holds none of them."""
    link(purpose, web_client.client_id)
    metadata, make_session = rp
    session = make_session("openid")
    token = sign_in(
        browser,
        metadata,
        session,
        customer,
        password,
        claims=json.dumps({"userinfo": {"interests": None}}),
    )
    assert "interests" not in id_token_claims(metadata, token["id_token"])
    userinfo = session.get(metadata["userinfo_endpoint"]).json()
    assert userinfo["interests"] == EXPECTED_INTERESTS
    assert "segments" not in userinfo
    assert "best_contact_window" not in userinfo


def test_consent_page_lists_a_requested_interests_claim(
    issuer, browser, customer, password, purpose, third_party_client
):
    """A third-party client asking for the claim one by one: the consent page names it in
    words, and the grant records it."""
    link(purpose, third_party_client.client_id)
    params = {
        "response_type": "code",
        "client_id": third_party_client.client_id,
        "redirect_uri": third_party_client.redirect_uri,
        "scope": "openid",
        "state": "s",
        "claims": json.dumps({"userinfo": {"interests": None}}),
    }
    page = browser.follow_local(browser.get("/authorize?" + requests.compat.urlencode(params)))
    page = browser.login_form(page, customer.email, password)
    assert "/consent/" in page.url
    assert "Your interests" in page.text
    location = browser.authorize(params, consent="allow")
    assert "code=" in location
    consent = customer.consents.get()
    assert "interests" in consent.claims


@pytest.mark.django_db
def test_claim_provider_reads_the_insight_in_few_queries(
    customer, purpose, web_client, django_assert_max_num_queries
):
    """The claims come precomputed: one query reads the insight row with the consent check
    beside it (the personalization purposes' ids are kept by the process)."""
    application = Application.objects.get(client_id=web_client.client_id)
    link(purpose, web_client.client_id)
    interests_claim(customer, application, frozenset({"openid", "interests"}))
    with django_assert_max_num_queries(1):
        claims = interests_claim(customer, application, frozenset({"openid", "interests"}))
    assert claims["interests"] == EXPECTED_INTERESTS
    assert interests_claim(customer, application, frozenset({"openid"})) == {}


@pytest.mark.django_db
def test_withdrawing_one_of_two_personalization_purposes_forgets_what_mixed_them(customer, purpose):
    """Two personalization purposes: withdrawing either deletes the derived data at once
    (it was computed from both purposes' interactions) and strips the derived values from
    the customer's earlier events; a second forget finds nothing."""
    from events.models import OutboxEvent

    other = make_purpose("recommendations", kind=PurposeKind.PERSONALIZATION)
    grant(customer, other)
    event = OutboxEvent.objects.filter(
        user=customer, type="personalization.interests_changed"
    ).latest("pk")
    assert event.data["interests"]["value"][0]["name"] == "Acme"
    purpose_withdraw(user=customer, purpose=purpose, channel="portal")
    assert not Interest.objects.filter(user=customer).exists()
    assert not Insight.objects.filter(user=customer).exists()
    event.refresh_from_db()
    assert "interests" not in event.data
    assert personalization_forget(user=customer) == 0


@pytest.mark.django_db
def test_insight_of_a_purpose_the_client_may_not_see_is_not_released(customer, purpose, web_client):
    """An insight computed from the interactions of two purposes reaches only a client
    linked to both."""
    other = make_purpose("partners", kind=PurposeKind.PERSONALIZATION)
    grant(customer, other)
    Insight.objects.filter(user=customer).update(purposes=[purpose.pk, other.pk])
    application = Application.objects.get(client_id=web_client.client_id)
    link(purpose, web_client.client_id)
    scopes = frozenset({"openid", "interests"})
    assert interests_claim(customer, application, scopes) == {}
    link(other, web_client.client_id)
    assert interests_claim(customer, application, scopes)["interests"] == EXPECTED_INTERESTS


@pytest.mark.django_db
def test_switch_off_and_on_writes_the_ledger(customer, purpose):
    """Off: a withdrawal per granted purpose, data deleted; on: a grant of the current
    version; switching to the state it is in writes nothing."""
    assert personalization_switch(user=customer, on=False) == 1
    assert personalization_switch(user=customer, on=False) == 0
    assert not Insight.objects.filter(user=customer).exists()
    assert personalization_switch(user=customer, on=True) == 1
    assert personalization_switch(user=customer, on=True) == 0
    actions = list(
        ConsentRecord.objects.filter(user=customer, purpose=purpose)
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert actions == ["granted", "withdrawn", "granted"]


# --- the back-end API --------------------------------------------------------------------


@pytest.fixture
def backend(issuer, monkeypatch, purpose) -> OAuth2Session:
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    session = service_session(issuer, "personalization:read", name="Campaigns")
    link(purpose, session.client_id)
    return session


def test_api_returns_interests_and_recommendations(issuer, backend, customer):
    url = f"{issuer}/api/personalization/email:{customer.email}"
    response = backend.get(url, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["personalization"] is True
    assert body["purposes"] == ["personalization"]
    assert body["interests"] == EXPECTED_INTERESTS
    assert body["recommendations"] == [{"item": "sku-2", "score": 0.5, "because": "sku-1"}]
    assert body["best_contact_window"]["hours"] == [19, 20, 12]
    assert backend.get(url + "?limit=1", timeout=TIMEOUT).json()["recommendations"]


def test_api_says_nothing_without_consent(issuer, backend, purpose):
    stranger = UserFactory(email="bia@example.com")
    derive(stranger)
    response = backend.get(f"{issuer}/api/personalization/email:bia@example.com", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {"user": "email:bia@example.com", "personalization": False}


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("email:nobody@example.com", 404, None),
        ("nonsense", 400, "invalid_request"),
        ("email:{email}?limit=0", 400, "invalid_request"),
        ("email:{email}?limit=abc", 400, "invalid_request"),
        ("email:{email}?limit=%EF%BC%95", 400, "invalid_request"),
        ("email:{email}/extra", 404, None),
    ],
)
def test_api_malformed_requests_get_json_errors(issuer, backend, customer, path, status, error):
    response = backend.get(
        f"{issuer}/api/personalization/" + path.format(email=customer.email), timeout=TIMEOUT
    )
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    if error:
        assert response.json()["error"] == error


def test_api_needs_its_scope(issuer, customer, monkeypatch):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    url = f"{issuer}/api/personalization/email:{customer.email}"
    assert requests.get(url, timeout=TIMEOUT).status_code == 401
    other = service_session(issuer, "profile:read", name="CRM")
    response = other.get(url, timeout=TIMEOUT)
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert requests.post(url, timeout=TIMEOUT).status_code == 405


@pytest.mark.django_db
def test_claims_parameter_respects_the_clients_allowed_scopes(customer, purpose, web_client):
    """A client whose allowed scopes leave out ``interests`` gets nothing by asking for the
    claim one by one."""
    from ciam.oauth.claim_sources import claim_source_for, with_provided_claims

    application = Application.objects.get(client_id=web_client.client_id)
    link(purpose, web_client.client_id)
    request = {"userinfo": {"interests": None}}
    source = with_provided_claims(
        claim_source_for(customer, client=application),
        user=customer,
        application=application,
        scopes=["openid"],
        claims_request=request,
    )
    assert source.provided["interests"] == EXPECTED_INTERESTS
    application.allowed_scopes = "openid email"
    application.save()
    source = with_provided_claims(
        claim_source_for(customer, client=application),
        user=customer,
        application=application,
        scopes=["openid"],
        claims_request=request,
    )
    assert "interests" not in source.provided


def test_api_refuses_a_huge_limit(issuer, backend, customer):
    response = backend.get(
        f"{issuer}/api/personalization/email:{customer.email}?limit={'9' * 5000}",
        timeout=TIMEOUT,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
