"""The question pages of the interaction pipeline (profiling/steps.py): one or two fields,
benefit first, a one-click skip for optional questions, and the client's required fields;
and the customer's profile in the account area."""

from __future__ import annotations

from typing import Any

import phonenumbers
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ciam.interaction import PendingAuthorization, pending_save
from ciam.interaction.pages import cancel_to_client, step_continue, step_page

from .models import FieldType, Position, ValueSource, value_is_empty
from .question_forms import QuestionForm
from .schema import schema_current
from .selectors import account_fields, account_values, value_provenance
from .services.questions import (
    REQUIRED,
    note_get,
    note_put,
    question_answer,
    question_show,
    question_skip,
    required_decide,
)
from .services.values import ProfileInvalid, profile_update
from .validation import FieldJunk


def _language() -> str:
    return translation.get_language() or "en"


def _page(request: HttpRequest, pending: PendingAuthorization, position: str) -> HttpResponse:
    note = note_get(pending, position)
    if position == REQUIRED and (note is None or note.closed):
        note = required_decide(request=request, pending=pending)
    if note is None or note.closed or not note.fields:
        return step_continue(pending)
    user = request.user
    schema = schema_current().by_key
    fields = [schema[key] for key in note.fields if key in schema]
    if not fields:
        note.closed = True
        note_put(pending, position, note)
        pending_save(request, pending)
        return step_continue(pending)
    note = question_show(user=user, pending=pending, position=position, note=note)
    language = _language()
    required = position == REQUIRED
    form = QuestionForm(request.POST or None, fields=fields, language=language)
    errors: dict[str, str] = {}
    junk = False
    if request.method == "POST":
        action = request.POST.get("action", "save")
        if action == "cancel" and required:
            return cancel_to_client(request, pending, "The user did not give required details.")
        if action == "skip" and not required:
            note = question_skip(note=note)
            note_put(pending, position, note)
            pending_save(request, pending)
            return step_continue(pending)
        result = question_answer(
            user=user,
            pending=pending,
            position=position,
            note=note,
            raw=form.raw_answers(request.POST),
        )
        note = result.note
        note_put(pending, position, note)
        pending_save(request, pending)
        if result.kind in ("saved", "skipped", "junk"):
            return step_continue(pending)
        junk = result.kind == "junk_again"
        for key, error in result.errors.items():
            if isinstance(error, FieldJunk) and required:
                errors[key] = _("That doesn't look like a real answer. Could you check it?")
            else:
                errors[key] = error.message
    else:
        note_put(pending, position, note)
        pending_save(request, pending)
    return render(
        request,
        "profiling/question.html",
        {
            "pending_id": pending.id,
            "client_name": pending.client_name,
            "application": pending.client,
            "questions": _questions(form, language, errors),
            "errors": errors,
            "junk": junk,
            "required": required,
            "benefits": [b for b in (f.benefit_for(language) for f in fields) if b],
            "action_url": request.path,
        },
        status=400 if errors and not junk else 200,
    )


def _questions(form: QuestionForm, language: str, errors: dict[str, str]) -> list[dict[str, Any]]:
    """What the template shows for each field: label, help, inputs, error, and whether it
    is a group of inputs (an address, choices) shown as a fieldset."""
    items = []
    for field, inputs in form.bound_groups():
        choices = field.type in (FieldType.CHOICE, FieldType.MULTI_CHOICE, FieldType.BOOLEAN)
        error = errors.get(field.key, "")
        for bound in inputs:
            if error:
                bound.field.widget.attrs["aria-invalid"] = "true"
            described = [f"{field.key}-error"] if error else []
            if field.help_for(language):
                described.append(f"{field.key}-help")
            if described and not choices:
                bound.field.widget.attrs["aria-describedby"] = " ".join(described)
        items.append(
            {
                "key": field.key,
                "label": field.label_for(language),
                "help": field.help_for(language),
                "inputs": inputs,
                "error": error,
                "group": choices or len(inputs) > 1,
                "choices": choices,
            }
        )
    return items


def _phone_display(number: Any) -> str:
    """A stored number (E.164) as people read it: ``+55 11 98765-4321``."""
    if not isinstance(number, str) or not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# The field holding the mobile number changes only once the new number is proven by a code
# (accounts/phone, /account/phone/): the profile page shows it with a link there.
VERIFIED_CHANGE_CLAIMS = frozenset({"phone_number"})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    """The customer's profile in the account area: every field they may fill, saved with
    provenance ``account``, each shown with where its value came from; an empty field
    removes its value. The mobile number is changed on its own page, by code."""
    language = _language()
    fields = account_fields(user=request.user)
    verified_fields = [f for f in fields if f.claim in VERIFIED_CHANGE_CLAIMS]
    form_fields = [f for f in fields if f.claim not in VERIFIED_CHANGE_CLAIMS]
    profile = getattr(request.user, "profile", None)
    values = dict(profile.values or {}) if profile is not None else {}
    verified = set(profile.verified or []) if profile is not None else set()
    form = QuestionForm(
        request.POST or None,
        fields=form_fields,
        language=language,
        initial=QuestionForm.initial_from(form_fields, values),
    )
    errors: dict[str, str] = {}
    if request.method == "POST":
        changes = {
            key: value
            for key, value in form.raw_answers(request.POST).items()
            if not value_is_empty(value) or key in values
        }
        try:
            profile_update(user=request.user, changes=changes, source=ValueSource.ACCOUNT)
        except ProfileInvalid as invalid:
            errors = {key: error.message for key, error in invalid.errors.items()}
        else:
            messages.success(request, _("Your profile was saved."))
            return HttpResponseRedirect(reverse("profile_account:edit"))
    stored = account_values(user=request.user, fields=fields)
    questions = _questions(form, language, errors)
    for item in questions:
        value = stored.get(item["key"])
        item["provenance"] = value_provenance(value) if value is not None else ""
        if item["provenance"] and not item["group"]:
            attrs = item["inputs"][0].field.widget.attrs
            described = [attrs.get("aria-describedby", ""), f"{item['key']}-provenance"]
            attrs["aria-describedby"] = " ".join(part for part in described if part)
    return render(
        request,
        "profiling/account.html",
        {
            "questions": questions,
            "errors": errors,
            "verified_fields": [
                {
                    "key": field.key,
                    "label": field.label_for(language),
                    "value": _phone_display(values.get(field.key)),
                    "verified": field.key in verified,
                    "provenance": value_provenance(stored[field.key])
                    if field.key in stored
                    else "",
                }
                for field in verified_fields
            ],
        },
        status=400 if errors else 200,
    )


@step_page
def question(request: HttpRequest, pending: PendingAuthorization) -> HttpResponse:
    """An optional question right after signing in."""
    return _page(request, pending, Position.AFTER_SIGN_IN)


@step_page
def question_before_return(request: HttpRequest, pending: PendingAuthorization) -> HttpResponse:
    """An optional question before returning to the client."""
    return _page(request, pending, Position.BEFORE_RETURN)


@step_page
def required(request: HttpRequest, pending: PendingAuthorization) -> HttpResponse:
    """The details the client requires."""
    return _page(request, pending, REQUIRED)
