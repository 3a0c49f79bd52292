"""Forms of the mobile number change: the new number, and the code sent to it."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from .constants import CODE_DIGITS

_SEPARATORS = re.compile(r"[\s.-]")


class NewNumberForm(forms.Form):
    """The new number as typed (the profile schema normalises and validates it)."""

    phone = forms.CharField(
        label=_("New mobile number"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "type": "tel"}),
        error_messages={"required": _("Enter your new mobile number.")},
    )


class CodeForm(forms.Form):
    """The code sent by text message (spaces, dots and dashes ignored)."""

    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": r"[0-9 ]*",
            }
        ),
        error_messages={"required": _("Enter the code we sent you.")},
    )

    def clean_code(self) -> str:
        code = _SEPARATORS.sub("", self.cleaned_data["code"])
        if len(code) != CODE_DIGITS or not code.isascii() or not code.isdigit():
            raise forms.ValidationError(
                _("The code has %(digits)d digits."), params={"digits": CODE_DIGITS}
            )
        return code
