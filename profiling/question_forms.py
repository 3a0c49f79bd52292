"""The form of a question page: one or two schema fields as HTML inputs (no JavaScript).

The form only collects raw answers; the schema validates and normalises them
(profiling/validation.py through ``profile_update``), so the page, the API and the account
area refuse the same things with the same words.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from .models import FieldType, ProfileField

ADDRESS_PARTS = (
    ("street_address", _("Street and number"), "street-address"),
    ("postal_code", _("Postal code"), "postal-code"),
    ("locality", _("City"), "address-level2"),
    ("region", _("State"), "address-level1"),
    ("country", _("Country"), "country-name"),
)
# HTML autocomplete tokens of the standard claims (WHATWG autofill), so browsers can help.
AUTOCOMPLETE = {
    "given_name": "given-name",
    "family_name": "family-name",
    "middle_name": "additional-name",
    "nickname": "nickname",
    "birthdate": "bday",
    "phone_number": "tel",
    "website": "url",
    "picture": "photo",
    "gender": "sex",
}


def _attrs(field: ProfileField) -> dict[str, str]:
    attrs = {}
    token = AUTOCOMPLETE.get(field.claim or field.key)
    if token:
        attrs["autocomplete"] = token
    if field.max_length and field.type == FieldType.TEXT:
        attrs["maxlength"] = str(field.max_length)
    return attrs


def form_field(field: ProfileField, language: str) -> forms.Field:
    """An optional, unvalidated Django field that renders ``field`` well."""
    label = field.label_for(language)
    help_text = field.help_for(language)
    attrs = _attrs(field)
    common: dict[str, Any] = {"label": label, "help_text": help_text, "required": False}
    choices = [(value, field.choice_label(value, language)) for value in field.choice_values()]
    if field.type == FieldType.CHOICE:
        return forms.ChoiceField(choices=choices, widget=forms.RadioSelect, **common)
    if field.type == FieldType.MULTI_CHOICE:
        return forms.MultipleChoiceField(
            choices=choices, widget=forms.CheckboxSelectMultiple, **common
        )
    if field.type == FieldType.BOOLEAN:
        return forms.ChoiceField(
            choices=[("true", _("Yes")), ("false", _("No"))], widget=forms.RadioSelect, **common
        )
    if field.type == FieldType.DATE:
        return forms.CharField(widget=forms.DateInput(attrs={**attrs, "type": "date"}), **common)
    if field.type == FieldType.PHONE:
        attrs.setdefault("autocomplete", "tel")
        return forms.CharField(
            widget=forms.TextInput(attrs={**attrs, "type": "tel", "inputmode": "tel"}), **common
        )
    if field.type == FieldType.EMAIL:
        return forms.CharField(
            widget=forms.EmailInput(attrs={**attrs, "autocomplete": "email"}), **common
        )
    if field.type == FieldType.URL:
        return forms.CharField(widget=forms.URLInput(attrs=attrs), **common)
    if field.type == FieldType.NUMBER:
        return forms.CharField(
            widget=forms.TextInput(attrs={**attrs, "inputmode": "decimal"}), **common
        )
    if field.type == FieldType.DOCUMENT:
        return forms.CharField(
            widget=forms.TextInput(attrs={**attrs, "inputmode": "numeric"}), **common
        )
    if field.type == FieldType.TEXT and (field.max_length or 0) > 200:
        return forms.CharField(widget=forms.Textarea(attrs={**attrs, "rows": 3}), **common)
    return forms.CharField(widget=forms.TextInput(attrs=attrs), **common)


class QuestionForm(forms.Form):
    """The fields of one question page; ``raw_answers`` gives what to validate."""

    def __init__(self, *args: Any, fields: list[ProfileField], language: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.schema_fields = fields
        for field in fields:
            if field.type == FieldType.ADDRESS:
                for part, part_label, token in ADDRESS_PARTS:
                    self.fields[f"{field.key}__{part}"] = forms.CharField(
                        label=part_label,
                        required=False,
                        widget=forms.TextInput(attrs={"autocomplete": token}),
                    )
            else:
                self.fields[field.key] = form_field(field, language)

    @staticmethod
    def initial_from(fields: list[ProfileField], values: dict[str, Any]) -> dict[str, Any]:
        """The form's initial data from stored values (the account page)."""
        initial: dict[str, Any] = {}
        for field in fields:
            value = values.get(field.key)
            if value is None:
                continue
            if field.type == FieldType.ADDRESS and isinstance(value, dict):
                for part, _label, _token in ADDRESS_PARTS:
                    initial[f"{field.key}__{part}"] = value.get(part, "")
            elif field.type == FieldType.BOOLEAN:
                initial[field.key] = "true" if value else "false"
            elif field.type == FieldType.MULTI_CHOICE:
                initial[field.key] = list(value) if isinstance(value, list) else []
            else:
                initial[field.key] = str(value)
        return initial

    def raw_answers(self, data: QueryDict) -> dict[str, Any]:
        """Field key -> the raw answer as the schema reads it (strings, lists, dicts)."""
        answers: dict[str, Any] = {}
        for field in self.schema_fields:
            if field.type == FieldType.ADDRESS:
                answers[field.key] = {
                    part: data.get(f"{field.key}__{part}", "") for part, _label, _t in ADDRESS_PARTS
                }
                if not any(answers[field.key].values()):
                    answers[field.key] = None
            elif field.type == FieldType.MULTI_CHOICE:
                answers[field.key] = data.getlist(field.key)
            else:
                answers[field.key] = data.get(field.key, "")
        return answers

    def bound_groups(self) -> list[tuple[ProfileField, list[forms.BoundField]]]:
        """Each schema field with its inputs (an address has several)."""
        groups = []
        for field in self.schema_fields:
            if field.type == FieldType.ADDRESS:
                names = [f"{field.key}__{part}" for part, _label, _t in ADDRESS_PARTS]
            else:
                names = [field.key]
            groups.append((field, [self[name] for name in names]))
        return groups
