"""Delegated administration: an operator who runs some clients sees only those clients and,
read-only, their customers; nothing else in the admin, and no way to grant themselves more."""

from __future__ import annotations

import json

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import override_settings
from oauth2_provider.models import get_application_model

from console.delegation import (
    DelegatedClientAdminMixin,
    DelegatedCustomerAdminMixin,
    delegated_clients,
    delegated_customers,
    delegated_operators,
    delegation_grant,
    delegation_revoke,
    is_delegated_operator,
)

from .conftest import signed_in
from .delegation_site import PREFIX

HOST = {"HTTP_HOST": "localhost"}
THROWAWAY_URLS = "tests.console.delegation_site"


def _registered_admin_wired() -> bool:
    registry = admin.site._registry
    return isinstance(
        registry.get(get_application_model()), DelegatedClientAdminMixin
    ) and isinstance(registry.get(get_user_model()), DelegatedCustomerAdminMixin)


@pytest.fixture(params=["throwaway", "registered"])
def site(request, settings) -> str:
    """The admin under test: the throwaway site with the mixins, and the project's own admin
    once its client and user ModelAdmins include them."""
    if request.param == "throwaway":
        settings.ROOT_URLCONF = THROWAWAY_URLS
        return PREFIX
    if not _registered_admin_wired():
        pytest.skip("the project's client and user admins do not include the mixins yet")
    return "/admin/"


def closed(response, site: str = "") -> bool:
    """A page a delegated operator may not see: forbidden, not found, back to sign-in, or
    (Django's answer for an object outside the admin's queryset) back to the admin index."""
    if response.status_code in (403, 404):
        return True
    if response.status_code != 302:
        return False
    location = response["Location"]
    return "login" in location or location in ("/admin/", PREFIX)


# --- The selectors -----------------------------------------------------------------------


def test_delegated_operator_is_staff_with_object_permissions(delegation):
    """Staff with object permissions on a client is delegated; superusers, plain staff and
    customers are not."""
    assert is_delegated_operator(delegation.operator)
    assert not is_delegated_operator(delegation.superuser)
    assert not is_delegated_operator(delegation.staff_on_own)
    assert not is_delegated_operator(delegation.own_customers[0])


def test_delegated_clients_are_the_granted_ones(delegation):
    """A delegated operator's clients are those granted; a superuser's are all of them."""
    assert list(delegated_clients(delegation.operator)) == [delegation.own]
    assert set(delegated_clients(delegation.superuser)) == {delegation.own, delegation.other}
    assert not delegated_clients(delegation.staff_on_own).exists()
    assert list(delegated_operators(delegation.own)) == [delegation.operator]


def test_delegated_customers_are_proved_by_codes_tokens_and_consents(
    delegation, django_assert_max_num_queries
):
    """Customers who got a code, a token or gave consent for the operator's client, in one
    query; never another client's customers or staff accounts."""
    delegated_clients(delegation.operator)  # permissions cached on the user
    with django_assert_max_num_queries(1):
        customers = set(delegated_customers(delegation.operator))
    assert customers == set(delegation.own_customers)
    everyone = set(delegated_customers(delegation.superuser))
    assert delegation.other_customer in everyone
    assert delegation.staff_on_own in everyone


def test_consent_ledger_records_prove_a_customer(delegation):
    """A decision in the consent ledger for the client makes the user one of its customers."""
    from consent.models import ConsentRecord

    customer = get_user_model().objects.create_user(email="ledger@example.com", password=None)
    assert customer not in delegated_customers(delegation.operator)
    query = str(delegated_customers(delegation.operator).query)
    assert ConsentRecord._meta.db_table in query


def test_revoking_ends_the_delegation(delegation):
    """After revocation the operator administers nothing and sees no customers."""
    delegation_revoke(
        operator=delegation.operator, client=delegation.own, revoked_by=delegation.superuser
    )
    assert not is_delegated_operator(delegation.operator)
    assert not delegated_customers(delegation.operator).exists()


