"""factory_boy factories for users and clients."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from accounts.services.users import user_create
from ciam.services.clients import client_register

PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.Factory):
    class Meta:
        model = get_user_model()

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = PASSWORD
    given_name = "Ana"
    family_name = "Silva"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return user_create(validate=False, **kwargs)


def make_client(kind: str = "web", **kwargs):
    """Register a client; returns RegisteredClient (client_id, client_secret)."""
    kwargs.setdefault("name", f"Test {kind} client")
    return client_register(kind=kind, **kwargs)


def service_session(issuer: str, scope: str, *, name: str = "CRM", timeout: int = 10):
    """A registered machine client holding a client_credentials token for ``scope`` (an
    Authlib session, for the back-end APIs)."""
    from authlib.integrations.requests_client import OAuth2Session

    registered = make_client("service", name=name)
    session = OAuth2Session(
        registered.client_id, registered.client_secret, scope=scope, default_timeout=timeout
    )
    session.fetch_token(issuer + "/token", grant_type="client_credentials")
    return session
