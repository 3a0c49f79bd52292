"""The offer to create a passkey right after signing in (PasskeyOfferStep)."""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from accounts.passkeys.constants import CAPABLE_COOKIE_NAME
from accounts.passkeys.models import PasskeyOfferDismissal
from accounts.passkeys.steps import PasskeyOfferStep
from ciam.interaction import pending_new
from sessions_ctx.services.authentication import session_record_authentication
from tests.conftest import query_of

from .test_management import make_passkey

STEPS = [
    "accounts.steps.SignInStep",
    "accounts.passkeys.steps.PasskeyOfferStep",
    "consent.steps.ConsentStep",
]


@pytest.fixture
def with_offer_step(settings):
    settings.CIAM_INTERACTION_STEPS = STEPS


def auth_params(client, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": "openid",
        "state": "s-1",
        **extra,
    }


# --- the step on its own ---------------------------------------------------------------------


def _request(user, *, capable: bool = True, methods: list[str] | None = None, signed_in_at=None):
    request = RequestFactory().get("/authorize/resume/x")
    request.session = SessionStore()
    request.user = user or AnonymousUser()
    if capable:
        request.COOKIES[CAPABLE_COOKIE_NAME] = "1"
    if user is not None:
        session_record_authentication(request=request, user_id=str(user.pk), methods=methods)
        if signed_in_at is not None:
            request.session["ciam.auth"]["auth_time"] = int(signed_in_at)
    return request


def _pending(**params: str):
    pending = pending_new(
        client_id="c", client_name="Shop", query=urlencode(params), scopes=["openid"]
    )
    pending.created_at = time.time() - 5
    return pending


@pytest.mark.django_db
def test_offered_after_a_fresh_password_sign_in(user):
    """Signed in with a password during this request, capable browser, no passkey: offer."""
    step = PasskeyOfferStep()
    request = _request(user)
    pending = _pending()
    assert not step.is_satisfied(request, pending)
    assert step.url(request, pending) == f"/account/passkeys/offer/{pending.id}/"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "case",
    ["prompt_none", "has_passkey", "dismissed", "not_capable", "earlier_sign_in", "passkey_used"],
)
def test_not_offered(user, case):
    """No offer with prompt=none, when the user has a passkey or declined before, when the
    browser cannot create one, when the sign-in happened before this request, or when the
    user just signed in with a passkey."""
    request_kwargs: dict = {}
    params: dict[str, str] = {}
    if case == "prompt_none":
        params["prompt"] = "none"
    elif case == "has_passkey":
        make_passkey(user)
    elif case == "dismissed":
        PasskeyOfferDismissal.objects.create(user=user)
    elif case == "not_capable":
        request_kwargs["capable"] = False
    elif case == "earlier_sign_in":
        request_kwargs["signed_in_at"] = time.time() - 60
    elif case == "passkey_used":
        request_kwargs["methods"] = ["swk", "user"]
    assert PasskeyOfferStep().is_satisfied(_request(user, **request_kwargs), _pending(**params))


@pytest.mark.django_db
def test_can_be_turned_off(user, settings):
    """CIAM_PASSKEYS_OFFER_ENABLED = False: never offered."""
    settings.CIAM_PASSKEYS_OFFER_ENABLED = False
    assert PasskeyOfferStep().is_satisfied(_request(user), _pending())


# --- in an authorization request ----------------------------------------------------------------


def test_offer_then_not_now_continues_and_is_remembered(
    with_offer_step, browser, web_client, user, password, issuer
):
    """After a password sign-in the offer page comes between sign-in and the code; "Not now"
    continues to the client with a code, and the next sign-in goes straight through."""
    browser.session.cookies.set(CAPABLE_COOKIE_NAME, "1")
    response = browser.follow_local(browser.get("/authorize?" + urlencode(auth_params(web_client))))
    response = browser.login_form(response, user.email, password)
    assert response.status_code == 200
    assert re.search(r"/account/passkeys/offer/[^/]+/$", response.url), response.url
    assert "Sign in faster next time" in response.text
    assert "Create passkey" in response.text
    assert "Not now" in response.text
    assert "<script>" not in response.text
    not_now = browser.post(
        response.url,
        data={"csrfmiddlewaretoken": browser.csrf(response.text)},
        headers={"Referer": response.url},
    )
    location = browser.follow_local(not_now).headers["Location"]
    assert location.startswith(web_client.redirect_uri)
    assert query_of(location).get("code")
    assert PasskeyOfferDismissal.objects.filter(user=user).exists()

    again = browser.authorize(
        auth_params(web_client, prompt="login"), email=user.email, password=password
    )
    assert query_of(again).get("code"), "no offer the second time"


def test_no_offer_for_browsers_that_did_not_report_a_platform_authenticator(
    with_offer_step, browser, web_client, user, password
):
    """Without the capability cookie (no JavaScript, no fingerprint or face unlock) the
    sign-in goes straight to the client."""
    location = browser.authorize(auth_params(web_client), email=user.email, password=password)
    assert query_of(location).get("code")
    assert not PasskeyOfferDismissal.objects.exists()


def test_offer_page_for_an_expired_request(with_offer_step, browser):
    """An unknown or expired request id: an error page, no offer."""
    response = browser.get("/account/passkeys/offer/unknown/")
    assert response.status_code == 400
    assert "expired" in response.text
