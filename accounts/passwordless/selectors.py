"""Reads shared by the email sign-in views and services (and by social login)."""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from sessions_ctx import throttle

from .app_settings import app_settings
from .constants import CACHE_PREFIX, SESSION_KEY_BROWSER_NONCE, SESSION_KEY_CURRENT
from .models import EmailSignIn


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return get_user_model().objects.normalize_email(email.strip()).lower()


def safe_next_url(value: str | None) -> str:
    """``value`` when it is a path on this site, else "" (no open redirect: "//host" and
    absolute URLs are refused)."""
    value = (value or "").strip()
    if not value.startswith("/") or value.startswith("//") or value.startswith("/\\"):
        return ""
    if not url_has_allowed_host_and_scheme(value, allowed_hosts=None):
        return ""
    return value[:2000]


def account_for_email(email: str) -> AbstractBaseUser | None:
    """The account an email sign-in with ``email`` opens, or None (then it creates one).

    A verified address of any account counts; otherwise only the account whose identifier it
    is. An unverified secondary address never does: whoever added someone else's address to
    their account must not receive that person's sign-ins.

    Both queries always run, so that a known and an unknown address cost the same.
    """
    address = (
        EmailAddress.objects.filter(email__iexact=email, verified=True)
        .select_related("user")
        .first()
    )
    owner = get_user_model().objects.filter(email__iexact=email).first()
    return address.user if address is not None else owner


def browser_hash(request: HttpRequest) -> str | None:
    nonce = request.session.get(SESSION_KEY_BROWSER_NONCE)
    return sha256_hex(nonce) if nonce else None


def email_sign_in_current(request: HttpRequest) -> EmailSignIn | None:
    """The email sign-in this browser asked for last, if the session still holds it."""
    pk = request.session.get(SESSION_KEY_CURRENT)
    own_hash = browser_hash(request)
    if not pk or not own_hash:
        return None
    return EmailSignIn.objects.filter(pk=pk, browser_hash=own_hash).first()


def email_sign_in_state(sign_in: EmailSignIn | None) -> str:
    """The sign-in's state: "waiting" for the code or link, "confirmed" on another device,
    "spent" (used, expired or out of attempts), or "none" without a sign-in."""
    if sign_in is None:
        return "none"
    if sign_in.used_at is not None or sign_in.is_expired():
        return "spent"
    if sign_in.failed_attempts >= app_settings.MAX_ATTEMPTS:
        return "spent"
    if sign_in.confirmed_at is not None:
        return "confirmed"
    return "waiting"


def email_sign_in_poll_state(request: HttpRequest) -> str:
    """What the asking tab's script polls: the state, or "done" once this browser finished
    the sign-in (in another tab, through the link)."""
    sign_in = email_sign_in_current(request)
    if sign_in is not None and sign_in.used_at is not None and request.user.is_authenticated:
        return "done"
    return email_sign_in_state(sign_in)


def resend_cooldown_counter(email: str) -> str:
    """The resend cool-down of ``email`` (sessions_ctx.throttle; no address in the cache)."""
    return throttle.counter(f"{CACHE_PREFIX}:cooldown", throttle.email_digest(email))


def resend_wait_seconds(email: str) -> int:
    """Seconds before another email may go to ``email`` (the resend cool-down)."""
    return throttle.cooldown_remaining(resend_cooldown_counter(email))


def email_sign_in_url(request: HttpRequest) -> str:
    """The email sign-in page, carrying the page's ``next`` along; "" when turned off."""
    if not app_settings.ENABLED:
        return ""
    url = reverse("passwordless:start")
    next_url = safe_next_url(request.GET.get("next"))
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url
