from django.urls import path

from .views import monitor_page_view, monitor_ticket_view

app_name = "monitor"
urlpatterns = [
    path("", monitor_page_view, name="page"),
    path("ticket/", monitor_ticket_view, name="ticket"),
]
