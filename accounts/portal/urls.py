from django.urls import path

from . import views

app_name = "portal"
urlpatterns = [
    path("security/", views.security, name="security"),
    path("email/remove/", views.email_remove, name="email-remove"),
]
