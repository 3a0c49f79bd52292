"""The defects the fuzz suite found, one fast test each (not marked long).

Each request goes through the production WSGI application (ciam.wsgi: the router of
ciam/fastpath.py, then Django) and is checked like a fuzzed one: no 5xx, no redirect
elsewhere, nothing reflected unescaped (tests/fuzz/harness.py).
"""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from ciam.fastpath import without_unusable_charset
from tests.factories import PASSWORD, make_client

from .conftest import EXAMPLES, FORM, POST_LOGOUT_REDIRECT_URI, REDIRECT_URI
from .harness import Browser, Provider, Reply

pytestmark = pytest.mark.django_db

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# Domains Django's EmailValidator accepts and IDNA cannot encode: a soft hyphen (mapped to
# nothing: an empty label), a line separator, the replacement character.
UNENCODABLE_EMAILS = ["ana@\u00ad.com", "ana@\u2028.com", "ana@\ufffd.com"]


@pytest.fixture
def provider() -> Provider:
    return Provider(redirect_uris=[REDIRECT_URI, POST_LOGOUT_REDIRECT_URI])


@pytest.fixture
def client_id(db) -> str:
    return make_client(
        "web",
        redirect_uris=[REDIRECT_URI],
        post_logout_redirect_uris=[POST_LOGOUT_REDIRECT_URI],
        first_party=True,
    ).client_id


def form_post(
    provider: Provider,
    path: str,
    fields: dict[str, str],
    *,
    content_type: str = FORM,
    browser: Browser | None = None,
) -> Reply:
    """A hosted form posted as a browser does: with the CSRF cookie and token of its page."""
    browser = browser or Browser()
    page = provider.send("GET", "/accounts/login/", browser=browser)
    token = CSRF_FIELD.search(page.text)
    assert token, page.status
    return provider.send(
        "POST",
        path,
        body=urlencode({"csrfmiddlewaretoken": token.group(1), **fields}).encode(),
        content_type=content_type,
        headers={"Referer": provider.issuer + path},
        browser=browser,
    )


def authorize_query(client_id: str, **extra: str) -> str:
    return urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid",
            "state": "st",
            **extra,
        }
    )


def test_the_fuzz_budget_reaches_ten_thousand_requests():
    """The long fuzz tests send at least one request per example: 10,000 or more."""
    assert sum(EXAMPLES.values()) >= 10_000


# --- /authorize: a claims parameter nested past the JSON parser's recursion limit ---------


@pytest.mark.parametrize("method", ["GET", "POST"])
# Within the parameter's 4096 characters, deeper than the parser's recursion limit.
@pytest.mark.parametrize("claims", ["[" * 4000, '{"a":[' * 650, '{"userinfo":{"a":' + "[" * 3000])
def test_deeply_nested_claims_go_back_to_the_client_as_invalid_request(
    provider, client_id, method, claims
):
    """OIDC Core 5.5: a claims parameter that is not one JSON object is invalid_request at
    the client's redirect_uri, however deep its nesting (a RecursionError was a 500)."""
    query = authorize_query(client_id, claims=claims)
    if method == "GET":
        reply = provider.send("GET", "/authorize", query=query)
    else:
        reply = provider.send("POST", "/authorize", body=query.encode(), content_type=FORM)
        reply = provider.follow(reply, None, hops=1)
    location = reply.header("Location") or ""
    assert reply.status == 302, reply.status
    assert location.startswith(REDIRECT_URI + "?"), location
    assert parse_qs(urlsplit(location).query)["error"] == ["invalid_request"]


# --- forms that declare a charset Django does not decode -----------------------------------


