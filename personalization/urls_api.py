"""URLs of the personalization API for back ends (personalization/api.py)."""

from django.urls import path, re_path

from interactions import api as interactions_api

from . import api

app_name = "personalization_api"
urlpatterns = [
    path("<str:user_ref>", api.customer_personalization, name="customer"),
    re_path(r"^.*$", interactions_api.not_found, name="not-found"),
]
