"""OpenID Connect Front-Channel Logout 1.0: the page after sign-out loads the logout URIs of
the session's clients in hidden frames, then continues where the sign-out goes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from django.core.exceptions import ValidationError

from ciam.models import Application
from ciam.services.frontchannel_logout import (
    SESSION_KEY_FRONTCHANNEL_LOGOUT,
    frontchannel_logout_remember,
)
from sessions_ctx.signals import session_ended
from tests.conftest import Browser, Client
from tests.factories import make_client

FCL_ORIGIN = "https://fcl.example.test"


class PageParts(HTMLParser):
    """What a relying party's test needs from the page: frames, scripts, inline code, the
    Continue link."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.frames: list[dict[str, str | None]] = []
        self.scripts: list[str] = []
        self.inline_scripts = 0
        self.inline_styles = 0
        self.continue_href: str | None = None
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("style") is not None:
            self.inline_styles += 1
        if tag == "iframe":
            self.frames.append(values)
        elif tag == "script":
            self._in_script = True
            if values.get("src"):
                self.scripts.append(values["src"] or "")
        elif tag == "style":
            self.inline_styles += 1
        elif tag == "a" and values.get("id") == "frontchannel-logout-continue":
            self.continue_href = values.get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    @property
    def frame_urls(self) -> list[str]:
        return [str(frame.get("src")) for frame in self.frames]


def fcl_client(
    name: str,
    path: str,
    *,
    session_required: bool = True,
    origin: str = FCL_ORIGIN,
    post_logout_redirect_uri: str = "",
) -> Client:
    """A first-party web client with a front-channel logout URI on its redirect URI's
    origin (set as the admin form saves it: validated by Application.clean)."""
    redirect_uri = f"{origin}/callback"
    registered = make_client(
        "web",
        name=name,
        redirect_uris=[redirect_uri],
        post_logout_redirect_uris=[post_logout_redirect_uri] if post_logout_redirect_uri else [],
        first_party=True,
    )
    set_frontchannel(registered.client_id, origin + path, session_required)
    return Client(
        registered.client_id, registered.client_secret, redirect_uri, post_logout_redirect_uri
    )


def set_frontchannel(client_id: str, uri: str, session_required: bool = True) -> None:
    application = Application.objects.get(client_id=client_id)
    application.frontchannel_logout_uri = uri
    application.frontchannel_logout_session_required = session_required
    application.full_clean()
    application.save()


def sign_in(rp, user, password) -> dict:
    request, tokens = rp.sign_in(email=user.email, password=password, scope="openid")
    return {
        "tokens": tokens,
        "claims": rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims,
    }


