from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = _("Webhooks")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Deliveries are written in the event's own transaction (services/fanout.py).
        from events.signals import event_written

        from .services.fanout import on_event_written

        event_written.connect(on_event_written, dispatch_uid="webhooks.fanout")
