from __future__ import annotations

from django.contrib import admin
from unfold.admin import ModelAdmin  # type: ignore[import-untyped]

# Users (customers) are administered in the operators' console: console/customers.py.
from .models import Passkey
from .privacy.admin import ErasureRequestAdmin  # noqa: F401


@admin.register(Passkey)
class PasskeyAdmin(ModelAdmin):  # type: ignore[misc]
    """Operators see users' passkeys (support) but cannot create or edit them."""

    list_display = ("user", "name", "created", "last_used_at", "backed_up")
    list_select_related = ("user",)
    search_fields = ("user__email", "name")
    fields = ("user", "name", "sign_count", "aaguid", "backed_up", "created", "last_used_at")
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False
