from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _standard_fields(sender: AppConfig, **kwargs: Any) -> None:
    from .standard import standard_fields_ensure

    standard_fields_ensure()


class ProfilingConfig(AppConfig):
    name = "profiling"
    verbose_name = _("Profiles")

    def ready(self) -> None:
        # After migrate and after flush (tests): an empty schema gets the standard fields.
        post_migrate.connect(_standard_fields, sender=self, dispatch_uid="profiling-standard")
        from .receivers import connect

        connect()
