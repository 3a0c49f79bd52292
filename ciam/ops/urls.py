"""The operators' machine endpoints, at the root: ``path("", include("ciam.ops.urls"))``.
Their URL names (``ops:healthz``...) are the ``endpoint`` label of their own requests."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "ops"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.prometheus_metrics, name="metrics"),
]
