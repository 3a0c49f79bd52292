"""Reads shared by the email sign-in and social-login views, services and adapter."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from sessions_ctx.selectors import session_auth_state

from . import ratelimit
from .app_settings import app_settings
from .constants import (
    SESSION_KEY_BROWSER_NONCE,
    SESSION_KEY_CURRENT,
    SESSION_KEY_SOCIAL_LINK,
    SOCIAL_LINK_SECONDS,
)
from .models import EmailSignIn

if TYPE_CHECKING:
    from allauth.socialaccount.models import SocialAccount, SocialLogin


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


def resend_wait_seconds(email: str) -> int:
    """Seconds before another email may go to ``email`` (the resend cool-down)."""
    return ratelimit.cooldown_remaining(ratelimit.key("cooldown", ratelimit.email_key(email)))


def email_sign_in_url(request: HttpRequest) -> str:
    """The email sign-in page, carrying the page's ``next`` along; "" when turned off."""
    if not app_settings.ENABLED:
        return ""
    url = reverse("passwordless:start")
    next_url = safe_next_url(request.GET.get("next"))
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


# --- social login -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingSocialLink:
    """A social sign-in waiting for the owner of the matching account to sign in."""

    sociallogin: SocialLogin
    user_id: str
    email: str
    started_at: float

    @property
    def provider_name(self) -> str:
        return self.sociallogin.provider.name


def social_login_existing_account(sociallogin: SocialLogin) -> tuple[AbstractBaseUser, str] | None:
    """The local account that one of the provider's verified addresses opens, if any."""
    for address in sociallogin.email_addresses:
        if not address.verified or not address.email:
            continue
        email = normalize_email(address.email)
        user = account_for_email(email)
        if user is not None:
            return user, email
    return None


def social_link_pending(request: HttpRequest) -> PendingSocialLink | None:
    from allauth.socialaccount.models import SocialLogin

    data = request.session.get(SESSION_KEY_SOCIAL_LINK)
    if not data or time.time() - float(data.get("started_at", 0)) > SOCIAL_LINK_SECONDS:
        return None
    try:
        sociallogin = SocialLogin.deserialize(data["sociallogin"])
    except (KeyError, ValueError):
        return None
    return PendingSocialLink(
        sociallogin=sociallogin,
        user_id=data["user_id"],
        email=data["email"],
        started_at=float(data["started_at"]),
    )


def social_link_owner_signed_in(request: HttpRequest, pending: PendingSocialLink) -> bool:
    """True when the matching account's owner signed in after the social sign-in began."""
    state = session_auth_state(request)
    return (
        state is not None
        and state.user_id == pending.user_id
        and state.auth_time >= int(pending.started_at)
    )


def social_disconnect_leaves_a_way_in(account: SocialAccount) -> bool:
    """Whether the user can still sign in once ``account`` is unlinked: with a password,
    another linked provider, or (email sign-in on) a code sent to a verified address."""
    from allauth.socialaccount.models import SocialAccount

    user = account.user
    if user.has_usable_password():
        return True
    if SocialAccount.objects.filter(user=user).exclude(pk=account.pk).exists():
        return True
    return app_settings.ENABLED and EmailAddress.objects.filter(user=user, verified=True).exists()
