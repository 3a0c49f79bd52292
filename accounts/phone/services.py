"""Changing the customer's mobile number: proven by a code sent to the new number first.

1. ``phone_change_start``: the new number, normalised by the profile schema (E.164 with
   phonenumbers), gets a 6-digit code by text message (accounts/sms.py). The session keeps
   the number, the code's HMAC (never the code), its expiry and the wrong attempts.
2. ``phone_change_confirm``: the right code before it expires and within
   ``CIAM_PHONE_MAX_ATTEMPTS`` switches the number through ``profile_update`` (source
   ``account``, verified), so the change is recorded like every other profile change; the
   old number is told.

A number another account already verified is never switched to, and the page cannot tell
(no enumeration): the code is not sent; that number is told instead that someone tried to add
it, and any code typed is wrong. Codes sent are limited per account and per number
(``CIAM_PHONE_SENDS_PER_HOUR``) and spaced (``CIAM_PHONE_RESEND_SECONDS``).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.sms import sms_send
from profiling.models import ProfileField, ValueSource
from profiling.services.values import ProfileInvalid, profile_changes_validate, profile_update
from sessions_ctx import throttle
from sessions_ctx.throttle import Limit

from .app_settings import app_settings
from .constants import (
    CACHE_PREFIX_RESEND,
    CACHE_PREFIX_SENDS,
    CODE_DIGITS,
    SESSION_KEY_PHONE_CHANGE,
)
from .selectors import phone_current, phone_display, phone_verified_elsewhere

HOUR = 3600


class PhoneChangeRefused(Exception):
    """The number cannot be used: ``code`` ("invalid_phone", "required", "same") and the
    customer's ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class PhoneChangeThrottled(Exception):
    """No code sent now: too many codes, or too soon after the last; ``retry_after`` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True)
class PendingPhoneChange:
    """The change in progress in this session."""

    field_key: str
    number: str
    expires: float
    attempts: int

    @property
    def expired(self) -> bool:
        return time.time() > self.expires

    @property
    def display(self) -> str:
        return phone_display(self.number)


def _brand() -> str:
    return str(settings.CIAM_BRAND_NAME)


def _digest(*, user: Any, number: str, code: str) -> str:
    return salted_hmac("accounts.phone.code", f"{user.pk}:{number}:{code}").hexdigest()


def _send_limits(*, user: Any, number: str) -> list[Limit]:
    per_hour = app_settings.SENDS_PER_HOUR
    return [
        Limit(throttle.user_counter(CACHE_PREFIX_SENDS, user.pk), per_hour, HOUR),
        Limit(
            throttle.counter(CACHE_PREFIX_SENDS, "phone:" + throttle.subject_digest(number)),
            per_hour,
            HOUR,
        ),
    ]


def _cooldown(*, user: Any, number: str) -> str:
    """The pause between two codes to one number for one account (another number, after a
    typo, may be tried at once; the hourly limits still apply)."""
    return throttle.counter(
        CACHE_PREFIX_RESEND, f"user:{user.pk}:phone:{throttle.subject_digest(number)}"
    )


def _state(request: HttpRequest) -> dict[str, Any] | None:
    state = request.session.get(SESSION_KEY_PHONE_CHANGE)
    user = getattr(request, "user", None)
    if (
        not isinstance(state, dict)
        or user is None
        or state.get("user") != str(user.pk)
        or not isinstance(state.get("phone"), str)
    ):
        return None
    return state


def _send_code(*, request: HttpRequest, field: ProfileField, number: str) -> None:
    """A new code for ``number`` (or the "already in use" notice), the session's state
    restarted; PhoneChangeThrottled when none may be sent now."""
    user = request.user
    limits = _send_limits(user=user, number=number)
    wait = throttle.retry_after(limits)
    if wait:
        raise PhoneChangeThrottled(wait)
    cooldown = _cooldown(user=user, number=number)
    wait = throttle.cooldown_start(cooldown, seconds=app_settings.RESEND_SECONDS)
    if wait:
        raise PhoneChangeThrottled(wait)
    throttle.hit_all(limits)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    seconds = app_settings.CODE_SECONDS
    request.session[SESSION_KEY_PHONE_CHANGE] = {
        "user": str(user.pk),
        "field": field.key,
        "phone": number,
        "digest": _digest(user=user, number=number, code=code),
        "expires": time.time() + seconds,
        "attempts": 0,
    }
    if phone_verified_elsewhere(user=user, field=field, number=number):
        body = _(
            "%(brand)s: someone asked to add this number to an account, but it is already "
            "verified on another one. Nothing was changed. If it was you, sign in to the "
            "account that has this number."
        ) % {"brand": _brand()}
    else:
        minutes = max(1, seconds // 60)
        body = ngettext(
            "%(brand)s: %(code)s is your code to confirm this mobile number. It expires in "
            "%(minutes)d minute. Never share it.",
            "%(brand)s: %(code)s is your code to confirm this mobile number. It expires in "
            "%(minutes)d minutes. Never share it.",
            minutes,
        ) % {"brand": _brand(), "code": code, "minutes": minutes}
    sms_send(to=number, body=body)


def phone_change_start(*, request: HttpRequest, field: ProfileField, raw: Any) -> str:
    """Send a code to the number ``raw`` stands for; the number (E.164).

    Raises PhoneChangeRefused for a number that cannot be read, an empty one, or the
    customer's current verified number; PhoneChangeThrottled when no code may be sent now.
    """
    try:
        number = profile_changes_validate(changes={field.key: raw}).get(field.key)
    except ProfileInvalid as invalid:
        error = invalid.errors.get(field.key) or next(iter(invalid.errors.values()))
        raise PhoneChangeRefused(error.code, error.message) from None
    if not isinstance(number, str) or not number:
        raise PhoneChangeRefused("required", _("Enter your new mobile number."))
    current = phone_current(user=request.user, field=field)
    if current is not None and current.verified and current.number == number:
        raise PhoneChangeRefused("same", _("This is already your verified mobile number."))
    _send_code(request=request, field=field, number=number)
    return number


def phone_change_pending(*, request: HttpRequest) -> PendingPhoneChange | None:
    """The change in progress in this session for the signed-in user, expired or not."""
    state = _state(request)
    if state is None:
        return None
    try:
        return PendingPhoneChange(
            field_key=str(state["field"]),
            number=str(state["phone"]),
            expires=float(state["expires"]),
            attempts=int(state["attempts"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def phone_change_resend(*, request: HttpRequest, field: ProfileField) -> None:
    """A new code for the pending number (the old code stops working);
    PhoneChangeThrottled when none may be sent now, LookupError without a pending change."""
    pending = phone_change_pending(request=request)
    if pending is None or pending.field_key != field.key:
        raise LookupError("No phone change in progress.")
    _send_code(request=request, field=field, number=pending.number)


def phone_change_cancel(*, request: HttpRequest) -> None:
    """Forget the change in progress (nothing was changed)."""
    request.session.pop(SESSION_KEY_PHONE_CHANGE, None)


@dataclass(frozen=True)
class PhoneConfirmation:
    """What a typed code did: ``changed``, ``wrong`` (``attempts_left`` more), ``expired``,
    ``too_many`` (the change was dropped) or ``none`` (no change in progress)."""

    outcome: str
    number: str = ""
    attempts_left: int = 0

    @property
    def ok(self) -> bool:
        return self.outcome == "changed"


def _notify_old_number(*, old: str, new: str) -> None:
    if new:
        body = _(
            "%(brand)s: the mobile number on your account was changed to one ending in "
            "%(last)s. If you didn't do this, sign in and secure your account."
        ) % {"brand": _brand(), "last": new[-4:]}
    else:
        body = _(
            "%(brand)s: this mobile number was removed from your account. If you didn't do "
            "this, sign in and secure your account."
        ) % {"brand": _brand()}
    sms_send(to=old, body=body)


def phone_change_confirm(
    *, request: HttpRequest, field: ProfileField, code: str
) -> PhoneConfirmation:
    """Check ``code`` against the pending change; on success the number is switched
    (``profile_update``, verified) and the old number told."""
    state = _state(request)
    pending = phone_change_pending(request=request)
    if state is None or pending is None or pending.field_key != field.key:
        return PhoneConfirmation("none")
    if pending.expired:
        phone_change_cancel(request=request)
        return PhoneConfirmation("expired", number=pending.number)
    user = request.user
    # Every guess counts in the shared cache too, atomically per account and per number:
    # the session's count alone would let parallel requests guess without end.
    guesses = max(
        throttle.hit(throttle.user_counter("phone-code-guess", user.pk), window=3600),
        throttle.hit(
            throttle.counter("phone-code-guess", throttle.subject_digest(pending.number)),
            window=3600,
        ),
    )
    if guesses > 2 * app_settings.MAX_ATTEMPTS:
        phone_change_cancel(request=request)
        return PhoneConfirmation("too_many", number=pending.number)
    expected = str(state.get("digest", ""))
    right = bool(expected) and constant_time_compare(
        expected, _digest(user=user, number=pending.number, code=code)
    )
    if not right or phone_verified_elsewhere(user=user, field=field, number=pending.number):
        attempts = pending.attempts + 1
        left = app_settings.MAX_ATTEMPTS - attempts
        if left <= 0:
            phone_change_cancel(request=request)
            return PhoneConfirmation("too_many", number=pending.number)
        state["attempts"] = attempts
        request.session[SESSION_KEY_PHONE_CHANGE] = state
        return PhoneConfirmation("wrong", number=pending.number, attempts_left=left)
    phone_change_cancel(request=request)
    old = phone_current(user=user, field=field)
    profile_update(
        user=user,
        changes={field.key: pending.number},
        source=ValueSource.ACCOUNT,
        verified=[field.key],
    )
    throttle.clear(_cooldown(user=user, number=pending.number))
    if old is not None and old.number != pending.number:
        _notify_old_number(old=old.number, new=pending.number)
    return PhoneConfirmation("changed", number=pending.number)


def phone_remove(*, user: Any, field: ProfileField) -> bool:
    """Remove ``user``'s mobile number (``profile_update``, source ``account``) and tell it;
    whether there was one."""
    old = phone_current(user=user, field=field)
    if old is None:
        return False
    profile_update(user=user, changes={field.key: None}, source=ValueSource.ACCOUNT)
    _notify_old_number(old=old.number, new="")
    return True
