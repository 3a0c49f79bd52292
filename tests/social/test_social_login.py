"""Social login against an upstream OpenID Provider on loopback, end to end over HTTP.

The upstream provider (tests/social/idp.py) is registered the way an operator would do it:
a SocialApp of allauth's generic OpenID Connect type. The browser is tests.conftest.Browser;
the relying party redeems its code at /token and checks the ID token.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model

from profiling.models import Profile
from tests.conftest import Browser
from tests.factories import PASSWORD, UserFactory

from .conftest import PROVIDER_NAME
from .helpers import auth_params, press_provider_button, provider_button, redeem

LINK_PAGE = "/account/email-sign-in/social/link/"


def sign_in_page(browser: Browser, client) -> tuple[dict[str, str], object]:
    params = auth_params(client)
    page = browser.follow_local(browser.get("/authorize?" + urlencode(params)))
    assert page.status_code == 200
    assert "/accounts/login/" in page.url
    return params, page


def sign_in_with_password(browser: Browser, email: str, password: str = PASSWORD):
    page = browser.get("/accounts/login/")
    return browser.login_form(page, email, password)


def test_new_user_signs_up_with_the_provider_and_returns_to_the_application(
    browser, web_client, social_app, idp, issuer
):
    """A first social sign-in from an authorization request creates the account (verified
    email, name from the claims, no form) and ends at the relying party with a code whose
    ID token says amr ["fed"]; the upstream flow used PKCE S256."""
    params, page = sign_in_page(browser, web_client)
    response = press_provider_button(browser, page, PROVIDER_NAME, idp.url)
    assert response.status_code == 302

    claims = redeem(issuer, web_client, response.headers["Location"])
    assert claims["amr"] == ["fed"]
    assert claims["acr"] == "1"
    assert claims["nonce"] == params["nonce"]
    assert claims["email"] == idp.identity.email
    assert claims["email_verified"] is True
    assert (claims["given_name"], claims["family_name"]) == ("Bia", "Souza")

    user = get_user_model().objects.get(email=idp.identity.email)
    assert claims["sub"] == user.public_id
    assert not user.has_usable_password()
    assert EmailAddress.objects.filter(user=user, email=user.email, verified=True, primary=True)
    profile = Profile.objects.get(user=user)
    assert (profile.value("given_name"), profile.value("family_name")) == ("Bia", "Souza")
    account = SocialAccount.objects.get(user=user)
    assert (account.provider, account.uid) == ("test-idp", idp.identity.sub)

    (authorize,) = idp.sent("/authorize")
    assert authorize["code_challenge_method"] == "S256"
    (token,) = idp.sent("/token")
    assert token["code_verifier"]


def test_a_returning_user_signs_in_with_the_provider(browser, web_client, social_app, idp, issuer):
    """The second time, the same upstream identity opens the same account."""
    _params, page = sign_in_page(browser, web_client)
    first = redeem(
        issuer,
        web_client,
        press_provider_button(browser, page, PROVIDER_NAME, idp.url).headers["Location"],
    )
    other_browser = Browser(issuer)
    _params, page = sign_in_page(other_browser, web_client)
    response = press_provider_button(other_browser, page, PROVIDER_NAME, idp.url)
    second = redeem(issuer, web_client, response.headers["Location"])
    assert second["sub"] == first["sub"]
    assert second["amr"] == ["fed"]
    assert get_user_model().objects.filter(email=idp.identity.email).count() == 1


def test_buttons_only_for_configured_providers(client, db, idp):
    """Sign-in and sign-up pages show a provider button only once an operator configured
    that provider."""
    for url in ("/accounts/login/", "/accounts/signup/"):
        page = client.get(url).content.decode()
        assert "Continue with" not in page
        assert provider_button(page, PROVIDER_NAME) is None

    from allauth.socialaccount.models import SocialApp

    SocialApp.objects.create(
        provider="openid_connect",
        provider_id="test-idp",
        name=PROVIDER_NAME,
        client_id=idp.client_id,
        secret=idp.client_secret,
        settings={"server_url": idp.url},
    )
    for url in ("/accounts/login/?next=/somewhere", "/accounts/signup/?next=/somewhere"):
        page = client.get(url).content.decode()
        action = provider_button(page, PROVIDER_NAME)
        assert action is not None, url
        assert action.startswith("/accounts/oidc/test-idp/login/?")
        assert "process=login" in action
        assert "next=%2Fsomewhere" in action
        # The button is a POST form: no GET link starts a sign-in.
        assert 'method="post"' in page
        assert 'href="/accounts/oidc/' not in page


def test_opening_the_provider_login_url_with_get_only_asks(client, social_app):
    """A bare GET of the provider's login URL shows a confirmation; nothing is started."""
    response = client.get("/accounts/oidc/test-idp/login/?process=login")
    assert response.status_code == 200
    assert f"Continue with {PROVIDER_NAME}" in response.content.decode()


