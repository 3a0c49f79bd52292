from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Users and sign-in")

    def ready(self) -> None:
        from . import password_forms, receivers  # noqa: F401
