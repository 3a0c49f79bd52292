"""OpenID Connect Back-Channel Logout 1.0: logout tokens sent to the clients of an ended
session, verified the way a relying party would (joserfc against the published JWKS)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone
from joserfc import jwt

from ciam.models import BackchannelLogoutDelivery
from tests.conftest import Browser, Client
from tests.factories import make_client

EVENT = "http://schemas.openid.net/event/backchannel-logout"


class Receiver:
    """A relying party's back-channel logout endpoint on loopback: records the logout
    tokens POSTed to it and answers with the next of ``statuses`` (then 200)."""

    def __init__(self) -> None:
        self.tokens: list[tuple[str, str]] = []  # (path, logout_token)
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = parse_qs(self.rfile.read(length).decode())
                receiver.tokens.append((self.path, form.get("logout_token", [""])[0]))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def paths(self) -> list[str]:
        return [path for path, _ in self.tokens]


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True  # the receiver is on loopback
    receiver = Receiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def bcl_client(receiver: Receiver, path: str = "/bcl", name: str = "BCL app") -> Client:
    """A first-party web client whose back-channel logout URI is ``receiver`` + ``path``."""
    redirect_uri = "https://bcl.example.test/callback"
    registered = make_client(
        "web",
        name=name,
        redirect_uris=[redirect_uri],
        first_party=True,
        backchannel_logout_uri=receiver.url + path,
        backchannel_logout_session_required=True,
    )
    return Client(registered.client_id, registered.client_secret, redirect_uri, "")


def sign_in(rp, user, password) -> dict:
    request, tokens = rp.sign_in(email=user.email, password=password, scope="openid")
    return {
        "tokens": tokens,
        "claims": rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims,
    }


def logout_via_end_session(browser: Browser, id_token: str) -> None:
    response = browser.get("/logout", params={"id_token_hint": id_token})
    assert response.status_code in (302, 303), response.text[:300]


def logout_via_allauth(browser: Browser) -> None:
    page = browser.get("/accounts/logout/")
    assert page.status_code == 200, page.status_code
    response = browser.post(
        "/accounts/logout/",
        data={"csrfmiddlewaretoken": browser.csrf(page.text)},
        headers={"Referer": page.url},
    )
    assert response.status_code in (302, 303), response.text[:300]


def verify_logout_token(rp, token: str) -> tuple[dict, dict]:
    """Back-Channel Logout 2.6 as a relying party checks it: signature by JWKS, typ, iss,
    aud, iat/exp, events, sid and sub, no nonce."""
    decoded = jwt.decode(token, rp.jwks(), algorithms=["RS256", "ES256"])
    header, claims = dict(decoded.header), dict(decoded.claims)
    assert header["typ"] == "logout+jwt"
    assert claims["iss"] == rp.metadata["issuer"]
    assert claims["aud"] == rp.client.client_id
    assert claims["exp"] - claims["iat"] == 120
    assert claims["jti"]
    assert claims["events"] == {EVENT: {}}
    assert "nonce" not in claims
    return header, claims


@pytest.mark.live
@pytest.mark.parametrize("way_out", ["end_session", "allauth"])
def test_sign_out_sends_logout_token(make_rp, browser, user, password, receiver, way_out):
    """Signing out through /logout or /accounts/logout/ POSTs a logout token naming the
    session's sid and the client's sub, as in the ID token, and ends the session's tokens."""
    rp = make_rp(bcl_client(receiver))
    session = sign_in(rp, user, password)
    if way_out == "end_session":
        logout_via_end_session(browser, session["tokens"]["id_token"])
    else:
        logout_via_allauth(browser)
    assert receiver.paths() == ["/bcl"]
    _, claims = verify_logout_token(rp, receiver.tokens[0][1])
    assert claims["sid"] == session["claims"]["sid"]
    assert claims["sub"] == session["claims"]["sub"]
    delivery = BackchannelLogoutDelivery.objects.get()
    assert delivery.delivered_at is not None
    assert delivery.next_attempt_at is None
    assert delivery.jti == claims["jti"]
    assert rp.refresh_error(session["tokens"]["refresh_token"]) == "invalid_grant"


