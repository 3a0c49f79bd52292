"""A throwaway admin site for the delegation tests: the client and user ModelAdmins with the
delegation mixins, whether or not the project's admin classes already include them."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import path
from oauth2_provider.models import get_application_model
from unfold.admin import ModelAdmin  # type: ignore[import-untyped]
from unfold.sites import UnfoldAdminSite  # type: ignore[import-untyped]

import ciam.urls
from ciam.models import AuthorizationContext, SigningKey
from console.delegation import DelegatedClientAdminMixin, DelegatedCustomerAdminMixin

SITE_NAME = "delegated_admin"
PREFIX = "/delegated-admin/"

site = UnfoldAdminSite(name=SITE_NAME)

# The project's own client and user ModelAdmins, whatever module registers them.
ApplicationAdmin = type(admin.site._registry[get_application_model()])
UserAdmin = type(admin.site._registry[get_user_model()])

if issubclass(ApplicationAdmin, DelegatedClientAdminMixin):
    ClientAdmin = ApplicationAdmin
else:

    class ClientAdmin(DelegatedClientAdminMixin, ApplicationAdmin):  # type: ignore[no-redef,valid-type,misc]
        pass


if issubclass(UserAdmin, DelegatedCustomerAdminMixin):
    CustomerAdmin = UserAdmin
else:

    class CustomerAdmin(DelegatedCustomerAdminMixin, UserAdmin):  # type: ignore[no-redef,valid-type,misc]
        pass


site.register(get_application_model(), ClientAdmin)
site.register(get_user_model(), CustomerAdmin)
# Models a delegated operator must not reach, with a user and a client autocomplete.
site.register(SigningKey, ModelAdmin)


@admin.register(AuthorizationContext, site=site)
class AuthorizationContextAdmin(ModelAdmin):
    autocomplete_fields = ("user", "application")


urlpatterns = [path(PREFIX.strip("/") + "/", site.urls), *ciam.urls.urlpatterns]
