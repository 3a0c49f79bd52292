"""URLs of the interaction ingest API (interactions/api.py), under /api/interactions/."""

from django.urls import path, re_path

from . import api

app_name = "interactions"
urlpatterns = [
    path("", api.ingest, name="ingest"),
    path("identify", api.identify, name="identify"),
    # Every other path here answers a JSON 404 too.
    re_path(r"^.*$", api.not_found, name="not-found"),
]
