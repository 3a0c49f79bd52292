from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ..mfa.forms import CODE_WIDGET_ATTRS


class EmailCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from the email"),
        max_length=12,
        widget=forms.TextInput(attrs=CODE_WIDGET_ATTRS),
    )
