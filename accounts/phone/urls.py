from __future__ import annotations

from django.urls import path

from . import views

app_name = "phone"
urlpatterns = [
    path("", views.change, name="change"),
    path("verify/", views.verify, name="verify"),
]
