"""The monitor's page in the admin: who sees it, what it carries, in both languages."""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings

from console.monitor.access import monitor_ticket_valid
from tests.factories import UserFactory

from .helpers import operator

pytestmark = pytest.mark.django_db
PAGE = "/admin/monitor/"


def _json_block(html: str, name: str) -> dict:
    match = re.search(rf'<script id="{name}" type="application/json">(.*?)</script>', html, re.S)
    assert match, name
    return json.loads(match.group(1))


def test_anonymous_is_sent_to_the_admin_sign_in(client):
    """Not signed in: the admin's sign-in page, as for any admin page."""
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_without_the_permission_gets_403_and_no_sidebar_link(client):
    """Staff without "monitor.view_live_monitor" get 403 and do not see the link."""
    client.force_login(operator(permitted=False))
    assert client.get(PAGE).status_code == 403
    assert PAGE not in client.get("/admin/").content.decode()


def test_customers_never_reach_it(client):
    """A customer (not staff) is sent to the admin sign-in."""
    client.force_login(UserFactory(email="customer@example.com"))
    assert client.get(PAGE).status_code == 302


def test_operator_sees_cards_feed_and_a_session_bound_ticket(client):
    """The page: counter cards with values, the chart and feed areas, the script as a file
    (no inline script under the CSP) and a ticket valid for this session only."""
    user = operator()
    client.force_login(user)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Live monitor",
        "Sign-ins",
        "Sign-ups",
        "Risk challenges",
        "Consent changes",
        "Webhook backlog",
        "Sign-ins per minute by method",
        "Live feed",
    ):
        assert text in html, text
    assert 'src="/static/js/monitor.js"' in html
    assert "script-src 'self'" in response["Content-Security-Policy"]
    # Every script element is a file or a JSON block, never code in the page.
    for tag in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html):
        assert 'type="application/json"' in tag, tag
    config = _json_block(html, "monitor-config")
    assert config["path"] == "/admin/monitor/ws/"
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert monitor_ticket_valid(ticket=config["ticket"], user=user, session_key=session_key)
    assert not monitor_ticket_valid(ticket=config["ticket"], user=user, session_key="other")
    labels = _json_block(html, "monitor-labels")
    assert labels["types"]["user.signed_in"]
    assert labels["states"]["live"] == "Live"
    assert PAGE in client.get("/admin/").content.decode()


def test_page_in_brazilian_portuguese(client):
    """With pt-BR chosen, the page and the script's words are Portuguese."""
    client.force_login(operator())
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"
    html = client.get(PAGE).content.decode()
    assert '<html lang="pt-br"' in html
    labels = _json_block(html, "monitor-labels")
    assert labels["states"]["live"] == "Ao vivo"
    assert labels["states"]["reconnecting"] == "Reconectando…"
    assert "Monitor ao vivo" in html


def test_superuser_needs_no_grant(client):
    """Superusers hold every permission, this one too."""
    client.force_login(UserFactory(email="root@example.com", is_staff=True, is_superuser=True))
    assert client.get(PAGE).status_code == 200


def test_ticket_view_gives_a_fresh_session_bound_ticket(client):
    """Before each reconnect the page fetches a ticket as JSON from an admin view (behind the
    same middleware as the page); it is valid for this session only, never in the page URL."""
    user = operator()
    client.force_login(user)
    response = client.get(PAGE + "ticket/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    ticket = response.json()["ticket"]
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert monitor_ticket_valid(ticket=ticket, user=user, session_key=session_key)
    html = client.get(PAGE).content.decode()
    assert _json_block(html, "monitor-config")["ticketUrl"] == PAGE + "ticket/"


def test_ticket_view_refuses_who_may_not_watch(client):
    """Signed out: the admin sign-in (the page then stops); staff without the permission:
    403 in JSON."""
    assert client.get(PAGE + "ticket/").status_code == 302
    client.force_login(operator(permitted=False))
    response = client.get(PAGE + "ticket/")
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden"}


def test_deploy_check_warns_of_an_in_memory_layer_without_debug(settings):
    """`manage.py check --deploy` warns (monitor.W001) when DEBUG is off and the channel
    layer is in memory; not with Redis, not in DEBUG."""
    from django.core.checks import run_checks

    def ids() -> set[str]:
        return {message.id for message in run_checks(include_deployment_checks=True)}

    settings.DEBUG = False
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert "monitor.W001" in ids()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:6379/2"]},
        }
    }
    assert "monitor.W001" not in ids()
    settings.DEBUG = True
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert "monitor.W001" not in ids()
