"""Security notices: an email to the account's owner after a change of how it signs in.

allauth sends its own after a password or email change (ACCOUNT_EMAIL_NOTIFICATIONS); these
are the provider's, for what allauth does not manage here (the authenticator app, recovery
codes, passkeys) and for an email address added to the account. They go through allauth's
adapter (``send_notification_mail``), so every notice looks alike and carries the change's
time, client address and browser, and the setting turns them all off together.

Language: the customer's own, when their profile has one (the OIDC ``locale`` claim, OIDC
Core 5.1) that the site speaks; else the language of the request that made the change
(LocaleMiddleware: the language cookie, ``ui_locales`` of the authorization request,
Accept-Language), the language the customer was reading the change in.

Templates: ``notifications/<notice>_subject.txt``, ``_message.txt`` and ``_message.html``
(accounts/templates/notifications/), extending ``account/email/base_notification``.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.models import EmailAddress
from allauth.core.context import request_context
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.urls import reverse
from django.utils import translation

from accounts.links import issuer_url
from profiling.models import ProfileValue


def notice_language(*, user: AbstractBaseUser) -> str | None:
    """The language code of ``user``'s profile ``locale`` (``pt-BR`` -> ``pt-br``) when the
    site has it (LANGUAGES), else None."""
    stored = (
        ProfileValue.objects.filter(user_id=user.pk, field__claim="locale")
        .values_list("value", flat=True)
        .first()
    )
    if not isinstance(stored, str) or not stored.strip():
        return None
    try:
        return translation.get_supported_language_variant(stored.strip().replace("_", "-").lower())
    except LookupError:
        return None


def security_notice_send(
    *,
    request: HttpRequest | None,
    user: AbstractBaseUser,
    notice: str,
    manage_url_name: str = "",
    context: dict[str, Any] | None = None,
    email: str | None = None,
) -> None:
    """Email ``notice`` to ``user``'s primary address (or ``email``), with a link to the
    page ``manage_url_name`` where the change can be reviewed. Without a request (a
    management command, a fixture) there is no browser to report and nothing is sent."""
    if request is None:
        return
    values = dict(context or {})
    if manage_url_name:
        values["manage_url"] = issuer_url(reverse(manage_url_name))
    # allauth's adapter reads the request from its context (set by its middleware): set it
    # for callers outside a page too.
    language = notice_language(user=user) or translation.get_language()
    with request_context(request), translation.override(language):
        get_account_adapter(request).send_notification_mail(
            f"notifications/{notice}", user, values, email=email
        )


def email_added_notify(
    *, request: HttpRequest | None, user: AbstractBaseUser, email_address: EmailAddress
) -> None:
    """Tell the account's other (primary) address that ``email_address`` was added: it can
    now receive sign-in codes and password resets (allauth's ``email_added`` signal). Not
    sent when the added address is the only one, which is then its own confirmation."""
    primary = (
        EmailAddress.objects.filter(user=user, primary=True)
        .exclude(pk=email_address.pk)
        .values_list("email", flat=True)
        .first()
    )
    recipient = primary or str(getattr(user, "email", "") or "")
    if not recipient or recipient.lower() == email_address.email.lower():
        return
    security_notice_send(
        request=request,
        user=user,
        notice="email_added",
        manage_url_name="account_email",
        context={"added_email": email_address.email},
        email=recipient,
    )
