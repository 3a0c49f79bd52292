"""Rotating a client's secret: the new one at once, the old one for a grace period only."""

from __future__ import annotations

import re
from datetime import timedelta

import requests
from django.utils import timezone
from oauth2_provider.models import get_application_model

from ciam.oauth.client_cache import application_cache_forget
from tests.factories import make_client

Application = get_application_model()
TIMEOUT = 10


def _token(issuer: str, client_id: str, secret: str, *, basic: bool) -> int:
    data = {"grant_type": "client_credentials"}
    if basic:
        response = requests.post(
            issuer + "/token", data=data, auth=(client_id, secret), timeout=TIMEOUT
        )
    else:
        data.update(client_id=client_id, client_secret=secret)
        response = requests.post(issuer + "/token", data=data, timeout=TIMEOUT)
    return response.status_code


def test_rotation_keeps_the_old_secret_for_the_grace_period(issuer, operator_client, settings):
    """The admin's "Rotate secret" shows the new secret once; both secrets authenticate
    (client_secret_basic and client_secret_post) during CIAM_CLIENT_SECRET_GRACE_HOURS; after
    it only the new one does; the rotation is in the audit log."""
    settings.CIAM_CLIENT_SECRET_GRACE_HOURS = 2
    registered = make_client("service", name="Billing")
    url = f"/admin/ciam/application/{registered.application_id}/rotate-secret/"
    confirm = operator_client.get(url)
    assert confirm.status_code == 200
    assert "2 hours" in confirm.content.decode()
    response = operator_client.post(url, follow=True)
    shown = " ".join(str(message) for message in response.context["messages"])
    new_secret = re.search(r"New client secret for \S+: (\S+)\.", shown).group(1)
    assert new_secret != registered.client_secret
    stored = Application.objects.get(pk=registered.application_id)
    assert new_secret not in stored.client_secret
    assert (
        new_secret
        not in operator_client.get(f"/admin/ciam/application/{stored.pk}/change/").content.decode()
    )

    for basic in (True, False):
        assert _token(issuer, registered.client_id, new_secret, basic=basic) == 200
        assert _token(issuer, registered.client_id, registered.client_secret, basic=basic) == 200
        assert _token(issuer, registered.client_id, "wrong-secret", basic=basic) == 401

    Application.objects.filter(pk=stored.pk).update(
        client_secret_rotated_at=timezone.now() - timedelta(hours=2, seconds=1)
    )
    application_cache_forget(registered.client_id)
    for basic in (True, False):
        assert _token(issuer, registered.client_id, registered.client_secret, basic=basic) == 401
        assert _token(issuer, registered.client_id, new_secret, basic=basic) == 200

    try:
        from audit.models import AuditEntry
    except ImportError:  # the audit log is not installed
        return
    assert AuditEntry.objects.filter(action="client.secret_rotated").exists()


def test_public_clients_have_no_rotation(operator_client):
    """A public client has no secret: its rotation page is refused."""
    registered = make_client("spa", redirect_uris=["https://app.example.test/cb"])
    url = f"/admin/ciam/application/{registered.application_id}/rotate-secret/"
    assert operator_client.get(url).status_code == 403
    assert operator_client.post(url).status_code == 403
