"""Interaction step: users with a second factor prove it before a code is issued."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from ciam.interaction import InteractionStep, PendingAuthorization


class SecondFactorStep(InteractionStep):
    name = "second_factor"
    prompt_none_error = "login_required"

    def is_satisfied(self, request: HttpRequest, pending: PendingAuthorization) -> bool:
        return not TOTPDevice.objects.filter(user=request.user, confirmed=True).exists()

    def url(self, request: HttpRequest, pending: PendingAuthorization) -> str:
        return reverse("mfa:verify", args=[pending.id])
