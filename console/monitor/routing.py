"""WebSocket routes of the live monitor (ciam/asgi.py mounts them)."""

from __future__ import annotations

from django.urls import path

from .consumers import MonitorConsumer

websocket_urlpatterns = [
    path("admin/monitor/ws/", MonitorConsumer.as_asgi(), name="monitor-ws"),
]