@pytest.mark.parametrize(
    "charset", ["utf-7", "utf-16", "latin-1", '"utf-8', "utf-8; charset=cp1252"]
)
@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/", "/logout/confirm"])
def test_a_form_in_another_charset_is_a_readable_400(provider, path, charset):
    """Django refuses form bodies that are not UTF-8 (BadRequest); its error pages read the
    body again for a CSRF token and failed too, a 500. Now: the 400 page."""
    reply = form_post(
        provider,
        path,
        {"login": "ana@example.com", "password": "x"},
        content_type=f"{FORM}; charset={charset}",
    )
    assert reply.status == 400, reply.status
    assert reply.content_type == "text/html"
    assert "The request could not be understood" in reply.text


def test_an_unknown_page_posted_in_another_charset_is_a_404(provider):
    """The 404 page of a form posted in UTF-7 (the error page read the body: a 500)."""
    reply = form_post(provider, "/no-such-page/", {"x": "1"}, content_type=f"{FORM}; charset=utf-7")
    assert reply.status in (400, 404), reply.status


def test_an_authorization_request_posted_in_another_charset_is_an_error_page(provider, client_id):
    """POST /authorize from a browser that holds a CSRF cookie, in UTF-16: the
    authorization error page, 400."""
    browser = Browser()
    provider.send("GET", "/accounts/login/", browser=browser)
    reply = provider.send(
        "POST",
        "/authorize",
        body=authorize_query(client_id).encode(),
        content_type=f"{FORM}; charset=utf-16",
        browser=browser,
    )
    assert reply.status == 400, reply.status
    assert reply.header("Location") is None


@pytest.mark.parametrize("charset", ["base64", "rot13", "zlib", "hex", "idna", "bogus\x00"])
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/accounts/login/"), ("POST", "/token"), ("GET", "/userinfo"), ("GET", "/")],
)
def test_a_charset_that_decodes_no_text_is_ignored(provider, charset, method, path):
    """A Content-Type charset naming a codec that is not a text encoding (or refuses the
    replace error handler, or holds a NUL) failed while Django built the request, on any
    path, before any error handling. The router drops it, as Django drops unknown ones."""
    reply = provider.send(
        method,
        path,
        query=b"a=b",
        body=b"grant_type=client_credentials",
        content_type=f"{FORM}; charset={charset}",
    )
    assert reply.status < 500


def test_dropping_a_charset_keeps_the_other_parameters():
    """Only an unusable charset goes (a multipart boundary stays); a text encoding and a
    Content-Type without a charset are left as they are; an unknown one goes too, as Django
    would ignore it anyway."""

    def kept(content_type: str) -> str:
        return without_unusable_charset({"CONTENT_TYPE": content_type})["CONTENT_TYPE"]

    assert kept("multipart/form-data; charset=base64; boundary=xyz") == (
        'multipart/form-data; boundary="xyz"'
    )
    assert kept(f"{FORM}; charset=utf-8") == f"{FORM}; charset=utf-8"
    assert kept(f"{FORM}; charset=utf-16") == f"{FORM}; charset=utf-16"
    assert kept(FORM) == FORM
    assert kept(f"{FORM}; charset=x-unknown") == FORM


# --- email addresses whose domain IDNA cannot encode ---------------------------------------


@pytest.mark.parametrize("email", UNENCODABLE_EMAILS)
def test_sign_up_refuses_an_address_no_email_can_reach(provider, email, mailoutbox):
    """Sign-up with an address whose domain has no IDNA form: the form again with "Enter a
    valid email address." (sending the verification code was a 500)."""
    reply = form_post(provider, "/accounts/signup/", {"email": email, "password1": PASSWORD})
    assert reply.status == 200, reply.status
    assert "Enter a valid email address." in reply.text
    assert mailoutbox == []


@pytest.mark.parametrize("email", UNENCODABLE_EMAILS)
def test_password_reset_refuses_an_address_no_email_can_reach(provider, email, mailoutbox):
    """Password reset for such an address: the form with the error, no email."""
    reply = form_post(provider, "/accounts/password/reset/", {"email": email})
    assert reply.status == 200, reply.status
    assert "Enter a valid email address." in reply.text
    assert mailoutbox == []


