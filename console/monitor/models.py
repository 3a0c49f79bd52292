"""The live monitor keeps no data: this model only carries its permission."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

# "monitor.view_live_monitor": who may open the page and its socket (superusers always may).
PERMISSION = "monitor.view_live_monitor"


class LiveMonitor(models.Model):
    """No table (unmanaged, never queried): the holder of the ``view_live_monitor``
    permission, granted to operators or groups in the admin like any other."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_live_monitor", _("Can watch the live monitor"))]
        verbose_name = _("live monitor")
        verbose_name_plural = _("live monitor")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)