@override_settings(
    AUTHENTICATION_BACKENDS=[
        "django.contrib.auth.backends.ModelBackend",
        "guardian.backends.ObjectPermissionBackend",
    ]
)
def test_operator_with_global_client_permission_is_not_scoped(delegation):
    """An operator holding the global permission on clients sees them all (not delegated)."""
    permission = Permission.objects.get(codename="view_application")
    delegation.operator.user_permissions.add(permission)
    operator = get_user_model().objects.get(pk=delegation.operator.pk)
    assert not is_delegated_operator(operator)
    assert delegated_clients(operator).count() == 2


# --- The admin ---------------------------------------------------------------------------


def test_index_lists_only_clients_and_users(site, operator_client):
    """The admin index shows the operator clients and users, and no other model."""
    page = operator_client.get(site, **HOST)
    assert page.status_code == 200
    html = page.content.decode()
    assert f"{site}ciam/application/" in html
    assert f"{site}accounts/user/" in html
    for hidden in (
        "ciam/signingkey/",
        "ciam/authorizationcontext/",
        "auth/group/",
        "oauth2_provider/accesstoken/",
        "consent/",
        "audit/",
    ):
        assert f"{site}{hidden}" not in html, hidden


def test_every_other_admin_page_is_closed(site, operator_client, delegation):
    """Every changelist and add page of another model is closed to the operator (the
    webhook endpoints and deliveries of their own clients are theirs: tests/webhooks/
    test_admin.py checks they see only those, and cannot add endpoints)."""
    from webhooks.models import Delivery, Endpoint

    from .delegation_site import site as throwaway

    registry = admin.site._registry if site == "/admin/" else throwaway._registry
    opened = []
    for model in registry:
        if model in (get_application_model(), get_user_model()):
            continue
        if model in (Endpoint, Delivery) and site == "/admin/":
            continue
        meta = model._meta
        for suffix in ("", "add/"):
            url = f"{site}{meta.app_label}/{meta.model_name}/{suffix}"
            if not closed(operator_client.get(url, **HOST)):
                opened.append(url)
    assert opened == []


def test_operator_sees_and_changes_only_their_client(site, operator_client, delegation):
    """Their client's list and change form open; another client's page is not found and a
    POST to it changes nothing; add and delete are forbidden."""
    base = f"{site}ciam/application/"
    listing = operator_client.get(base, **HOST).content.decode()
    assert "Shop" in listing
    assert "Bank" not in listing
    assert operator_client.get(f"{base}{delegation.own.pk}/change/", **HOST).status_code == 200
    other = f"{base}{delegation.other.pk}/change/"
    assert closed(operator_client.get(other, **HOST))
    response = operator_client.post(other, {"name": "Taken over"}, **HOST)
    assert closed(response)
    delegation.other.refresh_from_db()
    assert delegation.other.name == "Bank"
    assert closed(operator_client.get(f"{base}add/", **HOST))
    assert closed(operator_client.get(f"{base}{delegation.own.pk}/delete/", **HOST))
    assert closed(operator_client.post(f"{base}{delegation.other.pk}/delete/", {"post": "yes"}))
    assert get_application_model().objects.filter(pk=delegation.other.pk).exists()


@pytest.mark.parametrize(
    "query",
    [
        "?id__in={own},{other}",
        "?pk={other}",
        "?q=Bank",
        "?client_id={client_id}",
        "?user__email__contains=@",
        "?_popup=1&_to_field=id",
        "?o=-1&id__gte=0",
    ],
)
def test_changelist_filters_reveal_no_other_client(site, operator_client, delegation, query):
    """Lookups in the client list's query string never bring in another client."""
    url = f"{site}ciam/application/" + query.format(
        own=delegation.own.pk, other=delegation.other.pk, client_id=delegation.other.client_id
    )
    response = operator_client.get(url, **HOST)
    assert response.status_code in (200, 302, 400, 403)
    if response.status_code == 200:
        # The query string is echoed back (search box, hidden inputs): look at the rows.
        assert set(response.context["cl"].result_list) <= {delegation.own}


