"""URLs of the consent API for back ends (consent/api.py), under /api/consent/."""

from django.urls import path, re_path

from . import api

app_name = "consent_api"
urlpatterns = [
    path("users/<str:user_ref>", api.user_state, name="user-state"),
    path("users/<str:user_ref>/history", api.user_history, name="user-history"),
    path("users/<str:user_ref>/records", api.user_records, name="user-records"),
    # Every other path here answers a JSON 404 too.
    re_path(r"^.*$", api.not_found, name="not-found"),
]
