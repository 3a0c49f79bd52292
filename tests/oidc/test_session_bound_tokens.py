"""Which refresh tokens end with the browser session that issued them: each client's
``session_bound_refresh_tokens`` ("online", "all" or "none"), through a real sign-out."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from ciam.models import Application, SessionBoundRefreshTokens

pytestmark = pytest.mark.live


def set_session_bound(client_id: str, value: str) -> None:
    """The operator's choice, saved as the admin form saves it."""
    application = Application.objects.get(client_id=client_id)
    application.session_bound_refresh_tokens = value
    application.full_clean()
    application.save()


def sign_in_online_and_offline(rp, user, password) -> tuple[dict, dict]:
    """Two grants in one browser session: one without offline_access, one with it."""
    _, online = rp.sign_in(email=user.email, password=password, scope="openid email")
    request = rp.authorization_request(scope="openid email offline_access")
    offline = rp.exchange(rp.authorize(request), request)
    assert online["refresh_token"]
    assert offline["refresh_token"]
    return online, offline


def sign_out(rp, id_token: str) -> None:
    response = rp.browser.get(
        rp.metadata["end_session_endpoint"],
        params={
            "id_token_hint": id_token,
            "post_logout_redirect_uri": rp.client.post_logout_redirect_uri,
        },
    )
    assert response.status_code in (302, 303), response.text[:300]


def still_works(rp, tokens: dict) -> bool:
    """Whether the grant's refresh token still refreshes (its access token still opens
    UserInfo too, checked alongside)."""
    alive = rp.userinfo(tokens["access_token"]).status_code == 200
    if rp.introspect(tokens["refresh_token"]).json()["active"]:
        assert rp.refresh(tokens["refresh_token"])["access_token"]
        return alive
    assert rp.refresh_error(tokens["refresh_token"]) == "invalid_grant"
    assert not alive
    return False


@pytest.mark.parametrize(
    ("setting", "online_survives", "offline_survives"),
    [
        (SessionBoundRefreshTokens.ONLINE, False, True),
        (SessionBoundRefreshTokens.ALL, False, False),
        (SessionBoundRefreshTokens.NONE, True, True),
    ],
)
def test_sign_out_ends_the_refresh_tokens_the_setting_names(
    rp, user, password, setting, online_survives, offline_survives
):
    """online: only tokens granted without offline_access end with the session; all: the
    offline_access ones too; none: both outlive it."""
    set_session_bound(rp.client.client_id, setting)
    online, offline = sign_in_online_and_offline(rp, user, password)
    sign_out(rp, online["id_token"])
    assert still_works(rp, online) is online_survives
    assert still_works(rp, offline) is offline_survives


def test_online_is_the_default(db):
    """A client registered without a choice behaves as before: "online"."""
    from tests.factories import make_client

    registered = make_client("web", redirect_uris=["https://rp.example.test/callback"])
    application = Application.objects.get(client_id=registered.client_id)
    assert application.session_bound_refresh_tokens == "online"


def test_each_client_of_the_session_follows_its_own_setting(
    rp, make_rp, other_web_client, user, password
):
    """One sign-out, two clients: the one set to "all" loses its offline_access token, the
    one set to "none" keeps even its online one."""
    other = make_rp(other_web_client)
    set_session_bound(rp.client.client_id, SessionBoundRefreshTokens.ALL)
    set_session_bound(other.client.client_id, SessionBoundRefreshTokens.NONE)
    rp_online, rp_offline = sign_in_online_and_offline(rp, user, password)
    _, other_online = other.sign_in(scope="openid email")
    sign_out(rp, rp_online["id_token"])
    assert still_works(rp, rp_offline) is False
    assert still_works(other, other_online) is True


def test_tokens_of_another_session_are_untouched(rp, make_rp, issuer, user, password):
    """ "all" ends the refresh tokens of the session that ended, not those of the user's
    other browser."""
    from tests.conftest import Browser

    set_session_bound(rp.client.client_id, SessionBoundRefreshTokens.ALL)
    other_browser = Browser(issuer)
    elsewhere = make_rp(rp.client, browser=other_browser)
    _, there = elsewhere.sign_in(
        email=user.email, password=password, scope="openid email offline_access"
    )
    online, _ = sign_in_online_and_offline(rp, user, password)
    sign_out(rp, online["id_token"])
    assert still_works(elsewhere, there) is True
    other_browser.session.close()


@pytest.mark.django_db
def test_unknown_setting_is_refused():
    """A value outside the three choices is refused by validation, not stored."""
    from tests.factories import make_client

    registered = make_client("web", redirect_uris=["https://rp.example.test/callback"])
    with pytest.raises(ValidationError) as error:
        set_session_bound(registered.client_id, "forever")
    assert "session_bound_refresh_tokens" in error.value.message_dict


@pytest.mark.django_db
def test_admin_shows_the_setting(admin_client):
    """The admin's client form offers the three choices."""
    page = admin_client.get("/admin/ciam/application/add/").content.decode()
    assert 'name="session_bound_refresh_tokens"' in page
    for value in ("online", "all", "none"):
        assert f'value="{value}"' in page
