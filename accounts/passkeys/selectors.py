"""Reads about passkeys that views, steps and other apps share."""

from __future__ import annotations

import time
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.http import HttpRequest

from sessions_ctx import throttle
from sessions_ctx.selectors import session_auth_state
from sessions_ctx.throttle import Limit

from .app_settings import app_settings
from .constants import AMR_HARDWARE_KEY, AMR_SOFTWARE_KEY, CACHE_PREFIX_FAILURES
from .models import Passkey, PasskeyOfferDismissal


def user_has_passkey(user: AbstractBaseUser) -> bool:
    """True when ``user`` has at least one passkey that signs in (not disabled)."""
    if user is None or not user.is_authenticated:
        return False
    return Passkey.objects.filter(user=user, disabled_at__isnull=True).exists()


def passkeys_of(user: AbstractBaseUser) -> QuerySet[Passkey]:
    """The user's passkeys, oldest first."""
    return Passkey.objects.filter(user=user).order_by("created", "pk")


def passkey_offer_dismissed(user: AbstractBaseUser) -> bool:
    return PasskeyOfferDismissal.objects.filter(user=user).exists()


def passkey_is_last_way_in(passkey: Passkey) -> bool:
    """True when removing ``passkey`` would leave its user without a way to sign in: no
    usable password and no other passkey. A disabled passkey is no way in."""
    user = passkey.user
    if passkey.is_disabled or user.has_usable_password():
        return False
    others = Passkey.objects.filter(user=user, disabled_at__isnull=True).exclude(pk=passkey.pk)
    return not others.exists()


def session_recently_authenticated(request: HttpRequest) -> bool:
    """True when the session's user authenticated (or confirmed it is them) within
    ``CIAM_PASSKEYS_RECENT_AUTHENTICATION_SECONDS``."""
    state = session_auth_state(request)
    if state is None:
        return False
    return time.time() - state.auth_time <= app_settings.RECENT_AUTHENTICATION_SECONDS


def session_authenticated_since(request: HttpRequest, moment: datetime) -> bool:
    """True when the session's user authenticated (or confirmed it is them) after
    ``moment``. ``auth_time`` counts whole seconds: the same second does not count."""
    state = session_auth_state(request)
    return state is not None and state.auth_time > moment.timestamp()


def session_signed_in_with_passkey(request: HttpRequest) -> bool:
    state = session_auth_state(request)
    return state is not None and bool({AMR_HARDWARE_KEY, AMR_SOFTWARE_KEY} & set(state.amr))


# --- failed attempts ---------------------------------------------------------------------------


def failure_limit(request: HttpRequest) -> Limit:
    """Failed passkey sign-ins (and password confirmations) allowed from this client
    address: ``CIAM_PASSKEYS_MAX_FAILED_ATTEMPTS`` within
    ``CIAM_PASSKEYS_FAILED_ATTEMPTS_WINDOW_SECONDS``."""
    return Limit(
        throttle.address_counter(CACHE_PREFIX_FAILURES, request),
        app_settings.MAX_FAILED_ATTEMPTS,
        app_settings.FAILED_ATTEMPTS_WINDOW_SECONDS,
    )


def failed_attempts_retry_after(*, request: HttpRequest) -> int:
    """Seconds until this client address may try again; 0 while fewer than
    ``CIAM_PASSKEYS_MAX_FAILED_ATTEMPTS`` attempts failed in the current window."""
    return throttle.retry_after([failure_limit(request)])
