"""Email sign-in: every write and side effect.

Email sign-in (sign-up included) in a few moves:

- ``email_sign_in_start``: one email with a 6-digit code and a one-click link. The same work
  is done and the same answer given whether or not an account exists (no enumeration); the
  email itself says "sign in" or "create your account".
- ``email_sign_in_verify_code``: the code, typed in the browser that asked. An unknown
  address gets its account here, with the address verified.
- ``email_sign_in_open_link``: the link signs in only the browser that asked for it (its
  hash of the session's nonce must match), so a forwarded or planted link cannot sign anyone
  into someone else's account (login CSRF).
- ``email_sign_in_confirm_elsewhere``: the link opened on another device asks for the number
  shown in the asking tab (number matching); that tab then finishes
  (``email_sign_in_finish_confirmed``), by polling or on reload.

Codes expire (CIAM_EMAIL_SIGN_IN_SECONDS), are single use, and allow
CIAM_EMAIL_SIGN_IN_MAX_ATTEMPTS wrong tries; sending and failures are throttled per client
address and per email address.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import timedelta

from allauth.account import signals as account_signals
from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.internal.flows.login import record_authentication
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.services.users import user_create
from sessions_ctx import throttle
from sessions_ctx.services.authentication import session_record_authentication
from sessions_ctx.throttle import Limit

from .app_settings import app_settings
from .constants import (
    ALLAUTH_METHOD,
    AMR_EMAIL,
    CACHE_PREFIX,
    CODE_DIGITS,
    MATCH_NUMBER_MAX,
    MATCH_NUMBER_MIN,
    SESSION_KEY_BROWSER_NONCE,
    SESSION_KEY_CURRENT,
)
from .models import EmailSignIn
from .selectors import (
    account_for_email,
    browser_hash,
    email_sign_in_current,
    email_sign_in_state,
    normalize_email,
    resend_cooldown_counter,
    safe_next_url,
    sha256_hex,
)

CODE_SALT = "accounts.passwordless.code"
SESSION_BACKEND = "django.contrib.auth.backends.ModelBackend"


class Outcome(enum.Enum):
    SIGNED_IN = "signed_in"
    CONFIRMED = "confirmed"  # confirmed on another device; the asking tab finishes
    OTHER_BROWSER = "other_browser"  # a link opened where it was not asked for
    WRONG = "wrong"  # wrong code or number, attempts are left
    SPENT = "spent"  # used, expired, or out of attempts
    INVALID = "invalid"  # no such link
    MISSING = "missing"  # this browser has no email sign-in going on
    INACTIVE = "inactive"  # right code, but the account is deactivated
    THROTTLED = "throttled"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    sign_in: EmailSignIn | None = None
    redirect_url: str = ""
    attempts_left: int = 0
    retry_after: int = 0


class EmailSignInThrottled(Exception):
    """Too many emails: to this address, from this client, or the cool-down is running."""

    def __init__(self, retry_after: int, *, cooldown: bool = False) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after
        self.cooldown = cooldown


class EmailSignInUnavailable(Exception):
    """No email sign-in to resend: none in this browser, or it is used or out of attempts."""


# --- starting and resending -------------------------------------------------------------------


def email_sign_in_start(*, request: HttpRequest, email: str, next_url: str = "") -> EmailSignIn:
    """Email a code and a link to ``email`` and remember, in this browser, that it asked.

    Raises EmailSignInThrottled. Known and unknown addresses take the same path: one row,
    one email (whose wording differs), the same redirect.
    """
    email = normalize_email(email)
    _throttle_sending(request, email)
    code, token = _new_code(), secrets.token_urlsafe(32)
    link_hash = sha256_hex(token)
    now = timezone.now()
    sign_in = EmailSignIn.objects.create(
        email=email,
        code_hash=_code_hash(link_hash, code),
        link_hash=link_hash,
        browser_hash=_browser_hash_or_new(request),
        match_number=MATCH_NUMBER_MIN + secrets.randbelow(MATCH_NUMBER_MAX - MATCH_NUMBER_MIN + 1),
        next_url=safe_next_url(next_url),
        user_agent=request.headers.get("User-Agent", "")[:200],
        created_at=now,
        sent_at=now,
        expires_at=now + timedelta(seconds=app_settings.SECONDS),
    )
    request.session[SESSION_KEY_CURRENT] = sign_in.pk
    _send(request, sign_in, code=code, token=token)
    _delete_long_expired()
    return sign_in


def email_sign_in_resend(*, request: HttpRequest) -> EmailSignIn:
    """A new code and link for this browser's email sign-in; the previous ones stop working.

    Failed attempts carry over (a resend is no way around the limit). Raises
    EmailSignInUnavailable or EmailSignInThrottled.
    """
    sign_in = email_sign_in_current(request)
    if sign_in is None or sign_in.used_at is not None:
        raise EmailSignInUnavailable
    if sign_in.failed_attempts >= app_settings.MAX_ATTEMPTS:
        raise EmailSignInUnavailable
    _throttle_sending(request, sign_in.email)
    code, token = _new_code(), secrets.token_urlsafe(32)
    now = timezone.now()
    sign_in.link_hash = sha256_hex(token)
    sign_in.code_hash = _code_hash(sign_in.link_hash, code)
    sign_in.sent_at = now
    sign_in.expires_at = now + timedelta(seconds=app_settings.SECONDS)
    sign_in.confirmed_at = None
    sign_in.save(update_fields=["link_hash", "code_hash", "sent_at", "expires_at", "confirmed_at"])
    _send(request, sign_in, code=code, token=token)
    return sign_in


def email_sign_in_forget(*, request: HttpRequest) -> None:
    """Stop showing this browser's email sign-in (e.g. "use another address")."""
    request.session.pop(SESSION_KEY_CURRENT, None)


