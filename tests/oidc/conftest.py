"""The relying party used by the protocol tests: Authlib's OAuth2Session plus joserfc.

The hosted pages are driven by the ``browser`` fixture (tests/conftest.py); everything a
relying party does itself (authorization URLs with PKCE, code exchange, refresh, ID token
verification against the published JWKS, UserInfo, revocation, introspection) goes through
Authlib, so the provider is checked by a client library it was not written with.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

from profiling.models import ValueSource
from profiling.services.values import profile_update
from tests.conftest import Browser, Client, query_of
from tests.factories import UserFactory, make_client

TIMEOUT = 10


def at_hash_of(access_token: str) -> str:
    """OIDC Core 3.1.3.6: left half of the SHA-256 of the token, base64url (RS256/ES256)."""
    digest = hashlib.sha256(access_token.encode()).digest()
    return urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


@dataclass
class AuthorizationRequest:
    """What the relying party keeps between the redirect and the callback."""

    url: str
    state: str
    nonce: str | None
    code_verifier: str | None

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))


@dataclass
class VerifiedIDToken:
    header: dict[str, Any]
    claims: dict[str, Any]


@dataclass
class RelyingParty:
    """One registered client seen from its own side, talking to the live provider."""

    metadata: dict[str, Any]
    client: Client
    browser: Browser
    public: bool = False
    auth_method: str = "client_secret_basic"
    scope: str = "openid"
    responses: list[requests.Response] = field(default_factory=list)

    def __post_init__(self) -> None:
        method = "none" if self.public else self.auth_method
        self.oauth = OAuth2Session(
            client_id=self.client.client_id,
            client_secret=self.client.client_secret or None,
            token_endpoint_auth_method=method,
            revocation_endpoint_auth_method=method,
            redirect_uri=self.client.redirect_uri,
            scope=self.scope,
            code_challenge_method="S256",
            default_timeout=TIMEOUT,
        )
        # Keep the raw token responses: headers (Cache-Control) are checked too.
        self.oauth.register_compliance_hook("access_token_response", self._keep)
        self.oauth.register_compliance_hook("refresh_token_response", self._keep)

    def _keep(self, response: requests.Response) -> requests.Response:
        self.responses.append(response)
        return response

    @property
    def last_token_response(self) -> requests.Response:
        return self.responses[-1]

    # --- authorization ---------------------------------------------------------------------

    def authorization_request(
        self, *, pkce: bool | None = None, nonce: bool = True, **params: str
    ) -> AuthorizationRequest:
        """An authorization URL built by Authlib (PKCE S256 by default for public clients)."""
        use_pkce = self.public if pkce is None else pkce
        verifier = generate_token(48) if use_pkce else None
        nonce_value = generate_token(16) if nonce else None
        if nonce_value:
            params["nonce"] = nonce_value
        url, state = self.oauth.create_authorization_url(
            self.metadata["authorization_endpoint"], code_verifier=verifier, **params
        )
        return AuthorizationRequest(url, state, nonce_value, verifier)

    def authorize(
        self,
        request: AuthorizationRequest,
        *,
        email: str | None = None,
        password: str | None = None,
        consent: str | None = None,
        method: str = "GET",
        browser: Browser | None = None,
    ) -> str:
        """Send the user-agent through the request; return the Location sent back to us."""
        return (browser or self.browser).authorize(
            request.params, email=email, password=password, consent=consent, method=method
        )

    def callback_params(self, location: str, request: AuthorizationRequest) -> dict[str, str]:
        """The authorization response, checked as a careful client does (RFC 9207, state)."""
        assert location.startswith(self.client.redirect_uri + "?"), location
        params = query_of(location)
        assert params.get("state") == request.state, params
        assert params.get("iss") == self.metadata["issuer"], params
        return params

    def exchange(self, location: str, request: AuthorizationRequest) -> dict[str, Any]:
        """Redeem the code in ``location`` at the token endpoint (Authlib checks state)."""
        self.callback_params(location, request)
        kwargs: dict[str, Any] = {"authorization_response": location, "state": request.state}
        if request.code_verifier:
            kwargs["code_verifier"] = request.code_verifier
        return dict(self.oauth.fetch_token(self.metadata["token_endpoint"], **kwargs))

    def sign_in(
        self,
        *,
        email: str | None = None,
        password: str | None = None,
        consent: str | None = None,
        browser: Browser | None = None,
        **params: str,
    ) -> tuple[AuthorizationRequest, dict[str, Any]]:
        """A whole code flow: authorization request, user-agent, token response."""
        request = self.authorization_request(**params)
        location = self.authorize(
            request, email=email, password=password, consent=consent, browser=browser
        )
        return request, self.exchange(location, request)

    # --- tokens -----------------------------------------------------------------------------

    def redeem_code(self, code: str, **extra: str) -> requests.Response:
        """A raw token request for ``code`` (no Authlib error handling in the way)."""
        data = {"grant_type": "authorization_code", "code": code, **extra}
        data.setdefault("redirect_uri", self.client.redirect_uri)
        return self.token_request(data)

    def token_request(self, data: dict[str, str]) -> requests.Response:
        auth = None
        if self.public:
            data = {"client_id": self.client.client_id, **data}
        else:
            auth = (self.client.client_id, self.client.client_secret)
        return requests.post(self.metadata["token_endpoint"], data=data, auth=auth, timeout=TIMEOUT)

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """Authlib's refresh; raises OAuthError with ``.error`` when refused."""
        return dict(
            self.oauth.refresh_token(self.metadata["token_endpoint"], refresh_token=refresh_token)
        )

    def refresh_error(self, refresh_token: str) -> str:
        with pytest.raises(OAuthError) as failure:
            self.refresh(refresh_token)
        return failure.value.error

    def jwks(self) -> KeySet:
        response = requests.get(self.metadata["jwks_uri"], timeout=TIMEOUT)
        assert response.status_code == 200
        return KeySet.import_key_set(response.json())

    def verify_id_token(
        self,
        id_token: str,
        *,
        nonce: str | None = None,
        access_token: str | None = None,
    ) -> VerifiedIDToken:
        """Signature against JWKS (by kid), then Authlib's ID token claim rules.

        Checks iss, aud, exp, iat (essential), nonce when one was sent, azp when present,
        and at_hash when an access token is given.
        """
        algorithms = self.metadata["id_token_signing_alg_values_supported"]
        token = jwt.decode(id_token, self.jwks(), algorithms=algorithms)
        options = {
            "iss": {"essential": True, "value": self.metadata["issuer"]},
            "aud": {"essential": True, "value": self.client.client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
        }
        params = {"client_id": self.client.client_id, "nonce": nonce}
        if access_token:
            params["access_token"] = access_token
        claims = CodeIDToken(token.claims, token.header, options, params)
        claims.validate(leeway=5)
        if access_token:
            assert claims.get("at_hash") == at_hash_of(access_token)
        return VerifiedIDToken(dict(token.header), dict(claims))

    # --- resource endpoints -----------------------------------------------------------------

    def userinfo(self, access_token: str, how: str = "get") -> requests.Response:
        """UserInfo by GET with Bearer header, POST with header, or POST with form body."""
        url = self.metadata["userinfo_endpoint"]
        bearer = {"Authorization": f"Bearer {access_token}"}
        if how == "get":
            return requests.get(url, headers=bearer, timeout=TIMEOUT)
        if how == "post":
            return requests.post(url, headers=bearer, timeout=TIMEOUT)
        assert how == "body"
        return requests.post(url, data={"access_token": access_token}, timeout=TIMEOUT)

    def revoke(self, token: str, hint: str | None = None) -> requests.Response:
        return self.oauth.revoke_token(
            self.metadata["revocation_endpoint"], token=token, token_type_hint=hint
        )

    def introspect(self, token: str) -> requests.Response:
        return self.oauth.introspect_token(self.metadata["introspection_endpoint"], token=token)


@pytest.fixture
def metadata(issuer, monkeypatch) -> dict[str, Any]:
    """The live provider's discovery document."""
    # Authlib insists on https issuers; the test server runs on http://localhost.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    response = requests.get(issuer + "/.well-known/openid-configuration", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def make_rp(metadata, browser):
    """Build a RelyingParty for a registered client (and optionally another browser)."""

    def build(client: Client, **kwargs: Any) -> RelyingParty:
        kwargs.setdefault("browser", browser)
        return RelyingParty(metadata=metadata, client=client, **kwargs)

    return build


@pytest.fixture
def rp(make_rp, web_client) -> RelyingParty:
    """The first-party confidential web client, authenticating with client_secret_basic."""
    return make_rp(web_client)


@pytest.fixture
def spa_rp(make_rp, spa_client) -> RelyingParty:
    """The public single-page client: no secret, PKCE S256."""
    return make_rp(spa_client, public=True)


@pytest.fixture
def other_web_client(db) -> Client:
    """A second first-party confidential client, for cross-client checks."""
    redirect_uri = "https://other.example.test/callback"
    registered = make_client(
        "web",
        name="Other app",
        redirect_uris=[redirect_uri],
        post_logout_redirect_uris=["https://other.example.test/bye"],
        first_party=True,
    )
    return Client(
        registered.client_id,
        registered.client_secret,
        redirect_uri,
        "https://other.example.test/bye",
    )


@pytest.fixture
def profiled_user(db):
    """A user whose profile fills the profile, phone and address scopes."""
    user = UserFactory(email=f"profiled-{secrets.token_hex(4)}@example.com")
    profile_update(
        user=user,
        changes={
            "given_name": "Ana",
            "family_name": "Silva",
            "nickname": "Aninha",
            "locale": "pt-BR",
            "zoneinfo": "America/Sao_Paulo",
            "phone_number": "+5511987654321",
            "address": {
                "street_address": "Rua Augusta 1500",
                "locality": "São Paulo",
                "region": "SP",
                "postal_code": "01304-001",
                "country": "BR",
            },
        },
        source=ValueSource.IMPORT,
        verified=["phone_number"],
    )
    return user


def backdate_authentication(browser: Browser, seconds: int) -> int:
    """Pretend the browser's session authenticated ``seconds`` earlier; return new auth_time.

    Used instead of sleeping when a test needs "an older sign-in".
    """
    from django.conf import settings
    from django.contrib.sessions.backends.db import SessionStore

    from sessions_ctx.constants import SESSION_KEY_AUTH

    store = SessionStore(session_key=browser.session.cookies[settings.SESSION_COOKIE_NAME])
    state = dict(store[SESSION_KEY_AUTH])
    state["auth_time"] = int(state["auth_time"]) - seconds
    store[SESSION_KEY_AUTH] = state
    store.save()
    return state["auth_time"]


def assert_error_page(response: requests.Response, *, status: int | tuple[int, ...] = 400) -> None:
    """An error page shown to the user: the given status and never a redirect."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert "Location" not in response.headers


def now() -> int:
    return int(time.time())
