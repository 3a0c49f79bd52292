"""Reads about passkeys that views, steps and other apps share."""

from __future__ import annotations

import time

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest

from sessions_ctx.selectors import session_auth_state

from .app_settings import app_settings
from .constants import AMR_HARDWARE_KEY, AMR_SOFTWARE_KEY, CACHE_PREFIX_FAILURES
from .models import Passkey, PasskeyOfferDismissal


def user_has_passkey(user: AbstractBaseUser) -> bool:
    """True when ``user`` has registered at least one passkey."""
    if user is None or not user.is_authenticated:
        return False
    return Passkey.objects.filter(user=user).exists()


def passkeys_of(user: AbstractBaseUser) -> QuerySet[Passkey]:
    """The user's passkeys, oldest first."""
    return Passkey.objects.filter(user=user).order_by("created", "pk")


def passkey_offer_dismissed(user: AbstractBaseUser) -> bool:
    return PasskeyOfferDismissal.objects.filter(user=user).exists()


def passkey_is_last_way_in(passkey: Passkey) -> bool:
    """True when removing ``passkey`` would leave its user without a way to sign in: no
    usable password and no other passkey."""
    user = passkey.user
    if user.has_usable_password():
        return False
    return not Passkey.objects.filter(user=user).exclude(pk=passkey.pk).exists()


def session_recently_authenticated(request: HttpRequest) -> bool:
    """True when the session's user authenticated (or confirmed it is them) within
    ``CIAM_PASSKEYS_RECENT_AUTHENTICATION_SECONDS``."""
    state = session_auth_state(request)
    if state is None:
        return False
    return time.time() - state.auth_time <= app_settings.RECENT_AUTHENTICATION_SECONDS


def session_missing_second_factor(request: HttpRequest) -> bool:
    """True while the user has a second factor (authenticator app) that this session has not
    proven: adding a passkey then would turn a stolen password alone into a
    phishing-resistant sign-in."""
    from accounts.mfa.selectors import session_needs_second_factor

    return session_needs_second_factor(request=request)


def session_signed_in_with_passkey(request: HttpRequest) -> bool:
    state = session_auth_state(request)
    return state is not None and bool({AMR_HARDWARE_KEY, AMR_SOFTWARE_KEY} & set(state.amr))


# --- failed attempts ---------------------------------------------------------------------------


def client_ip(request: HttpRequest) -> str:
    """The client's address as allauth sees it (ALLAUTH_TRUSTED_PROXY_COUNT and
    ALLAUTH_TRUSTED_CLIENT_IP_HEADER apply)."""
    from allauth.account.adapter import get_adapter

    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:
        return "unknown"


def failure_counter_key(request: HttpRequest) -> str:
    return f"{CACHE_PREFIX_FAILURES}:ip:{client_ip(request)}"


def failed_attempts_retry_after(*, request: HttpRequest) -> int:
    """Seconds until this client address may try again; 0 while fewer than
    ``CIAM_PASSKEYS_MAX_FAILED_ATTEMPTS`` attempts failed in the current window."""
    key = failure_counter_key(request)
    if int(cache.get(key, 0)) < app_settings.MAX_FAILED_ATTEMPTS:
        return 0
    now = time.time()
    until = float(cache.get(f"{key}:until", now + 1))
    return int(max(until - now, 1.0) + 0.999)
