from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.validators import validate_mailable_email

from .constants import CODE_DIGITS


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        validators=[validate_mailable_email],
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=16,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "spellcheck": "false",
            }
        ),
    )

    def clean_code(self) -> str:
        # People paste "123 456" or "123-456"; only the digits count.
        code = "".join(ch for ch in self.cleaned_data["code"] if not ch.isspace() and ch != "-")
        if len(code) != CODE_DIGITS or not code.isdigit():
            raise forms.ValidationError(
                _("Enter the %(digits)s-digit code from the email.") % {"digits": CODE_DIGITS}
            )
        return code


class NumberForm(forms.Form):
    number = forms.CharField(
        label=_("Number shown on the other device"),
        max_length=4,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "off", "autofocus": True}
        ),
    )
