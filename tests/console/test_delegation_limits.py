"""More limits of delegated administration: a delegated operator cannot change their
client's client_id, and reads no change history (of the client or of a customer)."""

from __future__ import annotations

import pytest
from oauth2_provider.models import get_application_model

from .delegation_site import PREFIX
from .test_delegation import THROWAWAY_URLS, _registered_admin_wired

HOST = {"HTTP_HOST": "localhost"}


@pytest.fixture(params=["throwaway", "registered"])
def site(request, settings) -> str:
    """The throwaway site with the mixins, and the project's own admin once wired."""
    if request.param == "throwaway":
        settings.ROOT_URLCONF = THROWAWAY_URLS
        return PREFIX
    if not _registered_admin_wired():
        pytest.skip("the project's client and user admins do not include the mixins yet")
    return "/admin/"


def _form_data(form) -> dict:
    data: dict = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        if isinstance(value, list | tuple):
            data[name] = [str(item) for item in value]
            continue
        data[name] = "" if value is None else str(value)
    return data


def test_delegated_post_cannot_change_client_id(site, operator_client, delegation):
    """client_id is not a field of a delegated operator's form; posting one changes
    nothing while the name still changes."""
    url = f"{site}ciam/application/{delegation.own.pk}/change/"
    form = operator_client.get(url, **HOST).context["adminform"].form
    assert "client_id" not in form.fields
    data = _form_data(form)
    data.update({"name": "Shop renamed", "client_id": delegation.other.client_id + "-mine"})
    response = operator_client.post(url, data, **HOST)
    assert response.status_code == 302
    after = get_application_model().objects.get(pk=delegation.own.pk)
    assert after.name == "Shop renamed"
    assert after.client_id == delegation.own.client_id


def test_delegated_operator_reads_no_history(site, operator_client, delegation):
    """The history of their client and of their customer is forbidden to a delegated
    operator; a superuser still reads both."""
    client_history = f"{site}ciam/application/{delegation.own.pk}/history/"
    customer_history = f"{site}accounts/user/{delegation.own_customers[0].pk}/history/"
    assert operator_client.get(client_history, **HOST).status_code == 403
    assert operator_client.get(customer_history, **HOST).status_code == 403
    operator_client.force_login(delegation.superuser)
    assert operator_client.get(client_history, **HOST).status_code == 200
    assert operator_client.get(customer_history, **HOST).status_code == 200
