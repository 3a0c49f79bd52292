"""Prometheus metrics of the provider, served at ``/metrics`` (ciam/ops/views.py).

What feeds them:

- ``MetricsMiddleware``, first in ``MIDDLEWARE`` and in ``CIAM_BACKCHANNEL_MIDDLEWARE``: every
  request by the name of the URL it resolved to (``request.resolver_match.view_name``), or
  ``static`` or ``other``, never its path (one series per URL name, not per address typed);
  each successful token response by its grant type; each sign-in once its request has
  finished (the method is final then: a passkey or an emailed code states its methods after
  ``login()``), from the session's amr (sessions_ctx).
- Django's ``user_login_failed`` (a wrong password or an unknown account), and each new
  ``sessions_ctx.RiskDecision`` once committed. The middleware connects these receivers.
- ``webhook_delivery_observe``, called by the delivery worker for each attempt it records.
- ``ciam_webhook_backlog`` is computed when scraped: deliveries still owed to active
  endpoints, counted up to ``BACKLOG_CAP``.

Several worker processes (granian) each count their own requests: with
``PROMETHEUS_MULTIPROC_DIR`` in the environment of every process (deploy/serve sets it and
removes the files of processes that have ended), prometheus_client's multiprocess mode has
each process write its values to its own files there, and a scrape adds them all up
(``MultiProcessCollector``), the delivery worker's included when it has the same directory.
Without it, a scrape shows the values of the process that answers it: right for one
process (``./dev run``, tests, ``GRANIAN_WORKERS=1``) only.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec
from urllib.parse import parse_qsl

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models.signals import post_save
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from common.app_settings import BaseAppSettings, Setting
from sessions_ctx.selectors import session_auth_state

logger = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(value: Any) -> tuple[IPNetwork, ...]:
    """CIDR networks from a list (or a comma-separated string); an invalid one is logged
    and left out."""
    items = value.split(",") if isinstance(value, str) else value
    networks: list[IPNetwork] = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            logger.error("CIAM_METRICS_NETWORKS: %r is not a network (left out)", text)
    return tuple(networks)


class MetricsSettings(BaseAppSettings):
    prefix = "CIAM_METRICS_"

    TOKEN = Setting(
        str,
        "",
        "A caller presenting ``Authorization: Bearer <token>`` may read /metrics from any "
        "address; empty: no token is accepted.",
    )
    NETWORKS = Setting(
        _networks,
        _networks(["127.0.0.0/8", "::1/128"]),
        "Networks (CIDR) whose clients may read /metrics without the token; the client "
        "address is the one the provider sees everywhere (CIAM_TRUSTED_PROXY_COUNT).",
    )


metrics_settings = MetricsSettings()


def multiprocess_directory() -> str:
    """prometheus_client's directory of multiprocess files; empty: one-process mode."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


if "PROMETHEUS_MULTIPROC_DIR" in os.environ and not multiprocess_directory():
    # prometheus_client would write its files into the working directory.
    raise ImproperlyConfigured("PROMETHEUS_MULTIPROC_DIR is empty: name a directory or unset it.")
# Metrics without labels write their file when created: the directory must exist by then.
if multiprocess_directory():
    os.makedirs(multiprocess_directory(), exist_ok=True)

# No "_created" series: the multiprocess collector has none, so both modes show the same.
disable_created_metrics()

# The one-process registry (the multiprocess scrape reads the files instead).
REGISTRY = CollectorRegistry()

