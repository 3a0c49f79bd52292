from django.urls import path

from . import views

app_name = "social"
urlpatterns = [
    path("link/", views.social_link, name="link"),
    path("ended/<str:pending_id>/", views.social_sign_in_ended, name="ended"),
]
