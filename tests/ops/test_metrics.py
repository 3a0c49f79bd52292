"""/metrics: Prometheus text for the metrics token or the allowed networks only (anyone else
gets a plain 404), bounded labels (URL names, never paths), the provider's own counters,
and the sum over every process sharing PROMETHEUS_MULTIPROC_DIR."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError

from ciam.ops import health, metrics
from events.models import OutboxEvent
from tests.factories import PASSWORD, UserFactory, make_client
from webhooks.models import Delivery, DeliveryStatus, Endpoint

from .conftest import ELSEWHERE, LOOPBACK

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-0123456789"


def _basic(client_id: str, secret: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


# --- access ---------------------------------------------------------------------------------


def test_loopback_reads_prometheus_text(client):
    """From loopback (the default networks) the scrape is Prometheus text, never cached."""
    response = client.get("/metrics", **LOOPBACK)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response["Cache-Control"] == "no-store"
    text = response.content.decode()
    for name in (
        "ciam_http_requests_total",
        "ciam_http_request_duration_seconds",
        "ciam_sign_ins_total",
        "ciam_tokens_issued_total",
        "ciam_risk_decisions_total",
        "ciam_webhook_backlog",
        "ciam_webhook_delivery_seconds",
    ):
        assert f"# TYPE {name}" in text


def test_ipv6_and_mapped_loopback_are_loopback(client):
    """::1 and ::ffff:127.0.0.1 are in the default networks too."""
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:127.0.0.1").status_code == 200


def test_other_addresses_get_the_page_not_found_of_any_unknown_path(client):
    """Not allowed: the same 404 page as a path that does not exist, for every method (no
    405, no CSRF failure that would tell it exists)."""

    def page(path: str) -> str:
        response = client.get(path, **ELSEWHERE)
        assert response.status_code == 404
        # The page carries its own path (the language form's "next") and a CSRF token.
        text = response.content.decode().replace(path, "PATH")
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)

    assert page("/metrics") == page("/no-such-page")
    for method in ("post", "head", "put", "delete"):
        response = getattr(client, method)("/metrics", **ELSEWHERE)
        assert response.status_code == 404, method


def test_the_token_opens_it_from_anywhere(client, settings):
    """With CIAM_METRICS_TOKEN set, "Bearer <token>" (any case of the scheme) is allowed
    from any address; a wrong or missing token is not."""
    settings.CIAM_METRICS_TOKEN = TOKEN
    assert client.get("/metrics", **ELSEWHERE).status_code == 404
    for header in (f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER  {TOKEN} "):
        assert client.get("/metrics", HTTP_AUTHORIZATION=header, **ELSEWHERE).status_code == 200
    for header in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer other"):
        assert client.get("/metrics", HTTP_AUTHORIZATION=header, **ELSEWHERE).status_code == 404


def test_no_token_is_accepted_while_none_is_configured(client):
    """An empty CIAM_METRICS_TOKEN matches nothing, not even an empty Bearer."""
    for header in ("Bearer ", "Bearer", "Bearer  "):
        assert client.get("/metrics", HTTP_AUTHORIZATION=header, **ELSEWHERE).status_code == 404


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer ",
        f"Bearer {TOKEN} {TOKEN}",
        f"Bearer\t{TOKEN}",
        f"Basic {TOKEN}",
        f"Token {TOKEN}",
        f"{TOKEN}",
        "Bearer \u00ff\u00fe\u0000",
        "Bearer " + "x" * 20_000,
        "\u00e9\u00e8 \u00e0",
        "Bearer tok\x00en",
    ],
    ids=lambda value: repr(value[:24]),
)
def test_malformed_authorization_headers_are_refused_not_failed(client, settings, header):
    """Whatever the Authorization header holds: a 404, never a 500."""
    settings.CIAM_METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=header, **ELSEWHERE)
    assert response.status_code == 404


def test_behind_the_proxy_the_forwarded_address_counts(client, settings):
    """Behind the TLS proxy every request comes from loopback: the address that counts is
    the one the proxy forwards (CIAM_TRUSTED_PROXY_COUNT), so the internet stays out."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    forwarded = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    assert client.get("/metrics", **forwarded).status_code == 404
    local = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "127.0.0.1"}
    assert client.get("/metrics", **local).status_code == 200
    # Straight to the application server (no proxy header): its own peer address.
    assert client.get("/metrics", **LOOPBACK).status_code == 200
    # A header shorter than the configured chain: refused, not a 500.
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 2
    assert client.get("/metrics", **forwarded).status_code == 404


