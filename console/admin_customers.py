"""Registers the customer administration (console/customers.py) on the admin site, in place
of any earlier registration of the user model."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model

from interactions.admin import with_unified_view

from .customers import CustomerAdmin

__all__ = ["CustomerAdmin"]

User = get_user_model()

if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, with_unified_view(CustomerAdmin))  # the "Unified view" button
