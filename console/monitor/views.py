"""The live monitor's page in the admin (/admin/monitor/)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from .access import monitor_allowed, monitor_ticket
from .app_settings import app_settings
from .labels import monitor_labels
from .selectors import monitor_snapshot


def _ticket(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return monitor_ticket(user=request.user, session_key=request.session.session_key or "")


def monitor_page(request: HttpRequest) -> TemplateResponse:
    """Counters, a per-minute sign-in chart and a live feed, kept current by the socket
    (static/js/monitor.js); rendered with the counters of now, so it reads without it."""
    if not monitor_allowed(request.user):
        raise PermissionDenied
    snapshot = monitor_snapshot()
    context = {
        **admin.site.each_context(request),
        "title": _("Live monitor"),
        "snapshot": snapshot,
        "labels": monitor_labels(),
        "config": {
            "path": reverse("monitor:page") + "ws/",
            "ticket": _ticket(request),
            "ticketUrl": reverse("monitor:ticket"),
            "feedRows": app_settings.FEED_ROWS,
        },
        "cards": [
            (key, label, snapshot["counters"].get(key, 0))
            for key, label in (
                ("sign_ins", _("Sign-ins")),
                ("sign_ups", _("Sign-ups")),
                ("challenges", _("Risk challenges")),
                ("consent_changes", _("Consent changes")),
            )
        ],
    }
    request.current_app = admin.site.name
    return TemplateResponse(request, "console/monitor/page.html", context)


def monitor_ticket_json(request: HttpRequest) -> JsonResponse:
    """A fresh ticket for the page's next socket (fetched before each reconnect): the
    request went through every middleware, second factor and step-up included, as the page
    did. Not allowed: 403 in JSON."""
    if not monitor_allowed(request.user):
        return JsonResponse({"error": "forbidden"}, status=403)
    if request.method != "GET":
        return JsonResponse({"error": "method_not_allowed"}, status=405)
    return JsonResponse({"ticket": _ticket(request)})


# The admin's login, staff check and no-cache headers around the page.
monitor_page_view = admin.site.admin_view(monitor_page)
monitor_ticket_view = admin.site.admin_view(monitor_ticket_json)
