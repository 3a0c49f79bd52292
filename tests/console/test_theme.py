"""The operators' console: every admin page renders themed in both languages, search never
fails, the sidebar shows only what the operator may view, and secrets stay hidden."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from oauth2_provider.models import AccessToken, RefreshToken

from consent.models import Consent
from consent.services.grants import consent_grant
from console import theme
from sessions_ctx.models import BrowserSession, RiskDecision, RiskPolicy, RiskRule, UserDevice
from tests.consent.test_purposes import grant, make_application, make_purpose, new_version
from tests.factories import UserFactory

HOST = {"HTTP_HOST": "localhost"}
PT_BR = {"HTTP_HOST": "localhost", "HTTP_ACCEPT_LANGUAGE": "pt-BR"}
MODELS = sorted(model._meta.label for model in admin.site._registry)
ODD_QUERIES = ("%", "_", "'\"", "a" * 300, "\\", "%00", "🙂")


@pytest.fixture
def operator(db):
    return UserFactory(email="root@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def provider_data(operator):
    """One or more rows of most models, so that their change pages can be opened."""
    customer = UserFactory(email="ana@example.com")
    application = make_application(name="Partner Shop")
    purpose = make_purpose("terms")
    new_version(purpose, publish=None)
    grant(customer, purpose, application)
    consent_grant(user=customer, application=application, scopes=["openid"], claims=[])
    now = timezone.now()
    BrowserSession.objects.create(
        user=customer,
        sid="sid-1",
        last_seen_at=now,
        auth_time=now,
        expires_at=now + timedelta(days=1),
        ip="192.0.2.10",
    )
    UserDevice.objects.create(user=customer, device_id="d" * 32, label="Firefox", last_seen_at=now)
    policy = RiskPolicy.objects.create(name="Default")
    RiskRule.objects.create(policy=policy, finding="new_device", action="step_up")
    RiskDecision.objects.create(
        user=customer, trigger=RiskDecision.Trigger.SIGN_IN, findings=[], action="allow"
    )
    AccessToken.objects.create(
        user=customer,
        application=application,
        token="access-" + "x" * 40,
        expires=now + timedelta(hours=1),
        scope="openid",
    )
    RefreshToken.objects.create(user=customer, application=application, token="refresh-" + "y" * 40)
    social_app = SocialApp.objects.create(
        provider="google", name="Google", client_id="google-client", secret="s3cret-" + "z" * 30
    )
    account = SocialAccount.objects.create(user=customer, provider="google", uid="1234")
    SocialToken.objects.create(app=social_app, account=account, token="social-" + "t" * 40)
    TOTPDevice.objects.create(user=customer, name="Phone", key="a1" * 20, confirmed=True)
    static = StaticDevice.objects.create(user=customer, name="Recovery codes", confirmed=True)
    static.token_set.create(token="recovery1")
    Group.objects.create(name="Support")
    return {"customer": customer, "application": application, "social_app": social_app}


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _model_admin(label: str):
    return next(ma for model, ma in admin.site._registry.items() if model._meta.label == label)


def _url(model_admin, view: str, *args) -> str:
    opts = model_admin.model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def test_admin_index_is_branded_and_translated(operator_client, settings):
    """The index shows the provider's brand and its palette; the header reads in pt-BR for
    an operator whose browser asks for Portuguese. Only the admin relaxes the hosted pages'
    Content-Security-Policy."""
    settings.CIAM_BRAND_NAME = "Acme ID"
    settings.CIAM_BRAND_COLOR = "#c0392b"
    english = operator_client.get("/admin/", **HOST)
    assert english.status_code == 200
    html = english.content.decode()
    assert "Acme ID" in html
    assert "Identity provider administration" in html
    assert "--color-primary-600: oklch(" in html
    assert english.headers["Content-Language"] == "en"
    # Alpine.js and the palette's inline style need these, on the admin only.
    policy = english.headers["Content-Security-Policy"]
    assert "script-src 'self' 'unsafe-eval'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-eval" not in operator_client.get("/", **HOST).headers["Content-Security-Policy"]
    portuguese = operator_client.get("/admin/", **PT_BR)
    assert portuguese.status_code == 200
    assert portuguese.headers["Content-Language"] == "pt-br"
    assert "Administração do provedor de identidade" in portuguese.content.decode()


@pytest.mark.parametrize("label", MODELS)
def test_every_admin_page_renders_in_both_languages(
    operator_client, operator, provider_data, label
):
    """The changelist, the add page (where adding is allowed) and a change page of every
    registered model render for a superuser, in English and in pt-BR."""
    model_admin = _model_admin(label)
    request = _request(operator)
    urls = [_url(model_admin, "changelist")]
    if model_admin.has_add_permission(request):
        urls.append(_url(model_admin, "add"))
    obj = model_admin.get_queryset(request).first()
    if obj is not None:
        urls.append(_url(model_admin, "change", obj.pk))
    for url in urls:
        for headers in (HOST, PT_BR):
            response = operator_client.get(url, **headers)
            assert response.status_code == 200, (url, headers)


@pytest.mark.parametrize("label", MODELS)
def test_search_with_odd_input_never_fails(operator_client, operator, provider_data, label):
    """Every changelist with search fields answers odd queries (wildcards, quotes, a
    300-character string) with a page, not an error."""
    model_admin = _model_admin(label)
    if not model_admin.get_search_fields(_request(operator)):
        pytest.skip("no search on this list")
    url = _url(model_admin, "changelist")
    for query in ODD_QUERIES:
        response = operator_client.get(url, {"q": query}, **HOST)
        assert response.status_code == 200, (url, query)


def test_search_finds_the_customer(operator_client, provider_data):
    """Searching a list by the customer's email finds their rows."""
    response = operator_client.get(
        "/admin/sessions_ctx/browsersession/", {"q": "ana@example.com"}, **HOST
    )
    assert response.context["cl"].result_count == 1


