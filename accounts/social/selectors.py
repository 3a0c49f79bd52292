"""Reads shared by the social-login views, services, forms and adapter."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from allauth.account.models import EmailAddress
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from accounts.passwordless.app_settings import app_settings as email_sign_in_settings
from accounts.passwordless.selectors import account_for_email, normalize_email
from sessions_ctx.selectors import session_auth_state

from .constants import SESSION_KEY_SOCIAL_LINK, SOCIAL_LINK_SECONDS

if TYPE_CHECKING:
    from allauth.socialaccount.models import SocialAccount, SocialLogin


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
    return (
        email_sign_in_settings.ENABLED
        and EmailAddress.objects.filter(user=user, verified=True).exists()
    )


def social_login_next_url(
    request: HttpRequest, *, provider_id: str, state: Mapping[str, Any] | None
) -> str:
    """The ``next`` a failed or cancelled social sign-in was started with.

    allauth keeps what the login form posted (``next``, ``process``...) as the sign-in's
    state, stashed in the session under the ``state`` parameter sent upstream
    (allauth.socialaccount.internal.statekit). The callback consumes it and hands it to the
    error hook; when the callback's ``state`` matched nothing (forged or stale), the newest
    state still stashed for this provider is the one this browser started.
    """
    if state is None:
        from allauth.socialaccount.internal import statekit

        states = statekit.get_states(request)
        newest = statekit.get_oldest_state(states, rev=True, provider_id=provider_id)
        state = states[newest][0] if newest else None
    if not isinstance(state, Mapping):
        return ""
    next_url = state.get("next")
    return next_url if isinstance(next_url, str) else ""
