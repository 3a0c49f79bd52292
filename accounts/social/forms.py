from __future__ import annotations

from typing import Any

from allauth.socialaccount.forms import DisconnectForm
from django import forms
from django.utils.translation import gettext_lazy as _

from .selectors import social_disconnect_leaves_a_way_in


class SocialDisconnectForm(DisconnectForm):
    """allauth's form with this provider's idea of "the last way in".

    allauth refuses to unlink the last provider of an account without a password. Here an
    account can also sign in with a code sent to its verified address (when email sign-in is
    on), so only an account left with no way at all is refused.
    """

    def clean(self) -> dict[str, Any]:
        forms.Form.clean(self)  # not DisconnectForm.clean: its "last way in" rule is replaced
        account = self.cleaned_data.get("account")
        if account is not None and not social_disconnect_leaves_a_way_in(account):
            raise forms.ValidationError(
                _(
                    "This is the only way you can sign in. Set a password or connect "
                    "another account before removing it."
                )
            )
        return self.cleaned_data