def test_fields_that_widen_reach_are_read_only(site, operator_client, delegation):
    """Posting skip_authorization, the grant type, the subject type or a sector identifier
    changes none of them; the client's own configuration (name) does change."""
    from ciam.models import Application

    url = f"{site}ciam/application/{delegation.own.pk}/change/"
    page = operator_client.get(url, **HOST)
    form = page.context["adminform"].form
    data = {}
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
    for name in form.fields:
        assert name not in {"skip_authorization", "subject_type", "sector_identifier", "user"}
    before = Application.objects.get(pk=delegation.own.pk)
    data.update(
        {
            "name": "Shop renamed",
            "skip_authorization": "on",
            "authorization_grant_type": "client-credentials",
            "client_type": "public",
            "subject_type": "public",
            "sector_identifier": "bank.example",
            "user": str(delegation.operator.pk),
            "delegated_administrators": [str(delegation.operator.pk)],
        }
    )
    response = operator_client.post(url, data, **HOST)
    assert response.status_code == 302, response.context["adminform"].form.errors
    after = Application.objects.get(pk=delegation.own.pk)
    assert after.name == "Shop renamed"
    assert after.skip_authorization == before.skip_authorization
    assert after.authorization_grant_type == before.authorization_grant_type
    assert after.client_type == before.client_type
    assert after.subject_type == before.subject_type
    assert after.sector_identifier == before.sector_identifier
    assert after.user_id == before.user_id


def test_customers_are_read_only_and_scoped(site, operator_client, delegation):
    """The user list shows the client's customers only; their pages are read-only without
    permission fields; another customer's, a staff account's and the operator's own page are
    closed; no bulk action runs."""
    base = f"{site}accounts/user/"
    listing = operator_client.get(base, **HOST)
    assert listing.status_code == 200
    html = listing.content.decode()
    for customer in delegation.own_customers:
        assert customer.email in html
    for outsider in (delegation.other_customer, delegation.staff_on_own, delegation.superuser):
        assert outsider.email not in html
    assert 'name="action"' not in html
    customer = delegation.own_customers[0]
    page = operator_client.get(f"{base}{customer.pk}/change/", **HOST)
    assert page.status_code == 200
    page_html = page.content.decode()
    for field in ("is_superuser", "user_permissions", "groups", "is_staff"):
        assert f'name="{field}"' not in page_html
        assert f"field-{field}" not in page_html
    assert 'type="submit" value="Save"' not in page_html
    for outsider in (delegation.other_customer, delegation.staff_on_own, delegation.operator):
        assert closed(operator_client.get(f"{base}{outsider.pk}/change/", **HOST))
        assert closed(operator_client.get(f"{base}{outsider.pk}/history/", **HOST))
    assert closed(operator_client.get(f"{base}{customer.pk}/password/", **HOST))
    assert closed(operator_client.get(f"{base}add/", **HOST))
    response = operator_client.post(
        base, {"action": "delete_selected", "_selected_action": [customer.pk], "post": "yes"}
    )
    assert get_user_model().objects.filter(pk=customer.pk).exists()
    assert response.status_code in (200, 302, 403)


