from __future__ import annotations

from typing import Any

from allauth.socialaccount.forms import DisconnectForm
from django import forms
from django.utils.translation import gettext_lazy as _

from .constants import CODE_DIGITS
from .selectors import social_disconnect_leaves_a_way_in


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
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


class SocialDisconnectForm(DisconnectForm):
    """allauth's form with this provider's idea of "the last way in".

    allauth refuses to unlink the last provider of an account without a password. Here an
    account can also sign in with a code sent to its verified address (when email sign-in is
    on), so only an account left with no way at all is refused.
    """

    def clean(self) -> dict[str, Any]:
        cleaned_data = forms.Form.clean(self)
        account = cleaned_data.get("account")
        if account is not None and not social_disconnect_leaves_a_way_in(account):
            raise forms.ValidationError(
                _(
                    "This is the only way you can sign in. Set a password or connect "
                    "another account before removing it."
                )
            )
        return cleaned_data
