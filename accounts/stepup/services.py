"""Meeting a step-up by an emailed code (customers without a passkey or authenticator app).

The code (six digits) is kept hashed in the session for CODE_SECONDS, at most MAX_ATTEMPTS
wrong tries; one email every RESEND_SECONDS per session.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from allauth.account.adapter import get_adapter as get_account_adapter
from django.http import HttpRequest

from sessions_ctx import throttle
from sessions_ctx.services.authentication import session_add_factor
from sessions_ctx.services.risk import risk_step_up_resolve

SESSION_KEY_EMAIL_CODE = "ciam.stepup.email"
CODE_SECONDS = 600
RESEND_SECONDS = 30
MAX_ATTEMPTS = 5
AMR_OTP = "otp"
# Per account, whatever the session (counters in the shared cache, atomic): wrong codes and
# codes sent within an hour. Past them no code is checked or sent until the hour ends.
HOURLY_FAILURES = 10
HOURLY_SENDS = 5
WINDOW = 3600
KIND_FAILURES = "ciam.stepup.email.failures"
KIND_SENDS = "ciam.stepup.email.sends"


def _limits(request: HttpRequest) -> list[throttle.Limit]:
    user_id = request.user.pk
    return [
        throttle.Limit(throttle.user_counter(KIND_FAILURES, user_id), HOURLY_FAILURES, WINDOW),
        throttle.Limit(throttle.user_counter(KIND_SENDS, user_id), HOURLY_SENDS, WINDOW),
    ]


def step_up_email_retry_after(request: HttpRequest) -> int:
    """Seconds until the account may be sent or try another code (0: now)."""
    return throttle.retry_after(_limits(request))


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def step_up_email_send(*, request: HttpRequest) -> int:
    """Email a new code to the signed-in user unless one was sent less than RESEND_SECONDS
    ago; the seconds to wait (0: sent)."""
    now = time.time()
    current = request.session.get(SESSION_KEY_EMAIL_CODE) or {}
    wait = int(float(current.get("sent", 0)) + RESEND_SECONDS - now + 0.999)
    if wait > 0:
        return wait
    blocked = step_up_email_retry_after(request)
    if blocked:
        return blocked
    throttle.hit(_limits(request)[1].counter, window=WINDOW)
    code = f"{secrets.randbelow(10**6):06d}"
    request.session[SESSION_KEY_EMAIL_CODE] = {
        "hash": _digest(code),
        "sent": now,
        "attempts": 0,
        "user_id": str(request.user.pk),
    }
    email = str(getattr(request.user, "email", ""))
    get_account_adapter(request).send_mail(
        "accounts/email/step_up_code",
        email,
        {"code": code, "expiry_minutes": CODE_SECONDS // 60},
    )
    return 0


def step_up_email_sent(request: HttpRequest) -> bool:
    current = request.session.get(SESSION_KEY_EMAIL_CODE) or {}
    return current.get("user_id") == str(request.user.pk) and bool(current.get("hash"))


def step_up_email_verify(*, request: HttpRequest, code: str) -> str:
    """Check the emailed code: "ok" (the step-up is met: the session gains amr "otp"),
    "wrong", "expired" (ask for a new one) or "too_many" (likewise)."""
    current = request.session.get(SESSION_KEY_EMAIL_CODE) or {}
    if current.get("user_id") != str(request.user.pk) or not current.get("hash"):
        return "expired"
    if time.time() - float(current.get("sent", 0)) > CODE_SECONDS:
        request.session.pop(SESSION_KEY_EMAIL_CODE, None)
        return "expired"
    if int(current.get("attempts", 0)) >= MAX_ATTEMPTS or step_up_email_retry_after(request):
        return "too_many"
    normalized = "".join(ch for ch in code if ch.isdigit())
    if not secrets.compare_digest(_digest(normalized), str(current["hash"])):
        current["attempts"] = int(current.get("attempts", 0)) + 1
        request.session[SESSION_KEY_EMAIL_CODE] = current
        throttle.hit(_limits(request)[0].counter, window=WINDOW)
        return "too_many" if current["attempts"] >= MAX_ATTEMPTS else "wrong"
    request.session.pop(SESSION_KEY_EMAIL_CODE, None)
    session_add_factor(request=request, methods=[AMR_OTP])
    risk_step_up_resolve(request=request, method=AMR_OTP)
    return "ok"
