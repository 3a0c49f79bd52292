"""Operators add clients by kind in the admin, which offers only what the provider supports."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from oauth2_provider.models import get_application_model

from ciam.models import ClientKind
from tests.factories import make_client

from .conftest import add_form_values, admin_form

Application = get_application_model()
ADD = "/admin/ciam/application/add/"

KINDS = [
    # kind, redirect URIs, client type, grant
    ("web", "https://shop.example/cb", "confidential", "authorization-code"),
    ("spa", "https://app.example/cb", "public", "authorization-code"),
    ("native", "com.example.app:/callback http://127.0.0.1/cb", "public", "authorization-code"),
    ("machine", "", "confidential", "client-credentials"),
]


@pytest.mark.parametrize(("kind", "redirect_uris", "client_type", "grant"), KINDS)
def test_operator_adds_each_kind(operator_client, kind, redirect_uris, client_type, grant):
    """Choosing a kind on the add page sets the client's type and grant (whatever the
    type and grant fields say); a confidential one gets its secret shown once, hashed."""
    page = operator_client.get(f"{ADD}?kind={kind}")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'value="{kind}" checked' in html.replace('checked=""', "checked") or (
        f'value="{kind}"' in html
    )
    values = add_form_values(html)
    response = operator_client.post(
        ADD,
        admin_form(
            kind=kind,
            redirect_uris=redirect_uris,
            client_type="confidential",  # the kind wins
            authorization_grant_type="authorization-code",
            **values,
        ),
        follow=True,
    )
    assert response.redirect_chain, response.content.decode()[-3000:]
    stored = Application.objects.get(client_id=values["client_id"])
    assert (stored.kind, stored.client_type, stored.authorization_grant_type) == (
        kind,
        client_type,
        grant,
    )
    shown = " ".join(str(message) for message in response.context["messages"])
    if client_type == "confidential":
        assert values["client_secret"] in shown
        assert stored.client_secret.startswith("ciam_hmac_sha256$")
    else:
        assert stored.client_secret == ""
        assert values["client_secret"] not in shown
    if kind == "machine":
        assert stored.algorithm == ""


def test_plain_dot_fields_still_add_a_client(operator_client):
    """A post of the plain DOT fields (no kind, hash_client_secret included) adds a client
    whose kind is inferred."""
    values = add_form_values(operator_client.get(ADD).content.decode())
    response = operator_client.post(
        ADD,
        admin_form(
            client_type="confidential",
            authorization_grant_type="authorization-code",
            redirect_uris="https://shop.example/cb",
            hash_client_secret="on",
            **values,
        ),
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert Application.objects.get(client_id=values["client_id"]).kind == ClientKind.WEB


@pytest.mark.parametrize(
    "grant",
    ["implicit", "password", "openid-hybrid", "urn:ietf:params:oauth:grant-type:device_code"],
)
def test_unsupported_grants_are_refused(operator_client, grant):
    """The form offers only authorization code and client credentials; the others are
    refused by the form and by the model's clean."""
    html = operator_client.get(ADD).content.decode()
    assert f'value="{grant}"' not in html
    values = add_form_values(html)
    response = operator_client.post(
        ADD,
        admin_form(
            client_type="confidential",
            authorization_grant_type=grant,
            redirect_uris="https://shop.example/cb",
            **values,
        ),
    )
    assert response.status_code == 200
    assert not Application.objects.filter(client_id=values["client_id"]).exists()
    application = Application(
        name="x",
        client_type="confidential",
        authorization_grant_type=grant,
        redirect_uris="https://shop.example/cb",
    )
    with pytest.raises(ValidationError) as error:
        application.full_clean()
    assert "authorization_grant_type" in error.value.message_dict


def test_form_has_no_hash_checkbox_and_groups_fields(operator_client):
    """No "hash client secret" box; the fieldsets by concern; the first-party label."""
    html = operator_client.get(ADD).content.decode()
    assert 'name="hash_client_secret"' not in html
    for heading in (
        "Identity and type",
        "Redirect URIs",
        "Post-logout redirect URIs",
        "Back-channel and front-channel logout",
        "Allowed scopes",
        "Consent and sign-in",
        "Branding",
        "Delegated administrators",
    ):
        assert heading in html, heading
    assert "First-party: no consent screen" in html
    for name in ("kind", "allowed_scopes", "brand_color", "client_credentials_enabled"):
        assert f'name="{name}"' in html


