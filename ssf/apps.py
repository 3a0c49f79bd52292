from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SsfConfig(AppConfig):
    name = "ssf"
    verbose_name = _("Shared Signals")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .receivers import connect

        connect()
