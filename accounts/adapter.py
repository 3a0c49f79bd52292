"""allauth adapter: the provider's hooks into allauth's account flows."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest
from django.urls import reverse
from django.utils import translation

from sessions_ctx.services.logout import session_logout
from sessions_ctx.services.password_attempts import (
    PasswordAttemptRefused,
    password_attempt_admit,
    password_attempt_succeeded,
)
from sessions_ctx.throttle import BackoffAttempt

from .links import issuer_url
from .validators import email_mailable, validate_mailable_email

logger = logging.getLogger(__name__)


def _identifier(credentials: dict[str, Any]) -> str:
    return str(credentials.get("email") or credentials.get("username") or "")


class AccountAdapter(DefaultAccountAdapter):
    def get_reset_password_from_key_url(self, key: str) -> str:
        path = reverse("account_reset_password_from_key", kwargs={"uidb36": "UID", "key": "KEY"})
        return issuer_url(path.replace("UID-KEY", quote(key)))

    _password_attempt: BackoffAttempt | None = None

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        # Every password check (sign-in, "confirm it's you") goes through the provider's
        # throttle, per account and address and per address (sessions_ctx), instead of
        # allauth's ``login_failed`` limit, whose count per email address alone let anyone
        # lock a customer out.
        try:
            self._password_attempt = password_attempt_admit(
                request=request, identifier=_identifier(credentials)
            )
        except PasswordAttemptRefused:
            raise self.validation_error("too_many_login_attempts") from None

    def authenticate(self, request: HttpRequest, **credentials: Any) -> AbstractBaseUser | None:
        self._password_attempt = None
        user = super().authenticate(request, **credentials)
        attempt = self._password_attempt
        if user is not None and attempt is not None:
            password_attempt_succeeded(
                request=request, identifier=_identifier(credentials), attempt=attempt
            )
        self._password_attempt = None
        return user

    def get_client_ip(self, request: HttpRequest) -> str:
        # Fewer X-Forwarded-For entries than trusted proxies (CIAM_TRUSTED_PROXY_COUNT): the
        # request did not come through them. allauth raises ImproperlyConfigured (a 500 on
        # every rate-limited page); it is refused like a missing address instead.
        try:
            return super().get_client_ip(request)
        except ImproperlyConfigured:
            raise PermissionDenied("Unable to determine client IP address") from None

    def logout(self, request: HttpRequest) -> None:
        # Every way out ends the session the same way (tokens, back-channel logout).
        session_logout(request=request)

    def clean_email(self, email: str) -> str:
        # Sign-up, added addresses and password reset: an address no email can be sent to
        # is refused like a malformed one.
        validate_mailable_email(email)
        return super().clean_email(email)

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        if not email_mailable(email):
            # A form that let such an address through: nothing can be delivered to it.
            logger.warning("No %s email: the address cannot be written", template_prefix)
            return
        # Subjects are rendered without a request (no context processors): brand them here.
        context = {
            "brand_name": settings.CIAM_BRAND_NAME,
            "brand_logo_url": settings.CIAM_BRAND_LOGO_URL,
            "brand_color": settings.CIAM_BRAND_COLOR,
            **context,
        }
        super().send_mail(template_prefix, email, context)

    def send_notification_mail(
        self, template_prefix: str, user: Any, context: Any = None, email: Any = None
    ) -> None:
        # Security notices in the customer's language (their profile's locale), else the
        # request's.
        from .mfa.notices import notice_language

        with translation.override(notice_language(user=user) or translation.get_language()):
            super().send_notification_mail(template_prefix, user, context, email)