def test_existing_email_is_not_taken_over_but_linked_after_password_sign_in(
    browser, web_client, social_app, idp, issuer
):
    """A social identity whose verified email belongs to an existing account neither signs
    in to it nor links to it. The owner signs in with the password, confirms the link, and
    the authorization request continues; afterwards the provider opens that account."""
    user = UserFactory(email=idp.identity.email)
    _params, page = sign_in_page(browser, web_client)
    link_page = press_provider_button(browser, page, PROVIDER_NAME, idp.url)
    assert link_page.status_code == 200
    assert link_page.url.endswith(LINK_PAGE)
    text = link_page.text
    assert "You already have an account with" in text
    assert idp.identity.email in text
    assert not SocialAccount.objects.filter(user=user).exists()
    # Not signed in: the account pages still ask for a sign-in.
    assert "/accounts/login/" in browser.get("/accounts/3rdparty/").headers["Location"]

    login_url = re.search(r'href="(/accounts/login/\?next=[^"]+)"', text).group(1)
    page = browser.get(login_url.replace("&amp;", "&"))
    confirm = browser.login_form(page, user.email, PASSWORD)
    assert confirm.url.endswith(LINK_PAGE)
    assert f"Link {PROVIDER_NAME}" in confirm.text
    response = browser.post(
        LINK_PAGE,
        data={"csrfmiddlewaretoken": browser.csrf(confirm.text), "action": "link"},
        headers={"Referer": confirm.url},
    )
    response = browser.follow_local(response)
    claims = redeem(issuer, web_client, response.headers["Location"])
    assert claims["sub"] == user.public_id
    assert claims["amr"] == ["pwd"]  # the owner proved the account with the password
    account = SocialAccount.objects.get(user=user)
    assert account.uid == idp.identity.sub

    other_browser = Browser(issuer)
    _params, page = sign_in_page(other_browser, web_client)
    response = press_provider_button(other_browser, page, PROVIDER_NAME, idp.url)
    claims = redeem(issuer, web_client, response.headers["Location"])
    assert claims["sub"] == user.public_id
    assert claims["amr"] == ["fed"]


def test_existing_email_linked_after_signing_in_with_an_emailed_code(
    browser, social_app, idp, mailoutbox
):
    """The owner of the matching account may also prove it with an emailed code."""
    user = UserFactory(email=idp.identity.email)
    page = browser.get("/accounts/login/")
    link_page = press_provider_button(browser, page, PROVIDER_NAME, idp.url)
    assert link_page.url.endswith(LINK_PAGE)
    text = link_page.text
    start_url = re.search(r'href="(/account/email-sign-in/\?[^"]+)"', text).group(1)
    start = browser.get(start_url.replace("&amp;", "&"))
    assert f'value="{user.email}"' in start.text  # the address is filled in
    code_page = browser.follow_local(
        browser.post(
            start.url,
            data={"csrfmiddlewaretoken": browser.csrf(start.text), "email": user.email},
        )
    )
    code = re.search(r"^ {4}(\d{6})$", mailoutbox[-1].body, re.M).group(1)
    confirm = browser.follow_local(
        browser.post(
            code_page.url, data={"csrfmiddlewaretoken": browser.csrf(code_page.text), "code": code}
        )
    )
    assert confirm.url.endswith(LINK_PAGE)
    done = browser.follow_local(
        browser.post(
            LINK_PAGE, data={"csrfmiddlewaretoken": browser.csrf(confirm.text), "action": "link"}
        )
    )
    assert done.url.endswith("/accounts/3rdparty/")
    assert SocialAccount.objects.filter(user=user, uid=idp.identity.sub).exists()


def test_an_old_session_of_the_owner_must_sign_in_again_to_link(browser, social_app, idp):
    """Being signed in before the social sign-in began is not proof enough: the link page
    asks for a fresh sign-in and refuses a direct POST."""
    user = UserFactory(email=idp.identity.email)
    sign_in_with_password(browser, user.email)
    page = browser.get("/accounts/login/?next=/")
    link_page = press_provider_button(browser, page, PROVIDER_NAME, idp.url)
    assert link_page.url.endswith(LINK_PAGE)
    # Within the same second the old sign-in could pass as fresh; make it clearly older.
    from django.conf import settings
    from django.contrib.sessions.backends.db import SessionStore

    from sessions_ctx.constants import SESSION_KEY_AUTH

    store = SessionStore(session_key=browser.session.cookies[settings.SESSION_COOKIE_NAME])
    state = store[SESSION_KEY_AUTH]
    state["auth_time"] -= 60
    store[SESSION_KEY_AUTH] = state
    store.save()

    page = browser.get(LINK_PAGE)
    assert "You already have an account with" in page.text
    response = browser.post(
        LINK_PAGE, data={"csrfmiddlewaretoken": browser.csrf(page.text), "action": "link"}
    )
    assert response.status_code == 200
    assert not SocialAccount.objects.filter(user=user).exists()