@pytest.mark.django_db
def test_model_refuses_inconsistent_clients():
    """Public clients never use client credentials, machine clients have no redirect URIs,
    native redirect URIs are loopback or private-use schemes, colours are #rrggbb."""
    cases = [
        (
            {"client_type": "public", "client_credentials_enabled": True, "kind": "spa"},
            "client_credentials_enabled",
        ),
        ({"kind": "machine", "authorization_grant_type": "client-credentials"}, "redirect_uris"),
        (
            {"kind": "native", "client_type": "public", "redirect_uris": "http://app.example/cb"},
            "redirect_uris",
        ),
        ({"kind": "web", "brand_color": "red"}, "brand_color"),
        ({"kind": "web", "allowed_scopes": "openid nonsense"}, "allowed_scopes"),
        ({"kind": "spa"}, "kind"),  # confidential
    ]
    for fields, error_field in cases:
        application = Application(
            name="x",
            client_type=fields.pop("client_type", "confidential"),
            authorization_grant_type=fields.pop("authorization_grant_type", "authorization-code"),
            redirect_uris=fields.pop("redirect_uris", "https://shop.example/cb"),
            **fields,
        )
        with pytest.raises(ValidationError) as error:
            application.full_clean()
        assert error_field in error.value.message_dict, (fields, error.value.message_dict)


def test_superuser_delegates_a_client(operator_client):
    """A superuser chooses delegated administrators on the client page (staff users only);
    a delegated operator never sees that field."""
    from console.delegation import delegated_clients

    registered = make_client("web", redirect_uris=["https://shop.example/cb"])
    staff = get_user_model().objects.create_user(
        email="delegate@example.com", password="delegate-password-1", is_staff=True
    )
    change = f"/admin/ciam/application/{registered.application_id}/change/"
    html = operator_client.get(change).content.decode()
    assert 'name="delegated_administrators"' in html
    assert "delegate@example.com" in html
    stored = Application.objects.get(pk=registered.application_id)
    form = admin_form(
        kind="web",
        name=stored.name,
        client_id=stored.client_id,
        client_secret=stored.client_secret,
        redirect_uris=stored.redirect_uris,
        delegated_administrators=str(staff.pk),
    )
    form.update(_empty_inline_forms())
    response = operator_client.post(change, form)
    assert response.status_code == 302, response.content.decode()[-3000:]
    staff = get_user_model().objects.get(pk=staff.pk)
    assert list(delegated_clients(staff)) == [stored]

    operator_client.force_login(staff)
    delegated_page = operator_client.get(change)
    assert delegated_page.status_code == 200
    assert 'name="delegated_administrators"' not in delegated_page.content.decode()
    assert "Delegated administrators" not in delegated_page.content.decode()


def _empty_inline_forms() -> dict[str, str]:
    data = {}
    for prefix in ("profile_settings", "client_purposes"):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    return data


@pytest.mark.django_db
def test_native_loopback_redirect_on_any_port():
    """RFC 8252 7.3: a native client's loopback redirect URI matches on any port (same
    path); other clients' redirect URIs match exactly."""
    from oauthlib.common import Request

    from ciam.oauth.validator import CIAMValidator

    native = make_client("native", redirect_uris=["http://127.0.0.1/cb"])
    application = Application.objects.get(pk=native.application_id)
    assert application.kind == ClientKind.NATIVE
    request = Request("https://id.example/authorize")
    request.client = application
    validator = CIAMValidator()
    assert validator.validate_redirect_uri(native.client_id, "http://127.0.0.1:51234/cb", request)
    assert not validator.validate_redirect_uri(
        native.client_id, "http://127.0.0.1:51234/other", request
    )
    spa = Application.objects.get(
        pk=make_client("spa", redirect_uris=["https://app.example/cb"]).application_id
    )
    request.client = spa
    assert spa.kind == ClientKind.SPA
    assert not validator.validate_redirect_uri(
        spa.client_id, "https://app.example:8443/cb", request
    )


@pytest.mark.django_db
def test_create_client_command_registers_a_native_app():
    """``create_client --type native``: a public client of kind native (no secret), with its
    private-use-scheme redirect URI."""
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command(
        "create_client",
        "--name",
        "Shop app",
        "--type",
        "native",
        "--redirect-uri",
        "com.example.shop:/callback",
        stdout=out,
    )
    application = Application.objects.get(name="Shop app")
    assert application.kind == ClientKind.NATIVE
    assert application.client_type == Application.CLIENT_PUBLIC
    assert application.client_secret == ""
