from django.urls import path

from . import views

app_name = "social"
urlpatterns = [
    path("link/", views.social_link, name="link"),
]
