"""URLs of the unified customer profile API (interactions/api.py), under /api/customers/."""

from django.urls import path, re_path

from . import api

app_name = "customers_api"
urlpatterns = [
    path("<str:user_ref>", api.customer, name="customer"),
    # Every other path here answers a JSON 404 too.
    re_path(r"^.*$", api.not_found, name="not-found"),
]
