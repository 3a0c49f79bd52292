"""Forms of the data-rights pages: they only shape input; services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.mfa.forms import ReauthenticationForm


class ErasureConfirmForm(ReauthenticationForm):
    """ "Confirm it's you" before deleting the account: the password, or a current code of
    the authenticator app, whichever the account has."""

    def __init__(self, *args: Any, has_password: bool, has_totp: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not has_password:
            del self.fields["password"]
            self.fields["code"].label = _("Code from your authenticator app")
        if not has_totp:
            del self.fields["code"]

    def clean(self) -> dict[str, Any]:
        data = forms.Form.clean(self) or {}
        if not data.get("password") and not data.get("code"):
            if "password" in self.fields:
                raise forms.ValidationError(_("Enter your password to confirm it's you."))
            raise forms.ValidationError(_("Enter a code from your authenticator app."))
        return data
