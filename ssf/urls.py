"""Shared Signals: the transmitter configuration and the stream management API (included
at the root by ciam/urls.py; ciam/fastpath.py serves /ssf/ as a back-end API)."""

from django.urls import path, re_path

from . import views

app_name = "ssf"
urlpatterns = [
    path(".well-known/ssf-configuration", views.configuration, name="configuration"),
    path("ssf/streams", views.streams, name="streams"),
    path("ssf/status", views.status, name="status"),
    path("ssf/subjects:add", views.subjects_add, name="subjects-add"),
    path("ssf/subjects:remove", views.subjects_remove, name="subjects-remove"),
    path("ssf/verify", views.verify, name="verify"),
    re_path(r"^ssf/", views.not_found),
]