def test_configured_networks_replace_loopback(client, settings, caplog):
    """CIAM_METRICS_NETWORKS is the whole list; an invalid entry is logged and left out."""
    settings.CIAM_METRICS_NETWORKS = ["10.0.0.0/8", "not-a-network", "2001:db8::/32"]
    with caplog.at_level(logging.ERROR, logger="ciam.ops.metrics"):
        assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert "not-a-network" in caplog.text
    assert client.get("/metrics", REMOTE_ADDR="2001:db8::5").status_code == 200
    assert client.get("/metrics", **LOOPBACK).status_code == 404
    settings.CIAM_METRICS_NETWORKS = "192.0.2.0/24, 198.51.100.0/24"
    assert client.get("/metrics", REMOTE_ADDR="198.51.100.9").status_code == 200


def test_head_and_other_methods_when_allowed(client):
    """An allowed caller may GET or HEAD; other methods are 405."""
    assert client.head("/metrics", **LOOPBACK).status_code == 200
    assert client.post("/metrics", **LOOPBACK).status_code == 405


# --- requests -------------------------------------------------------------------------------


def test_requests_are_counted_and_timed(client, scrape):
    """A request adds one to its series and one observation to its duration."""
    before = scrape()
    assert client.get("/healthz").status_code == 200
    after = scrape()
    labels = {"endpoint": "ops:healthz", "method": "GET", "status": "200"}
    assert after.value("ciam_http_requests_total", **labels) == (
        before.value("ciam_http_requests_total", **labels) + 1
    )
    assert after.value("ciam_http_request_duration_seconds_count", endpoint="ops:healthz") == (
        before.value("ciam_http_request_duration_seconds_count", endpoint="ops:healthz") + 1
    )


def test_the_endpoint_label_is_the_url_name_never_the_path(client, scrape):
    """/authorize?x=1 counts as oidc:authorize, an unknown path as "other", a static file
    as "static", an unknown method as "other": no path or query reaches a label."""
    before = scrape()
    authorize = client.get("/authorize?x=1")
    missing = client.get("/no-such-page-4711")
    assert missing.status_code == 404
    client.get(django_settings.STATIC_URL + "css/ciam.css")
    brewed = client.generic("BREW", "/healthz")
    assert brewed.status_code == 405
    after = scrape()

    def grew(**labels: str) -> bool:
        name = "ciam_http_requests_total"
        return after.value(name, **labels) == before.value(name, **labels) + 1

    assert grew(endpoint="oidc:authorize", method="GET", status=str(authorize.status_code))
    assert grew(endpoint="other", method="GET", status="404")
    assert grew(endpoint="static", method="GET")
    assert grew(endpoint="ops:healthz", method="other", status="405")
    for fragment in ("/authorize", "x=1", "no-such-page", "4711", "BREW", "ciam.css"):
        assert fragment not in after.text
    # URL names (namespaced or not, e.g. allauth's account_login), never a path or a query.
    assert all(
        "/" not in name and "?" not in name and "=" not in name
        for name in after.label_values("endpoint")
    )


def test_a_failing_metric_never_breaks_the_request(client, monkeypatch, caplog):
    """With the metric store failing, the request is answered and the failure logged."""

    def broken(*args, **kwargs):
        raise OSError("no such multiprocess directory")

    monkeypatch.setattr(metrics.HTTP_REQUESTS, "labels", broken)
    monkeypatch.setattr(metrics, "_failure_logged_at", -3600.0)
    with caplog.at_level(logging.ERROR, logger="ciam.ops.metrics"):
        assert client.get("/healthz").status_code == 200
        assert client.get("/healthz").status_code == 200
    failures = [record for record in caplog.records if "failed" in record.getMessage()]
    assert len(failures) == 1  # once a minute, not once a request


# --- the provider's own counters ------------------------------------------------------------


