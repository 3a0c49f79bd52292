"""Daily counters for the dashboard: what no other record says (sign-in page views, sign-in
outcomes by method), incremented atomically, read by day and metric (the unique index)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from .models import DailyCount, Metric

# The allauth URL names whose GET shows the sign-in page.
SIGN_IN_URL_NAMES = frozenset({"account_login"})
# Set on the request by the user_logged_in receiver; classified once the view has finished
# (a passkey sign-in records its methods after login()).
REQUEST_ATTRIBUTE_SIGNED_IN = "_console_signed_in"
# allauth's per-session log of authentication methods (allauth.account.internal.flows.login).
ALLAUTH_METHODS_SESSION_KEY = "account_authentication_methods"
SESSION_KEY_AUTH = "ciam.auth"  # sessions_ctx.constants.SESSION_KEY_AUTH
_FRESH_SECONDS = 600
_PASSKEY_AMR = frozenset({"hwk", "swk"})
# The label of a failed sign-in whose method the credentials do not tell.
UNKNOWN_METHOD = "other"

logger = logging.getLogger(__name__)


def count_increment(*, metric: str, label: str = "", day: date | None = None, by: int = 1) -> None:
    """Add ``by`` to the day's counter in one UPDATE (F expression); the first of the day is
    created, a concurrent creation falling back to the UPDATE."""
    day = day or timezone.now().date()
    rows = DailyCount.objects.filter(day=day, metric=metric, label=label[:64])
    if rows.update(count=F("count") + by):
        return
    try:
        with transaction.atomic():
            DailyCount.objects.create(day=day, metric=metric, label=label[:64], count=by)
    except IntegrityError:
        rows.update(count=F("count") + by)


def count_record(*, metric: str, label: str = "", by: int = 1) -> None:
    """``count_increment`` for the request path: a counter never breaks the request that
    feeds it. Inside a transaction the count waits for the commit (a rolled back sign-in is
    not counted, a failed count cannot spoil the transaction); a database error is logged
    and the count lost."""

    def count() -> None:
        try:
            count_increment(metric=metric, label=label, by=by)
        except DatabaseError:
            logger.exception("The dashboard counter %s (%s) was not incremented.", metric, label)

    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(count)
    else:
        count()


def is_admin_request(request: HttpRequest | None) -> bool:
    """Whether ``request`` is for the operators' admin site (its sign-ins are not
    customers')."""
    if request is None:
        return False
    try:
        prefix = reverse("admin:index")
    except NoReverseMatch:
        return False
    return str(getattr(request, "path", "")).startswith(prefix)


def sign_in_method(request: HttpRequest) -> tuple[str, bool]:
    """How the sign-in that just finished was made, and whether a second factor was part of
    it, from the session's authentication state (sessions_ctx) and allauth's method log."""
    session = getattr(request, "session", None)
    if session is None:
        return "other", False
    state = session.get(SESSION_KEY_AUTH) or {}
    amr = {str(value) for value in state.get("amr", []) if isinstance(value, str)}
    records = [
        record
        for record in session.get(ALLAUTH_METHODS_SESSION_KEY, [])
        if isinstance(record, dict) and record.get("at", 0) >= time.time() - _FRESH_SECONDS
    ]
    second_factor = "mfa" in amr or any(record.get("method") == "mfa" for record in records)
    if amr & _PASSKEY_AMR:
        return "passkey", second_factor
    first = [record for record in records if record.get("method") != "mfa"]
    if first:
        latest = first[-1]
        method = latest.get("method", "")
        if method == "socialaccount":
            return f"social:{latest.get('provider', '')}", second_factor
        if method in ("password", "password_reset"):
            return "password", second_factor
        if method == "code":
            return "email_code", second_factor
    if "fed" in amr:
        return "social", second_factor
    if "pwd" in amr:
        return "password", second_factor
    if "otp" in amr:
        return "email_code", second_factor
    return "other", second_factor


def sign_in_count(request: HttpRequest) -> None:
    method, second_factor = sign_in_method(request)
    count_record(metric=Metric.SIGN_IN_SUCCESS, label=method)
    if second_factor:
        count_record(metric=Metric.SECOND_FACTOR, label=method)


class SignInMetricsMiddleware:
    """Counts GETs of the sign-in page that it showed (200), and classifies each sign-in
    that happened during the request once the view has recorded how it was made."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, REQUEST_ATTRIBUTE_SIGNED_IN, False):
            sign_in_count(request)
        elif request.method == "GET" and response.status_code == 200:
            match: Any = getattr(request, "resolver_match", None)
            if match is not None and match.url_name in SIGN_IN_URL_NAMES:
                count_record(metric=Metric.SIGN_IN_PAGE_VIEW)
        return response