@pytest.mark.live
def test_only_clients_of_the_ended_session_with_a_uri_are_told(
    make_rp, browser, issuer, rp, user, password, receiver
):
    """A client without a back-channel logout URI gets nothing; a client signed in from
    another session gets nothing."""
    mine = make_rp(bcl_client(receiver, "/mine", "Mine"))
    other_browser = Browser(issuer)
    theirs = make_rp(bcl_client(receiver, "/theirs", "Theirs"), browser=other_browser)
    session = sign_in(mine, user, password)
    sign_in(rp, user, password)  # the fixture client: no back-channel logout URI
    sign_in(theirs, user, password)
    logout_via_end_session(browser, session["tokens"]["id_token"])
    assert receiver.paths() == ["/mine"]
    assert BackchannelLogoutDelivery.objects.count() == 1
    other_browser.session.close()


@pytest.mark.live
def test_failed_delivery_is_retried_by_the_command(make_rp, browser, user, password, receiver):
    """A receiver answering 500 is recorded with its status and a next attempt; the command
    retries once due, with a fresh token, and records the delivery."""
    receiver.statuses = [500]
    rp = make_rp(bcl_client(receiver))
    session = sign_in(rp, user, password)
    logout_via_end_session(browser, session["tokens"]["id_token"])
    delivery = BackchannelLogoutDelivery.objects.get()
    assert (delivery.attempts, delivery.last_status, delivery.delivered_at) == (1, 500, None)
    assert delivery.last_error == "HTTP 500"
    assert delivery.next_attempt_at > timezone.now()

    call_command("deliver_backchannel_logouts")  # not yet due
    assert len(receiver.tokens) == 1
    BackchannelLogoutDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    call_command("deliver_backchannel_logouts")
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status, delivery.last_error) == (2, 200, "")
    assert delivery.delivered_at is not None
    assert delivery.next_attempt_at is None
    first, second = (token for _, token in receiver.tokens)
    assert verify_logout_token(rp, second)[1]["jti"] != verify_logout_token(rp, first)[1]["jti"]


@pytest.mark.django_db
def test_delivery_gives_up_after_five_attempts(settings):
    """Each failure pushes the next attempt further; after the fifth there is none."""
    from ciam.services.backchannel_logout import backchannel_logouts_deliver_due

    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    registered = make_client(
        "web",
        redirect_uris=["https://x.example.test/cb"],
        backchannel_logout_uri="https://127.0.0.1/bcl",
    )
    delivery = BackchannelLogoutDelivery.objects.create(
        application_id=registered.application_id, sid="s", sub="u", next_attempt_at=timezone.now()
    )
    delays = []
    for _ in range(5):
        before = timezone.now()
        backchannel_logouts_deliver_due(now=timezone.now() + timedelta(days=1))
        delivery.refresh_from_db()
        if delivery.next_attempt_at:
            delays.append((delivery.next_attempt_at - before).total_seconds())
    assert delivery.attempts == 5
    assert delivery.next_attempt_at is None
    assert delivery.delivered_at is None
    assert delays == sorted(delays)
    assert len(delays) == 4
    assert 50 * 60 <= sum(delays) <= 70 * 60  # about an hour in all


@pytest.mark.live
def test_guard_refuses_private_address_when_not_allowed(
    make_rp, browser, user, password, receiver, settings
):
    """With CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES off, a logout URI on loopback is not
    called; the refusal is recorded."""
    rp = make_rp(bcl_client(receiver))
    session = sign_in(rp, user, password)
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    logout_via_end_session(browser, session["tokens"]["id_token"])
    assert receiver.tokens == []
    delivery = BackchannelLogoutDelivery.objects.get()
    assert delivery.last_error.startswith("refused:")
    assert "loopback" in delivery.last_error
    assert delivery.delivered_at is None


