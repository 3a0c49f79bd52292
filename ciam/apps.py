from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CiamConfig(AppConfig):
    name = "ciam"
    verbose_name = _("OpenID Provider")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_migrate, post_save

        from sessions_ctx.signals import session_ended

        from .models import Application
        from .receivers import (
            ensure_signing_keys,
            forget_cached_application,
            remember_frontchannel_logouts_of_ended_session,
            revoke_tokens_of_ended_session,
            send_backchannel_logouts_of_ended_session,
        )

        post_migrate.connect(ensure_signing_keys, sender=self, dispatch_uid="ciam.signing_keys")
        for signal in (post_save, post_delete):
            signal.connect(
                forget_cached_application, sender=Application, dispatch_uid=f"ciam.app.{id(signal)}"
            )
        session_ended.connect(
            revoke_tokens_of_ended_session, dispatch_uid="ciam.revoke_tokens_of_ended_session"
        )
        session_ended.connect(
            send_backchannel_logouts_of_ended_session,
            dispatch_uid="ciam.send_backchannel_logouts_of_ended_session",
        )
        session_ended.connect(
            remember_frontchannel_logouts_of_ended_session,
            dispatch_uid="ciam.remember_frontchannel_logouts_of_ended_session",
        )
