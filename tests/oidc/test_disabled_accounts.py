"""A disabled account's tokens stop working: disabling revokes every token of every client
(offline_access ones too), and a token or code of an inactive account is refused wherever
it is presented, also one its disabling did not revoke (UserInfo 401, introspection
inactive, refresh and code redemption invalid_grant)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_refresh_token_model,
)

from console.services.customers import customer_disable, customer_enable

OFFLINE = "openid email offline_access"


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_superuser(
        email="root@example.com", password="operator-password-1"
    )


def deactivate(user) -> None:
    """``is_active`` off and nothing else: no session ended, no token revoked."""
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)


def test_disabling_revokes_every_token_even_offline_ones(rp, user, password, operator):
    """Tokens granted with offline_access outlive the session by design; disabling the
    account revokes them too: UserInfo answers 401, the refresh token gets invalid_grant,
    introspection says inactive, and enabling the account again does not bring them back."""
    _, tokens = rp.sign_in(email=user.email, password=password, scope=OFFLINE)
    assert rp.userinfo(tokens["access_token"]).status_code == 200

    customer_disable(user=user, operator=operator)

    assert rp.userinfo(tokens["access_token"]).status_code == 401
    assert rp.refresh_error(tokens["refresh_token"]) == "invalid_grant"
    assert rp.introspect(tokens["access_token"]).json() == {"active": False}
    assert rp.introspect(tokens["refresh_token"]).json() == {"active": False}
    assert not get_access_token_model().objects.filter(user=user).exists()
    assert not get_refresh_token_model().objects.filter(user=user, revoked__isnull=True).exists()

    customer_enable(user=user, operator=operator)
    assert rp.userinfo(tokens["access_token"]).status_code == 401
    assert rp.refresh_error(tokens["refresh_token"]) == "invalid_grant"


def test_disabling_deletes_unredeemed_codes(rp, user, password, operator):
    """An authorization code issued before the account was disabled cannot be redeemed."""
    request = rp.authorization_request(scope=OFFLINE)
    code = rp.callback_params(rp.authorize(request, email=user.email, password=password), request)[
        "code"
    ]
    customer_disable(user=user, operator=operator)
    assert not get_grant_model().objects.filter(user=user).exists()
    response = rp.redeem_code(code)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_an_inactive_accounts_tokens_are_refused(rp, user, password):
    """Tokens an inactive account still holds (nothing revoked them) are refused: UserInfo
    401, introspection inactive for the access and the refresh token, refresh
    invalid_grant."""
    _, tokens = rp.sign_in(email=user.email, password=password, scope=OFFLINE)
    deactivate(user)
    assert get_access_token_model().objects.filter(user=user).exists()

    response = rp.userinfo(tokens["access_token"])
    assert response.status_code == 401
    assert "invalid_token" in response.headers.get("WWW-Authenticate", "")
    assert rp.introspect(tokens["access_token"]).json() == {"active": False}
    assert rp.introspect(tokens["refresh_token"]).json() == {"active": False}
    assert rp.refresh_error(tokens["refresh_token"]) == "invalid_grant"


def test_an_inactive_accounts_code_is_refused(rp, user, password):
    """A code issued to an account that became inactive before redeeming it: invalid_grant,
    and no token issued."""
    request = rp.authorization_request(scope=OFFLINE)
    code = rp.callback_params(rp.authorize(request, email=user.email, password=password), request)[
        "code"
    ]
    deactivate(user)
    response = rp.redeem_code(code)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert not get_access_token_model().objects.filter(user=user).exists()
