from django.urls import URLPattern, path  # noqa: F401

app_name = "phone"
urlpatterns: list[URLPattern] = []
