"""The oauthlib glue (ciam/oauth/): per-request state, app settings, model and module shape."""

from __future__ import annotations

import ast
import base64
import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from oauth2_provider.models import (
    AccessToken,
    RefreshToken,
    get_application_model,
    set_token_value,
)
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request as OAuthlibRequest

from ciam.app_settings import app_settings
from ciam.keys import active_signing_key
from ciam.models import AuthorizationContext
from ciam.oauth.id_tokens import sign_id_token, verify_id_token
from ciam.oauth.state import (
    STATE_ATTRIBUTE,
    OAuthRequestState,
    oauth_credentials,
    oauth_state,
)
from ciam.oauth.tokens import code_hash
from ciam.oauth.validator import CIAMValidator
from ciam.services.authorization import oauth_server
from ciam.services.introspection import token_introspection
from sessions_ctx.constants import ACR_VALUES_SUPPORTED
from sessions_ctx.selectors import AuthState
from tests.conftest import query_of

CIAM_DIR = Path(__file__).resolve().parents[2] / "ciam"


def _request() -> OAuthlibRequest:
    return OAuthlibRequest("http://localhost/token", "POST", "", {})


def test_oauth_state_is_one_object_per_request():
    """oauth_state() gives the same state for one request and a fresh one for another."""
    first, second = _request(), _request()
    state = oauth_state(first)
    assert isinstance(state, OAuthRequestState)
    assert oauth_state(first) is state
    assert oauth_state(second) is not state
    assert state == OAuthRequestState(auth=None, grants={}, grant=None, context=None)


def test_oauth_credentials_carry_the_user_and_the_state():
    """The credentials oauthlib copies onto its request are the user and our one state."""
    auth = AuthState(user_id="7", sid="s-1", auth_time=1_700_000_000, amr=["pwd"], acr="1")
    credentials = oauth_credentials(user="the-user", auth=auth)
    assert set(credentials) == {"user", STATE_ATTRIBUTE}
    request = _request()
    for key, value in credentials.items():
        setattr(request, key, value)  # what oauthlib's create_authorization_response does
    assert oauth_state(request).auth is auth


def _authorize(client, user, auth: AuthState | None) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "scope": "openid email",
            "nonce": "n-0S6",
        }
    )
    headers, _body, status = oauth_server().create_authorization_response(
        uri=f"{oauth2_settings.OIDC_ISS_ENDPOINT}/authorize?{query}",
        http_method="GET",
        body="",
        headers={},
        scopes=["openid", "email"],
        credentials=oauth_credentials(user=user, auth=auth),
    )
    assert status == 302, headers
    return query_of(headers["Location"])["code"]


def _redeem(client, code: str) -> dict:
    basic = base64.b64encode(f"{client.client_id}:{client.client_secret}".encode()).decode()
    body = urlencode(
        {"grant_type": "authorization_code", "code": code, "redirect_uri": client.redirect_uri}
    )
    _headers, response, status = oauth_server().create_token_response(
        f"{oauth2_settings.OIDC_ISS_ENDPOINT}/token",
        "POST",
        body,
        {
            "HTTP_AUTHORIZATION": "Basic " + basic,
            "Content-Type": "application/x-www-form-urlencoded",
        },
        None,
    )
    assert status == 200, response
    return json.loads(response)


@pytest.mark.django_db
def test_session_state_reaches_the_context_and_the_id_token(web_client, user, monkeypatch):
    """How the user authenticated, given as credentials, is stored with the code and comes
    back in the ID token (auth_time, sid, acr, amr); the only attribute of ours on the
    oauthlib request is the state object."""
    seen: list[OAuthlibRequest] = []
    original = CIAMValidator.finalize_id_token

    def spy(self, id_token, token, token_handler, request):
        seen.append(request)
        return original(self, id_token, token, token_handler, request)

    monkeypatch.setattr(CIAMValidator, "finalize_id_token", spy)
    auth = AuthState(
        user_id=str(user.pk), sid="sid-42", auth_time=1_700_000_000, amr=["pwd", "otp"], acr="2"
    )
    code = _authorize(web_client, user, auth)

    context = AuthorizationContext.objects.get(code_hash=code_hash(code))
    assert (context.sid, context.auth_time, context.amr, context.acr) == (
        "sid-42",
        1_700_000_000,
        ["pwd", "otp"],
        "2",
    )
    claims = verify_id_token(_redeem(web_client, code)["id_token"])
    assert claims is not None
    assert claims["sid"] == "sid-42"
    assert claims["auth_time"] == 1_700_000_000
    assert claims["acr"] == "2"
    assert claims["amr"] == ["pwd", "otp"]
    assert claims["nonce"] == "n-0S6"

    (request,) = seen
    ours = {name for name in vars(request) if name.startswith("ciam")}
    assert ours == {STATE_ATTRIBUTE}
    state = oauth_state(request)
    assert state.grant is not None
    assert state.grant.code == code
    assert set(state.grants) == {code}
    assert state.context is not None
    assert state.context.pk == context.pk
    context.refresh_from_db()
    assert context.redeemed_at is not None
    assert context.token_family is not None