# --- using the code or the link ---------------------------------------------------------------


def email_sign_in_verify_code(*, request: HttpRequest, code: str) -> Result:
    """Check the code typed in the browser that asked; sign in (or up) when it matches."""
    sign_in = email_sign_in_current(request)
    if sign_in is None:
        return Result(Outcome.MISSING)
    wait = throttle.retry_after(_failure_limits(request, sign_in.email))
    if wait:
        return Result(Outcome.THROTTLED, sign_in=sign_in, retry_after=wait)
    if email_sign_in_state(sign_in) == "spent":
        return Result(Outcome.SPENT, sign_in=sign_in)
    if not constant_time_compare(_code_hash(sign_in.link_hash, code), sign_in.code_hash):
        return _wrong(request, sign_in)
    return _finish(request, sign_in)


def email_sign_in_open_link(*, request: HttpRequest, token: str) -> Result:
    """The emailed link: signs in the browser that asked; elsewhere, asks to confirm."""
    wait = throttle.retry_after(_failure_limits(request, None))
    if wait:
        return Result(Outcome.THROTTLED, retry_after=wait)
    sign_in = EmailSignIn.objects.filter(link_hash=sha256_hex(token)).first()
    if sign_in is None:
        _count_failure(request, None)
        return Result(Outcome.INVALID)
    if email_sign_in_state(sign_in) == "spent":
        return Result(Outcome.SPENT, sign_in=sign_in)
    if browser_hash(request) == sign_in.browser_hash:
        return _finish(request, sign_in)
    return Result(Outcome.OTHER_BROWSER, sign_in=sign_in)


