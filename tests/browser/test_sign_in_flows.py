"""End-to-end journeys through the hosted pages in a real browser."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlencode

import pytest

from tests.conftest import query_of

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a-long-and-new-passphrase-42"


def auth_params(client, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": "openid email",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        **extra,
    }


def assert_code_response(url: str, client, params: dict[str, str], issuer: str) -> None:
    assert url.startswith(client.redirect_uri + "?"), url
    response = query_of(url)
    assert response.get("code"), url
    assert response["state"] == params["state"]
    assert response["iss"] == issuer
    assert "error" not in response


def sign_in(tab, email: str, password: str) -> None:
    tab.page.get_by_label("Email").fill(email)
    tab.page.get_by_label("Password").fill(password)
    tab.page.get_by_role("button", name="Sign in", exact=True).click()


def entrar(tab, email: str, password: str) -> None:
    """sign_in on the Portuguese page: fails if the labels are not translated."""
    tab.page.get_by_label("E-mail").fill(email)
    tab.page.get_by_label("Senha").fill(password)
    tab.page.get_by_role("button", name="Entrar", exact=True).click()


def code_from(message) -> str:
    """The verification code: on a line of its own, indented, in the plain-text body."""
    match = re.search(r"^ {4}(\S+)$", message.body, re.MULTILINE)
    assert match, message.body
    return match.group(1)


def test_sign_up_verify_email_then_sign_out_and_in_again(open_tab, web_client, issuer, mailoutbox):
    """A new customer signs up from an authorization request, confirms the emailed code and
    lands at the relying party with a code; after signing out, the password signs them in."""
    tab = open_tab()
    email = f"new-{secrets.token_hex(4)}@example.com"
    params = auth_params(web_client)
    tab.authorize(params)

    page = tab.page
    assert "/accounts/login/" in page.url
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
    assert page.get_by_text("Sign in to continue to Test web client").is_visible()
    page.get_by_role("link", name="Create an account").click()

    assert "/accounts/signup/" in page.url
    assert page.get_by_text("Create an account to continue to Test web client").is_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create account").click()

    page.wait_for_url(re.compile(r".*/accounts/confirm-email/.*"))
    assert page.get_by_role("heading", level=1).inner_text() == "Check your email"
    assert page.get_by_text(email).is_visible()
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [email]
    code = code_from(message)
    assert code in message.subject
    html = message.alternatives[0][0] if message.alternatives else ""
    assert code in html
    assert "CIAM" in html

    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Confirm").click()
    assert_code_response(tab.wait_for_rp(), web_client, params, issuer)

    # RP-Initiated Logout without id_token_hint: the user confirms, then goes back to the RP.
    tab.goto(
        "/logout?"
        + urlencode(
            {
                "client_id": web_client.client_id,
                "post_logout_redirect_uri": web_client.post_logout_redirect_uri,
                "state": "bye-1",
            }
        )
    )
    assert page.get_by_role("heading", level=1).inner_text() == "Sign out?"
    assert page.get_by_text("Test web client asks to sign you out").is_visible()
    page.get_by_role("button", name="Sign out", exact=True).click()
    bye = tab.wait_for_rp()
    assert bye.startswith(web_client.post_logout_redirect_uri)
    assert query_of(bye)["state"] == "bye-1"

    params = auth_params(web_client)
    tab.authorize(params)
    assert "/accounts/login/" in page.url, "signed out: the login page is shown again"
    sign_in(tab, email, NEW_PASSWORD)
    assert_code_response(tab.wait_for_rp(), web_client, params, issuer)
    assert tab.csp_violations == []


def test_wrong_password_shows_an_error_next_to_the_form(tab, web_client, user):
    """A wrong password keeps the user on the page with an announced error."""
    tab.authorize(auth_params(web_client))
    sign_in(tab, user.email, "not-the-password")
    alert = tab.page.get_by_role("alert")
    assert "not correct" in alert.inner_text()
    assert tab.page.get_by_label("Email").input_value() == user.email
    assert tab.rp_requests == []


def test_ui_locales_pt_br_shows_portuguese_pages(tab, web_client, user, password, issuer):
    """ui_locales=pt-BR on the authorization request switches the pages to Portuguese."""
    params = auth_params(web_client, ui_locales="pt-BR")
    tab.authorize(params)
    page = tab.page
    assert page.locator("html").get_attribute("lang") == "pt-br"
    assert page.get_by_role("heading", level=1).inner_text() == "Entrar"
    assert page.get_by_text("Entre para continuar em Test web client").is_visible()
    assert page.get_by_label("Senha").is_visible()
    assert page.get_by_role("link", name="Criar uma conta").is_visible()
    assert page.get_by_role("link", name="Esqueceu sua senha?").is_visible()
    tab.shot("login-pt")
    entrar(tab, user.email, password)
    assert_code_response(tab.wait_for_rp(), web_client, params, issuer)


def test_accept_language_pt_br_alone_shows_portuguese_pages(open_tab, web_client, issuer):
    """A browser set to Brazilian Portuguese gets Portuguese pages and emails by itself."""
    tab = open_tab(locale="pt-BR")
    params = auth_params(web_client)
    tab.authorize(params)
    page = tab.page
    assert page.get_by_role("heading", level=1).inner_text() == "Entrar"
    page.get_by_role("link", name="Criar uma conta").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Criar uma conta"
    assert page.get_by_text("Crie uma conta para continuar em Test web client").is_visible()
    assert page.get_by_role("button", name="Criar conta").is_visible()


def test_sign_up_in_portuguese_sends_a_portuguese_email(open_tab, web_client, issuer, mailoutbox):
    """The verification email follows the page's language and shows the code prominently."""
    tab = open_tab(locale="pt-BR")
    email = f"novo-{secrets.token_hex(4)}@example.com"
    params = auth_params(web_client)
    tab.goto("/authorize?" + urlencode(params))
    page = tab.page
    page.get_by_role("link", name="Criar uma conta").click()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Senha").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Criar conta").click()
    page.wait_for_url(re.compile(r".*/accounts/confirm-email/.*"))
    assert page.get_by_role("heading", level=1).inner_text() == "Verifique seu e-mail"

    message = mailoutbox[-1]
    code = code_from(message)
    assert message.subject.startswith(f"{code} é o seu código de verificação")
    assert "Use este código para confirmar seu endereço de e-mail" in message.body
    html = message.alternatives[0][0]
    assert 'lang="pt-br"' in html
    assert code in html

    page.get_by_label("Código").fill(code)
    page.get_by_role("button", name="Confirmar").click()
    assert_code_response(tab.wait_for_rp(), web_client, params, issuer)


