from django.contrib import admin

from .models import Consent


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ("user", "application", "granted_at", "revoked_at")
    list_select_related = ("user", "application")
    search_fields = ("user__email", "application__name")
    raw_id_fields = ("user",)
