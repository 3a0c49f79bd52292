"""The "Unified view" of a customer in the operators' console (a button on the customer's
admin page: ``UnifiedViewAdminMixin``, mixed into console's CustomerAdmin by
console/admin_customers.py), and a read-only list of the interactions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin  # type: ignore[import-untyped]
from unfold.decorators import action  # type: ignore[import-untyped]

from .models import Interaction
from .selectors import CursorError, page_limit, unified_profile

UNIFIED_VIEW_TEMPLATE = "admin/interactions/unified_view.html"


def _delegated_client_ids(request: HttpRequest) -> set[int] | None:
    """The clients of a delegated operator (console/delegation.py); None for the others."""
    from console.delegation import delegated_clients, is_delegated_operator

    if not is_delegated_operator(request.user):
        return None
    return set(delegated_clients(request.user).values_list("pk", flat=True))


def unified_view_response(model_admin: Any, request: HttpRequest, object_id: str) -> HttpResponse:
    """The unified view page of the customer ``object_id``: 404 when the operator's
    customer list does not hold them (a delegated operator's foreign customer), 403 without
    the view permission on users."""
    user = model_admin.get_object(request, object_id)
    if user is None:
        raise Http404
    if not model_admin.has_view_permission(request, user):
        raise PermissionDenied
    client_ids = _delegated_client_ids(request)
    try:
        limit = page_limit(request.GET.get("limit"))
        document = unified_profile(
            user=user,
            client_ids=client_ids,
            cursor=request.GET.get("cursor") or None,
            limit=limit,
        )
    except CursorError:
        raise Http404 from None
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Unified view of %(customer)s") % {"customer": user.email or user.public_id},
        "opts": opts,
        "customer_user": user,
        "unified": document,
        "delegated": client_ids is not None,
        "change_url": reverse(
            f"{model_admin.admin_site.name}:{opts.app_label}_{opts.model_name}_change",
            args=[user.pk],
        ),
    }
    return TemplateResponse(request, UNIFIED_VIEW_TEMPLATE, context)


class UnifiedViewAdminMixin:
    """Adds the "Unified view" button to a user ModelAdmin's change page (an unfold detail
    action, its URL ``<id>/unified-view/``). Put it first among the bases."""

    actions_detail = ("unified_view",)

    @action(description=gettext_lazy("Unified view"), url_path="unified-view", icon="hub")
    def unified_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return unified_view_response(self, request, object_id)


def with_unified_view(admin_class: type) -> type:
    """``admin_class`` with the unified view (``UnifiedViewAdminMixin`` first)."""
    return type(admin_class.__name__, (UnifiedViewAdminMixin, admin_class), {})


@admin.register(Interaction)
class InteractionAdmin(ModelAdmin):
    """Interactions, read-only: what the channels sent (the ingest API writes them)."""

    list_display = ("occurred_at", "type", "channel", "user", "anonymous_id", "client", "purpose")
    list_filter = ("type", "channel", "purpose")
    search_fields = ("idempotency_key", "anonymous_id", "user__email")
    date_hierarchy = "occurred_at"
    list_select_related = ("user", "client")
    ordering = ("-occurred_at",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
