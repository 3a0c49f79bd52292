from django.urls import path

from . import views

app_name = "privacy"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("export.json", views.export_download, name="export"),
    path("delete/", views.delete, name="delete"),
    path("delete/scheduled/", views.deletion_scheduled, name="deletion-scheduled"),
]
