"""``/healthz`` (alive), ``/readyz`` (ready to serve) and ``/metrics`` (Prometheus).

Machine endpoints: JSON or Prometheus text, never cached, no session or CSRF token read
(ciam/fastpath.py routes them through the back-channel handler). ``/metrics`` answers only a
caller with the metrics token or from ``CIAM_METRICS_NETWORKS``; anyone else gets the 404 of
an unknown page, whatever the method.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
)
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from . import health
from .metrics import metrics_exposition, metrics_settings

logger = logging.getLogger(__name__)

# RFC 9110 10.2.3: when to probe again after a 503.
RETRY_AFTER_SECONDS = 5


def _json(data: dict[str, Any], *, status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status)
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers: nothing else is looked at (no database, no cache)."""
    return _json({"status": "ok"})


@csrf_exempt
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    """200 when every check of ciam/ops/health.py passes ("degraded" when only Redis
    failed), else 503 naming each result."""
    try:
        result = health.readiness()
    except Exception:  # each check catches its own errors; this is the last net, never a 500
        logger.exception("readiness: the checks could not run")
        checks: dict[str, str] = {}
        ready = degraded = False
    else:
        checks, ready, degraded = result.checks, result.ready, result.degraded
    if ready:
        return _json({"status": "degraded" if degraded else "ok", "checks": checks})
    response = _json({"status": "unavailable", "checks": checks}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (RFC 6750 2.1; the scheme
    is case-insensitive, RFC 9110 11.1), or None for any other or malformed header."""
    scheme, _, credentials = str(request.META.get("HTTP_AUTHORIZATION", "")).partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials or any(c.isspace() for c in credentials):
        return None
    return credentials


def _same_secret(presented: str, expected: str) -> bool:
    """Constant time, length included: both sides are hashed before comparing."""
    digest = [
        hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()
        for value in (presented, expected)
    ]
    return hmac.compare_digest(digest[0], digest[1])


def client_address(request: HttpRequest) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The client's address as the provider sees it everywhere (behind the TLS proxy: from
    X-Forwarded-For, CIAM_TRUSTED_PROXY_COUNT), or None when it cannot be told."""
    from sessions_ctx.throttle import client_ip

    try:
        address = ipaddress.ip_address(client_ip(request))
    except (ValueError, ImproperlyConfigured):  # "unknown", or a header shorter than the chain
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def metrics_access_allowed(request: HttpRequest) -> bool:
    token = metrics_settings.TOKEN
    presented = bearer_token(request) if token else None
    if presented is not None and _same_secret(presented, token):
        return True
    address = client_address(request)
    return address is not None and any(address in network for network in metrics_settings.NETWORKS)


@csrf_exempt
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus exposition of ciam/ops/metrics.py, for allowed callers only."""
    if not metrics_access_allowed(request):
        raise Http404
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    try:
        body, content_type = metrics_exposition(accept=request.headers.get("Accept", ""))
    except Exception:  # a missing multiprocess directory: the scrape fails, visibly
        logger.exception("metrics: the exposition could not be built")
        response = HttpResponse("metrics unavailable\n", status=503, content_type="text/plain")
    else:
        response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response
