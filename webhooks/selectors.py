"""Reads of the webhooks app shared by views, admin and the live monitor."""

from __future__ import annotations

from .models import Delivery, DeliveryStatus


def delivery_backlog() -> int:
    """Deliveries still owed to active endpoints (pending, due or waiting for a retry)."""
    return Delivery.objects.filter(status=DeliveryStatus.PENDING, endpoint__active=True).count()
