"""System checks of the live monitor (``manage.py check --deploy``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register

IN_MEMORY_LAYER = "channels.layers.InMemoryChannelLayer"


@register(Tags.compatibility, deploy=True)
def check_channel_layer(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """In production (DEBUG off) the WSGI process that commits events and the ASGI process
    holding the sockets only meet through Redis: the in-memory layer shows no event."""
    layers = getattr(settings, "CHANNEL_LAYERS", {}) or {}
    backend = (layers.get("default") or {}).get("BACKEND", "")
    if settings.DEBUG or backend != IN_MEMORY_LAYER:
        return []
    return [
        Warning(
            "The channel layer is in memory while DEBUG is off: the live monitor's sockets "
            "(deploy/serve --asgi) never see events committed by the WSGI process.",
            hint="Set CIAM_CHANNEL_LAYER_URL (or REDIS_URL) to a Redis URL.",
            id="monitor.W001",
        )
    ]
