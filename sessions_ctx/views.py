"""The account's sessions and security activity pages.

Thin views: they read through ``activity`` and end sessions through ``services.sessions``.
Ending a session (here, from an administrator, or after a password change) sends
``signals.session_ended``: the session's tokens are revoked and its clients told by
back-channel logout.
"""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from .activity import (
    security_activity,
    session_active_of_user,
    sessions_active,
    sessions_ended_recent,
    sign_ins_recent,
)
from .models import EndReason
from .services.sessions import (
    current_session_id,
    session_end,
    session_revoke,
    sessions_revoke_all,
)


@never_cache
@login_required
@require_GET
def sessions_list(request: HttpRequest) -> HttpResponse:
    """Where you are signed in: each active session, this browser marked, each with a
    button that signs it out."""
    sessions = sessions_active(user=request.user, current_id=current_session_id(request))
    return render(
        request,
        "sessions_ctx/sessions.html",
        {"sessions": sessions, "others": sum(1 for row in sessions if not row.is_current)},
    )


@never_cache
@login_required
@require_POST
def session_sign_out(request: HttpRequest, session_id: str) -> HttpResponse:
    """Sign out one session: another one is revoked (its browser is signed out on its next
    request); this browser's own is ended here, like signing out."""
    record = session_active_of_user(user=request.user, raw_id=session_id)
    if record is None:
        raise Http404(_("No such session."))
    if record.pk == current_session_id(request):
        session_end(request=request, reason=EndReason.SIGNED_OUT)
        messages.success(request, _("You signed out of this browser."))
        return HttpResponseRedirect(reverse("account_login"))
    session_revoke(record=record, reason=EndReason.REVOKED_BY_USER)
    messages.success(
        request, _("You signed out of %(browser)s.") % {"browser": record.browser_label}
    )
    return HttpResponseRedirect(reverse("sessions:list"))


@never_cache
@login_required
@require_POST
def sessions_sign_out_others(request: HttpRequest) -> HttpResponse:
    """Sign out every session but this browser's."""
    ended = sessions_revoke_all(
        user=cast(AbstractBaseUser, request.user),  # signed in: login_required
        reason=EndReason.REVOKED_BY_USER,
        keep_session_id=current_session_id(request),
    )
    if ended:
        messages.success(request, _("You signed out of every other session."))
    else:
        messages.info(request, _("You were not signed in anywhere else."))
    return HttpResponseRedirect(reverse("sessions:list"))


@never_cache
@login_required
@require_GET
def security_activity_page(request: HttpRequest) -> HttpResponse:
    """Security activity: what the risk checks noticed at each sign-in and what they did,
    the recent sign-ins and the sessions that ended, and why."""
    return render(
        request,
        "sessions_ctx/activity.html",
        {
            "entries": security_activity(user=request.user),
            "sign_ins": sign_ins_recent(user=request.user, limit=20),
            "ended": sessions_ended_recent(user=request.user, limit=20),
        },
    )
