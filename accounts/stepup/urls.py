from django.urls import path

from . import views

app_name = "stepup"
urlpatterns = [
    path("", views.session_page, name="session"),
    # Before the pending-request route, which would take "again" for a request id.
    path("again/", views.reauthenticate, name="reauthenticate"),
    path("<str:pending_id>/", views.verify, name="verify"),
]
