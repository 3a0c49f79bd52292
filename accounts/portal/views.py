"""The portal's own pages: the security overview and the confirmation before an email
address is removed. Thin views: they read through ``selectors`` and leave every change to
the page that owns it (allauth's email view removes the address)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .selectors import email_address_of_user, email_parse, security_overview


@never_cache
@login_required
@require_GET
def security(request: HttpRequest) -> HttpResponse:
    """Security overview: password, passkeys, authenticator app, recovery codes, linked
    social accounts and the latest security activity, each with a link to its page."""
    return render(
        request, "portal/security.html", {"overview": security_overview(user=request.user)}
    )


@never_cache
@login_required
@require_GET
def email_remove(request: HttpRequest) -> HttpResponse:
    """ "Remove x@y?": the confirmation posts to allauth's email view (action_remove), which
    removes the address, asking to confirm it's you first when needed. The primary address
    cannot be removed; an address that is not the user's is a readable error."""
    email = email_parse(request.GET.get("email", ""))
    if email is None:
        error = _("That is not an email address. Choose one from your email addresses.")
        return render(request, "portal/email_remove.html", {"error": error}, status=400)
    address = email_address_of_user(user=request.user, email=email)
    if address is None:
        error = _("This email address is not one of yours. Choose one from your email addresses.")
        return render(request, "portal/email_remove.html", {"error": error}, status=404)
    return render(request, "portal/email_remove.html", {"address": address})
