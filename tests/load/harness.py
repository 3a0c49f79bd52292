"""What the load test is made of: customers as threads, each with a browser (a cookie-keeping
``requests.Session``) and a relying party's back end, every HTTP response timed and checked,
and a table of the operations at the end.

A response with a status the step does not expect, a 5xx, a transport error or a protocol
result that is wrong (a missing code, a token that does not verify, an error code other than
the one the specification names) ends the customer's journey as a ``JourneyFailed`` and is
kept as an error; the customer then starts its next journey.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from math import ceil
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

TIMEOUT = 10
REDIRECTS = (301, 302, 303)
# A path segment that is an identifier (a pending authorization: 16 characters or more, not
# only lower-case words like "openid-configuration"): one row for all.
_IDENTIFIER = re.compile(r"/(?=[^/]*[A-Z0-9_])[A-Za-z0-9_-]{16,}(?=/|$)")


class JourneyFailed(Exception):
    """A step's HTTP status or protocol result was not the one expected."""


@dataclass(frozen=True)
class Sample:
    operation: str
    status: int
    seconds: float


@dataclass
class Recorder:
    """Samples, errors and finished journeys of every customer thread (thread-safe)."""

    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    journeys: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sample(self, sample: Sample) -> None:
        with self._lock:
            self.samples.append(sample)

    def error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)

    def journey(self, name: str) -> None:
        with self._lock:
            self.journeys[name] += 1


def operation_name(method: str, url: str, data: Mapping[str, str] | None) -> str:
    """A table row's name: method and path, identifiers folded, the grant of a token request
    and prompt=none of an authorization request named."""
    parts = urlsplit(url)
    path = _IDENTIFIER.sub("/{id}", parts.path)
    name = f"{method} {path}"
    if path == "/token" and data:
        name += f" ({data.get('grant_type', '?')})"
    if path == "/authorize" and parse_qs(parts.query).get("prompt") == ["none"]:
        name += " (prompt=none)"
    return name


class Agent:
    """One HTTP party (a customer's browser or a relying party's back end) behind the
    provider's trusted proxy: every request carries the party's address in
    X-Forwarded-For, as the proxy appends it."""

    def __init__(self, issuer: str, recorder: Recorder, *, address: str, user_agent: str) -> None:
        self.issuer = issuer
        self.recorder = recorder
        self.session = requests.Session()
        self.session.headers["X-Forwarded-For"] = address
        self.session.headers["User-Agent"] = user_agent

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        expect: Iterable[int],
        data: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request (redirects not followed), record it, check its status."""
        url = url if url.startswith("http") else self.issuer + url
        operation = operation_name(method, url, data)
        started = time.perf_counter()
        try:
            response = self.session.request(
                method, url, data=data, allow_redirects=False, timeout=TIMEOUT, **kwargs
            )
        except requests.RequestException as error:
            self.recorder.sample(Sample(operation, 0, time.perf_counter() - started))
            raise JourneyFailed(f"{operation}: {type(error).__name__}: {error}") from error
        # Without stream=True the body has been read: this is the latency to the last byte.
        self.recorder.sample(Sample(operation, response.status_code, time.perf_counter() - started))
        expected = tuple(expect)
        if response.status_code not in expected:
            raise JourneyFailed(
                f"{operation}: HTTP {response.status_code}, expected {expected}: "
                f"{page_text(response)[:400]}"
            )
        return response

    def get(self, url: str, *, expect: Iterable[int] = (200,), **kwargs: Any) -> requests.Response:
        return self.request("GET", url, expect=expect, **kwargs)

    def post(self, url: str, *, expect: Iterable[int] = (200,), **kwargs: Any) -> requests.Response:
        return self.request("POST", url, expect=expect, **kwargs)


def page_text(response: requests.Response) -> str:
    """A response body as one line of text (tags dropped), for error messages."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)).strip()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (not empty)."""
    ordered = sorted(values)
    return ordered[max(0, ceil(fraction * len(ordered)) - 1)]


def report_table(recorder: Recorder, *, seconds: float, heading: str) -> str:
    """Operations with their count, throughput and p50/p95 latency; journeys per second."""
    by_operation: dict[str, list[float]] = defaultdict(list)
    for sample in recorder.samples:
        by_operation[sample.operation].append(sample.seconds)
    statuses = Counter(sample.status for sample in recorder.samples)
    width = max([len("all responses"), *(len(name) for name in by_operation)])
    lines = [
        heading,
        f"{'operation':<{width}}  {'count':>6}  {'per s':>7}  {'p50 ms':>7}  {'p95 ms':>7}",
    ]

    def row(name: str, values: list[float]) -> str:
        return (
            f"{name:<{width}}  {len(values):>6}  {len(values) / seconds:>7.1f}  "
            f"{percentile(values, 0.50) * 1000:>7.1f}  {percentile(values, 0.95) * 1000:>7.1f}"
        )

    for name in sorted(by_operation):
        lines.append(row(name, by_operation[name]))
    everything = [sample.seconds for sample in recorder.samples]
    if everything:
        lines.append(row("all responses", everything))
    journeys = ", ".join(
        f"{name} {count} ({count / seconds:.2f}/s)"
        for name, count in sorted(recorder.journeys.items())
    )
    lines.append(f"journeys: {journeys or 'none'}")
    lines.append(
        "statuses: " + ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items()))
    )
    lines.append(f"errors: {len(recorder.errors)}")
    lines.extend(f"  {error}" for error in recorder.errors[:20])
    return "\n".join(lines)
