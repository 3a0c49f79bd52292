"""The mobile number pages of the account area: enter the new number, then the code sent to
it (accounts/phone/services.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from sessions_ctx.throttle import too_many_requests

from .app_settings import app_settings
from .forms import CodeForm, NewNumberForm
from .selectors import phone_current, phone_field
from .services import (
    PhoneChangeRefused,
    PhoneChangeThrottled,
    phone_change_cancel,
    phone_change_confirm,
    phone_change_pending,
    phone_change_resend,
    phone_change_start,
    phone_remove,
)


def _throttled(request: HttpRequest, error: PhoneChangeThrottled, context: dict[str, Any]):
    context = {
        **context,
        "throttled": ngettext(
            "We can't send another code yet. Try again in %(seconds)d second.",
            "We can't send another code yet. Try again in %(seconds)d seconds.",
            error.retry_after,
        )
        % {"seconds": error.retry_after},
    }
    template = "phone/verify.html" if "code_form" in context else "phone/change.html"
    return too_many_requests(
        render(request, template, context, status=429), retry_after=error.retry_after
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def change(request: HttpRequest) -> HttpResponse:
    """The current number and the form for a new one (action ``send``); action ``remove``
    removes the number."""
    field = phone_field(user=request.user)
    if field is None:
        return render(request, "phone/change.html", {"unavailable": True}, status=404)
    language = translation.get_language() or "en"
    current = phone_current(user=request.user, field=field)
    form = NewNumberForm(request.POST if request.method == "POST" else None)
    context: dict[str, Any] = {
        "form": form,
        "current": current,
        "label": field.label_for(language),
        "help": field.help_for(language),
        "pending": phone_change_pending(request=request),
    }
    if request.method == "POST":
        action = request.POST.get("action", "send")
        if action == "remove":
            if phone_remove(user=request.user, field=field):
                messages.success(request, _("Your mobile number was removed."))
            return HttpResponseRedirect(reverse("phone:change"))
        if action != "send":
            context["form"] = NewNumberForm()
            context["form_error"] = _("Something went wrong with the form. Please try again.")
            return render(request, "phone/change.html", context, status=400)
        if form.is_valid():
            try:
                phone_change_start(request=request, field=field, raw=form.cleaned_data["phone"])
            except PhoneChangeRefused as refused:
                form.add_error("phone", refused.message)
            except PhoneChangeThrottled as throttled:
                return _throttled(request, throttled, context)
            else:
                return HttpResponseRedirect(reverse("phone:verify"))
        return render(request, "phone/change.html", context, status=400)
    return render(request, "phone/change.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """The code sent to the new number (action ``verify``), a new code (``resend``), or
    giving up (``cancel``)."""
    field = phone_field(user=request.user)
    pending = phone_change_pending(request=request)
    if field is None or pending is None or pending.field_key != field.key:
        messages.info(request, _("Enter your new mobile number first."))
        return HttpResponseRedirect(reverse("phone:change"))
    if pending.expired:
        phone_change_cancel(request=request)
        messages.error(request, _("That code has expired. Enter your new number again."))
        return HttpResponseRedirect(reverse("phone:change"))
    form = CodeForm(request.POST if request.method == "POST" else None)
    context: dict[str, Any] = {
        "code_form": form,
        "pending": pending,
        "minutes": max(1, app_settings.CODE_SECONDS // 60),
    }
    if request.method == "GET":
        return render(request, "phone/verify.html", context)
    action = request.POST.get("action", "verify")
    if action == "cancel":
        phone_change_cancel(request=request)
        messages.info(request, _("Your mobile number was not changed."))
        return HttpResponseRedirect(reverse("phone:change"))
    if action == "resend":
        try:
            phone_change_resend(request=request, field=field)
        except PhoneChangeThrottled as throttled:
            return _throttled(request, throttled, {**context, "code_form": CodeForm()})
        messages.info(request, _("We sent you a new code."))
        return HttpResponseRedirect(reverse("phone:verify"))
    if action != "verify":
        context["code_form"] = CodeForm()
        context["form_error"] = _("Something went wrong with the form. Please try again.")
        return render(request, "phone/verify.html", context, status=400)
    if not form.is_valid():
        return render(request, "phone/verify.html", context, status=400)
    result = phone_change_confirm(request=request, field=field, code=form.cleaned_data["code"])
    if result.ok:
        messages.success(request, _("Your mobile number was changed and verified."))
        return HttpResponseRedirect(reverse("phone:change"))
    if result.outcome == "wrong":
        form.add_error(
            "code",
            ngettext(
                "That code is not right. You can try %(count)d more time.",
                "That code is not right. You can try %(count)d more times.",
                result.attempts_left,
            )
            % {"count": result.attempts_left},
        )
        return render(request, "phone/verify.html", context, status=400)
    if result.outcome == "too_many":
        messages.error(request, _("Too many wrong codes. Enter your new number again."))
    elif result.outcome == "expired":
        messages.error(request, _("That code has expired. Enter your new number again."))
    else:
        messages.info(request, _("Enter your new mobile number first."))
    return HttpResponseRedirect(reverse("phone:change"))
