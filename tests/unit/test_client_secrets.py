"""Client secrets: keyed HMAC-SHA256 at rest (ciam/client_secrets.py), the create_client
command, and django-oauth-toolkit's own createapplication command on this provider."""

from __future__ import annotations

import base64
import json
import re
from io import StringIO

import pytest
import requests
from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from django.core.management import call_command
from django.core.management.base import CommandError
from oauth2_provider.models import AbstractApplication, get_application_model
from oauthlib.common import Request as OAuthlibRequest

from ciam.client_secrets import ALGORITHM, ClientSecretHasher
from ciam.oauth.validator import CIAMValidator
from ciam.services.clients import client_register
from tests.conftest import Browser, query_of

Application = get_application_model()

SECRET = "s3cret-" + "x" * 40


def test_hasher_format_is_algorithm_salt_hexdigest():
    """Secrets are stored as ciam_hmac_sha256$<salt>$<64 hex digits>."""
    encoded = make_password(SECRET, hasher=ALGORITHM)
    algorithm, salt, digest = encoded.split("$")
    assert algorithm == "ciam_hmac_sha256"
    assert 0 < len(salt) <= 16
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert SECRET not in encoded


def test_hasher_verifies_right_secret_and_refuses_wrong_ones():
    """The right secret verifies; a wrong, empty or truncated one does not."""
    encoded = make_password(SECRET, hasher=ALGORITHM)
    assert isinstance(identify_hasher(encoded), ClientSecretHasher)
    assert check_password(SECRET, encoded)
    for wrong in ("", SECRET[:-1], SECRET + "x", SECRET.upper()):
        assert not check_password(wrong, encoded)


def test_salt_makes_equal_secrets_hash_differently():
    """Two clients with the same secret do not share a stored value."""
    assert make_password(SECRET, hasher=ALGORITHM) != make_password(SECRET, hasher=ALGORITHM)


def test_hash_is_keyed_by_the_server_key(settings):
    """The digest depends on a server-side key: a database dump alone cannot verify
    guesses; changing CIAM_CLIENT_SECRET_KEY invalidates stored secrets."""
    settings.CIAM_CLIENT_SECRET_KEY = "key-one"
    encoded = make_password(SECRET, hasher=ALGORITHM)
    assert check_password(SECRET, encoded)
    settings.CIAM_CLIENT_SECRET_KEY = "key-two"
    assert not check_password(SECRET, encoded)


def test_hasher_never_asks_for_an_upgrade():
    """Client secrets stay in this format (no slow re-hash on every token request)."""
    assert ClientSecretHasher().must_update(make_password(SECRET, hasher=ALGORITHM)) is False


def test_user_passwords_do_not_use_the_client_secret_hasher():
    """The default password hasher is Argon2id, not the client-secret one."""
    assert make_password(SECRET).startswith("argon2$argon2id$")


@pytest.mark.django_db
def test_registered_client_secret_is_stored_hashed():
    """client_register returns the secret once; the row only holds its keyed hash."""
    client = client_register(name="Shop", kind="web", redirect_uris=["https://a.test/cb"])
    stored = Application.objects.get(client_id=client.client_id).client_secret
    assert stored.startswith(ALGORITHM + "$")
    assert client.client_secret not in stored
    assert check_password(client.client_secret, stored)


@pytest.mark.django_db
def test_dot_check_secret_accepts_our_hashes():
    """django-oauth-toolkit's _check_secret path verifies ciam_hmac_sha256 secrets."""
    client = client_register(name="Shop", kind="web", redirect_uris=["https://a.test/cb"])
    stored = Application.objects.get(client_id=client.client_id).client_secret
    validator = CIAMValidator()
    assert validator._check_secret(client.client_secret, stored)
    assert not validator._check_secret("wrong", stored)
    assert not validator._check_secret("", stored)


def _oauthlib_request(headers: dict[str, str], body: str = "") -> OAuthlibRequest:
    return OAuthlibRequest("http://localhost/token", "POST", body, headers)