def email_sign_in_confirm_elsewhere(*, request: HttpRequest, token: str, number: str) -> Result:
    """On another device: the number shown in the asking tab confirms the sign-in there.

    Number matching keeps a stray click from signing in someone else's browser: the
    person must see the tab that asked, just as they must read the code to type it.
    """
    sign_in = EmailSignIn.objects.filter(link_hash=sha256_hex(token)).first()
    if sign_in is None:
        _count_failure(request, None)
        return Result(Outcome.INVALID)
    wait = throttle.retry_after(_failure_limits(request, sign_in.email))
    if wait:
        return Result(Outcome.THROTTLED, sign_in=sign_in, retry_after=wait)
    if email_sign_in_state(sign_in) == "spent":
        return Result(Outcome.SPENT, sign_in=sign_in)
    if browser_hash(request) == sign_in.browser_hash:
        return _finish(request, sign_in)
    if not constant_time_compare(number.strip(), str(sign_in.match_number)):
        return _wrong(request, sign_in)
    EmailSignIn.objects.filter(pk=sign_in.pk, used_at__isnull=True).update(
        confirmed_at=timezone.now()
    )
    return Result(Outcome.CONFIRMED, sign_in=sign_in)


def email_sign_in_finish_confirmed(*, request: HttpRequest) -> Result:
    """In the asking tab: finish a sign-in confirmed on another device."""
    sign_in = email_sign_in_current(request)
    if email_sign_in_state(sign_in) != "confirmed":
        return Result(Outcome.MISSING, sign_in=sign_in)
    assert sign_in is not None
    return _finish(request, sign_in)


# --- internals --------------------------------------------------------------------------------


def _new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def _code_hash(link_hash: str, code: str) -> str:
    """HMAC with the server key, bound to one email's link: a database leak alone does not
    let anyone test the million codes offline."""
    return salted_hmac(CODE_SALT, f"{link_hash}:{code}", algorithm="sha256").hexdigest()


def _browser_hash_or_new(request: HttpRequest) -> str:
    nonce = request.session.get(SESSION_KEY_BROWSER_NONCE)
    if not nonce:
        nonce = secrets.token_urlsafe(32)
        request.session[SESSION_KEY_BROWSER_NONCE] = nonce
    return sha256_hex(nonce)


def _email_subject(email: str) -> str:
    return f"email:{throttle.email_digest(email)}"


def _send_limits(request: HttpRequest, email: str) -> list[Limit]:
    kind, window = f"{CACHE_PREFIX}:sends", app_settings.SEND_WINDOW_SECONDS
    return [
        Limit(throttle.address_counter(kind, request), app_settings.SENDS_PER_IP, window),
        Limit(throttle.counter(kind, _email_subject(email)), app_settings.SENDS_PER_EMAIL, window),
    ]


def _throttle_sending(request: HttpRequest, email: str) -> None:
    limits = _send_limits(request, email)
    wait = throttle.retry_after(limits)
    if wait:
        raise EmailSignInThrottled(wait)
    cooldown = resend_cooldown_counter(email)
    wait = throttle.cooldown_start(cooldown, seconds=app_settings.RESEND_SECONDS)
    if wait:
        raise EmailSignInThrottled(wait, cooldown=True)
    throttle.hit_all(limits)


def _email_failure_counter(email: str) -> str:
    return throttle.counter(f"{CACHE_PREFIX}:failures", _email_subject(email))


def _failure_limits(request: HttpRequest, email: str | None) -> list[Limit]:
    window = app_settings.FAILURE_WINDOW_SECONDS
    limits = [
        Limit(
            throttle.address_counter(f"{CACHE_PREFIX}:failures", request),
            app_settings.FAILURES_PER_IP,
            window,
        )
    ]
    if email:
        limits.append(Limit(_email_failure_counter(email), app_settings.FAILURES_PER_EMAIL, window))
    return limits


def _count_failure(request: HttpRequest, email: str | None) -> None:
    throttle.hit_all(_failure_limits(request, email))


def _wrong(request: HttpRequest, sign_in: EmailSignIn) -> Result:
    """Count a wrong code or number against the email and the client address."""
    _count_failure(request, sign_in.email)
    EmailSignIn.objects.filter(pk=sign_in.pk).update(failed_attempts=F("failed_attempts") + 1)
    sign_in.refresh_from_db(fields=["failed_attempts"])
    left = app_settings.MAX_ATTEMPTS - sign_in.failed_attempts
    if left <= 0:
        return Result(Outcome.SPENT, sign_in=sign_in)
    return Result(Outcome.WRONG, sign_in=sign_in, attempts_left=left)


