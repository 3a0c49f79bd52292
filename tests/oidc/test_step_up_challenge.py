"""RFC 9470 (OAuth 2.0 Step Up Authentication Challenge): a resource server introspects the
access token, reads ``acr`` and ``auth_time``, and challenges a token that falls short; the
client asks for a stronger or fresher sign-in and the new token is accepted."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from authlib.oauth2.rfc6750 import InvalidTokenError
from requests.utils import parse_dict_header

from sessions_ctx.constants import ACR_RANK
from tests.factories import UserFactory, make_client
from tests.mfa.conftest import enrol, enter_code, sign_out, start

from .conftest import TIMEOUT, backdate_authentication

pytestmark = pytest.mark.live


class InsufficientUserAuthenticationError(InvalidTokenError):
    """RFC 9470 3: the token is valid but the user's authentication falls short."""

    error = "insufficient_user_authentication"


@dataclass
class Policy:
    """What the protected resource needs: a minimum acr and/or a maximum age of sign-in."""

    acr: str = ""
    max_age: int | None = None


class ResourceServer:
    """A protected resource on loopback that introspects bearer tokens (RFC 7662) with its
    own client credentials and answers 401 with an RFC 9470 challenge when ``policy`` is
    not met, 200 with the token's sub and acr when it is."""

    def __init__(self, introspection_endpoint: str, client_id: str, secret: str) -> None:
        self.policy = Policy()
        self.seen: list[dict] = []
        resource = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                authorization = self.headers.get("Authorization", "")
                token = authorization.removeprefix("Bearer ")
                data = requests.post(
                    introspection_endpoint,
                    data={"token": token},
                    auth=(client_id, secret),
                    timeout=TIMEOUT,
                ).json()
                resource.seen.append(data)
                status, headers, body = resource.decide(data)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                payload = json.dumps(body).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/resource"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def decide(self, data: dict) -> tuple[int, list[tuple[str, str]], dict]:
        if not data.get("active"):
            error = InvalidTokenError(realm="api")
            return 401, error.get_headers(), {"error": error.error}
        policy = self.policy
        if policy.acr and ACR_RANK.get(data.get("acr", ""), 0) < ACR_RANK[policy.acr]:
            challenge = InsufficientUserAuthenticationError(
                "A different authentication level is required",
                extra_attributes={"acr_values": policy.acr},
            )
            return 401, challenge.get_headers(), {"error": challenge.error}
        if policy.max_age is not None and time.time() - data["auth_time"] > policy.max_age:
            challenge = InsufficientUserAuthenticationError(
                "More recent authentication is required",
                extra_attributes={"max_age": str(policy.max_age)},
            )
            return 401, challenge.get_headers(), {"error": challenge.error}
        return 200, [], {"sub": data["sub"], "acr": data.get("acr")}


@pytest.fixture
def resource_server(metadata) -> Iterator[ResourceServer]:
    registered = make_client("service", name="Orders API")
    server = ResourceServer(
        metadata["introspection_endpoint"], registered.client_id, registered.client_secret
    )
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def call(resource: ResourceServer, access_token: str) -> requests.Response:
    return requests.get(
        resource.url, headers={"Authorization": f"Bearer {access_token}"}, timeout=TIMEOUT
    )


def challenge_of(response: requests.Response) -> dict[str, str]:
    """The client's reading of an RFC 9470 challenge (RFC 6750 3 auth-params)."""
    assert response.status_code == 401, response.text
    scheme, _, params = response.headers["WWW-Authenticate"].partition(" ")
    assert scheme == "Bearer"
    return parse_dict_header(params)