@pytest.mark.django_db
def test_dot_authenticate_client_with_basic_and_post_credentials():
    """The validator authenticates client_secret_basic and client_secret_post against the
    stored hash, and refuses a wrong secret."""
    client = client_register(name="Shop", kind="web", redirect_uris=["https://a.test/cb"])
    validator = CIAMValidator()

    def basic(secret: str) -> dict[str, str]:
        raw = f"{client.client_id}:{secret}".encode()
        return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(raw).decode()}

    assert validator.authenticate_client(_oauthlib_request(basic(client.client_secret)))
    assert not validator.authenticate_client(_oauthlib_request(basic("wrong")))
    body = f"client_id={client.client_id}&client_secret={client.client_secret}"
    assert validator.authenticate_client(_oauthlib_request({}, body))
    body = f"client_id={client.client_id}&client_secret=wrong"
    assert not validator.authenticate_client(_oauthlib_request({}, body))


# --- manage.py create_client ------------------------------------------------------------------


def _printed(out: str, name: str) -> str | None:
    match = re.search(rf"^{name}: (\S+)$", out, re.MULTILINE)
    return match.group(1) if match else None


@pytest.mark.django_db
def test_create_client_web_prints_secret_once_and_stores_it_hashed():
    """--type web: a confidential authorization-code client; the secret is printed once
    and stored as a keyed hash."""
    out = StringIO()
    call_command(
        "create_client",
        "--name",
        "Web app",
        "--type",
        "web",
        "--redirect-uri",
        "https://app.test/cb",
        "--redirect-uri",
        "https://app.test/cb2",
        stdout=out,
    )
    client_id = _printed(out.getvalue(), "client_id")
    secret = _printed(out.getvalue(), "client_secret")
    assert client_id
    assert secret
    assert out.getvalue().count(secret) == 1
    application = Application.objects.get(client_id=client_id)
    assert application.client_type == AbstractApplication.CLIENT_CONFIDENTIAL
    assert application.authorization_grant_type == AbstractApplication.GRANT_AUTHORIZATION_CODE
    assert application.redirect_uris.split() == ["https://app.test/cb", "https://app.test/cb2"]
    assert application.client_secret.startswith(ALGORITHM + "$")
    assert check_password(secret, application.client_secret)
    assert application.skip_authorization is False


@pytest.mark.django_db
def test_create_client_spa_has_no_secret():
    """--type spa: a public client, no secret printed or stored."""
    out = StringIO()
    call_command(
        "create_client",
        "--name",
        "SPA",
        "--type",
        "spa",
        "--redirect-uri",
        "http://localhost:5173/cb",
        "--first-party",
        stdout=out,
    )
    client_id = _printed(out.getvalue(), "client_id")
    assert _printed(out.getvalue(), "client_secret") is None
    application = Application.objects.get(client_id=client_id)
    assert application.client_type == AbstractApplication.CLIENT_PUBLIC
    assert application.client_secret == ""
    assert application.skip_authorization is True


@pytest.mark.django_db
def test_create_client_service_uses_client_credentials():
    """--type service: a confidential client_credentials client, no redirect URI needed."""
    out = StringIO()
    call_command("create_client", "--name", "Batch", "--type", "service", stdout=out)
    client_id = _printed(out.getvalue(), "client_id")
    secret = _printed(out.getvalue(), "client_secret")
    application = Application.objects.get(client_id=client_id)
    assert application.authorization_grant_type == AbstractApplication.GRANT_CLIENT_CREDENTIALS
    assert application.client_type == AbstractApplication.CLIENT_CONFIDENTIAL
    assert check_password(secret, application.client_secret)


