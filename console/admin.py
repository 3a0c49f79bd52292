"""The operators' console in Django admin (autodiscovered): the libraries' models themed
like the provider's own (console.admin_thirdparty) and the customers (console.customers)."""

from __future__ import annotations

from django.contrib import admin

from . import (
    admin_customers,  # noqa: F401 - the customers (users) admin
    admin_thirdparty,  # noqa: F401 - registers on import
)
from .forms import AdminSignInForm

# /admin/login/ is a password sign-in like the hosted one: the same throttle (console.forms).
admin.site.login_form = AdminSignInForm
