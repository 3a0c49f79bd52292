from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Profile(models.Model):
    """The customer's profile: OpenID Connect standard claims (OIDC Core 5.1)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    given_name = models.CharField(_("given name"), max_length=150, blank=True)
    family_name = models.CharField(_("family name"), max_length=150, blank=True)
    middle_name = models.CharField(_("middle name"), max_length=150, blank=True)
    nickname = models.CharField(_("nickname"), max_length=150, blank=True)
    picture = models.URLField(_("picture URL"), blank=True)
    website = models.URLField(_("website"), blank=True)
    gender = models.CharField(_("gender"), max_length=32, blank=True)
    birthdate = models.DateField(_("birth date"), null=True, blank=True)
    zoneinfo = models.CharField(_("time zone"), max_length=64, blank=True)
    locale = models.CharField(_("locale"), max_length=16, blank=True)
    phone_number = models.CharField(_("phone number (E.164)"), max_length=32, blank=True)
    phone_number_verified = models.BooleanField(_("phone number verified"), default=False)
    street_address = models.TextField(_("street address"), blank=True)
    locality = models.CharField(_("city"), max_length=128, blank=True)
    region = models.CharField(_("state or region"), max_length=128, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=32, blank=True)
    country = models.CharField(_("country"), max_length=64, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return f"Profile of {self.user_id}"

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.given_name, self.family_name) if part)
