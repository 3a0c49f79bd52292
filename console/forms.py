"""Forms of the operators' console."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from unfold.forms import AuthenticationForm  # type: ignore[import-untyped]

from sessions_ctx.services.password_attempts import (
    PasswordAttemptRefused,
    password_attempt_admit,
    password_attempt_succeeded,
)


class AdminSignInForm(AuthenticationForm):
    """The admin's sign-in form (django-unfold's), with every password check going through
    the hosted sign-in's throttle (sessions_ctx.services.password_attempts): wrong passwords
    counted per (account, address) and per address, and refused without being checked while
    a back-off runs. A right password for an account that may not open the admin (not
    staff, inactive) counts as a wrong one here."""

    error_messages = {
        **AuthenticationForm.error_messages,
        # The hosted sign-in's text (allauth's "too_many_login_attempts").
        "too_many_login_attempts": _("Too many failed login attempts. Try again later."),
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return super().clean()
        identifier = str(username)
        try:
            attempt = password_attempt_admit(request=self.request, identifier=identifier)
        except PasswordAttemptRefused:
            raise ValidationError(
                self.error_messages["too_many_login_attempts"], code="too_many_login_attempts"
            ) from None
        cleaned: dict[str, Any] = super().clean()
        password_attempt_succeeded(request=self.request, identifier=identifier, attempt=attempt)
        return cleaned
