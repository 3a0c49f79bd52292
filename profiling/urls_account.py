from django.urls import path

from . import views

app_name = "profile_account"

urlpatterns = [
    path("", views.account, name="edit"),
]
