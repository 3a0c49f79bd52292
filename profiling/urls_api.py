"""URLs of the profile API for back ends (profiling/api.py), under /api/profile/."""

from django.urls import path, re_path

from . import api

app_name = "profile_api"
urlpatterns = [
    path("schema", api.schema, name="schema"),
    path("users/<str:user_ref>", api.user_profile, name="user-profile"),
    # Every other path here answers a JSON 404 too.
    re_path(r"^.*$", api.not_found, name="not-found"),
]