HTTP_REQUESTS = Counter(
    "ciam_http_requests_total",
    "HTTP requests answered, by URL name (or static, other), method and status.",
    ("endpoint", "method", "status"),
    registry=REGISTRY,
)
HTTP_REQUEST_DURATION = Histogram(
    "ciam_http_request_duration_seconds",
    "Time to answer an HTTP request (until the response leaves the middleware), by URL name.",
    ("endpoint",),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
SIGN_INS = Counter(
    "ciam_sign_ins_total",
    "Customers' sign-ins (admin excluded), by first-factor method and outcome.",
    ("method", "outcome"),
    registry=REGISTRY,
)
TOKENS_ISSUED = Counter(
    "ciam_tokens_issued_total",
    "Successful token endpoint responses, by grant type.",
    ("grant",),
    registry=REGISTRY,
)
RISK_DECISIONS = Counter(
    "ciam_risk_decisions_total",
    "Risk engine decisions, by action.",
    ("decision",),
    registry=REGISTRY,
)
WEBHOOK_DELIVERY = Histogram(
    "ciam_webhook_delivery_seconds",
    "Time of a webhook or Shared Signals delivery attempt (the HTTP call).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0),
    registry=REGISTRY,
)

OTHER = "other"
STATIC = "static"
SUCCESS = "success"
FAILURE = "failure"
TOKEN_VIEW_NAME = "oidc:token"  # noqa: S105 - a URL name, not a password
BACKLOG_CAP = 100_000
BACKLOG_NAME = "ciam_webhook_backlog"
BACKLOG_HELP = (
    f"Webhook and Shared Signals deliveries owed to active endpoints (counted up to {BACKLOG_CAP})."
)
# Label values come from these sets only (anything else is "other"): bounded series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
GRANTS = frozenset({"authorization_code", "refresh_token", "client_credentials"})
DECISIONS = frozenset({"allow", "step_up", "end_session", "block"})
# A sign-in's method from its RFC 8176 amr values, first match wins: a second factor
# ("otp" after "pwd") does not change the method.
SIGN_IN_METHOD_BY_AMR: tuple[tuple[str, frozenset[str]], ...] = (
    ("passkey", frozenset({"hwk", "swk"})),
    ("social", frozenset({"fed"})),
    ("password", frozenset({"pwd"})),
    ("email_code", frozenset({"otp"})),
    ("sms", frozenset({"sms"})),
)
# Set on the request by the user_logged_in receiver; counted when the response leaves.
REQUEST_SIGNED_IN = "_ops_signed_in"

P = ParamSpec("P")
_failure_logged_at = -3600.0


def _never_raising(record: Callable[P, None]) -> Callable[P, None]:
    """A metric never breaks what it measures: a failure (a missing multiprocess directory)
    is logged, at most once a minute, and the value lost."""

    @functools.wraps(record)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        global _failure_logged_at
        try:
            record(*args, **kwargs)
        except Exception:
            now = time.monotonic()
            if now - _failure_logged_at >= 60:
                _failure_logged_at = now
                logger.exception(
                    "metrics: %s failed (not logged again for a minute)", record.__qualname__
                )

    return guarded


def _label(value: Any, allowed: frozenset[str]) -> str:
    text = str(value or "")
    return text if text in allowed else OTHER


def _status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else OTHER


@_never_raising
def request_observe(*, endpoint: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its duration."""
    HTTP_REQUESTS.labels(endpoint, _label(method, METHODS), _status_label(status)).inc()
    HTTP_REQUEST_DURATION.labels(endpoint).observe(seconds)


@_never_raising
def sign_in_record(*, method: str, outcome: str) -> None:
    SIGN_INS.labels(method, outcome).inc()


@_never_raising
def token_issued_record(*, grant: str) -> None:
    TOKENS_ISSUED.labels(_label(grant, GRANTS)).inc()


@_never_raising
def risk_decision_record(*, decision: str) -> None:
    RISK_DECISIONS.labels(_label(decision, DECISIONS)).inc()


@_never_raising
def webhook_delivery_observe(*, duration_ms: int) -> None:
    """One delivery attempt's HTTP call took ``duration_ms`` (webhooks.services.worker)."""
    WEBHOOK_DELIVERY.observe(max(0, duration_ms) / 1000)


def endpoint_label(request: HttpRequest) -> str:
    """The URL name the request resolved to, ``static`` for static files, else ``other``
    (an unknown path, a redirect before resolving): never the path itself."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name:
        return str(match.view_name)
    static_url = str(settings.STATIC_URL or "")
    if static_url.startswith("/") and request.path.startswith(static_url):
        return STATIC
    return OTHER


def sign_in_method(request: HttpRequest) -> str:
    """The first factor of the sign-in that just finished, from the session's amr."""
    state = session_auth_state(request) if hasattr(request, "session") else None
    amr = set(state.amr) if state is not None else set()
    for method, values in SIGN_IN_METHOD_BY_AMR:
        if amr & values:
            return method
    return OTHER


def _grant_type(request: HttpRequest) -> str:
    """The grant_type of a token request whose body the token view has read."""
    try:
        text = request.body.decode("ascii")
    except Exception:  # the body was streamed, or is not ASCII: the view refused it anyway
        return OTHER
    return dict(parse_qsl(text)).get("grant_type", OTHER)


def _is_admin_request(request: HttpRequest | None) -> bool:
    """Operators signing in to the admin are not customers signing in (as on the
    dashboard, console/metrics.py)."""
    if request is None:
        return False
    try:
        prefix = reverse("admin:index")
    except NoReverseMatch:
        return False
    return str(getattr(request, "path", "")).startswith(prefix)


def _mark_sign_in(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    if request is not None and not _is_admin_request(request):
        setattr(request, REQUEST_SIGNED_IN, True)


def _count_failed_sign_in(
    sender: Any, credentials: Any = None, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if _is_admin_request(request):
        return
    # Django sends the credentials with the password masked; its key tells the method.
    method = "password" if isinstance(credentials, dict) and "password" in credentials else OTHER
    sign_in_record(method=method, outcome=FAILURE)


def _count_risk_decision(
    sender: Any,
    instance: Any,
    created: bool = False,
    raw: bool = False,
    using: str = DEFAULT_DB_ALIAS,
    **kwargs: Any,
) -> None:
    if created and not raw:
        # A decision rolled back with its sign-in was never made.
        transaction.on_commit(
            functools.partial(risk_decision_record, decision=str(instance.action)), using=using
        )


def receivers_connect() -> None:
    """Connect the receivers that count sign-ins and risk decisions (once; the middleware
    calls it when it is loaded)."""
    from sessions_ctx.models import RiskDecision

    user_logged_in.connect(_mark_sign_in, dispatch_uid="ciam.ops.metrics.sign_in")
    user_login_failed.connect(
        _count_failed_sign_in, dispatch_uid="ciam.ops.metrics.sign_in_failure"
    )
    post_save.connect(
        _count_risk_decision, sender=RiskDecision, dispatch_uid="ciam.ops.metrics.risk_decision"
    )


@_never_raising
def _request_finished(request: HttpRequest, status: int, seconds: float) -> None:
    endpoint = endpoint_label(request)
    request_observe(
        endpoint=endpoint, method=str(request.method or ""), status=status, seconds=seconds
    )
    if endpoint == TOKEN_VIEW_NAME and status == 200:
        token_issued_record(grant=_grant_type(request))
    if getattr(request, REQUEST_SIGNED_IN, False):
        sign_in_record(method=sign_in_method(request), outcome=SUCCESS)


class MetricsMiddleware:
    """Counts and times every request, and the sign-ins and tokens it gave. Plain
    ``__call__`` middleware: it fits ``CIAM_BACKCHANNEL_MIDDLEWARE`` too. First in each list,
    so that the time covers the whole chain."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        receivers_connect()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            _request_finished(request, status, time.perf_counter() - started)


def webhook_backlog() -> int | None:
    """Deliveries owed to active endpoints (webhooks.selectors.delivery_backlog's rows),
    counted up to BACKLOG_CAP under the readiness statement timeout; None when the
    database does not answer."""
    from webhooks.models import Delivery, DeliveryStatus

    from .health import bounded_statements

    rows = Delivery.objects.filter(status=DeliveryStatus.PENDING, endpoint__active=True)
    try:
        with bounded_statements():
            return rows.values("pk")[:BACKLOG_CAP].count()
    except Exception as error:
        logger.warning(
            "metrics: the webhook backlog was not counted: %s: %s", type(error).__name__, error
        )
        return None


class WebhookBacklogCollector(Collector):
    """``ciam_webhook_backlog``, counted by the process that answers the scrape."""

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(BACKLOG_NAME, BACKLOG_HELP)]

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(BACKLOG_NAME, BACKLOG_HELP)
        backlog = webhook_backlog()
        if backlog is not None:
            family.add_metric([], backlog)
        yield family


REGISTRY.register(WebhookBacklogCollector())


def scrape_registry() -> CollectorRegistry:
    """What a scrape reads: every process's files in multiprocess mode (and the backlog),
    else this process's registry."""
    directory = multiprocess_directory()
    if not directory:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    registry.register(WebhookBacklogCollector())
    return registry


def metrics_exposition(*, accept: str = "") -> tuple[bytes, str]:
    """The scrape's body and content type: Prometheus text, or OpenMetrics when the
    scraper asks for it (``Accept``)."""
    encoder, content_type = choose_encoder(accept)
    return encoder(scrape_registry()), content_type
