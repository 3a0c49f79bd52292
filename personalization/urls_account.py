"""The portal's "Interests" page, under /account/interests/ (ciam/urls.py)."""

from django.urls import path

from . import views

app_name = "personalization"
urlpatterns = [
    path("", views.interests, name="interests"),
    path("add", views.add, name="add"),
    path("<str:interest_id>/remove", views.remove, name="remove"),
    path("switch", views.switch, name="switch"),
]
