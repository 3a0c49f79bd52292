"""Connected apps (/account/apps/): every client holding a grant, tokens or a code of the
customer, with scopes, purposes and dates; removing one revokes what it holds and is
audited (consent/views.py ``apps`` and ``app_revoke``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Grant, RefreshToken, get_application_model

from audit.models import AuditEntry
from consent.models import Consent
from consent.services.grants import consent_grant
from consent.services.ledger import purposes_decide
from tests.factories import UserFactory, make_client

from .purposes_helpers import make_purpose

pytestmark = pytest.mark.django_db

PAGE = "/account/apps/"


@pytest.fixture
def signed_in():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    return user, client


def application(name: str, *, first_party: bool = False):
    registered = make_client("web", name=name, redirect_uris=["https://p.test/cb"])
    applications = get_application_model().objects.filter(client_id=registered.client_id)
    applications.update(skip_authorization=first_party)
    return applications.get()


def tokens_for(user, app, scope: str = "openid email") -> AccessToken:
    now = timezone.now()
    access = AccessToken.objects.create(
        user=user,
        application=app,
        token=f"at-{app.pk}-{user.pk}",
        scope=scope,
        expires=now + timedelta(hours=1),
    )
    RefreshToken.objects.create(
        user=user, application=app, token=f"rt-{app.pk}-{user.pk}", access_token=access
    )
    Grant.objects.create(
        user=user,
        application=app,
        code=f"code-{app.pk}-{user.pk}",
        expires=now + timedelta(minutes=5),
        redirect_uri="https://p.test/cb",
        scope=scope,
    )
    return access


def revoke_url(app) -> str:
    return f"/account/apps/{app.pk}/revoke/"


def test_page_lists_every_client_holding_something(signed_in):
    """A third-party client with a grant and a first-party one with tokens only are both
    listed, with their scopes, the purposes agreed for that client and the dates; a client
    of another customer is not."""
    user, client = signed_in
    shop = application("Partner Shop")
    own = application("Our Store", first_party=True)
    stranger = application("Stranger App")
    offers = make_purpose("offers", clients={shop.client_id: False})
    consent_grant(user=user, application=shop, scopes=["openid", "profile"], claims=[])
    purposes_decide(
        user=user,
        application=shop,
        granted=[offers.current_version()],
        declined=[],
        channel="signin",
    )
    tokens_for(user, own, scope="openid email")
    tokens_for(UserFactory(), stranger)
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Partner Shop" in html
    assert "Our Store" in html
    assert "Stranger App" not in html
    assert "offers terms v1" in html
    assert revoke_url(shop) in html
    assert revoke_url(own) in html
    assert "Last active" in html
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"
    html = client.get(PAGE).content.decode()
    assert "Termos offers v1" in html
    assert "Aplicativos conectados" in html or "Connected apps" in html


def test_get_revoke_asks_for_confirmation_and_changes_nothing(signed_in):
    user, client = signed_in
    own = application("Our Store", first_party=True)
    tokens_for(user, own)
    page = client.get(revoke_url(own))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Remove Our Store" in html
    assert f'action="{revoke_url(own)}"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert AccessToken.objects.filter(user=user, application=own).exists()


def test_revoke_deletes_tokens_and_codes_and_is_audited(signed_in):
    """POST revokes the refresh tokens, deletes the access tokens and codes of that client
    for that customer (not another customer's), withdraws the grant, records it."""
    user, client = signed_in
    shop = application("Partner Shop")
    consent_grant(user=user, application=shop, scopes=["openid"], claims=[])
    tokens_for(user, shop)
    other = UserFactory()
    tokens_for(other, shop)
    response = client.post(revoke_url(shop), follow=True)
    assert response.status_code == 200
    assert "Partner Shop no longer has access" in response.content.decode()
    assert not AccessToken.objects.filter(user=user, application=shop).exists()
    assert not Grant.objects.filter(user=user, application=shop).exists()
    assert not RefreshToken.objects.filter(user=user, application=shop, revoked__isnull=True)
    assert Consent.objects.get(user=user, application=shop).revoked_at is not None
    assert AccessToken.objects.filter(user=other, application=shop).exists()
    entry = AuditEntry.objects.get(action="consent.client_revoked", subject=user)
    assert entry.target_id == str(shop.pk)
    assert revoke_url(shop) not in response.content.decode()


def test_revoking_a_first_party_client_without_grant_is_audited(signed_in):
    user, client = signed_in
    own = application("Our Store", first_party=True)
    tokens_for(user, own)
    assert client.post(revoke_url(own)).status_code == 302
    assert not AccessToken.objects.filter(user=user).exists()
    entry = AuditEntry.objects.get(action="consent.client_revoked", subject=user)
    assert entry.changes["tokens_only"] is True


@pytest.mark.parametrize("app_id", ["abc", "-1", "1" * 40, "%3Cscript%3E", "999999"])
def test_malformed_or_unknown_ids_are_a_readable_404(signed_in, app_id):
    _user, client = signed_in
    for method in (client.get, client.post):
        response = method(f"/account/apps/{app_id}/revoke/")
        assert response.status_code == 404
        assert "no access to your account" in response.content.decode()


def test_another_customers_app_is_a_404_and_keeps_its_tokens(signed_in):
    _user, client = signed_in
    stranger = application("Stranger App")
    other = UserFactory()
    tokens_for(other, stranger)
    assert client.post(revoke_url(stranger)).status_code == 404
    assert AccessToken.objects.filter(user=other, application=stranger).exists()


def test_page_needs_sign_in_and_consents_page_links_to_it(signed_in):
    assert Client().get(PAGE).status_code == 302
    _user, client = signed_in
    assert PAGE in client.get("/account/consents/").content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_removes_apps_in_english_and_portuguese(open_tab, issuer):
    """In Chromium, without any script needed: the page lists two apps; "Remove access"
    leads to a confirmation, which removes the first app (English); in pt-BR the second one
    goes the same way; no sideways scrolling on a phone; no CSP violation."""
    import re

    from tests.browser.conftest import PHONE
    from tests.factories import PASSWORD

    user = UserFactory()
    shop = application("Partner Shop")
    consent_grant(user=user, application=shop, scopes=["openid", "email"], claims=[])
    tokens_for(user, shop)
    own = application("Our Store", first_party=True)
    tokens_for(user, own)

    tab = open_tab()
    page = tab.page
    page.goto(issuer + "/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/$"))

    page.goto(issuer + PAGE)
    items = page.locator("main .consent-item")
    assert items.count() == 2
    assert tab.unlabelled_controls() == []
    tab.shot("connected-apps-en")
    items.filter(has_text="Partner Shop").get_by_role("link", name="Remove access").click()
    page.wait_for_url(re.compile(r".*/revoke/$"))
    assert "Remove Partner Shop" in page.locator("h1").inner_text()
    tab.shot("connected-apps-confirm-en")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/account/apps/$"))
    assert page.locator(".alert--success").is_visible()
    assert page.locator("main .consent-item").count() == 1
    assert not AccessToken.objects.filter(user=user, application=shop).exists()

    page.get_by_role("button", name="Português").click()
    page.wait_for_url(re.compile(r".*/account/apps/$"))
    assert page.locator("html").get_attribute("lang") == "pt-br"
    page.set_viewport_size(PHONE)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    tab.shot("connected-apps-pt-br")
    page.locator("main .consent-item a[href$='/revoke/']").click()
    page.wait_for_url(re.compile(r".*/revoke/$"))
    assert "Our Store" in page.locator("h1").inner_text()
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/account/apps/$"))
    assert page.locator("main .consent-item").count() == 0
    assert not AccessToken.objects.filter(user=user).exists()
    assert AuditEntry.objects.filter(action="consent.client_revoked", subject=user).count() == 2
    assert tab.csp_violations == []
