"""Reads for the portal's overview and security overview.

Each function gathers, in a few queries, what one page summarises; the pages that own each
subject (passkeys, two-step verification, sessions, connected apps) stay the place to act.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts.mfa.selectors import recovery_codes_remaining, user_has_totp
from accounts.passkeys.models import Passkey
from consent.selectors import connected_apps
from sessions_ctx.activity import (
    ActivityEntry,
    SessionHistoryEntry,
    security_activity,
    sign_ins_recent,
)
from sessions_ctx.models import BrowserSession

RECENT_ON_OVERVIEW = 3
MAX_EMAIL_LENGTH = 254  # RFC 5321 4.5.3.1.3: a path holds at most 256 octets with <>


@dataclass(frozen=True)
class SecurityOverview:
    """How the account is protected, and what happened lately."""

    has_password: bool
    passkeys_active: int
    passkeys_disabled: int
    totp_enabled: bool
    recovery_codes_left: int
    social_accounts: list[str] = field(default_factory=list)
    activity: list[ActivityEntry] = field(default_factory=list)
    sign_ins: list[SessionHistoryEntry] = field(default_factory=list)


@dataclass(frozen=True)
class PortalOverview:
    """One line per section of the portal, for its overview (the home page)."""

    email: str
    email_addresses: int
    email_addresses_unverified: int
    has_password: bool
    passkeys_active: int
    totp_enabled: bool
    social_accounts: int
    sessions_active: int
    connected_apps: int


def _provider_name(account: SocialAccount) -> str:
    """The provider's display name; its id when the provider is no longer configured."""
    try:
        return str(account.get_provider().name)
    except Exception:  # a removed SocialApp or provider: still show what it was
        return account.provider


def _passkey_counts(user: Any) -> tuple[int, int]:
    passkeys = Passkey.objects.filter(user_id=user.pk)
    active = passkeys.filter(disabled_at__isnull=True).count()
    return active, passkeys.count() - active


def security_overview(*, user: Any, recent: int = RECENT_ON_OVERVIEW) -> SecurityOverview:
    """The account's sign-in methods and its ``recent`` latest security events and sign-ins."""
    active, disabled = _passkey_counts(user)
    return SecurityOverview(
        has_password=user.has_usable_password(),
        passkeys_active=active,
        passkeys_disabled=disabled,
        totp_enabled=user_has_totp(user=user),
        recovery_codes_left=recovery_codes_remaining(user=user),
        social_accounts=[
            _provider_name(account)
            for account in SocialAccount.objects.filter(user=user).order_by("pk")
        ],
        activity=security_activity(user=user, limit=recent),
        sign_ins=sign_ins_recent(user=user, limit=recent),
    )


def portal_overview(*, user: Any) -> PortalOverview:
    """Counts and states for the overview's summary of each section."""
    addresses = EmailAddress.objects.filter(user=user)
    active, _disabled = _passkey_counts(user)
    return PortalOverview(
        email=user.email,
        email_addresses=addresses.count(),
        email_addresses_unverified=addresses.filter(verified=False).count(),
        has_password=user.has_usable_password(),
        passkeys_active=active,
        totp_enabled=user_has_totp(user=user),
        social_accounts=SocialAccount.objects.filter(user=user).count(),
        sessions_active=BrowserSession.objects.filter(
            user_id=user.pk, ended_at__isnull=True
        ).count(),
        connected_apps=len(connected_apps(user=user)),
    )


def email_parse(raw: str) -> str | None:
    """An email address from a URL or form, or None when it is not a well-formed one."""
    email = (raw or "").strip()
    if not email or len(email) > MAX_EMAIL_LENGTH:
        return None
    try:
        validate_email(email)
    except ValidationError:
        return None
    return email


def email_address_of_user(*, user: Any, email: str) -> EmailAddress | None:
    """The user's address ``email`` (any case); None when it is not one of theirs."""
    return EmailAddress.objects.filter(user=user, email__iexact=email).first()
