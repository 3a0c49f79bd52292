"""In Chromium: the live monitor served by the ASGI application (uvicorn in a thread of the
test process, on the test database) updates its feed, counters and chart as events commit,
and reconnects after the server went away."""

from __future__ import annotations

import socket as sockets
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections, transaction

from events.services.outbox import event_emit
from tests.browser.fixtures import DESKTOP, Tab
from tests.factories import PASSWORD, UserFactory

from .helpers import operator

pytest.importorskip("websockets", reason="uvicorn needs websockets for WebSocket connections")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with sockets.socket(sockets.AF_INET, sockets.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AsgiServer:
    """ciam.asgi.application under uvicorn in a thread (HTTP and WebSocket)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.server: Any = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def start(self) -> None:
        import uvicorn

        from ciam.asgi import application

        config = uvicorn.Config(
            application,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_level="warning",
            ws="websockets-sansio",
        )
        self.server = uvicorn.Server(config)
        # Signal handlers are only installed from the main thread (uvicorn skips them here).
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            assert self.thread.is_alive(), "uvicorn stopped"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(10)


@pytest.fixture
def asgi_server(settings) -> Iterator[AsgiServer]:
    # Only the snapshot on connect: the page must update from the live messages.
    settings.CIAM_MONITOR_SNAPSHOT_SECONDS = 600
    # Django's ASGI handler runs each request's view on a thread of its own: without this,
    # every request would leave a persistent connection behind (PostgreSQL).
    database = connections.settings["default"]
    max_age = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = 0
    server = AsgiServer(_free_port())
    server.start()
    yield server
    server.stop()
    database["CONN_MAX_AGE"] = max_age


def _tab(chromium: Any, base: str, locale: str = "en-US") -> Tab:
    context = chromium.new_context(locale=locale, viewport=DESKTOP)
    page = context.new_page()
    tab = Tab(page=page, issuer=base)
    page.on("console", lambda message: tab.console.append(message.text))
    page.on("pageerror", lambda error: tab.console.append(f"pageerror: {error}"))
    return tab


def _sign_in_admin(tab: Tab, email: str) -> None:
    tab.goto("/admin/login/?next=/admin/monitor/")
    tab.page.fill("input[name=username]", email)
    tab.page.fill("input[name=password]", PASSWORD)
    tab.page.locator("button[type=submit], input[type=submit]").first.click()
    tab.page.wait_for_url("**/admin/monitor/")


def _emit_committed(type_: str, user: Any, **data: Any) -> None:
    with transaction.atomic():
        event_emit(type=type_, user=user, data=data)


def test_live_page_updates_and_reconnects(chromium, asgi_server):
    """Signed in as staff with the permission, the page goes Live; an event committed in the
    test and a customer's sign-in through the same server appear at the top of the feed,
    the counters and the chart follow; stopping the server shows Reconnecting…, a new one
    makes it Live again."""
    from playwright.sync_api import expect

    staff = operator(email="monitor@example.com")
    customer = UserFactory(email="buyer@example.com")
    tab = _tab(chromium, asgi_server.url)
    page = tab.page
    sockets_opened: list[str] = []
    page.on("websocket", lambda ws: sockets_opened.append(ws.url))
    _sign_in_admin(tab, staff.email)
    state = page.locator("[data-state-text]")
    expect(state).to_have_text("Live", timeout=15_000)
    sign_ins = page.locator('[data-counter="sign_ins"]')
    before = int(sign_ins.inner_text())
    challenges = page.locator('[data-counter="challenges"]')
    challenges_before = int(challenges.inner_text())

    _emit_committed("risk.challenged", customer, action="step_up")
    first = page.locator("[data-feed] li").first
    expect(first).to_have_attribute("data-type", "risk.challenged", timeout=10_000)
    expect(challenges).to_have_text(str(challenges_before + 1), timeout=10_000)
    expect(page.locator("[data-feed-empty]")).to_be_hidden()

    chart_total = page.locator("[data-chart] .monitor-column")
    charted = sum(
        int(chart_total.nth(i).get_attribute("data-total") or 0) for i in range(chart_total.count())
    )

    # A real sign-in through the same ASGI server, in another browser.
    other = _tab(chromium, asgi_server.url)
    other.goto("/accounts/login/")
    other.page.fill("input[name=login]", customer.email)
    other.page.fill("input[name=password]", PASSWORD)
    other.page.locator("form [type=submit]").first.click()
    other.page.wait_for_load_state()
    expect(first).to_have_attribute("data-type", "user.signed_in", timeout=15_000)
    expect(first).to_contain_text("Password")
    assert "buyer" not in page.locator("[data-feed]").inner_text()
    expect(sign_ins).to_have_text(str(before + 1), timeout=10_000)
    expect(page.locator('[data-legend] li[data-method="password"]')).to_be_visible()
    expect(page.locator("[data-legend]")).not_to_contain_text("NaN")
    charted_after = sum(
        int(chart_total.nth(i).get_attribute("data-total") or 0) for i in range(chart_total.count())
    )
    assert charted_after == charted + 1

    for index in range(3):
        _emit_committed("consent.granted", customer, purpose=f"p{index}")
    expect(page.locator('[data-feed] li[data-type="consent.granted"]')).to_have_count(3)
    assert tab.csp_violations == []
    assert not [text for text in tab.console if text.startswith("pageerror")], tab.console
    tab.shot("monitor-live-en")

    asgi_server.stop()
    expect(state).to_have_text("Reconnecting…", timeout=15_000)
    tab.shot("monitor-reconnecting-en")
    restarted = AsgiServer(asgi_server.port)
    restarted.start()
    try:
        expect(state).to_have_text("Live", timeout=20_000)
        _emit_committed("user.created", None, source="import")
        expect(first).to_have_attribute("data-type", "user.created", timeout=10_000)
        # The reconnect fetched a fresh ticket and sent it in the first message: no
        # socket address carries it (access logs keep URLs).
        assert len(sockets_opened) >= 2
        assert all("ticket" not in url for url in sockets_opened), sockets_opened
    finally:
        restarted.stop()


def test_page_in_portuguese(chromium, asgi_server):
    """In pt-BR the page and its connection state speak Portuguese."""
    staff = operator(email="monitor@example.com")
    tab = _tab(chromium, asgi_server.url, locale="pt-BR")
    tab.page.context.add_cookies(
        [{"name": "ciam_language", "value": "pt-br", "url": asgi_server.url}]
    )
    _sign_in_admin(tab, staff.email)
    from playwright.sync_api import expect

    assert tab.page.locator("html").get_attribute("lang") == "pt-br"
    expect(tab.page.locator("[data-state]")).to_have_attribute("data-state", "live", timeout=15_000)
    expect(tab.page.locator("[data-state-text]")).to_have_text("Ao vivo")
    expect(tab.page.locator("#content-main h1")).to_have_text("Monitor ao vivo")
    customer = UserFactory(email="cliente@example.com")
    _emit_committed("user.signed_in", customer, method="passkey")
    expect(tab.page.locator("[data-feed] li").first).to_have_attribute(
        "data-method", "passkey", timeout=10_000
    )
    tab.shot("monitor-live-pt-br")


def test_a_socket_without_the_right_is_refused(chromium, asgi_server):
    """A staff member without the permission never gets the page, and a socket opened from
    their browser with their session is closed with 4403."""
    denied = operator(permitted=False, email="helpdesk@example.com")
    other = _tab(chromium, asgi_server.url)
    other.goto("/admin/login/?next=/admin/")
    other.page.fill("input[name=username]", denied.email)
    other.page.fill("input[name=password]", PASSWORD)
    other.page.locator("button[type=submit], input[type=submit]").first.click()
    other.page.wait_for_load_state()
    response = other.goto("/admin/monitor/")
    assert response.status == 403
    # Their own socket, with their session cookie and a made-up ticket: refused.
    code = other.page.evaluate(
        """() => new Promise((resolve) => {
          const socket = new WebSocket("ws://" + location.host + "/admin/monitor/ws/");
          socket.onopen = () => socket.send(JSON.stringify({kind: "hello", ticket: "forged"}));
          socket.onclose = (event) => resolve(event.code);
          setTimeout(() => resolve(-1), 10000);
        })"""
    )
    assert code == 4403


def test_signing_out_turns_the_page_to_not_allowed(chromium, asgi_server, settings):
    """The operator's session ended elsewhere ("sign out this device": the session deleted)
    closes the open socket at the next re-check; the page's fresh-ticket request is refused
    and it shows "Not allowed" instead of reconnecting."""
    from playwright.sync_api import expect

    settings.CIAM_MONITOR_SNAPSHOT_SECONDS = 0.5
    staff = operator(email="watcher@example.com")
    tab = _tab(chromium, asgi_server.url)
    _sign_in_admin(tab, staff.email)
    state = tab.page.locator("[data-state]")
    expect(state).to_have_attribute("data-state", "live", timeout=15_000)
    from sessions_ctx.models import BrowserSession
    from sessions_ctx.services.sessions import session_revoke

    for record in BrowserSession.objects.filter(user_id=staff.pk, ended_at__isnull=True):
        session_revoke(record=record, reason="signed_out")
    expect(state).to_have_attribute("data-state", "forbidden", timeout=15_000)
