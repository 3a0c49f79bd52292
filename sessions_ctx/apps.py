from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SessionsCtxConfig(AppConfig):
    name = "sessions_ctx"
    label = "sessions_ctx"
    verbose_name = _("Sessions and risk")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_login_failed

        from .receivers import count_failed_sign_in

        user_login_failed.connect(count_failed_sign_in, dispatch_uid="sessions_ctx.failed_sign_in")
