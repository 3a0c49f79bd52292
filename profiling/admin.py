from django.contrib import admin

from .models import Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "given_name", "family_name", "updated_at")
    search_fields = ("user__email", "given_name", "family_name")
    raw_id_fields = ("user",)
