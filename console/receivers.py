"""Signal receivers feeding the dashboard's daily counters (console/metrics.py)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from .metrics import REQUEST_ATTRIBUTE_SIGNED_IN, UNKNOWN_METHOD, count_record, is_admin_request
from .models import Metric


@receiver(user_logged_in, dispatch_uid="console.count_sign_in")
def mark_sign_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # Counted by SignInMetricsMiddleware when the response leaves (the method is known then);
    # operators signing in to the admin are not customers signing in.
    if request is not None and not is_admin_request(request):
        setattr(request, REQUEST_ATTRIBUTE_SIGNED_IN, True)


@receiver(user_login_failed, dispatch_uid="console.count_sign_in_failure")
def count_sign_in_failure(
    sender: Any, credentials: Any = None, request: Any = None, **kwargs: Any
) -> None:
    if is_admin_request(request):
        return
    # Django sends the credentials with the password masked; its key tells the method.
    method = "password" if isinstance(credentials, dict) and "password" in credentials else ""
    count_record(metric=Metric.SIGN_IN_FAILURE, label=method or UNKNOWN_METHOD)
