"""Sign-in pages for someone already signed in: the brand style sheet while the second factor
is pending, re-authentication without a password, and the sign-in and sign-up pages."""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.test import Client

from sessions_ctx.constants import SESSION_KEY_AUTH
from tests.factories import UserFactory
from tests.mfa.conftest import enrol

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_brand_css_and_static_files_load_while_the_second_factor_is_pending():
    """With the code still owed, the code page's style sheet (/brand.css) and static files
    are served (200 text/css), not redirected to the code page; other pages still are."""
    enrolled = enrol(UserFactory())
    client = signed_in(enrolled.user)
    assert client.get("/").status_code == 303  # the code is owed
    response = client.get("/brand.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert client.get("/favicon.ico").status_code != 303
    assert client.get("/robots.txt").status_code != 303
    assert client.get("/i18n/setlang/").status_code != 303


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_reauthentication_without_a_password_offers_an_emailed_code(language, caplog):
    """A customer without a password (email code, social, passkey sign-up) opening the
    re-authentication page gets the provider's "confirm it's you" page: an emailed code,
    which moves the session's authentication time to now and goes on to ``next``. Nothing
    is logged as an error and there is no 403."""
    user = UserFactory(password=None)
    assert not user.has_usable_password()
    client = signed_in(user)
    client.cookies["ciam_language"] = language
    state = dict(client.session[SESSION_KEY_AUTH])
    with caplog.at_level(logging.WARNING):
        response = client.get("/accounts/reauthenticate/?next=/accounts/email/")
        assert response.status_code == 302
        assert response["Location"].startswith("/account/confirm/again/?next=")
        page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert ("Confirm it's you" if language == "en" else "Confirme que é você") in html
    assert user.email in html
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text

    code = next(word for word in mail.outbox[-1].body.split() if word.isdigit() and len(word) == 6)
    time.sleep(1)
    response = client.post(
        response["Location"], {"action": "code", "code": code, "next": "/accounts/email/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/email/"
    assert client.session[SESSION_KEY_AUTH]["auth_time"] > state["auth_time"]


def test_reauthentication_with_a_password_is_allauths_page():
    """A customer with a password keeps allauth's password page."""
    client = signed_in(UserFactory())
    response = client.get("/accounts/reauthenticate/")
    assert response.status_code == 200
    assert 'name="password"' in response.content.decode()


def test_reauthentication_refuses_a_foreign_next():
    client = signed_in(UserFactory(password=None))
    response = client.get("/accounts/reauthenticate/?next=https://evil.example/")
    assert response["Location"] == "/account/confirm/again/"


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/"])
def test_signed_in_visitors_of_sign_in_and_sign_up_go_home_or_to_a_safe_next(path):
    """No empty form for someone signed in: the portal's home page, or a safe ``next`` (on
    sign-up; on sign-in a ``next`` page asks to sign in again and keeps the form)."""
    client = signed_in(UserFactory())
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == "/"
    response = client.get(path + "?next=https://evil.example/")
    assert response["Location"] == "/"
    if path == "/accounts/signup/":
        assert client.get(path + "?next=/account/mfa/")["Location"] == "/account/mfa/"
    else:
        # "Sign in again" links of pages that need a recent sign-in.
        assert client.get(path + "?next=/account/passkeys/").status_code == 200
    assert Client().get(path).status_code == 200  # signed out: the form


def test_sign_in_page_of_an_authorization_keeps_the_form_when_a_new_sign_in_is_needed(
    web_client,
):
    """prompt=login sends a signed-in user to the sign-in form, which stays (OIDC Core
    3.1.2.1); once signed in again the same link goes on with the authorization."""
    user = UserFactory()
    client = signed_in(user)
    session = client.session
    session[SESSION_KEY_AUTH] = {
        **session[SESSION_KEY_AUTH],
        "auth_time": session[SESSION_KEY_AUTH]["auth_time"] - 60,
    }
    session.save()
    response = client.get(
        "/authorize",
        {
            "response_type": "code",
            "client_id": web_client.client_id,
            "redirect_uri": web_client.redirect_uri,
            "scope": "openid",
            "prompt": "login",
            "state": "s1",
        },
    )
    assert response.status_code == 302
    login_url = response["Location"]
    assert login_url.startswith("/accounts/login/?next=")
    page = client.get(login_url)
    assert page.status_code == 200
    assert 'name="password"' in page.content.decode()

    time.sleep(1)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(login_url)
    assert response.status_code == 302
    next_url = parse_qs(urlsplit(login_url).query)["next"][0]
    assert response["Location"] == next_url


@pytest.mark.django_db
@pytest.mark.parametrize("with_password", [True, False])
def test_email_change_needs_a_recent_confirmation(client, monkeypatch, with_password):
    """Changing the email addresses of a session signed in long ago first asks to confirm
    it's you: the password at allauth's page, or the provider's confirmation for a customer
    without one; nothing changes meanwhile."""
    import time as time_module

    from allauth.account.models import EmailAddress

    from tests.factories import UserFactory

    user = UserFactory()
    if not with_password:
        user.set_unusable_password()
        user.save()
    client.force_login(user)
    later = time_module.time() + 3600
    monkeypatch.setattr("accounts.passkeys.selectors.time.time", lambda: later)
    response = client.post("/accounts/email/", {"action_add": "", "email": "new@example.com"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/?next=")
    assert not EmailAddress.objects.filter(email="new@example.com").exists()
    if not with_password:
        follow = client.get(response["Location"])
        assert follow.status_code == 302
        assert follow["Location"].startswith("/account/confirm/again/")