@pytest.mark.django_db
def test_code_without_session_state_gets_no_sid(web_client, user):
    """Without the session's state the context records "now" and no sid, acr or amr."""
    before = int(timezone.now().timestamp())
    code = _authorize(web_client, user, None)
    context = AuthorizationContext.objects.get(code_hash=code_hash(code))
    assert (context.sid, context.amr, context.acr) == ("", [], "")
    assert before <= context.auth_time <= int(timezone.now().timestamp())


@pytest.mark.django_db
def test_dot_key_hook_gives_the_clients_signing_key(web_client):
    """DOT's _get_key_for_token (its RP-Initiated Logout helper) gets the key that signs for
    the token's client now, as Application.jwk_key used to give."""
    token = sign_id_token(
        {"iss": oauth2_settings.OIDC_ISS_ENDPOINT, "aud": web_client.client_id, "jti": "j"},
        algorithm="RS256",
    )
    key = CIAMValidator()._get_key_for_token(token)
    assert key is not None
    assert key.thumbprint() == active_signing_key("RS256").jwk.thumbprint()
    unknown = sign_id_token({"aud": "nobody"}, algorithm="RS256")
    assert CIAMValidator()._get_key_for_token(unknown) is None


@pytest.mark.django_db
def test_introspection_reads_a_timedelta_refresh_lifetime(web_client, user, monkeypatch):
    """Introspection ages refresh tokens as the validator does, also when the lifetime is a
    timedelta (it used to raise TypeError there)."""
    application = get_application_model().objects.get(client_id=web_client.client_id)
    access = AccessToken(
        user=user,
        application=application,
        expires=timezone.now() - timedelta(hours=2),
        scope="openid",
    )
    set_token_value(access, "at-for-introspection")
    access.save()
    refresh = RefreshToken(user=user, application=application, access_token=access)
    set_token_value(refresh, "rt-for-introspection")
    refresh.save()
    monkeypatch.setattr(oauth2_settings, "REFRESH_TOKEN_EXPIRE_SECONDS", timedelta(hours=1))
    assert token_introspection(token="rt-for-introspection") == {"active": False}
    monkeypatch.setattr(oauth2_settings, "REFRESH_TOKEN_EXPIRE_SECONDS", timedelta(hours=3))
    assert token_introspection(token="rt-for-introspection")["active"] is True


def test_app_settings_are_read_on_access(settings):
    """ciam/app_settings.py reads CIAM_* settings at each access, with its defaults when a
    setting is missing (the demo page follows DEBUG)."""
    settings.CIAM_BRAND_NAME = "Acme"
    assert app_settings.BRAND_NAME == "Acme"
    del settings.CIAM_BRAND_NAME
    assert app_settings.BRAND_NAME == "CIAM"
    del settings.CIAM_DEMO
    settings.DEBUG = True
    assert app_settings.DEMO is True
    settings.DEBUG = False
    assert app_settings.DEMO is False
    settings.CIAM_DEMO = True
    assert app_settings.DEMO is True
    settings.CIAM_BACKCHANNEL_MIDDLEWARE = ["a.B", "c.D"]
    assert app_settings.BACKCHANNEL_MIDDLEWARE == ("a.B", "c.D")


def test_min_acr_choices_follow_the_acr_vocabulary():
    """A client's minimum acr is "any" or one of the acr values above one factor."""
    field = get_application_model()._meta.get_field("min_acr")
    assert [value for value, _label in field.choices] == ["", *ACR_VALUES_SUPPORTED[1:]]
    assert [value for value, _label in field.choices] == ["", "2", "phr", "phrh"]


def test_back_channel_logout_uri_is_read_by_the_logout_service():
    """The client's back-channel logout URI is no dead field: the service that sends logout
    tokens reads it (OIDC Back-Channel Logout 1.0)."""
    names = {field.name for field in get_application_model()._meta.get_fields()}
    assert {"backchannel_logout_uri", "backchannel_logout_session_required"} <= names
    source = (Path(__file__).parents[2] / "ciam/services/backchannel_logout.py").read_text()
    assert "backchannel_logout_uri" in source


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_models_do_not_import_keys():
    """ciam/keys.py uses the models; the models never import the keys (no circle)."""
    assert not {".keys", "ciam.keys"} & _imported_modules(CIAM_DIR / "models.py")
    assert ".models" in _imported_modules(CIAM_DIR / "keys.py")
