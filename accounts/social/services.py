"""Social sign-in: holding one that matches an existing account, linking it once the owner
signed in, and naming a new account's profile. Every write and side effect."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from allauth.account.adapter import get_adapter as get_account_adapter
from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import reverse

from accounts.passwordless.selectors import safe_next_url
from profiling.models import ValueSource
from profiling.services.values import ProfileInvalid, profile_update

from .constants import SESSION_KEY_SOCIAL_LINK
from .selectors import PendingSocialLink, social_link_owner_signed_in, social_link_pending

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from allauth.socialaccount.models import SocialLogin


def social_link_stash(
    *, request: HttpRequest, sociallogin: SocialLogin, user: AbstractBaseUser, email: str
) -> None:
    """Hold a social sign-in whose verified email belongs to ``user`` until that account's
    owner signs in (a provider's word alone never opens an existing account)."""
    request.session[SESSION_KEY_SOCIAL_LINK] = {
        "sociallogin": sociallogin.serialize(),
        "user_id": str(user.pk),
        "email": email,
        "started_at": time.time(),
    }


def social_link_complete(*, request: HttpRequest) -> str:
    """Link the held social account to the signed-in owner; the URL to continue to.

    Raises PermissionDenied unless the matching account signed in after the social
    sign-in began, and LookupError when nothing is held (or it expired).
    """
    from allauth.socialaccount.models import SocialAccount

    pending: PendingSocialLink | None = social_link_pending(request)
    if pending is None:
        raise LookupError("No social sign-in is waiting to be linked.")
    if not social_link_owner_signed_in(request, pending):
        raise PermissionDenied("Sign in to the matching account first.")
    sociallogin = pending.sociallogin
    request.session.pop(SESSION_KEY_SOCIAL_LINK, None)
    taken = SocialAccount.objects.filter(
        provider=sociallogin.account.provider, uid=sociallogin.account.uid
    ).exists()
    adapter = get_account_adapter(request)
    if taken:
        adapter.add_message(
            request, messages.ERROR, "socialaccount/messages/account_connected_other.txt"
        )
    else:
        sociallogin.connect(request, request.user)
        adapter.add_message(
            request,
            messages.INFO,
            "socialaccount/messages/account_connected.txt",
            message_context={"sociallogin": sociallogin, "action": "added"},
        )
    return safe_next_url(sociallogin.get_redirect_url(request)) or reverse(
        "socialaccount_connections"
    )


def social_link_cancel(*, request: HttpRequest) -> None:
    """Forget the held social sign-in ("not now")."""
    request.session.pop(SESSION_KEY_SOCIAL_LINK, None)


def profile_fill_from_social_login(*, user: AbstractBaseUser, sociallogin: SocialLogin) -> None:
    """Name the new account's profile from the provider's claims (given and family name;
    a lone full name is split at its first space)."""
    data = sociallogin.provider.extract_common_fields(sociallogin.account.extra_data) or {}
    given_name = (data.get("first_name") or "").strip()
    family_name = (data.get("last_name") or "").strip()
    if not (given_name or family_name) and data.get("name"):
        given_name, _space, family_name = str(data["name"]).strip().partition(" ")
    if not (given_name or family_name):
        return
    changes = {"given_name": given_name[:150], "family_name": family_name.strip()[:150]}
    try:
        # What the customer typed wins over the provider's claims (keep_existing).
        profile_update(
            user=user,
            changes=changes,
            source=ValueSource.SOCIAL,
            source_detail=sociallogin.account.provider[:64],
            keep_existing=True,
            check_junk=False,
        )
    except ProfileInvalid as invalid:
        # The codes only: the names themselves are personal data, not for logs.
        logger.info(
            "Names from %s not kept: %s", sociallogin.account.provider, sorted(invalid.errors)
        )
