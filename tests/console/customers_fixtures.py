"""Data for the customer administration tests: a customer with something in every panel of
the customer page."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from profiling.models import ValueSource
from profiling.services.values import profile_update
from sessions_ctx.models import Action, RiskDecision
from tests.factories import UserFactory
from tests.privacy.conftest import furnish
from tests.sessions_ctx.test_account_sessions import signed_in_browser

HOST = {"HTTP_HOST": "localhost"}
USERS = "/admin/accounts/user/"
CPF = "123.456.789-09"
PHONE_TYPED = "(11) 91234-5678"


def rich_customer(email: str = "ana.souza@example.com"):
    """A customer with a profile (names, phone, CPF), an authenticator app, recovery codes,
    a passkey, a social account, a session, a partner's tokens and consent, a consent-ledger
    record and a risk decision (needs the ``document_field`` fixture)."""
    user = UserFactory(email=email, given_name="Ana", family_name="Souza")
    furnish(user)  # the names then come from a social provider
    profile_update(
        user=user,
        changes={"phone_number": PHONE_TYPED, "cpf": CPF},
        source=ValueSource.ACCOUNT,
    )
    signed_in_browser(user, address="203.0.113.9")
    RiskDecision.objects.create(
        user=user,
        trigger=RiskDecision.Trigger.SIGN_IN,
        findings=[{"code": "new_device", "confidence": "high"}],
        action=Action.STEP_UP,
        ip="203.0.113.9",
        place="São Paulo, BR",
    )
    return get_user_model().objects.get(pk=user.pk)
