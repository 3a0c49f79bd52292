"""Forms of the passkey pages (all submit without JavaScript)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Passkey


class PasskeyRenameForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=Passkey._meta.get_field("name").max_length,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class ConfirmPasswordForm(forms.Form):
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
