"""The one throttle: fixed-window counters, several limits at once, cool-downs, 429."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.http import HttpResponse
from django.test import RequestFactory

from sessions_ctx import throttle
from sessions_ctx.throttle import Limit


def test_counters_are_named_by_kind_and_subject():
    """A counter's key is its kind and subject; per-address and per-user helpers agree."""
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.7")
    assert throttle.counter("ciam.x", "s") == "ciam.x:s"
    assert throttle.address_counter("ciam.x", request) == "ciam.x:ip:192.0.2.7"
    assert throttle.user_counter("ciam.x", 42) == "ciam.x:user:42"


def test_subject_digest_hides_the_value_and_ignores_case():
    """An email address never reaches the cache as such; case does not matter."""
    digest = throttle.subject_digest("Ann@Example.com")
    assert digest == throttle.subject_digest("ann@example.com")
    assert "ann" not in digest
    assert len(digest) == 32


def test_client_ip_is_the_address_allauth_sees(settings):
    """Behind a trusted proxy the forwarded address counts (ALLAUTH_TRUSTED_PROXY_COUNT)."""
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.4")
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    assert throttle.client_ip(request) == "10.0.0.1"
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    assert throttle.client_ip(request) == "198.51.100.4"


def test_hits_count_within_a_fixed_window():
    """Each hit counts; the window starts with the first and its end does not move."""
    assert throttle.hit("c", window=60) == 1
    until = cache.get("c:until")
    assert throttle.hit("c", window=60) == 2
    assert cache.get("c:until") == until


def test_retry_after_answers_for_the_strictest_reached_limit():
    """0 while every counter is under its limit; then the seconds left of the window."""
    limits = [Limit("a", 2, 60), Limit("b", 5, 300)]
    throttle.hit_all(limits)
    assert throttle.retry_after(limits) == 0
    throttle.hit_all(limits)
    assert 59 <= throttle.retry_after(limits) <= 60
    throttle.clear("a")
    assert throttle.retry_after(limits) == 0


def test_cooldown_runs_once():
    """A cool-down started while one runs reports the time left and does not restart it."""
    assert throttle.cooldown_start("cool", seconds=30) == 0
    assert 29 <= throttle.cooldown_start("cool", seconds=30) <= 30
    assert 29 <= throttle.cooldown_remaining("cool") <= 30
    assert throttle.cooldown_remaining("other") == 0


@pytest.mark.parametrize(("seconds", "header"), [(0, "1"), (1, "1"), (299, "299")])
def test_too_many_requests_sets_429_and_retry_after(seconds, header):
    """RFC 6585 4: 429, with Retry-After in whole seconds, at least one."""
    response = throttle.too_many_requests(HttpResponse("slow down"), retry_after=seconds)
    assert response.status_code == 429
    assert response.reason_phrase == "Too Many Requests"
    assert response["Retry-After"] == header
