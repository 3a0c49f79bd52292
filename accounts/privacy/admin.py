"""The operators' side of erasure: an admin action on users, and the requests' list."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin  # type: ignore[import-untyped]

from .models import ErasureRequest
from .services import account_erase, user_is_erasable


@admin.action(description=gettext_lazy("Erase selected accounts now"), permissions=["delete"])
def erase_accounts(
    modeladmin: ModelAdmin, request: HttpRequest, queryset: QuerySet[AbstractBaseUser]
) -> HttpResponse | None:
    """A confirmation page first; on confirming, each account is erased at once through
    accounts.privacy.services.account_erase, the operator recorded as the actor (on the
    erasure request and in the admin log)."""
    operator: Any = request.user  # a staff user: the admin site checked it
    users = list(queryset)
    refused = [user for user in users if not user_is_erasable(user=user, operator=operator)]
    users = [user for user in users if user_is_erasable(user=user, operator=operator)]
    if refused:
        modeladmin.message_user(
            request, _("You cannot erase your own account from here."), messages.WARNING
        )
    if not users:
        return None
    if request.POST.get("confirm") == "yes":
        content_type = ContentType.objects.get_for_model(modeladmin.model)
        for user in users:
            user_id = str(user.pk)
            account_erase(user=user, actor=f"operator #{operator.pk}")
            LogEntry.objects.create(
                user_id=operator.pk,
                content_type=content_type,
                object_id=user_id,
                object_repr=f"Erased account #{user_id}",
                action_flag=DELETION,
                change_message="Erased through accounts.privacy (account_erase).",
            )
        modeladmin.message_user(
            request,
            _("%(count)d account(s) erased.") % {"count": len(users)},
            messages.SUCCESS,
        )
        return None
    context: dict[str, Any] = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Erase accounts?"),
        "users": users,
        "queryset": queryset,
        "opts": modeladmin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "action_name": "erase_accounts",
    }
    return TemplateResponse(request, "admin/privacy/erase_confirm.html", context)


@admin.register(ErasureRequest)
class ErasureRequestAdmin(ModelAdmin):
    """The record of deletions: read-only (requests come from customers or the action)."""

    list_display = (
        "subject",
        "requested_by",
        "requested_at",
        "due_at",
        "cancelled_at",
        "completed_at",
        "erased_by",
    )
    list_filter = ("requested_by", "completed_at", "cancelled_at")
    search_fields = ("subject", "user__email")
    date_hierarchy = "requested_at"
    ordering = ("-requested_at",)
    fields = list_display
    readonly_fields = list_display

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