def test_sign_ins_and_risk_decisions_are_counted(
    client, scrape, django_capture_on_commit_callbacks
):
    """A wrong password counts a failed password sign-in; a good one a successful one, once
    its request is over, and the risk engine's decision about it."""
    user = UserFactory(email="metrics-sign-in@example.com")
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/login/", {"login": user.email, "password": "wrong-1"})
        response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    after = scrape()

    def grew(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert grew("ciam_sign_ins_total", method="password", outcome="failure") == 1
    assert grew("ciam_sign_ins_total", method="password", outcome="success") == 1
    assert grew("ciam_risk_decisions_total", decision="allow") == 1


def test_admin_sign_ins_are_not_customers_sign_ins(client, scrape):
    """An operator's wrong password on the admin's sign-in page is not counted."""
    before = scrape()
    client.post("/admin/login/", {"username": "operator@example.com", "password": "nope"})
    after = scrape()
    labels = {"method": "password", "outcome": "failure"}
    assert after.value("ciam_sign_ins_total", **labels) == before.value(
        "ciam_sign_ins_total", **labels
    )


def test_tokens_issued_are_counted_by_grant(client, scrape):
    """A successful token response counts one for its grant; a refused one counts none."""
    service = make_client("service", name="Metrics CRM")
    before = scrape()
    issued = client.post(
        "/token",
        "grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=_basic(service.client_id, service.client_secret),
    )
    assert issued.status_code == 200, issued.content
    refused = client.post(
        "/token",
        "grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=_basic(service.client_id, "wrong"),
    )
    assert refused.status_code == 401
    after = scrape()
    name = "ciam_tokens_issued_total"
    assert after.value(name, grant="client_credentials") == (
        before.value(name, grant="client_credentials") + 1
    )
    assert after.label_values("grant") <= {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "other",
    }


def test_webhook_backlog_counts_what_active_endpoints_are_owed(scrape):
    """Pending deliveries to active endpoints, computed at scrape time."""
    active = Endpoint.objects.create(name="CRM", url="https://crm.example.test/hook")
    inactive = Endpoint.objects.create(
        name="Old", url="https://old.example.test/hook", active=False
    )
    before = scrape().value("ciam_webhook_backlog")
    for endpoint, status in (
        (active, DeliveryStatus.PENDING),
        (active, DeliveryStatus.PENDING),
        (active, DeliveryStatus.SUCCEEDED),
        (inactive, DeliveryStatus.PENDING),
    ):
        event = OutboxEvent.objects.create(type="user.updated")
        Delivery.objects.create(endpoint=endpoint, event=event, status=status)
    assert scrape().value("ciam_webhook_backlog") == before + 2


def test_webhook_backlog_is_left_out_when_the_database_fails(monkeypatch, scrape):
    """The scrape still answers, without the backlog's sample."""

    def unreachable():
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(health, "bounded_statements", unreachable)
    result = scrape()
    assert "# TYPE ciam_webhook_backlog gauge" in result.text
    assert not [sample for sample in result.samples if sample.name == "ciam_webhook_backlog"]


def test_webhook_delivery_time_is_observed(scrape):
    """webhook_delivery_observe (called by the delivery worker) feeds the histogram."""
    before = scrape()
    metrics.webhook_delivery_observe(duration_ms=250)
    after = scrape()
    name = "ciam_webhook_delivery_seconds"
    assert after.value(f"{name}_count") == before.value(f"{name}_count") + 1
    assert after.value(f"{name}_sum") == pytest.approx(before.value(f"{name}_sum") + 0.25)
    assert after.value(f"{name}_bucket", le="0.25") == before.value(f"{name}_bucket", le="0.25") + 1


# --- several processes ----------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import sys

    import django

    django.setup()

    from django.http import HttpResponse
    from django.test import RequestFactory

    from ciam.ops import health, metrics

    middleware = metrics.MetricsMiddleware(lambda request: HttpResponse("ok"))
    for _ in range(int(sys.argv[1])):
        middleware(RequestFactory().get("/somewhere"))
        metrics.token_issued_record(grant="client_credentials")
    """
)


def _worker(directory: Path, count: int) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    env["DJANGO_SETTINGS_MODULE"] = "ciam.settings"
    subprocess.run(
        [sys.executable, "-c", WORKER, str(count)],
        env=env,
        cwd=django_settings.BASE_DIR,
        check=True,
        timeout=120,
    )


def test_a_scrape_adds_up_every_process_of_the_directory(tmp_path, monkeypatch, scrape):
    """Two processes writing to one PROMETHEUS_MULTIPROC_DIR: any process's scrape shows
    their sum (as granian's workers, each answering some of the scrapes)."""
    directory = tmp_path / "metrics"
    _worker(directory, 2)
    _worker(directory, 3)
    assert len(list(directory.glob("counter_*.db"))) == 2
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    result = scrape()
    assert result.value("ciam_tokens_issued_total", grant="client_credentials") == 5
    labels = {"endpoint": "other", "method": "GET", "status": "200"}
    assert result.value("ciam_http_requests_total", **labels) == 5
    assert result.value("ciam_http_request_duration_seconds_count", endpoint="other") == 5
    # Computed by the scraping process, once, beside the files' metrics.
    assert result.text.count("# TYPE ciam_webhook_backlog gauge") == 1
    assert [sample.name for sample in result.samples].count("ciam_webhook_backlog") == 1