@pytest.mark.django_db
def test_create_client_with_chosen_id_and_secret():
    """--client-id and --client-secret are honoured (the secret still stored hashed)."""
    chosen = "c" * 40
    call_command(
        "create_client",
        "--name",
        "Chosen",
        "--type",
        "web",
        "--redirect-uri",
        "https://app.test/cb",
        "--client-id",
        "chosen-id",
        "--client-secret",
        chosen,
        "--algorithm",
        "ES256",
        stdout=StringIO(),
    )
    application = Application.objects.get(client_id="chosen-id")
    assert application.algorithm == "ES256"
    assert application.client_secret != chosen
    assert check_password(chosen, application.client_secret)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--type", "web"], "redirect-uri", id="web-without-redirect-uri"),
        pytest.param(["--type", "spa"], "redirect-uri", id="spa-without-redirect-uri"),
        pytest.param(["--type", "service", "--client-secret", "short"], "32", id="short-secret"),
        pytest.param(
            ["--type", "web", "--redirect-uri", "not a url"], "", id="invalid-redirect-uri"
        ),
    ],
)
def test_create_client_refuses_bad_input(args, message):
    """Missing redirect URIs, short secrets and invalid URIs are command errors."""
    with pytest.raises(CommandError) as error:
        call_command("create_client", "--name", "Bad", *args, stdout=StringIO())
    assert message in str(error.value)
    assert not Application.objects.filter(name="Bad").exists()


# --- DOT's createapplication ------------------------------------------------------------------


@pytest.mark.django_db
def test_dot_createapplication_with_flags_stores_hashed_secret():
    """createapplication keeps working with its own flags; the secret is hashed with the
    provider's client-secret hasher."""
    out = StringIO()
    call_command(
        "createapplication",
        "--name",
        "x",
        "--client-id",
        "y",
        "--client-secret",
        "z",
        "confidential",
        "authorization-code",
        "--redirect-uris",
        "https://a/cb",
        "--algorithm",
        "RS256",
        stdout=out,
    )
    assert "created successfully" in out.getvalue()
    application = Application.objects.get(client_id="y")
    assert application.name == "x"
    assert application.redirect_uris == "https://a/cb"
    assert application.algorithm == "RS256"
    assert application.client_secret.startswith(ALGORITHM + "$")
    assert CIAMValidator()._check_secret("z", application.client_secret)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_dot_createapplication_client_gets_tokens(issuer, user, password, algorithm):
    """A client made by createapplication runs the code flow (with consent, as a
    third-party client) and gets an ID token signed with its algorithm."""
    redirect_uri = "https://a.example.test/cb"
    call_command(
        "createapplication",
        "--name",
        "x",
        "--client-id",
        "y",
        "--client-secret",
        "z",
        "confidential",
        "authorization-code",
        "--redirect-uris",
        redirect_uri,
        "--algorithm",
        algorithm,
        stdout=StringIO(),
    )
    browser = Browser(issuer)
    location = browser.authorize(
        {
            "response_type": "code",
            "client_id": "y",
            "redirect_uri": redirect_uri,
            "scope": "openid email",
            "state": "st",
        },
        email=user.email,
        password=password,
        consent="allow",
    )
    assert location.startswith(redirect_uri + "?"), location
    response = requests.post(
        issuer + "/token",
        data={
            "grant_type": "authorization_code",
            "code": query_of(location)["code"],
            "redirect_uri": redirect_uri,
        },
        auth=("y", "z"),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    id_token = response.json()["id_token"]
    header = json.loads(base64.urlsafe_b64decode(id_token.split(".")[0] + "=="))
    assert header["alg"] == algorithm


def test_dot_createapplication_client_credentials_client_gets_tokens(issuer):
    """A confidential client-credentials client from createapplication gets an access token
    with its secret, and not with a wrong one."""
    call_command(
        "createapplication",
        "--name",
        "svc",
        "--client-id",
        "svc-id",
        "--client-secret",
        "svc-secret",
        "confidential",
        "client-credentials",
        stdout=StringIO(),
    )
    ok = requests.post(
        issuer + "/token",
        data={"grant_type": "client_credentials"},
        auth=("svc-id", "svc-secret"),
        timeout=10,
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["access_token"]
    wrong = requests.post(
        issuer + "/token",
        data={"grant_type": "client_credentials"},
        auth=("svc-id", "nope"),
        timeout=10,
    )
    assert wrong.status_code == 401
