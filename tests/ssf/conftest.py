"""Fixtures of the Shared Signals tests: a loopback SSF push receiver (http.server in a
thread), a receiving client holding an ``ssf:manage`` token, customers who use it, and the
provider's JWKS to verify SETs with."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from django.db import transaction
from django.utils import timezone

from tests.factories import UserFactory, make_client

TIMEOUT = 10
SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
CREDENTIAL_CHANGE = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
ASSURANCE_LEVEL_CHANGE = (
    "https://schemas.openid.net/secevent/caep/event-type/assurance-level-change"
)
TOKEN_CLAIMS_CHANGE = "https://schemas.openid.net/secevent/caep/event-type/token-claims-change"
ACCOUNT_DISABLED = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
ACCOUNT_PURGED = "https://schemas.openid.net/secevent/risc/event-type/account-purged"
CREDENTIAL_COMPROMISE = "https://schemas.openid.net/secevent/risc/event-type/credential-compromise"
VERIFICATION = "https://schemas.openid.net/secevent/ssf/event-type/verification"
STREAM_UPDATED = "https://schemas.openid.net/secevent/ssf/event-type/stream-updated"
RECEIVER_AUTHORIZATION = "Bearer receiver-secret-token"
# The browser session in which customer_of's customers authorized the client.
SESSION = "browser-session-1"


@dataclass
class Pushed:
    headers: dict[str, str]
    body: bytes


@dataclass
class SetReceiver:
    """An RFC 8935 push endpoint on 127.0.0.1 answering ``status`` (202 Accepted)."""

    status: int = 202
    received: list[Pushed] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._arrived:
                    receiver.received.append(
                        Pushed({k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    receiver._arrived.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def wait_for(self, count: int, timeout: float = 5) -> list[Pushed]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
        return self.received


@pytest.fixture(autouse=True)
def ssf_settings(settings) -> None:
    """Loopback receivers allowed, verifications as often as asked, short worker polls."""
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    settings.CIAM_SSF_MIN_VERIFICATION_INTERVAL_SECONDS = 0
    settings.CIAM_WEBHOOKS_RETRY_JITTER = 0
    settings.CIAM_WEBHOOKS_TIMEOUT_SECONDS = 5
    settings.CIAM_WEBHOOKS_POLL_SECONDS = 0.05


@pytest.fixture
def set_receiver() -> Iterator[SetReceiver]:
    receiver = SetReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@dataclass
class ReceiverClient:
    """A relying party that receives SETs: its application and a management session."""

    application: Any
    client_id: str
    token: str
    issuer: str

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return requests.request(
            method, self.issuer + path, headers=headers, timeout=TIMEOUT, **kwargs
        )

    def create_stream(self, receiver_url: str, events: list[str], **extra: Any) -> dict:
        response = self.call(
            "POST",
            "/ssf/streams",
            json={
                "delivery": {
                    "method": "urn:ietf:rfc:8935",
                    "endpoint_url": receiver_url,
                    "authorization_header": RECEIVER_AUTHORIZATION,
                },
                "events_requested": events,
                **extra,
            },
        )
        assert response.status_code == 201, response.text
        return response.json()


def receiver_client_make(issuer: str, *, name: str = "Partner Shop") -> ReceiverClient:
    """A web client whose service account may manage streams, with a fresh token."""
    from oauth2_provider.models import get_application_model

    from ciam.oauth.client_cache import application_cache_forget

    registered = make_client("web", name=name, redirect_uris=["https://rp.example.test/cb"])
    Application = get_application_model()
    Application.objects.filter(client_id=registered.client_id).update(
        client_credentials_enabled=True, allowed_scopes="openid email profile ssf:manage"
    )
    application_cache_forget(registered.client_id)
    response = requests.post(
        issuer + "/token",
        data={"grant_type": "client_credentials", "scope": "ssf:manage"},
        auth=(registered.client_id, registered.client_secret),
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    return ReceiverClient(
        application=Application.objects.get(client_id=registered.client_id),
        client_id=registered.client_id,
        token=response.json()["access_token"],
        issuer=issuer,
    )


@pytest.fixture
def receiver_client(issuer) -> ReceiverClient:
    return receiver_client_make(issuer)


def customer_of(
    application: Any,
    *,
    scopes: list[str] | None = None,
    user: Any = None,
    sid: str | None = SESSION,
) -> Any:
    """A customer who allowed ``application`` (a standing grant of ``scopes``) and, unless
    ``sid`` is None, authorized it in browser session ``sid``."""
    from consent.models import Consent

    user = user or UserFactory()
    Consent.objects.create(
        user=user,
        application=application,
        scopes=scopes or ["openid", "email", "profile"],
        granted_at=timezone.now(),
    )
    if sid is not None:
        session_authorize(application, user, sid)
    return user


def session_authorize(application: Any, user: Any, sid: str) -> Any:
    """``user`` authorized ``application`` in browser session ``sid`` (the authorization
    context its tokens carry)."""
    import secrets
    import time

    from ciam.models import AuthorizationContext

    return AuthorizationContext.objects.create(
        application=application,
        user=user,
        code_hash=secrets.token_hex(32),
        sid=sid,
        auth_time=int(time.time()),
        amr=["pwd"],
        acr="1",
    )


def emit(type: str, user: Any, **data: Any) -> Any:
    """Write outbox event ``type`` about ``user`` in its own committed transaction."""
    from events.services.outbox import event_emit

    with transaction.atomic():
        return event_emit(type=type, user=user, data=data)


def run_worker() -> Any:
    """One pass of the webhooks delivery worker (manage.py events_worker --once)."""
    from webhooks.services.worker import worker_run

    return worker_run(once=True, concurrency=2, poll_seconds=0.05)


def run_ssf_deliver() -> None:
    """One pass of the stream SETs' pusher (manage.py ssf_deliver --once)."""
    import io

    from django.core.management import call_command

    call_command("ssf_deliver", "--once", stdout=io.StringIO())


def verified_claims(issuer: str, token: str) -> tuple[dict, dict]:
    """(header, claims) of SET ``token``, its signature checked with the keys published at
    the transmitter configuration's jwks_uri (jwcrypto)."""
    from jwcrypto import jwk, jws

    configuration = requests.get(issuer + "/.well-known/ssf-configuration", timeout=TIMEOUT)
    keys = jwk.JWKSet.from_json(requests.get(configuration.json()["jwks_uri"], timeout=10).text)
    signed = jws.JWS()
    signed.deserialize(token)
    header = signed.jose_header
    signed.verify(keys.get_key(header["kid"]), alg="RS256")
    return header, json.loads(signed.payload)


@pytest.fixture
def verify_set(issuer) -> Callable[[bytes], tuple[dict, dict]]:
    return lambda body: verified_claims(issuer, body.decode("ascii"))