def test_unverified_provider_email_matching_an_account_reveals_nothing(
    browser, social_app, idp, mailoutbox
):
    """An upstream email that the provider did not verify neither links, signs in, nor says
    that the account exists; allauth's enumeration-safe answer applies."""
    idp.identity.email_verified = False
    user = UserFactory(email=idp.identity.email)
    page = browser.get("/accounts/login/")
    response = press_provider_button(browser, page, PROVIDER_NAME, idp.url)
    response = browser.follow_local(response)
    assert LINK_PAGE not in response.url
    assert "already have an account" not in response.text
    assert not SocialAccount.objects.exists()
    assert get_user_model().objects.filter(email=user.email).count() == 1
    assert "/accounts/login/" in browser.get("/accounts/3rdparty/").headers["Location"]


def test_connect_and_disconnect_from_the_connections_page(browser, social_app, idp):
    """A signed-in user links the provider on /accounts/3rdparty/ and removes it again."""
    user = UserFactory()
    sign_in_with_password(browser, user.email)
    page = browser.get("/accounts/3rdparty/")
    assert page.status_code == 200
    assert "No accounts from other services are connected." in page.text
    response = press_provider_button(browser, page, f"Connect {PROVIDER_NAME}", idp.url)
    assert response.status_code == 200
    assert response.url.endswith("/accounts/3rdparty/")
    account = SocialAccount.objects.get(user=user)
    assert PROVIDER_NAME in response.text
    assert f'value="{account.pk}"' in response.text

    removed = browser.follow_local(
        browser.post(
            "/accounts/3rdparty/",
            data={"csrfmiddlewaretoken": browser.csrf(response.text), "account": account.pk},
        )
    )
    assert removed.status_code == 200
    assert not SocialAccount.objects.filter(user=user).exists()
    assert "No accounts from other services are connected." in removed.text


def _social_only_user(issuer: str, social_app, idp):
    browser = Browser(issuer)
    page = browser.get("/accounts/login/")
    press_provider_button(browser, page, PROVIDER_NAME, idp.url)
    account = SocialAccount.objects.get(uid=idp.identity.sub)
    assert not account.user.has_usable_password()
    return browser, account


def test_the_last_way_in_cannot_be_removed(issuer, social_app, idp, settings):
    """Without a password, another provider or email sign-in, the only provider stays."""
    settings.CIAM_EMAIL_SIGN_IN_ENABLED = False
    browser, account = _social_only_user(issuer, social_app, idp)
    page = browser.get("/accounts/3rdparty/")
    response = browser.post(
        "/accounts/3rdparty/",
        data={"csrfmiddlewaretoken": browser.csrf(page.text), "account": account.pk},
    )
    assert response.status_code == 200
    assert "This is the only way you can sign in." in response.text
    assert SocialAccount.objects.filter(pk=account.pk).exists()


def test_a_verified_email_with_email_sign_in_is_another_way_in(issuer, social_app, idp):
    """With email sign-in on, a verified address is a way in: the provider may go, and the
    account still opens with an emailed code."""
    browser, account = _social_only_user(issuer, social_app, idp)
    page = browser.get("/accounts/3rdparty/")
    response = browser.follow_local(
        browser.post(
            "/accounts/3rdparty/",
            data={"csrfmiddlewaretoken": browser.csrf(page.text), "account": account.pk},
        )
    )
    assert response.status_code == 200
    assert not SocialAccount.objects.filter(pk=account.pk).exists()


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_connections_page_uses_the_site_layout(browser, social_app, language):
    """The connections page renders in the provider's frame (brand bar, language switcher)."""
    user = UserFactory()
    browser.session.cookies.set("ciam_language", language)
    sign_in_with_password(browser, user.email)
    page = browser.get("/accounts/3rdparty/")
    assert page.status_code == 200
    assert 'class="brand-bar"' in page.text
    assert 'class="language-switcher"' in page.text
    assert f'<html lang="{language}"' in page.text


def test_a_provider_without_email_asks_for_one_and_verifies_it(
    browser, social_app, idp, mailoutbox
):
    """The one case with a form: the provider shared no email address. The address typed
    in is verified by code, as any unproven address is."""
    idp.identity.email = ""
    page = browser.get("/accounts/login/")
    form = press_provider_button(browser, page, PROVIDER_NAME, idp.url)
    assert form.status_code == 200
    assert form.url.endswith("/accounts/3rdparty/signup/")
    assert f"{PROVIDER_NAME} did not share your email address." in form.text
    response = browser.follow_local(
        browser.post(
            form.url,
            data={"csrfmiddlewaretoken": browser.csrf(form.text), "email": "typed@example.org"},
            headers={"Referer": form.url},
        )
    )
    assert response.status_code == 200
    user = get_user_model().objects.get(email="typed@example.org")
    assert SocialAccount.objects.filter(user=user, uid=idp.identity.sub).exists()
    assert not EmailAddress.objects.get(user=user).verified
    assert mailoutbox[-1].to == ["typed@example.org"]
    profile = Profile.objects.get(user=user)
    assert (profile.value("given_name"), profile.value("family_name")) == ("Bia", "Souza")