def _sidebar_links(response) -> list[str]:
    return [
        str(item["link"])
        for group in response.context["sidebar_navigation"]
        for item in group["items"]
        if item["has_permission"]
    ]


def test_sidebar_shows_only_what_the_operator_may_view(client, operator, db):
    """A staff user without permissions sees no model in the sidebar; one allowed to view
    browser sessions sees that link and no other; a superuser sees every group."""
    staff = UserFactory(email="staff@example.com", is_staff=True)
    client.force_login(staff)
    response = client.get("/admin/", **HOST)
    assert response.status_code == 200
    assert _sidebar_links(response) == [reverse("admin:index")]
    sessions_url = reverse("admin:sessions_ctx_browsersession_changelist")
    assert sessions_url not in response.content.decode()

    staff.user_permissions.add(Permission.objects.get(codename="view_browsersession"))
    staff = type(staff).objects.get(pk=staff.pk)  # permission cache
    client.force_login(staff)
    response = client.get("/admin/", **HOST)
    assert _sidebar_links(response) == [reverse("admin:index"), sessions_url]
    assert client.get(sessions_url, **HOST).status_code == 200

    client.force_login(operator)
    response = client.get("/admin/auth/group/", **HOST)  # the sidebar is on every page
    links = _sidebar_links(response)
    assert reverse("admin:ciam_application_changelist") in links
    assert reverse("admin:consent_consentrecord_changelist") in links
    assert reverse("admin:profiling_profilefield_report") in links
    assert reverse("admin:auth_group_changelist") in links
    titles = [str(group.get("title", "")) for group in response.context["sidebar_navigation"]]
    assert titles[1:] == [
        "Customers",
        "Applications",
        "Consent",
        "Profiling",
        "Personalization",
        "Risk",
        "Security",
        "Settings",
    ]


def test_delegated_operator_sees_only_clients_and_customers(client, db, monkeypatch):
    """An operator who manages clients (console.delegation) sees the clients and the
    customers in the sidebar, even when also given other view permissions."""
    staff = UserFactory(email="partner@example.com", is_staff=True)
    for codename in ("view_user", "view_application", "view_consent", "view_browsersession"):
        staff.user_permissions.add(Permission.objects.get(codename=codename))
    monkeypatch.setattr(theme, "_is_delegated_operator", lambda user: True)
    client.force_login(staff)
    response = client.get("/admin/", **HOST)
    assert _sidebar_links(response) == [
        reverse("admin:index"),
        reverse("admin:accounts_user_changelist"),
        reverse("admin:ciam_application_changelist"),
    ]


