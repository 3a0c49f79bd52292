from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SessionsCtxConfig(AppConfig):
    name = "sessions_ctx"
    label = "sessions_ctx"
    verbose_name = _("Sessions")