def test_token_below_the_acr_is_challenged_and_the_stepped_up_token_accepted(
    rp, browser, password, resource_server
):
    """A token from a password-only sign-in (acr 1) is refused with
    insufficient_user_authentication and acr_values="2"; the client sends acr_values=2, the
    user enters their second factor, and the new token (acr 2) is accepted."""
    enrolled = enrol(UserFactory())
    # A remembered browser: the next sign-in asks for the password only.
    first = rp.authorization_request()
    page = start(browser, first.params, enrolled.email, password)
    enter_code(browser, page, enrolled.code(), remember=True)
    sign_out(browser)
    weak_request = rp.authorization_request()
    weak = rp.exchange(
        start(browser, weak_request.params, enrolled.email, password).headers["Location"],
        weak_request,
    )
    resource_server.policy = Policy(acr="2")

    refused = call(resource_server, weak["access_token"])
    assert resource_server.seen[-1]["acr"] == "1"
    challenge = challenge_of(refused)
    assert challenge["error"] == "insufficient_user_authentication"
    assert challenge["error_description"]
    assert challenge["acr_values"] == "2"

    step_up = rp.authorization_request(acr_values=challenge["acr_values"])
    page = start(browser, step_up.params)
    assert page.status_code == 200
    assert "/account/mfa/verify/" in page.url
    strong = rp.exchange(enter_code(browser, page, enrolled.code()).headers["Location"], step_up)
    assert rp.verify_id_token(strong["id_token"], nonce=step_up.nonce).claims["acr"] == "2"

    accepted = call(resource_server, strong["access_token"])
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["acr"] == "2"
    assert resource_server.seen[-1]["auth_time"] >= resource_server.seen[0]["auth_time"]


def test_token_from_an_old_sign_in_is_challenged_with_max_age(
    rp, browser, user, password, resource_server
):
    """A token whose auth_time is an hour old is refused with max_age="300"; the client sends
    max_age=300, the user signs in again, and the new token (fresh auth_time) is accepted."""
    rp.sign_in(email=user.email, password=password)
    backdate_authentication(browser, 3600)
    old_request = rp.authorization_request()
    old = rp.exchange(rp.authorize(old_request), old_request)
    resource_server.policy = Policy(max_age=300)

    challenge = challenge_of(call(resource_server, old["access_token"]))
    assert time.time() - resource_server.seen[-1]["auth_time"] >= 3600
    assert challenge["error"] == "insufficient_user_authentication"
    assert challenge["max_age"] == "300"

    fresh_request = rp.authorization_request(max_age=challenge["max_age"])
    # OIDC Core 3.1.2.1: the sign-in is older than max_age, so the user signs in again.
    fresh = rp.exchange(
        rp.authorize(fresh_request, email=user.email, password=password), fresh_request
    )
    accepted = call(resource_server, fresh["access_token"])
    assert accepted.status_code == 200, accepted.text
    assert time.time() - resource_server.seen[-1]["auth_time"] < 60


def test_introspection_reports_acr_and_auth_time_of_code_tokens(rp, user, password, issuer):
    """Introspection of an access token and of a refresh token from a code (and of the
    access token refreshed from it) carries the authorization's acr and auth_time, as the
    ID token says."""
    request, tokens = rp.sign_in(email=user.email, password=password)
    claims = rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims
    introspected = [rp.introspect(tokens["access_token"]).json()]
    refreshed = rp.refresh(tokens["refresh_token"])  # the first access token ends here
    introspected += [
        rp.introspect(refreshed["access_token"]).json(),
        rp.introspect(refreshed["refresh_token"]).json(),
    ]
    for data in introspected:
        assert data["active"] is True
        assert data["acr"] == claims["acr"] == "1"
        assert data["auth_time"] == claims["auth_time"]


def test_client_credentials_tokens_carry_no_user_authentication(rp, metadata):
    """A token without a user (client_credentials) has no acr or auth_time to report."""
    registered = make_client("service", name="Batch job")
    token = requests.post(
        metadata["token_endpoint"],
        data={"grant_type": "client_credentials"},
        auth=(registered.client_id, registered.client_secret),
        timeout=TIMEOUT,
    ).json()["access_token"]
    data = rp.introspect(token).json()
    assert data["active"] is True
    assert "acr" not in data
    assert "auth_time" not in data