def csp_directives(response: requests.Response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        name, *values = part.split()
        assert name not in directives, f"{name} twice in {policy}"
        directives[name] = values
    return directives


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


@pytest.fixture
def logged_out_page_after_accounts_logout(settings) -> Iterator[None]:
    """/accounts/logout/ ends at the logged-out page, which shows the frames a
    session_ended receiver kept for it in the fresh session."""

    def remember(sender, request, sid, user_id, **kwargs) -> None:
        if request is not None:  # None: ended from elsewhere, no browser to show frames
            frontchannel_logout_remember(request=request, sid=sid, user_id=user_id)

    settings.ACCOUNT_LOGOUT_REDIRECT_URL = "oidc:logged-out"
    session_ended.connect(remember, dispatch_uid="tests.frontchannel_logout_remember")
    yield
    session_ended.disconnect(dispatch_uid="tests.frontchannel_logout_remember")


def logout_direct(browser: Browser, rp, id_token: str) -> requests.Response:
    return browser.get(
        "/logout",
        params={
            "id_token_hint": id_token,
            "post_logout_redirect_uri": rp.client.post_logout_redirect_uri,
            "state": "st-7",
        },
    )


def logout_confirmed(browser: Browser, rp) -> requests.Response:
    page = browser.get(
        "/logout",
        params={
            "client_id": rp.client.client_id,
            "post_logout_redirect_uri": rp.client.post_logout_redirect_uri,
            "state": "st-7",
        },
    )
    assert page.status_code == 200
    assert "/logout/confirm" in page.text
    return browser.post(
        "/logout/confirm",
        data={"csrfmiddlewaretoken": browser.csrf(page.text), "confirm": "yes"},
        headers={"Referer": page.url},
    )


def logout_accounts(browser: Browser) -> requests.Response:
    page = browser.get("/accounts/logout/")
    assert page.status_code == 200, page.status_code
    response = browser.post(
        "/accounts/logout/",
        data={"csrfmiddlewaretoken": browser.csrf(page.text)},
        headers={"Referer": page.url},
    )
    assert response.status_code in (302, 303), response.text[:300]
    return browser.follow_local(response)


@pytest.mark.live
def test_discovery_announces_frontchannel_logout(metadata):
    """Front-Channel Logout 1.0 3: supported, with iss and sid."""
    assert metadata["frontchannel_logout_supported"] is True
    assert metadata["frontchannel_logout_session_supported"] is True


@pytest.mark.live
@pytest.mark.parametrize("way_out", ["direct", "confirmed"])
def test_end_session_page_frames_the_clients_of_the_session(
    make_rp, browser, issuer, user, password, way_out
):
    """/logout (with a hint, or confirmed without one) answers with a page framing each
    client of the session: iss and sid added when the client asked for them, its own query
    kept; the CSP frames exactly those origins; the page continues to the
    post_logout_redirect_uri with state, through the script or the Continue link."""
    main = make_rp(
        fcl_client(
            "Main",
            "/fcl?tenant=a",
            post_logout_redirect_uri=FCL_ORIGIN + "/bye",
        )
    )
    plain = make_rp(
        fcl_client(
            "Plain", "/logout", origin="https://plain.example.test:8443", session_required=False
        )
    )
    session = sign_in(main, user, password)
    sign_in(plain, user, password)
    sid = session["claims"]["sid"]

    if way_out == "direct":
        response = logout_direct(browser, main, session["tokens"]["id_token"])
    else:
        response = logout_confirmed(browser, main)
    assert response.status_code == 200, (response.status_code, response.headers)
    assert "text/html" in response.headers["Content-Type"]
    assert "no-store" in response.headers["Cache-Control"]
    parts = PageParts(response.text)
    main_url, plain_url = parts.frame_urls
    assert main_url.startswith(FCL_ORIGIN + "/fcl?")
    assert query(main_url) == {"tenant": "a", "iss": issuer, "sid": sid}
    assert plain_url == "https://plain.example.test:8443/logout"
    assert all("hidden" in frame for frame in parts.frames)
    assert parts.continue_href == FCL_ORIGIN + "/bye?state=st-7"
    assert parts.scripts == ["/static/js/frontchannel-logout.js"]
    assert (parts.inline_scripts, parts.inline_styles) == (0, 0)
    assert "You have signed out" in response.text

    directives = csp_directives(response)
    assert directives["frame-src"] == [
        "'self'",
        FCL_ORIGIN,
        "https://plain.example.test:8443",
    ]
    assert directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]

    # Signed out: the session's tokens are gone, and the logged-out page no longer frames.
    assert main.refresh_error(session["tokens"]["refresh_token"]) == "invalid_grant"
    again = browser.get("/logged-out")
    assert PageParts(again.text).frames == []
    assert "frame-src" not in again.headers["Content-Security-Policy"]


@pytest.mark.live
def test_without_redirect_the_page_continues_to_the_logged_out_page(
    make_rp, browser, user, password
):
    """A hint without post_logout_redirect_uri: the frames, then the logged-out page."""
    rp = make_rp(fcl_client("Main", "/fcl"))
    session = sign_in(rp, user, password)
    response = browser.get("/logout", params={"id_token_hint": session["tokens"]["id_token"]})
    assert response.status_code == 200
    parts = PageParts(response.text)
    assert len(parts.frames) == 1
    assert parts.continue_href == "/logged-out"


@pytest.mark.live
def test_accounts_logout_shows_the_frames_on_the_logged_out_page(
    make_rp, browser, issuer, user, password, logged_out_page_after_accounts_logout
):
    """Signing out from the account pages (/accounts/logout/) lands on the logged-out page,
    which frames the session's clients once; reloading it shows no frames."""
    rp = make_rp(fcl_client("Main", "/fcl"))
    session = sign_in(rp, user, password)
    page = logout_accounts(browser)
    assert page.status_code == 200
    assert "/logged-out" in page.url
    parts = PageParts(page.text)
    assert parts.frame_urls == [
        f"{FCL_ORIGIN}/fcl?iss={requests.utils.quote(issuer, safe='')}"
        f"&sid={session['claims']['sid']}"
    ]
    assert parts.continue_href == "/logged-out"
    assert csp_directives(page)["frame-src"] == ["'self'", FCL_ORIGIN]
    assert rp.refresh_error(session["tokens"]["refresh_token"]) == "invalid_grant"
    assert PageParts(browser.get("/logged-out").text).frames == []