def test_revoking_grants_from_the_list(operator_client, operator, provider_data):
    """ "Revoke" withdraws the selected grants through the consent service (the client's
    tokens revoked, the grant kept as revoked) and logs the operator; grants cannot be
    bulk-deleted, added or edited by hand."""
    customer = provider_data["customer"]
    consent = Consent.objects.get(user=customer)
    listing = operator_client.get("/admin/consent/consent/", **HOST).content.decode()
    assert "revoke_grants" in listing
    assert "delete_selected" not in listing
    change = operator_client.get(f"/admin/consent/consent/{consent.pk}/change/", **HOST)
    assert 'name="granted_at' not in change.content.decode()
    assert operator_client.get("/admin/consent/consent/add/", **HOST).status_code == 403

    response = operator_client.post(
        "/admin/consent/consent/",
        {"action": "revoke_grants", "_selected_action": [consent.pk]},
        follow=True,
        **HOST,
    )
    assert response.status_code == 200
    consent.refresh_from_db()
    assert consent.revoked_at is not None
    assert not AccessToken.objects.filter(user=customer).exists()
    assert RefreshToken.objects.get(user=customer).revoked is not None
    entry = LogEntry.objects.get(object_id=str(consent.pk))
    assert entry.user_id == operator.pk


def test_secrets_are_never_shown(operator_client, provider_data):
    """Lists and forms show no token, TOTP key, recovery code or social app secret in full;
    saving the social app without typing a secret keeps the stored one."""
    pages = [
        "/admin/oauth2_provider/accesstoken/",
        "/admin/oauth2_provider/refreshtoken/",
        "/admin/socialaccount/socialapp/",
        "/admin/socialaccount/socialtoken/",
        "/admin/otp_totp/totpdevice/",
        "/admin/otp_static/staticdevice/",
    ]
    for model in (AccessToken, RefreshToken, SocialToken, TOTPDevice, StaticDevice):
        obj = model.objects.first()
        pages.append(f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/")
    social_app = provider_data["social_app"]
    pages.append(f"/admin/socialaccount/socialapp/{social_app.pk}/change/")
    secrets = [
        AccessToken.objects.get().token,
        RefreshToken.objects.get().token,
        SocialToken.objects.get().token,
        social_app.secret,
        TOTPDevice.objects.get().key,
        "recovery1",
    ]
    for page in pages:
        html = operator_client.get(page, **HOST).content.decode()
        for secret in secrets:
            assert secret not in html, (page, secret)

    form = operator_client.get(f"/admin/socialaccount/socialapp/{social_app.pk}/change/", **HOST)
    data = {
        name: value
        for name, value in re.findall(
            r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.content.decode()
        )
        if name != "csrfmiddlewaretoken"
    }
    data.update({"provider": "google", "name": "Google Workspace", "secret": "", "settings": "{}"})
    response = operator_client.post(
        f"/admin/socialaccount/socialapp/{social_app.pk}/change/", data, **HOST
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    social_app.refresh_from_db()
    assert social_app.name == "Google Workspace"
    assert social_app.secret == "s3cret-" + "z" * 30


def test_apps_have_distinct_names_in_portuguese(operator_client):
    """allauth's "account" app and the provider's accounts app no longer read the same."""
    from django.apps import apps
    from django.utils import translation

    with translation.override("pt-br"):
        names = [
            str(apps.get_app_config(label).verbose_name)
            for label in ("account", "accounts", "socialaccount", "sessions_ctx")
        ]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize(
    ("color", "valid"),
    [("#1f5fbf", True), ("#fc0", True), ("#ffee00", True), ("#000000", True), ("blue", False)],
)
def test_palette_follows_the_brand_colour(color, valid):
    """Eleven weights of the brand's hue, light to dark, weight 600 dark enough for white
    text; an invalid colour gives the default palette."""
    palette = theme.palette_from_color(color)
    assert list(palette) == ["50", *map(str, range(100, 1000, 100)), "950"]
    lightness = [float(re.match(r"oklch\(([\d.]+)%", v).group(1)) for v in palette.values()]
    assert lightness == sorted(lightness, reverse=True)
    assert lightness[6] <= 56
    if not valid:
        assert palette == theme.palette_from_color(theme.DEFAULT_BRAND_COLOR)
