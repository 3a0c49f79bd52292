from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitorConfig(AppConfig):
    """The live monitor (console/monitor/): a page in the admin fed over WebSockets."""

    name = "console.monitor"
    label = "monitor"
    verbose_name = _("Live monitor")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401
