from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SessionsCtxConfig(AppConfig):
    name = "sessions_ctx"
    label = "sessions_ctx"
    verbose_name = _("Sessions and risk")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_login_failed
        from django.db.models.signals import post_delete, post_save

        from .models import RiskPolicy, RiskRule
        from .receivers import count_failed_sign_in
        from .risk.policy import policy_rules_forget

        user_login_failed.connect(count_failed_sign_in, dispatch_uid="sessions_ctx.failed_sign_in")
        for model in (RiskPolicy, RiskRule):
            for signal in (post_save, post_delete):
                signal.connect(
                    policy_rules_forget,
                    sender=model,
                    dispatch_uid=f"sessions_ctx.rules_forget.{model.__name__}.{id(signal)}",
                )