def test_operator_cannot_grant_themselves_more(site, operator_client, delegation):
    """POSTs making the operator superuser, adding groups or permissions, creating a group or
    reaching guardian's object-permission pages change nothing (keycloak#51630,
    authentik#13376 are such escalations)."""
    group = Group.objects.create(name="everything")
    group.permissions.set(Permission.objects.all())
    permission = Permission.objects.get(codename="change_application")
    users = f"{site}accounts/user/"
    own_page = f"{users}{delegation.operator.pk}/change/"
    escalation = {
        "email": delegation.operator.email,
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "groups": [str(group.pk)],
        "user_permissions": [str(permission.pk)],
        "last_login_0": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    assert closed(operator_client.post(own_page, escalation, **HOST))
    customer = delegation.own_customers[0]
    operator_client.post(f"{users}{customer.pk}/change/", escalation, **HOST)
    customer.refresh_from_db()
    assert not customer.is_superuser
    assert not customer.is_staff
    clients = f"{site}ciam/application/"
    for pk in (delegation.own.pk, delegation.other.pk):
        for suffix in ("permissions/", f"permissions/user-manage/{delegation.operator.pk}/"):
            url = f"{clients}{pk}/{suffix}"
            assert closed(operator_client.get(url, **HOST)) or b"Shop" not in (
                operator_client.get(url, **HOST).content
            )
            operator_client.post(
                url,
                {"user": delegation.operator.email, "permissions": ["change_application"]},
                **HOST,
            )
    for url in (
        f"{site}auth/group/add/",
        f"{site}auth/group/",
        f"{site}auth/permission/",
        f"{site}guardian/userobjectpermission/",
        f"{site}guardian/groupobjectpermission/add/",
    ):
        assert closed(operator_client.get(url, **HOST)), url
        assert closed(operator_client.post(url, {"name": "mine"}, **HOST)), url
    operator = get_user_model().objects.get(pk=delegation.operator.pk)
    assert not operator.is_superuser
    assert not operator.groups.exists()
    assert not operator.user_permissions.exists()
    assert list(delegated_clients(operator)) == [delegation.own]
    assert not Group.objects.filter(name="mine").exists()


def test_autocomplete_returns_nothing_outside_the_scope(site, operator_client, delegation):
    """The admin's autocomplete lookups return only the operator's clients and customers."""
    users = {delegation.other_customer.pk, delegation.superuser.pk, delegation.staff_on_own.pk}
    for field, outside in (("user", users), ("application", {delegation.other.pk})):
        outsiders = {str(pk) for pk in outside}
        url = (
            f"{site}autocomplete/?app_label=ciam&model_name=authorizationcontext"
            f"&field_name={field}&term="
        )
        response = operator_client.get(url, **HOST)
        if response.status_code != 200:
            assert closed(response)
            continue
        found = {result["id"] for result in json.loads(response.content)["results"]}
        assert not found & outsiders, (field, found)
        if field == "application" and site == PREFIX:
            assert found == {str(delegation.own.pk)}


def test_raw_ids_in_urls_reveal_nothing(site, operator_client, delegation):
    """Another object's id in any admin URL the operator can reach gives no page."""
    for url in (
        f"{site}ciam/application/{delegation.other.pk}/history/",
        f"{site}ciam/application/{delegation.other.pk}/",
        f"{site}accounts/user/{delegation.other_customer.pk}/",
        f"{site}r/{get_user_model()._meta.app_label}/1/{delegation.other_customer.pk}/",
        f"{site}ciam/authorizationcontext/1/change/",
    ):
        response = operator_client.get(url, **HOST, follow=True)
        html = response.content.decode()
        assert delegation.other_customer.email not in html, url
        assert "Bank" not in html, url


def test_new_sign_in_extends_the_customers(delegation):
    """A customer of the other client who signs in to the operator's client becomes theirs."""
    assert delegation.other_customer not in delegated_customers(delegation.operator)
    signed_in(delegation.other_customer, delegation.own)
    assert delegation.other_customer in delegated_customers(delegation.operator)


def test_superuser_keeps_full_admin(site, client, delegation):
    """A superuser still sees every client and customer in the same admin."""
    client.force_login(delegation.superuser)
    listing = client.get(f"{site}ciam/application/", **HOST).content.decode()
    assert "Shop" in listing
    assert "Bank" in listing
    users = client.get(f"{site}accounts/user/", **HOST).content.decode()
    assert delegation.other_customer.email in users


def test_grant_twice_is_harmless(delegation):
    """Granting an existing delegation again keeps one delegation."""
    delegation_grant(operator=delegation.operator, client=delegation.own, granted_by=None)
    assert list(delegated_clients(delegation.operator)) == [delegation.own]
