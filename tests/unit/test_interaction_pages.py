"""The step-page toolkit (ciam/interaction/pages.py) and what the pending request parses once
(ciam/interaction/pending.py)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpResponse
from django.test import RequestFactory
from oauth2_provider.settings import oauth2_settings

from ciam.interaction import PendingAuthorization, pending_load, pending_new, pending_save
from ciam.interaction.pages import (
    ClientRedirect,
    cancel_to_client,
    step_continue,
    step_done,
    step_page,
)
from ciam.interaction.pending import claims_request_parse, essential_acr_of
from tests.conftest import query_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REDIRECT_URI = "https://rp.example.test/cb?keep=1"


def new_pending(**params: str) -> PendingAuthorization:
    query = {
        "response_type": "code",
        "client_id": "c1",
        "scope": "openid",
        "redirect_uri": REDIRECT_URI,
        **params,
    }
    return pending_new(
        client_id="c1", client_name="Shop", query=urlencode(query), scopes=["openid"]
    )


def browser_request(method: str = "get", user=None):
    request = getattr(RequestFactory(), method)("/step/")
    request.session = SessionStore()
    request.user = user or AnonymousUser()
    return request


@step_page
def sample_page(request, pending):
    return HttpResponse(f"page for {pending.id}")


@step_page(sign_in_required=False, methods=("GET",))
def open_page(request, pending):
    return HttpResponse("open")


def test_step_page_unknown_request_shows_the_expired_page():
    """An id this session does not hold (or an old one) gets the readable expired page."""
    response = sample_page(browser_request(), "no-such-id")
    assert response.status_code == 400
    assert b"expired" in response.content
    assert "no-store" in response["Cache-Control"]


def test_step_page_sends_a_signed_out_browser_to_sign_in_and_back():
    """Without a signed-in user the page redirects to sign-in with next = the resume URL."""
    request = browser_request()
    pending = new_pending()
    pending_save(request, pending)
    response = sample_page(request, pending.id)
    assert response.status_code == 302
    assert query_of(response["Location"])["next"] == pending.resume_url


def test_step_page_gives_the_loaded_request_to_the_view():
    """A signed-in browser reaches the view with the pending request loaded; never cached."""
    request = browser_request(user=UserFactory())
    pending = new_pending()
    pending_save(request, pending)
    response = sample_page(request, pending.id)
    assert response.content == f"page for {pending.id}".encode()
    assert "no-cache" in response["Cache-Control"]


def test_step_page_may_serve_signed_out_browsers_and_limit_methods():
    """sign_in_required=False serves anyone; methods outside the list get 405."""
    request = browser_request()
    pending = new_pending()
    pending_save(request, pending)
    assert open_page(request, pending.id).content == b"open"
    post = browser_request("post")
    post.session = request.session
    assert open_page(post, pending.id).status_code == 405


def test_step_done_marks_the_step_once_and_resumes():
    """step_done records the name in the stored request (once) and redirects to resume."""
    request = browser_request()
    pending = new_pending()
    step_done(request, pending, "terms")
    response = step_done(request, pending, "terms")
    assert response["Location"] == pending.resume_url
    assert pending_load(request, pending.id).done == ["terms"]


def test_step_continue_resumes_without_marking():
    request = browser_request()
    pending = new_pending()
    pending_save(request, pending)
    assert step_continue(pending)["Location"] == pending.resume_url
    assert pending_load(request, pending.id).done == []


@pytest.mark.parametrize(
    ("kwargs", "error", "description"),
    [
        ({}, "access_denied", None),
        ({"description": "The user declined."}, "access_denied", "The user declined."),
        ({"error": "consent_required"}, "consent_required", None),
    ],
)
def test_cancel_to_client_ends_the_request_with_the_error(kwargs, error, description):
    """Cancel discards the request and redirects to the registered redirect_uri with the
    error, the state and the issuer (RFC 6749 4.1.2.1, RFC 9207); the URI's query stays."""
    request = browser_request()
    pending = new_pending(state="xyz")
    pending_save(request, pending)
    response = cancel_to_client(request, pending, **kwargs)
    assert isinstance(response, ClientRedirect)
    assert response["Location"].startswith("https://rp.example.test/cb?")
    query = query_of(response["Location"])
    assert query["error"] == error
    assert query.get("error_description") == description
    assert query["state"] == "xyz"
    assert query["keep"] == "1"
    assert query["iss"] == oauth2_settings.OIDC_ISS_ENDPOINT
    assert pending_load(request, pending.id) is None


# --- parsed once ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["", "[]", '"x"', "1", "{", '{"userinfo": []}', '{"id_token": null}', '{"userinfo": "a"}'],
)
def test_claims_parameter_that_is_not_one_object_of_objects_is_refused(value):
    """OIDC Core 5.5: one JSON object; its userinfo and id_token members are objects."""
    with pytest.raises(ValueError):  # noqa: PT011 - json's and ours are both ValueError
        claims_request_parse(value)


def test_claims_parameter_keeps_only_its_two_members():
    parsed = claims_request_parse('{"userinfo": {"email": null}, "other": 1, "id_token": {}}')
    assert parsed == {"userinfo": {"email": None}}


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        ({"acr": {"essential": True, "values": ["2", 3, "phr"]}}, ["2", "phr"]),
        ({"acr": {"essential": True, "value": "phr"}}, ["phr"]),
        ({"acr": {"essential": True}}, None),
        ({"acr": {"essential": False, "values": ["2"]}}, None),
        ({"acr": {"values": ["2"]}}, None),
        ({"acr": None}, None),
        ({}, None),
    ],
)
def test_essential_acr_values(member, expected):
    """OIDC Core 5.5.1.1: only an essential acr with values (or a value) is a demand."""
    assert essential_acr_of({"id_token": member}) == expected


def test_pending_request_parses_claims_once_and_ignores_what_was_never_valid():
    """The pending request reads the claims request, essential acr and individually
    requested standard claims from its parameters; a malformed value counts as none."""
    claims = {
        "userinfo": {"email": None, "custom": None},
        "id_token": {"name": None, "acr": {"essential": True, "values": ["2"]}},
    }
    pending = new_pending(claims=json.dumps(claims))
    assert pending.claims_request == claims
    assert pending.essential_acr == ["2"]
    assert pending.individually_requested_claims == ["email", "name"]
    broken = new_pending(claims="{not json")
    assert broken.claims_request == {}
    assert broken.essential_acr is None
    assert broken.individually_requested_claims == []


def test_pending_request_client_is_read_once(django_assert_num_queries):
    """The client is read from the database at most once per pending request object."""
    pending = new_pending()
    with django_assert_num_queries(1):
        assert pending.client is None
        assert pending.client is None
