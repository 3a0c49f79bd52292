from django.urls import path

from . import views

app_name = "stepup"
urlpatterns = [
    path("", views.session_page, name="session"),
    path("<str:pending_id>/", views.verify, name="verify"),
]