@pytest.mark.live
def test_only_clients_of_the_ended_session_with_a_uri_are_framed(
    make_rp, browser, issuer, rp, user, password
):
    """A client without a front-channel logout URI is not framed; a client the user signed
    in to from another browser (another sid) is not framed; a client whose URI was removed
    since is not framed."""
    mine = make_rp(fcl_client("Mine", "/mine", post_logout_redirect_uri=FCL_ORIGIN + "/bye"))
    removed = make_rp(fcl_client("Removed", "/removed", origin="https://removed.example.test"))
    other_browser = Browser(issuer)
    theirs = make_rp(
        fcl_client("Theirs", "/theirs", origin="https://theirs.example.test"),
        browser=other_browser,
    )
    session = sign_in(mine, user, password)
    sign_in(rp, user, password)  # the fixture client: no front-channel logout URI
    sign_in(removed, user, password)
    sign_in(theirs, user, password)
    Application.objects.filter(client_id=removed.client.client_id).update(
        frontchannel_logout_uri=""
    )
    response = logout_direct(browser, mine, session["tokens"]["id_token"])
    assert response.status_code == 200
    parts = PageParts(response.text)
    assert [urlsplit(url).path for url in parts.frame_urls] == ["/mine"]
    assert csp_directives(response)["frame-src"] == ["'self'", FCL_ORIGIN]
    other_browser.session.close()


@pytest.mark.live
def test_without_front_channel_clients_sign_out_redirects_as_before(rp, browser, user, password):
    """No client of the session registered a front-channel logout URI: the end-session
    endpoint redirects at once, as RP-Initiated Logout alone does."""
    session = sign_in(rp, user, password)
    response = logout_direct(browser, rp, session["tokens"]["id_token"])
    assert response.status_code in (302, 303)
    assert response.headers["Location"] == rp.client.post_logout_redirect_uri + "?state=st-7"


@pytest.mark.live
def test_logout_without_a_session_frames_nothing(make_rp, browser, user, password):
    """A second sign-out with the same hint ends nothing: no frames, just the redirect."""
    rp = make_rp(fcl_client("Main", "/fcl", post_logout_redirect_uri=FCL_ORIGIN + "/bye"))
    session = sign_in(rp, user, password)
    assert logout_direct(browser, rp, session["tokens"]["id_token"]).status_code == 200
    again = logout_direct(browser, rp, session["tokens"]["id_token"])
    assert again.status_code in (302, 303)
    assert again.headers["Location"] == FCL_ORIGIN + "/bye?state=st-7"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "pending",
    [
        "garbage",
        {"at": "now", "urls": ["https://fcl.example.test/fcl"]},
        {"at": 0, "urls": ["https://fcl.example.test/fcl"]},
        {"urls": ["https://fcl.example.test/fcl"]},
        {"at": None, "urls": "https://fcl.example.test/fcl"},
    ],
    ids=["not-a-dict", "bad-time", "too-old", "no-time", "urls-not-a-list"],
)
def test_malformed_or_stale_pending_frames_are_ignored(client, pending):
    """Whatever the session holds under the key, the logged-out page shows, without frames
    and without a 500; the key is gone after."""
    session = client.session
    session[SESSION_KEY_FRONTCHANNEL_LOGOUT] = pending
    session.save()
    response = client.get("/logged-out")
    assert response.status_code == 200
    assert b"<iframe" not in response.content
    assert SESSION_KEY_FRONTCHANNEL_LOGOUT not in client.session


@pytest.mark.django_db
def test_pending_frames_keep_only_http_urls(client):
    """A remembered entry that is not an http(s) URL is dropped; the others are framed."""
    session = client.session
    session[SESSION_KEY_FRONTCHANNEL_LOGOUT] = {
        "at": int(time.time()),
        "urls": ["javascript:alert(1)", 42, "https://fcl.example.test/fcl?sid=1"],
    }
    session.save()
    response = client.get("/logged-out")
    parts = PageParts(response.content.decode())
    assert parts.frame_urls == ["https://fcl.example.test/fcl?sid=1"]
    assert response.headers["Content-Security-Policy"].endswith(
        "; frame-src 'self' https://fcl.example.test"
    )


