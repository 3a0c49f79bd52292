"""Clients of the long tests: a browser-like visitor signing in through the hosted pages of
whichever node it is pointed at, the OAuth calls of a relying party and a back end, and a
recorder of every answer a load received."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from django.core import signing

from .servers import ISSUER

TIMEOUT = 15
# console/monitor/access.py: the salt of the ticket a monitor page gives its socket.
TICKET_SALT = "console.monitor.ticket"


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def token_checksum(token: str) -> str:
    """How the token tables name a token (django-oauth-toolkit's ``token_checksum``)."""
    return hashlib.sha256(token.encode()).hexdigest()


def jwt_header(token: str) -> dict[str, Any]:
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


class Visitor:
    """A browser: cookies kept across nodes (a cookie ignores the port, as behind one load
    balancer), redirects followed while they stay on the provider (relative, or under the
    issuer: sent to the node in use)."""

    def __init__(self, base: str, *, recorder: Recorder | None = None) -> None:
        self.base = base
        self.recorder = recorder
        self.session = requests.Session()
        self.session.headers["Accept"] = "text/html,application/xhtml+xml,*/*;q=0.8"

    def at(self, base: str) -> Visitor:
        """The same browser, talking to another node from now on."""
        self.base = base
        return self

    def _url(self, url: str) -> str:
        if url.startswith(ISSUER):
            url = url[len(ISSUER) :]
        return url if url.startswith("http") else self.base + url

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        def send() -> requests.Response:
            return self.session.request(
                method, self._url(url), allow_redirects=False, timeout=TIMEOUT, **kwargs
            )

        if self.recorder is None:
            return send()
        response = self.recorder.call("page", send)
        assert response is not None, f"no answer to {method} {url}"
        return response

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self._send("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self._send("POST", url, **kwargs)

    def follow(self, response: requests.Response) -> requests.Response:
        for _ in range(10):
            location = response.headers.get("Location", "")
            if response.status_code not in (301, 302, 303) or not (
                location.startswith("/") or location.startswith(ISSUER)
            ):
                return response
            response = self.get(location)
        return response

    def sign_in(self, email: str, password: str, *, page: str = "/accounts/login/") -> Any:
        """Load the sign-in page (or the page an authorization redirected to) and post the
        password form; the answer to the post, not followed."""
        form = self.get(page)
        assert form.status_code == 200, (form.status_code, form.text[-300:])
        return self.post(
            form.url,
            data={
                "csrfmiddlewaretoken": csrf_token(form.text),
                "login": email,
                "password": password,
            },
            headers={"Referer": form.url},
        )

    def sign_out(self) -> requests.Response:
        page = self.get("/accounts/logout/")
        assert page.status_code == 200, page.status_code
        return self.post(
            "/accounts/logout/",
            data={"csrfmiddlewaretoken": csrf_token(page.text)},
            headers={"Referer": page.url},
        )

    def authorize(
        self,
        client: dict[str, str],
        *,
        email: str = "",
        password: str = "",
        on_signed_in: Callable[[], None] | None = None,
    ) -> dict[str, str]:
        """An authorization code request to its end, through the sign-in form when asked
        (``on_signed_in`` called once the password was accepted); the parameters of the
        redirect to the client (code, state, iss)."""
        params = {
            "response_type": "code",
            "client_id": client["client_id"],
            "redirect_uri": client["redirect_uri"],
            "scope": "openid email offline_access",
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
        }
        response = self.follow(self.get("/authorize?" + urlencode(params)))
        if response.status_code == 200 and "/accounts/login/" in response.url:
            assert email, "the sign-in form was shown"
            response = self.post(
                response.url,
                data={
                    "csrfmiddlewaretoken": csrf_token(response.text),
                    "login": email,
                    "password": password,
                },
                headers={"Referer": response.url},
            )
            assert response.status_code == 302, ("sign-in", response.status_code)
            if on_signed_in is not None:
                on_signed_in()
            response = self.follow(response)
        location = response.headers.get("Location", "")
        assert response.status_code in (302, 303), (response.status_code, response.url)
        assert location.startswith(client["redirect_uri"]), (location, response.text[-500:])
        answer = query_of(location)
        assert answer.get("state") == params["state"], answer
        return answer


def token_request(base: str, client: dict[str, str], **data: str) -> requests.Response:
    """POST /token with client_secret_basic."""
    return requests.post(
        base + "/token",
        data=data,
        auth=(client["client_id"], client["client_secret"]),
        timeout=TIMEOUT,
    )


def redeem(base: str, client: dict[str, str], code: str) -> requests.Response:
    return token_request(
        base,
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=client["redirect_uri"],
    )


# --- the live monitor ------------------------------------------------------------------------


@contextlib.contextmanager
def monitor_socket(url: str, *, operator: dict[str, Any], secret_key: str) -> Iterator[Any]:
    """A socket to the monitor process at ``url``, past its hello (the operator's session
    and the ticket its page would give) and its first snapshot."""
    from websockets.sync.client import connect

    with connect(
        url + "/admin/monitor/ws/",
        origin="http://127.0.0.1",  # type: ignore[arg-type]
        additional_headers={"Cookie": f"ciam_session={operator['session_key']}"},
        open_timeout=10,
    ) as socket:
        ticket = signing.dumps(
            {"u": operator["id"], "s": _session_digest(operator["session_key"])},
            key=secret_key,
            salt=TICKET_SALT,
        )
        socket.send(json.dumps({"kind": "hello", "ticket": ticket}))
        first = json.loads(socket.recv(timeout=10))
        assert first["kind"] == "snapshot", first
        yield socket


def _session_digest(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]


def receive_event(socket: Any, event_type: str, *, timeout: float) -> dict[str, Any]:
    """The first live event of ``event_type`` on ``socket`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {event_type} event within {timeout} s"
        try:
            message = json.loads(socket.recv(timeout=remaining))
        except TimeoutError:
            continue
        if message.get("kind") == "event" and message["event"].get("type") == event_type:
            return message["event"]


# --- load ------------------------------------------------------------------------------------


@dataclass
class Answer:
    """One answer a load received (or the error instead of one)."""

    kind: str
    started: float
    ended: float
    status: int  # 0: no HTTP answer at all
    retry_after: str = ""
    content_type: str = ""
    body: str = ""
    error: str = ""
    url: str = ""


@dataclass
class Recorder:
    """Every answer of every load thread, and what the provider said it stored."""

    answers: list[Answer] = field(default_factory=list)
    access_tokens: list[str] = field(default_factory=list)
    refresh_tokens: list[str] = field(default_factory=list)
    consent_records: list[str] = field(default_factory=list)
    sign_ins: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, kind: str, send: Callable[[], requests.Response]) -> requests.Response | None:
        started = time.monotonic()
        try:
            response = send()
        except requests.RequestException as error:
            self._add(Answer(kind, started, time.monotonic(), 0, error=repr(error)))
            return None
        self._add(
            Answer(
                kind,
                started,
                time.monotonic(),
                response.status_code,
                retry_after=response.headers.get("Retry-After", ""),
                content_type=response.headers.get("Content-Type", ""),
                body=(
                    f"{dict(response.headers)} {response.text[:2000]}"
                    if response.status_code >= 400
                    else ""
                ),
                url=response.request.url or "",
            )
        )
        return response

    def _add(self, answer: Answer) -> None:
        with self._lock:
            self.answers.append(answer)

    def stored(self, *, access: str = "", refresh: str = "", record: str = "") -> None:
        with self._lock:
            if access:
                self.access_tokens.append(access)
            if refresh:
                self.refresh_tokens.append(refresh)
            if record:
                self.consent_records.append(record)

    def signed_in(self) -> None:
        with self._lock:
            self.sign_ins += 1

    def between(self, start: float, end: float) -> list[Answer]:
        """Answers to requests sent in [start, end)."""
        with self._lock:
            return [answer for answer in self.answers if start <= answer.started < end]


class Load:
    """Threads repeating their ``step`` until stopped: each step's requests go through the
    recorder; an assertion inside a step only ends that step (the thread carries on)."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.failures: list[str] = []

    def add(self, name: str, step: Callable[[Recorder], None], *, pause: float = 0.0) -> None:
        def run() -> None:
            while not self._stop.is_set():
                try:
                    step(self.recorder)
                except AssertionError as error:
                    # An unexpected answer mid-flow (recorded already): start the flow again.
                    self.failures.append(f"{name}: {error}"[:500])
                    self._stop.wait(0.05)
                except Exception as error:
                    self.failures.append(f"{name}: {error!r}"[:500])
                    self._stop.wait(0.05)
                if pause:
                    self._stop.wait(pause)

        self._threads.append(threading.Thread(target=run, name=name, daemon=True))

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> Recorder:
        self._stop.set()
        for thread in self._threads:
            thread.join(TIMEOUT + 5)
        return self.recorder


# --- a webhook receiver ------------------------------------------------------------------------


@dataclass
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    at: float


class WebhookReceiver:
    """An HTTP receiver on a loopback port chosen before it listens (down until ``start``):
    every POST recorded, answered 200 after ``delay`` seconds."""

    def __init__(self, port: int, *, delay: float = 0.0) -> None:
        self.port = port
        self.delay = delay
        self.received: list[Received] = []
        self.in_flight = 0
        self._lock = threading.Lock()
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> WebhookReceiver:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {key.lower(): value for key, value in self.headers.items()}
                with receiver._lock:
                    receiver.received.append(
                        Received(headers.get("webhook-id", ""), headers, body, time.monotonic())
                    )
                    receiver.in_flight += 1
                try:
                    time.sleep(receiver.delay)
                    with contextlib.suppress(OSError):  # the worker was killed meanwhile
                        self.send_response(200)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                finally:
                    with receiver._lock:
                        receiver.in_flight -= 1

            def log_message(self, format: str, *args: Any) -> None:
                return

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def all(self) -> list[Received]:
        with self._lock:
            return list(self.received)