@pytest.mark.parametrize("email", UNENCODABLE_EMAILS)
def test_email_sign_in_sends_nothing_to_an_address_no_email_can_reach(provider, email, mailoutbox):
    """Email sign-in by code with such an address: no 500, no email (it cannot be written)."""
    reply = form_post(provider, "/account/email-sign-in/", {"email": email})
    assert reply.status in (200, 302), reply.status
    assert mailoutbox == []


@pytest.mark.parametrize("email", UNENCODABLE_EMAILS)
def test_sign_in_with_an_address_no_email_can_reach_is_a_wrong_sign_in(provider, email):
    """The sign-in form with such an address: the form again."""
    reply = form_post(provider, "/accounts/login/", {"login": email, "password": PASSWORD})
    assert reply.status == 200, reply.status


def test_an_ordinary_international_address_still_signs_up(provider, mailoutbox):
    """An internationalised domain IDNA encodes is welcome, and its email is sent."""
    reply = form_post(
        provider, "/accounts/signup/", {"email": "ana@bücher.example", "password1": PASSWORD}
    )
    assert reply.status == 302, (reply.status, reply.text[:300])
    assert len(mailoutbox) == 1


# --- social sign-in of a provider without an app -------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/google/login/",
        "/accounts/google/login/callback/",
        "/accounts/facebook/login/",
        "/accounts/apple/login/",
        "/accounts/oidc/shop/login/",
        "/accounts/oidc/sh\x00op/login/callback/",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
def test_a_social_provider_without_an_app_is_not_found(provider, path, method):
    """Installed providers that the admin has not configured, and OpenID Connect provider
    ids no app has (with a NUL, which PostgreSQL refused): 404, never a 500."""
    if method == "POST":
        reply = form_post(provider, path, {"process": "login"})
    else:
        reply = provider.send(method, path)
    assert reply.status == 404, reply.status


# --- client authentication and bearer requests with bytes the parsers refuse --------------


@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
@pytest.mark.parametrize("credentials", ["\u00ff\u00fe", "YWJj\u00e9", "Zm9v\u00a0"])
def test_basic_credentials_with_non_ascii_bytes_are_invalid_client(
    provider, client_id, path, credentials
):
    """RFC 6749 2.3.1: an Authorization header whose Basic credentials are not base64
    (here: bytes beyond ASCII, which base64 raised ValueError for) is invalid_client."""
    reply = provider.send(
        "POST",
        path,
        body=urlencode({"grant_type": "client_credentials", "token": "x"}).encode(),
        content_type=FORM,
        headers={"Authorization": "Basic " + credentials},
    )
    assert reply.status in (400, 401), reply.status
    assert reply.json()["error"] in ("invalid_client", "invalid_request")


def test_right_basic_credentials_still_authenticate(provider, db):
    """The same check lets well-formed credentials through."""
    service = make_client("service", name="CRM")
    credentials = base64.b64encode(f"{service.client_id}:{service.client_secret}".encode())
    reply = provider.send(
        "POST",
        "/token",
        body=b"grant_type=client_credentials",
        content_type=FORM,
        headers={"Authorization": "Basic " + credentials.decode()},
    )
    assert reply.status == 200, reply.text


@pytest.mark.parametrize("query", [b"a=%zz", b"a[]=1", b"token=x%z1", b"a=%c3%28&b=%g0"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_userinfo_with_a_query_oauthlib_cannot_parse_is_invalid_request(provider, query, method):
    """OIDC Core 5.3 UserInfo with a query string that is not URL-encoded (an invalid
    escape, a bracket): 400 invalid_request JSON (oauthlib's ValueError was a 500)."""
    reply = provider.send(method, "/userinfo", query=query, headers={"Authorization": "Bearer x"})
    assert reply.status == 400, reply.status
    assert reply.json()["error"] == "invalid_request"