@pytest.mark.live
def test_discovery_announces_backchannel_logout(metadata):
    """Discovery 2.1 of Back-Channel Logout: supported, with sid."""
    assert metadata["backchannel_logout_supported"] is True
    assert metadata["backchannel_logout_session_supported"] is True


BAD_URIS = [
    ("rp.example.com/bcl", "absolute URL"),
    ("javascript:alert(1)", "absolute URL"),
    ("https://rp.example.com/bcl#frag", "fragment"),
    ("http://rp.example.com/bcl", "https"),
    ("https://user:pw@rp.example.com/bcl", "user name"),
    ("https://rp.example.com:99999/bcl", "absolute URL"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("uri", "message"), BAD_URIS)
def test_malformed_uri_refused_at_registration(uri, message):
    """client_register refuses a malformed back-channel logout URI with a readable error."""
    with pytest.raises(ValidationError) as error:
        make_client("web", redirect_uris=["https://rp.example.com/cb"], backchannel_logout_uri=uri)
    assert message in " ".join(error.value.message_dict["backchannel_logout_uri"])


@pytest.mark.django_db
@pytest.mark.parametrize(("uri", "message"), BAD_URIS[:4])
def test_malformed_uri_refused_by_create_client(uri, message):
    """create_client --backchannel-logout-uri reports the problem, not a traceback."""
    with pytest.raises(CommandError, match=message):
        call_command(
            "create_client",
            "--name=Bad",
            "--redirect-uri=https://rp.example.com/cb",
            f"--backchannel-logout-uri={uri}",
        )


@pytest.mark.django_db
def test_create_client_registers_backchannel_logout(settings):
    """create_client stores the URI and the sid requirement; http is accepted on loopback
    while the issuer is http (the test issuer is)."""
    from ciam.models import Application

    call_command(
        "create_client",
        "--name=Good",
        "--client-id=bcl-good",
        "--redirect-uri=https://rp.example.com/cb",
        "--backchannel-logout-uri=http://localhost:9000/bcl",
        "--backchannel-logout-session-required",
    )
    client = Application.objects.get(client_id="bcl-good")
    assert client.backchannel_logout_uri == "http://localhost:9000/bcl"
    assert client.backchannel_logout_session_required is True


@pytest.mark.django_db
def test_admin_form_shows_uri_error(admin_client):
    """The admin's client form shows the URI problem next to the field."""
    page = admin_client.get("/admin/ciam/application/add/")
    assert page.status_code == 200
    assert b"backchannel_logout_uri" in page.content
    response = admin_client.post(
        "/admin/ciam/application/add/",
        {
            "name": "Bad",
            "client_id": "bcl-admin",
            "client_type": "confidential",
            "authorization_grant_type": "authorization-code",
            "redirect_uris": "https://rp.example.com/cb",
            "algorithm": "RS256",
            "subject_type": "public",
            "backchannel_logout_uri": "https://rp.example.com/bcl#x",
            "client_secret": "x" * 40,
            "hash_client_secret": "on",
        },
    )
    assert response.status_code == 200
    assert "no fragment" in response.content.decode()


@pytest.mark.django_db
def test_admin_lists_deliveries_read_only(admin_client):
    """Deliveries are listed in the admin and cannot be added or changed there."""
    registered = make_client("web", redirect_uris=["https://x.example.test/cb"])
    delivery = BackchannelLogoutDelivery.objects.create(
        application_id=registered.application_id, sid="s1", sub="u"
    )
    assert admin_client.get("/admin/ciam/backchannellogoutdelivery/").status_code == 200
    assert admin_client.get("/admin/ciam/backchannellogoutdelivery/add/").status_code == 403
    change = admin_client.post(
        f"/admin/ciam/backchannellogoutdelivery/{delivery.pk}/change/", {"sid": "other"}
    )
    assert change.status_code == 403
    delivery.refresh_from_db()
    assert delivery.sid == "s1"