def test_consent_allow_returns_a_code(tab, third_party_client, user, password, issuer):
    """A third-party client gets a code once the user allows what it asks for."""
    claims = '{"userinfo": {"birthdate": null, "phone_number": null}}'
    params = auth_params(third_party_client, scope="openid email profile", claims=claims)
    tab.authorize(params)
    sign_in(tab, user.email, password)

    page = tab.page
    page.wait_for_url(re.compile(r".*/consent/.*"))
    assert (
        page.get_by_role("heading", level=1).inner_text()
        == "Partner Shop wants to access your account"
    )
    assert page.get_by_text("Your email address").first.is_visible()
    assert page.get_by_text("Your date of birth").is_visible()
    assert page.get_by_text(f"Signed in as {user.email}").is_visible()
    page.get_by_role("button", name="Allow").click()
    assert_code_response(tab.wait_for_rp(), third_party_client, params, issuer)
    assert tab.csp_violations == []


def test_consent_deny_returns_access_denied(tab, third_party_client, user, password, issuer):
    """Denying consent sends error=access_denied (with state and iss) to the client."""
    params = auth_params(third_party_client)
    tab.authorize(params)
    sign_in(tab, user.email, password)
    tab.page.wait_for_url(re.compile(r".*/consent/.*"))
    tab.page.get_by_role("button", name="Deny").click()
    response = query_of(tab.wait_for_rp())
    assert response["error"] == "access_denied"
    assert response["state"] == params["state"]
    assert response["iss"] == issuer
    assert "code" not in response


def test_consent_screen_in_portuguese(open_tab, third_party_client, user, password):
    """The consent screen speaks Portuguese, scope descriptions included."""
    tab = open_tab(locale="pt-BR")
    params = auth_params(third_party_client, scope="openid email")
    tab.authorize(params)
    entrar(tab, user.email, password)
    page = tab.page
    page.wait_for_url(re.compile(r".*/consent/.*"))
    assert (
        page.get_by_role("heading", level=1).inner_text() == "Partner Shop quer acessar sua conta"
    )
    assert page.get_by_text("Seu endereço de e-mail").is_visible()
    tab.shot("consent-pt")
    page.get_by_role("button", name="Permitir").click()
    assert query_of(tab.wait_for_rp())["state"] == params["state"]


def test_keyboard_only_sign_in(tab, web_client, user, password, issuer):
    """The form is usable with the keyboard alone, with a visible focus indicator."""
    params = auth_params(web_client)
    tab.authorize(params)
    page = tab.page
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "login":
            break
    else:
        pytest.fail("Tab never reached the email field")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    page.keyboard.type(user.email)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "password"
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    assert_code_response(tab.wait_for_rp(), web_client, params, issuer)
