"""Fixtures of the operators' endpoints: the URLs and middleware as wired in production
(whether or not ciam/settings.py and ciam/urls.py have them yet), and scrapes read with
prometheus_client's own parser."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ciam.ops import health

MIDDLEWARE = "ciam.ops.metrics.MetricsMiddleware"
LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}
ELSEWHERE = {"REMOTE_ADDR": "203.0.113.7"}


def _first(middleware: list[str]) -> list[str]:
    return [MIDDLEWARE, *(path for path in middleware if path != MIDDLEWARE)]


@pytest.fixture(autouse=True)
def ops_wired(settings) -> None:
    """``/healthz``, ``/readyz`` and ``/metrics`` routed, the metrics middleware first in both
    middleware lists, default access rules, no Redis."""
    settings.ROOT_URLCONF = "tests.ops.urls"
    settings.MIDDLEWARE = _first(list(settings.MIDDLEWARE))
    settings.CIAM_BACKCHANNEL_MIDDLEWARE = _first(list(settings.CIAM_BACKCHANNEL_MIDDLEWARE))
    settings.CIAM_METRICS_TOKEN = ""
    settings.CIAM_METRICS_NETWORKS = ["127.0.0.0/8", "::1/128"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture(autouse=True)
def _single_process_metrics(monkeypatch) -> None:
    """This process's own registry is scraped, unless a test points at a directory."""
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)


@pytest.fixture
def fresh_migrations_check(monkeypatch) -> None:
    """The process has not yet seen every migration applied."""
    monkeypatch.setattr(health, "_migrations_applied", False)


class Scrape:
    """One /metrics answer, parsed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [
            sample for family in text_string_to_metric_families(text) for sample in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when the series does not exist yet."""
        for sample in self.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
        return 0.0

    def label_values(self, label: str) -> set[str]:
        return {sample.labels[label] for sample in self.samples if label in sample.labels}


@pytest.fixture
def scrape(client):
    """Scrape /metrics from loopback (allowed by default)."""

    def read(**extra: str) -> Scrape:
        response = client.get("/metrics", **{**LOOPBACK, **extra})
        assert response.status_code == 200, response.status_code
        return Scrape(response.content.decode())

    return read
