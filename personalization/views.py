"""The customer's "Interests" page in the portal: what personalization learned about them,
why, and the switch. Thin: validate, call one service, respond; every change posts and
comes back to the page with a message (303, so that reloading does not post again)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .forms import InterestAddForm, SwitchForm, interest_error_text
from .selectors import interests_for_portal, personalization_purpose_texts
from .services.consent import personalization_allowed, personalization_switch
from .services.interests import InterestError, interest_add, interest_remove

PAGE = "personalization/interests.html"
CONFIRM_OFF = "personalization/switch_off.html"
PROBLEM = "personalization/problem.html"
MAX_ID_DIGITS = 18  # a bigint's 19 digits would overflow SQLite's INTEGER


def _back() -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("personalization:interests"), status=303)


def _problem(request: HttpRequest, title: str, text: str, status: int) -> HttpResponse:
    """A readable refusal inside the portal, with the way back to the page."""
    return render(request, PROBLEM, {"title": title, "text": text}, status=status)


def _post_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Other methods get a readable 405 page with ``Allow`` (RFC 9110 15.5.6)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            response = _problem(
                request,
                _("This address only takes a form"),
                _("Use the buttons on your interests page."),
                405,
            )
            response["Allow"] = "POST"
            return response
        return view(request, *args, **kwargs)

    return wrapper


def _page(
    request: HttpRequest, form: InterestAddForm | None = None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        PAGE,
        {"data": interests_for_portal(user=request.user), "form": form or InterestAddForm()},
        status=status,
    )


@never_cache
@login_required
@require_GET
def interests(request: HttpRequest) -> HttpResponse:
    """Your interests: each with why we think so and a way to remove it, the ones you
    removed (to add back), your own additions, the best time to reach you, and the switch;
    while personalization is off, what it does and the way to turn it on."""
    return _page(request)


@never_cache
@login_required
@_post_only
def add(request: HttpRequest) -> HttpResponse:
    """Add a category or brand you like (also "add back" a removed one)."""
    form = InterestAddForm(request.POST)
    if not personalization_allowed(user=request.user):
        messages.error(request, _("Personalization is off. Turn it on to add interests."))
        return _page(request, status=409)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        interest = interest_add(
            user=request.user, kind=form.cleaned_data["kind"], key=form.cleaned_data["name"]
        )
    except InterestError as error:
        form.add_error("name", interest_error_text(error))
        return _page(request, form, status=400)
    messages.success(request, _("“%(name)s” was added to your interests.") % {"name": interest.key})
    return _back()


def _interest_id(value: str) -> int | None:
    """The interest id in the URL, or None when it is not one (a tampered link)."""
    if value.isascii() and value.isdigit() and len(value) <= MAX_ID_DIGITS:
        return int(value)
    return None


@never_cache
@login_required
@_post_only
def remove(request: HttpRequest, interest_id: str) -> HttpResponse:
    """Remove one of your interests: it is no longer used nor learned again."""
    number = _interest_id(interest_id)
    interest = (
        interest_remove(user=request.user, interest_id=number) if number is not None else None
    )
    if interest is None:
        return _problem(
            request,
            _("Interest not found"),
            _("This interest is not on your list (it may have been deleted already)."),
            404,
        )
    messages.success(
        request,
        _("“%(name)s” was removed. It will not be suggested again unless you add it back.")
        % {"name": interest.key},
    )
    return _back()


@never_cache
@login_required
@_post_only
def switch(request: HttpRequest) -> HttpResponse:
    """Turn personalization on (a grant in the consent ledger) or off: first a page that says
    what is deleted, then, confirmed, a withdrawal that deletes it at once."""
    current = [text.version_id for text in personalization_purpose_texts()]
    form = SwitchForm(request.POST, versions=current)
    if not form.is_valid():
        return _problem(
            request,
            _("Nothing was changed"),
            _("Choose whether to turn personalization on or off."),
            400,
        )
    user = request.user
    if form.cleaned_data["turn"] == "on":
        shown = set(form.cleaned_data["version"])
        if not current:
            messages.error(request, _("Personalization cannot be turned on at the moment."))
            return _back()
        if shown != set(current):
            # A version published since the page was shown: its words were not read.
            messages.error(
                request,
                _("What personalization means changed since the page was shown. Read it again."),
            )
            return _back()
        personalization_switch(user=user, on=True, request=request, versions=sorted(shown))
        if personalization_allowed(user=user):
            messages.success(
                request,
                _(
                    "Personalization is on. Your interests will appear here as you shop "
                    "and browse; you can also add them yourself."
                ),
            )
        else:
            messages.error(request, _("Personalization cannot be turned on at the moment."))
        return _back()
    if not personalization_allowed(user=user):
        messages.info(request, _("Personalization is already off."))
        return _back()
    if not form.cleaned_data["confirm"]:
        return render(request, CONFIRM_OFF, {"data": interests_for_portal(user=user)})
    personalization_switch(user=user, on=False, request=request)
    messages.success(
        request,
        _(
            "Personalization is off. Your interests, the ones you added and the best time "
            "to reach you were deleted."
        ),
    )
    return _back()
