from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CiamConfig(AppConfig):
    name = "ciam"
    verbose_name = _("OpenID Provider")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from .receivers import ensure_signing_keys

        post_migrate.connect(ensure_signing_keys, sender=self, dispatch_uid="ciam.signing_keys")
