"""``/api/events/`` (ciam/urls.py): events sent by reference (views.event_by_reference)."""

from __future__ import annotations

from django.urls import URLPattern, path, re_path

from . import views

app_name = "webhooks"
urlpatterns: list[URLPattern] = [
    path("<str:event_id>", views.event_by_reference, name="event"),
    re_path(r"^.*$", views.not_found),
]
