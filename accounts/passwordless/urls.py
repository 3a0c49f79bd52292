from django.urls import path

from . import views

app_name = "passwordless"
urlpatterns = [
    path("", views.start, name="start"),
    path("code/", views.code, name="code"),
    path("code/resend/", views.resend, name="resend"),
    path("code/restart/", views.restart, name="restart"),
    path("code/status/", views.status, name="status"),
    path("link/<str:token>/", views.link, name="link"),
]
