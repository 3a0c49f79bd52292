"""allauth adapter: the provider's hooks into allauth's account flows."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest
from django.utils import translation

from sessions_ctx.services.logout import session_logout


class AccountAdapter(DefaultAccountAdapter):
    def logout(self, request: HttpRequest) -> None:
        # Every way out ends the session the same way (tokens, back-channel logout).
        session_logout(request=request)

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
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
