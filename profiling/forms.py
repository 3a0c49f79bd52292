# mypy: allow-any-generics
"""Operators' forms: the profile schema as declared in admin.

``ProfileFieldForm.clean`` refuses the declarations that would break the claims or the law
before anything is saved: a standard claim fed by a value of the wrong type, a custom claim
that is not namespaced (OIDC Core 5.1.2: custom claims should be collision-resistant), a claim
fed by two fields, malformed choices or patterns, empty ranges, and a sensitive field without
the specific consent LGPD art. 11 requires.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ciam.claims import PROTOCOL_CLAIMS as ID_TOKEN_CLAIMS
from ciam.claims import STANDARD_CLAIMS

from .models import FieldType, ProfileField, Sensitivity
from .patterns import PatternInvalid, pattern_compile

# Claims the provider sets itself (OIDC Core 2, 5.1; this provider's own claims): no field
# may feed them.
PROTOCOL_CLAIMS = frozenset(
    {
        *ID_TOKEN_CLAIMS,
        "email",
        "email_verified",
        "phone_number_verified",
        "updated_at",
        "name",
        "profile_completeness",
        "consents",
    }
)

# The value type each standard claim needs (OIDC Core 5.1); the others are strings, fed by a
# text or a choice field.
STANDARD_CLAIM_TYPES: dict[str, tuple[str, ...]] = {
    "birthdate": (FieldType.DATE,),
    "phone_number": (FieldType.PHONE,),
    "address": (FieldType.ADDRESS,),
    "picture": (FieldType.URL,),
    "website": (FieldType.URL,),
    "profile": (FieldType.URL,),
}
STRING_CLAIM_TYPES: tuple[str, ...] = (FieldType.TEXT, FieldType.CHOICE)

CUSTOM_CLAIM_PATTERN = re.compile(r"^[A-Za-z0-9_.:/-]+$")
CHOICE_TYPES = frozenset({FieldType.CHOICE, FieldType.MULTI_CHOICE})


def choices_problem(choices: Any) -> str | None:
    """Why ``choices`` is not a list of ``{"value", "label_en"[, "label_pt_br"]}`` objects with
    non-empty unique values and English labels; None when it is."""
    if not isinstance(choices, list):
        return str(_('Enter a JSON list, e.g. [{"value": "small", "label_en": "Small"}].'))
    seen: set[str] = set()
    for number, choice in enumerate(choices, start=1):
        if not isinstance(choice, dict):
            return str(
                _('Choice %(number)s is not an object with "value" and "label_en".')
                % {"number": number}
            )
        value = choice.get("value")
        if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
            return str(_('Choice %(number)s has no "value".') % {"number": number})
        if str(value) in seen:
            return str(
                _('The value "%(value)s" is used by two choices.') % {"value": str(value)[:50]}
            )
        seen.add(str(value))
        for label_key in ("label_en", "label_pt_br"):
            label = choice.get(label_key)
            if label is None and label_key == "label_pt_br":
                continue
            if not isinstance(label, str) or not label.strip():
                return str(
                    _('Choice "%(value)s" has no "%(label)s".')
                    % {"value": str(value)[:50], "label": label_key}
                )
        unknown = set(choice) - {"value", "label_en", "label_pt_br"}
        if unknown:
            return str(
                _('Choice "%(value)s" has unknown keys: %(keys)s.')
                % {"value": str(value)[:50], "keys": ", ".join(sorted(unknown))}
            )
    return None


class ProfileFieldForm(forms.ModelForm):
    """A field of the profile schema, checked as a whole (see the module docstring)."""

    class Meta:
        model = ProfileField
        fields = (
            "key",
            "type",
            "active",
            "editable",
            "order",
            "label_en",
            "label_pt_br",
            "help_en",
            "help_pt_br",
            "benefit_en",
            "benefit_pt_br",
            "choices",
            "pattern",
            "min_length",
            "max_length",
            "min_value",
            "max_value",
            "min_date",
            "max_date",
            "document_kind",
            "phone_region",
            "check_junk",
            "sensitivity",
            "claim",
            "scope",
            "purpose",
        )
        widgets = {
            "choices": forms.Textarea(attrs={"rows": 6, "cols": 80}),
            "help_en": forms.Textarea(attrs={"rows": 2, "cols": 80}),
            "help_pt_br": forms.Textarea(attrs={"rows": 2, "cols": 80}),
        }

    def clean_choices(self) -> Any:
        # An emptied box means "no choices", not JSON null (the column is not nullable).
        choices = self.cleaned_data.get("choices")
        return [] if choices in (None, "") else choices

    def clean_claim(self) -> str:
        return (self.cleaned_data.get("claim") or "").strip()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        field_type = cleaned.get("type")
        self._check_claim(cleaned, field_type)
        self._check_choices(cleaned, field_type)
        pattern = cleaned.get("pattern")
        if pattern:
            try:
                pattern_compile(pattern)
            except PatternInvalid as error:
                # RE2 syntax (profiling/patterns.py): no back-references or look-around.
                self.add_error(
                    "pattern",
                    _("This regular expression does not compile: %(error)s.")
                    % {"error": str(error)},
                )
        for low, high in (
            ("min_length", "max_length"),
            ("min_value", "max_value"),
            ("min_date", "max_date"),
        ):
            minimum, maximum = cleaned.get(low), cleaned.get(high)
            if minimum is not None and maximum is not None and minimum > maximum:
                self.add_error(
                    high,
                    _("The maximum is smaller than the minimum (%(minimum)s).")
                    % {"minimum": minimum},
                )
        if field_type == FieldType.DOCUMENT and not cleaned.get("document_kind"):
            self.add_error("document_kind", _("A document field needs the kind of document."))
        if cleaned.get("sensitivity") == Sensitivity.SENSITIVE and not cleaned.get("purpose"):
            self.add_error(
                "purpose",
                _(
                    "Sensitive personal data needs a consent purpose: LGPD art. 11 requires "
                    "the customer's specific consent for it."
                ),
            )
        return cleaned

    def _check_claim(self, cleaned: dict[str, Any], field_type: str | None) -> None:
        claim = cleaned.get("claim") or ""
        if not claim:
            return
        if claim in PROTOCOL_CLAIMS:
            self.add_error(
                "claim",
                _("“%(claim)s” is set by the identity provider itself; no field can feed it.")
                % {"claim": claim},
            )
            return
        if claim in STANDARD_CLAIMS:
            allowed = STANDARD_CLAIM_TYPES.get(claim, STRING_CLAIM_TYPES)
            if field_type and field_type not in allowed:
                self.add_error(
                    "claim",
                    _("The standard claim “%(claim)s” needs a field of type: %(types)s.")
                    % {
                        "claim": claim,
                        "types": ", ".join(str(FieldType(t).label) for t in allowed),
                    },
                )
                return
        elif ":" not in claim or not CUSTOM_CLAIM_PATTERN.match(claim):
            self.add_error(
                "claim",
                _(
                    "A custom claim must be namespaced, e.g. “https://shop.example/style” or "
                    "“shop:style”, and use only letters, digits and _ . : / -."
                ),
            )
            return
        others = ProfileField.objects.filter(claim=claim)
        if self.instance.pk is not None:
            others = others.exclude(pk=self.instance.pk)
        other = others.only("key").first()
        if other is not None:
            self.add_error(
                "claim",
                _("The field “%(key)s” already feeds this claim.") % {"key": other.key},
            )

    def _check_choices(self, cleaned: dict[str, Any], field_type: str | None) -> None:
        if "choices" not in cleaned:
            return  # not JSON at all: the field already says so
        choices = cleaned["choices"]
        if field_type in CHOICE_TYPES:
            if not choices:
                self.add_error("choices", _("A choice field needs at least one choice."))
                return
        elif choices:
            self.add_error(
                "choices", _("Only choice fields have choices: empty this box or change the type.")
            )
            return
        problem = choices_problem(choices)
        if problem:
            self.add_error("choices", problem)
