"""Forms of the second-factor pages: they only shape input; services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

CODE_WIDGET_ATTRS = {
    "autocomplete": "one-time-code",
    "autocapitalize": "off",
    "spellcheck": "false",
    "autofocus": True,
}


class ConfirmTotpForm(forms.Form):
    """The code the new authenticator shows, proving it was set up right."""

    code = forms.CharField(
        label=_("Code from the app"),
        max_length=12,
        help_text=_("The 6-digit code your authenticator app shows now."),
        widget=forms.TextInput(attrs={**CODE_WIDGET_ATTRS, "inputmode": "numeric"}),
    )


class SecondFactorForm(forms.Form):
    """An authenticator code or a recovery code, and whether to remember this browser."""

    code = forms.CharField(
        label=_("Verification code"),
        max_length=24,
        help_text=_(
            "Enter the 6-digit code from your authenticator app, or one of your recovery codes."
        ),
        widget=forms.TextInput(attrs=CODE_WIDGET_ATTRS),
    )
    remember = forms.BooleanField(required=False)

    def __init__(self, *args: Any, remember_days: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if remember_days > 0:
            self.fields["remember"].label = ngettext(
                "Don't ask again on this browser for %(days)d day",
                "Don't ask again on this browser for %(days)d days",
                remember_days,
            ) % {"days": remember_days}
            self.fields["remember"].help_text = _(
                "Applications that require two-step verification will still ask."
            )
        else:
            del self.fields["remember"]


class ReauthenticationForm(forms.Form):
    """Password, or a current code, before a sensitive change (removal, new codes)."""

    password = forms.CharField(
        label=_("Your password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label=_("Or a code from your authenticator app"),
        required=False,
        max_length=24,
        help_text=_("A recovery code also works."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autocapitalize": "off"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("password") and not data.get("code"):
            raise forms.ValidationError(
                _("Enter your password or a code from your authenticator app.")
            )
        return data
