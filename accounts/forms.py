"""allauth form subclasses of the hosted pages."""

from __future__ import annotations

from typing import Any

from allauth.account import forms as allauth_forms
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from sessions_ctx.services.sessions import keep_signed_in_choose


class LoginForm(allauth_forms.LoginForm):
    """allauth's sign-in form with its "remember" box as "Keep me signed in" (checked by
    default): a long sliding session on this browser, or one that ends when it closes
    (sessions_ctx.services.sessions)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        remember = self.fields.get("remember")
        if remember is not None:
            remember.label = _("Keep me signed in")
            remember.help_text = _("Uncheck on a shared or public computer.")
            remember.initial = True

    def login(self, request: HttpRequest, redirect_url: str | None = None) -> Any:
        keep_signed_in_choose(request=request, keep=bool(self.cleaned_data.get("remember")))
        return super().login(request, redirect_url)