BAD_URIS = [
    ("fcl.example.test/fcl", "absolute URL"),
    ("javascript:alert(1)", "absolute URL"),
    ("https://fcl.example.test/fcl#frag", "fragment"),
    ("http://fcl.example.test/fcl", "https"),
    ("https://user:pw@fcl.example.test/fcl", "user name"),
    ("https://fcl.example.test:99999/fcl", "absolute URL"),
    ("https://elsewhere.example.test/fcl", "redirect URI"),
    ("https://fcl.example.test:8443/fcl", "redirect URI"),
    ("http://127.0.0.1:9000/fcl", "redirect URI"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("uri", "message"), BAD_URIS)
def test_malformed_uri_refused(uri, message):
    """A front-channel logout URI that is not absolute http(s), has a fragment or
    credentials, is http off loopback, or is not on a redirect URI's origin (Front-Channel
    Logout 1.0 2) is refused with a readable error."""
    registered = make_client("web", redirect_uris=["https://fcl.example.test/callback"])
    with pytest.raises(ValidationError) as error:
        set_frontchannel(registered.client_id, uri)
    assert message in " ".join(error.value.message_dict["frontchannel_logout_uri"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("redirect_uri", "uri"),
    [
        ("https://fcl.example.test/callback", " https://fcl.example.test:443/fcl?x=1 "),
        ("http://127.0.0.1:9000/callback", "http://127.0.0.1:9000/fcl"),
        ("http://localhost:9000/callback", "http://localhost:9000/fcl"),
    ],
)
def test_uri_on_a_redirect_uri_origin_is_accepted(redirect_uri, uri):
    """https on a redirect URI's origin (default port spelled or not), and http on loopback
    while the issuer is http, are accepted; spaces around are trimmed."""
    registered = make_client("web", redirect_uris=[redirect_uri])
    set_frontchannel(registered.client_id, uri)
    assert Application.objects.get(client_id=registered.client_id).frontchannel_logout_uri == (
        uri.strip()
    )


@pytest.mark.django_db
def test_admin_form_shows_the_fields_and_the_uri_error(admin_client):
    """The admin's client form has the front-channel fields and shows the URI problem next to
    the field."""
    page = admin_client.get("/admin/ciam/application/add/")
    assert page.status_code == 200
    for name in ("frontchannel_logout_uri", "frontchannel_logout_session_required"):
        assert f'name="{name}"'.encode() in page.content
    response = admin_client.post(
        "/admin/ciam/application/add/",
        {
            "name": "Bad",
            "client_id": "fcl-admin",
            "client_type": "confidential",
            "authorization_grant_type": "authorization-code",
            "redirect_uris": "https://rp.example.com/cb",
            "algorithm": "RS256",
            "subject_type": "public",
            "session_bound_refresh_tokens": "online",
            "frontchannel_logout_uri": "https://other.example.com/fcl",
            "client_secret": "x" * 40,
            "hash_client_secret": "on",
        },
    )
    assert response.status_code == 200
    assert "scheme, host and port of a redirect URI" in response.content.decode()
    assert not Application.objects.filter(client_id="fcl-admin").exists()


# --- in a real browser ------------------------------------------------------------------------


class FrameReceiver:
    """A relying party on loopback: records each request path (with query), answers with a
    small page."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                receiver.requests.append(self.path)
                body = b"<!DOCTYPE html><title>Relying party</title><p>ok"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        # Threads: Chromium may hold an idle connection open while it opens the next one.
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def frame_receiver() -> Iterator[FrameReceiver]:
    receiver = FrameReceiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.mark.live
@pytest.mark.browser
def test_browser_loads_the_frame_then_lands_at_the_post_logout_redirect_uri(
    open_tab, make_rp, browser, frame_receiver, user, password, issuer
):
    """In Chromium: signing out through /logout loads the client's front-channel logout URI
    (with iss and sid) in its frame, without a CSP violation, then the script takes the
    browser on to the post_logout_redirect_uri."""
    from tests.browser.test_sign_in_flows import sign_in as fill_sign_in

    origin = frame_receiver.origin
    registered = make_client(
        "web",
        name="Loopback app",
        redirect_uris=[origin + "/callback"],
        post_logout_redirect_uris=[origin + "/bye"],
        first_party=True,
    )
    set_frontchannel(registered.client_id, origin + "/fcl")
    client = Client(
        registered.client_id, registered.client_secret, origin + "/callback", origin + "/bye"
    )
    rp = make_rp(client)
    tab = open_tab()
    request = rp.authorization_request()
    tab.goto(request.url)
    fill_sign_in(tab, user.email, password)
    tab.page.wait_for_url(origin + "/callback?*")
    tokens = rp.exchange(tab.page.url, request)
    sid = rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims["sid"]

    tab.page.goto(
        f"{rp.metadata['end_session_endpoint']}?id_token_hint={tokens['id_token']}"
        f"&post_logout_redirect_uri={origin}/bye&state=done",
        wait_until="commit",
    )
    tab.page.wait_for_url(origin + "/bye?state=done", timeout=10_000)
    frames = [path for path in frame_receiver.requests if path.startswith("/fcl")]
    assert len(frames) == 1, frame_receiver.requests
    assert query(frames[0]) == {"iss": issuer, "sid": sid}
    assert frame_receiver.requests[-1] == "/bye?state=done"
    assert tab.csp_violations == []