def _send(request: HttpRequest, sign_in: EmailSignIn, *, code: str, token: str) -> None:
    link_url = settings.CIAM_ISSUER + reverse("passwordless:link", args=[token])
    context = {
        "code": code,
        "link_url": link_url,
        "signup": account_for_email(sign_in.email) is None,
        "expiry_minutes": max(1, app_settings.SECONDS // 60),
    }
    get_account_adapter(request).send_mail("account/email/login_code", sign_in.email, context)


def _delete_long_expired() -> None:
    """Keep the table small: rows expired for a day go, a batch at a time."""
    cutoff = timezone.now() - timedelta(days=1)
    stale = list(
        EmailSignIn.objects.filter(expires_at__lt=cutoff).values_list("pk", flat=True)[:200]
    )
    if stale:
        EmailSignIn.objects.filter(pk__in=stale).delete()


def _finish(request: HttpRequest, sign_in: EmailSignIn) -> Result:
    """Spend the email (once, even under concurrent requests), then sign the browser in."""
    now = timezone.now()
    claimed = EmailSignIn.objects.filter(
        pk=sign_in.pk,
        used_at__isnull=True,
        expires_at__gt=now,
        failed_attempts__lt=app_settings.MAX_ATTEMPTS,
    ).update(used_at=now)
    if not claimed:
        return Result(Outcome.SPENT, sign_in=sign_in)
    user, created = _account_for_sign_in(request, sign_in.email)
    # The session keeps pointing at the spent sign-in: another tab of this browser that
    # waits on the code page sees "done" and follows on to ``next``.
    if not user.is_active:
        return Result(Outcome.INACTIVE, sign_in=sign_in, redirect_url=reverse("account_inactive"))
    login(request, user, backend=SESSION_BACKEND)
    # allauth's record (its re-authentication checks read it), then the session's own state:
    # the receiver of user_logged_in recorded a password sign-in, this call corrects it.
    record_authentication(request, user, ALLAUTH_METHOD, email=sign_in.email)
    session_record_authentication(request=request, user_id=str(user.pk), methods=[AMR_EMAIL])
    if created:
        account_signals.user_signed_up.send(sender=user.__class__, request=request, user=user)
    throttle.clear(_email_failure_counter(sign_in.email))
    redirect_url = sign_in.next_url or resolve_url(settings.LOGIN_REDIRECT_URL)
    return Result(Outcome.SIGNED_IN, sign_in=sign_in, redirect_url=redirect_url)


def _account_for_sign_in(request: HttpRequest, email: str) -> tuple[AbstractBaseUser, bool]:
    """The account the address opens (its address now verified), or a new one."""
    user = account_for_email(email)
    if user is None:
        try:
            with transaction.atomic():
                user = user_create(email=email, password=None, email_verified=True, validate=False)
            return user, True
        except IntegrityError:  # created by a concurrent request a moment ago
            user = account_for_email(email)
            if user is None:
                raise
    _verify_address(request, user, email)
    return user, False


@transaction.atomic
def _verify_address(request: HttpRequest, user: AbstractBaseUser, email: str) -> None:
    """Mark ``email`` verified for ``user``: the person just proved they read it.

    An address that was recorded but never verified may have been typed by someone else who
    signed up first with a password (account pre-hijacking): that password stops working, and
    the owner of the address can set a new one. Accounts an operator created without an
    address record keep their password.
    """
    address = EmailAddress.objects.filter(user=user, email__iexact=email).first()
    if address is not None and address.verified:
        return
    if address is not None and user.has_usable_password():
        user.set_unusable_password()
        user.save(update_fields=["password"])
    if address is None:
        has_primary = EmailAddress.objects.filter(user=user, primary=True).exists()
        address = EmailAddress.objects.create(
            user=user, email=email, verified=True, primary=not has_primary
        )
    else:
        address.verified = True
        address.save(update_fields=["verified"])
    account_signals.email_confirmed.send(
        sender=EmailAddress, request=request, email_address=address
    )
