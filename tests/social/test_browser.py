"""Social login in Chromium against the upstream provider on loopback."""

from __future__ import annotations

import secrets

import pytest
from allauth.socialaccount.models import SocialAccount

from tests.conftest import query_of
from tests.factories import UserFactory

from .conftest import PROVIDER_NAME

pytestmark = pytest.mark.browser


def auth_params(client) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": "openid email profile",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
    }


def test_sign_up_with_the_provider_button(tab, web_client, social_app, idp):
    """The sign-in page's provider button goes upstream and back and the relying party gets
    its code; the connections page then lists the provider. No control without a label,
    nothing refused by the pages' policy."""
    params = auth_params(web_client)
    tab.authorize(params)
    page = tab.page
    button = page.get_by_role("button", name=f"Continue with {PROVIDER_NAME}")
    assert button.is_visible()
    tab.shot("login-with-provider")
    button.click()
    location = tab.wait_for_rp()
    assert query_of(location)["state"] == params["state"]
    assert query_of(location)["code"]
    assert SocialAccount.objects.filter(uid=idp.identity.sub).exists()

    tab.goto("/accounts/3rdparty/")
    assert page.get_by_role("heading", level=1).inner_text() == "Connected accounts"
    assert page.get_by_label(idp.identity.email).is_checked()
    tab.shot("connected-accounts")
    assert tab.unlabelled_controls() == []
    assert tab.csp_violations == []


def test_matching_account_is_asked_to_sign_in_first(tab, web_client, social_app, idp):
    """With an account already on the provider's address, the person lands on the page
    that asks them to sign in to it before linking."""
    UserFactory(email=idp.identity.email)
    tab.authorize(auth_params(web_client))
    page = tab.page
    page.get_by_role("button", name=f"Continue with {PROVIDER_NAME}").click()
    page.wait_for_url("**/account/email-sign-in/social/link/")
    assert page.get_by_role("heading", level=1).inner_text() == (
        f"Link your {PROVIDER_NAME} account"
    )
    assert page.get_by_role("link", name="Email me a sign-in code").is_visible()
    assert page.get_by_role("link", name="Sign in with a password").is_visible()
    tab.shot("social-link-sign-in-first")
    assert tab.rp_requests == []
    assert tab.csp_violations == []
    assert not SocialAccount.objects.exists()
