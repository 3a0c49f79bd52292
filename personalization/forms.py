"""Forms of the "Interests" page: they only shape input; the services decide (an
``InterestError`` is shown on the form, in the page's language)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from .models import KEY_MAX_LENGTH, InterestKind
from .services.interests import InterestError

# The service's refusals (English, as raised) in the page's language.
SERVICE_MESSAGES = {
    "Name the interest.": _("Name the interest."),
    "Choose a category or a brand.": _("Choose a category or a brand."),
    "The name holds characters that cannot be stored.": _(
        "The name holds characters that cannot be stored."
    ),
    "Personalization is off.": _("Personalization is off. Turn it on to add interests."),
}
TOO_LONG = re.compile(r"At most (?P<count>\d+) characters\.")


def interest_error_text(error: InterestError) -> str:
    """``error``'s message for people, translated when it is one the service raises."""
    message = str(error)
    known = SERVICE_MESSAGES.get(message)
    if known is not None:
        return str(known)
    too_long = TOO_LONG.fullmatch(message)
    if too_long is not None:
        count = int(too_long["count"])
        return ngettext("At most %(count)s character.", "At most %(count)s characters.", count) % {
            "count": count
        }
    return message


class InterestAddForm(forms.Form):
    """ "I like ...": a category or a brand, by name."""

    kind = forms.ChoiceField(
        label=_("What is it?"),
        choices=[
            (InterestKind.CATEGORY, pgettext_lazy("add an interest", "A category")),
            (InterestKind.BRAND, pgettext_lazy("add an interest", "A brand")),
        ],
        initial=InterestKind.CATEGORY,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose a category or a brand."),
            "invalid_choice": _("Choose a category or a brand."),
        },
    )
    name = forms.CharField(
        label=_("Name"),
        max_length=KEY_MAX_LENGTH,
        help_text=_("For example: Running shoes, or the name of a brand you like."),
        error_messages={"required": _("Name the interest.")},
    )


class SwitchForm(forms.Form):
    """Turn personalization on or off; off needs ``confirm`` (its data is deleted)."""

    turn = forms.ChoiceField(choices=[("on", "on"), ("off", "off")])
    confirm = forms.BooleanField(required=False)
    # Turning on: the purpose versions the page showed (only those are granted).
    version = forms.TypedMultipleChoiceField(coerce=int, required=False, choices=())

    def __init__(self, *args: Any, versions: list[int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        version_field = self.fields["version"]
        assert isinstance(version_field, forms.TypedMultipleChoiceField)
        version_field.choices = [(pk, str(pk)) for pk in versions or []]
