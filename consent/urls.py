from django.urls import path

from . import views

app_name = "consent"
urlpatterns = [
    path("consent/<str:pending_id>/", views.ask, name="ask"),
]
