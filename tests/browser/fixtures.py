"""Playwright fixtures: Debian's Chromium driven against the live provider.

Defined once (imported by tests/conftest.py) so that one Playwright runs per process.

The relying party (https://rp.example.test) does not exist: its requests are intercepted and
answered with a blank page, and the URLs the browser was sent to are recorded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

# Playwright's sync API keeps an event loop in this thread; the ORM calls made by the tests
# themselves are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
RP_ORIGIN = "https://rp.example.test"
SHOTS = Path(os.environ.get("CIAM_SCREENSHOT_DIR", "/tmp/shots"))  # noqa: S108 - images only
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 812}

# Form controls a person fills in (hidden inputs and buttons carry their own text).
UNLABELLED_CONTROLS_JS = """
() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => !['hidden', 'submit', 'button', 'reset', 'image'].includes(el.type))
  .filter(el => !(el.labels && Array.from(el.labels).some(l => l.textContent.trim()))
                && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML)
"""


@dataclass
class Tab:
    """A page plus what it saw: console messages and the relying party's requests."""

    page: Any
    issuer: str
    console: list[str] = field(default_factory=list)
    rp_requests: list[str] = field(default_factory=list)
    rp_consumed: int = 0

    def goto(self, path_or_url: str) -> Any:
        url = path_or_url if path_or_url.startswith("http") else self.issuer + path_or_url
        return self.page.goto(url)

    def authorize(self, params: dict[str, str]) -> Any:
        return self.goto("/authorize?" + urlencode(params))

    def wait_for_rp(self, timeout_ms: int = 15_000) -> str:
        """Wait for the relying party's next request (after the last one returned); its URL.

        Polls the intercepted requests rather than the navigation: Chromium may first try a
        cross-site redirect outside the interception (reported as a failed navigation) and
        then retry it through the route.
        """
        waited = 0
        while len(self.rp_requests) <= self.rp_consumed and waited < timeout_ms:
            self.page.wait_for_timeout(100)
            waited += 100
        assert len(self.rp_requests) > self.rp_consumed, (
            f"the relying party saw no new request; the page is {self.page.url}"
        )
        self.rp_consumed = len(self.rp_requests)
        url = self.rp_requests[-1]
        self.page.wait_for_url(url)  # the answered navigation, so that the next one can start
        return url

    @property
    def csp_violations(self) -> list[str]:
        return [text for text in self.console if "Content Security Policy" in text]

    def unlabelled_controls(self) -> list[str]:
        return self.page.evaluate(UNLABELLED_CONTROLS_JS)

    def shot(self, name: str) -> None:
        """Full-page screenshots at desktop width and at 375 px (a small phone)."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        size = self.page.viewport_size
        self.page.set_viewport_size(DESKTOP)
        self.page.screenshot(path=str(SHOTS / f"{name}-desktop.png"), full_page=True)
        self.page.set_viewport_size(PHONE)
        self.page.screenshot(path=str(SHOTS / f"{name}-375.png"), full_page=True)
        if size:
            self.page.set_viewport_size(size)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_tab(chromium, issuer) -> Iterator[Any]:
    """Factory for fresh browser contexts (own cookies), e.g. ``open_tab(locale="pt-BR")``."""
    contexts = []

    def _open(locale: str = "en-US", viewport: dict[str, int] | None = None) -> Tab:
        context = chromium.new_context(locale=locale, viewport=viewport or DESKTOP)
        contexts.append(context)
        page = context.new_page()
        tab = Tab(page=page, issuer=issuer)
        page.on("console", lambda message: tab.console.append(message.text))
        page.on("pageerror", lambda error: tab.console.append(f"pageerror: {error}"))

        def answer_as_rp(route) -> None:
            tab.rp_requests.append(route.request.url)
            route.fulfill(
                status=200,
                content_type="text/html",
                body="<!DOCTYPE html><title>Relying party</title><p>Back at the application.",
            )

        context.route(re.compile("^" + re.escape(RP_ORIGIN) + "/.*"), answer_as_rp)
        return tab

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def tab(open_tab) -> Tab:
    return open_tab()
