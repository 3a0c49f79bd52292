"""Pending authorization requests and the ordered interaction steps (ciam/interaction/)."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from accounts.steps import SignInStep
from ciam.interaction import (
    MAX_PENDING_PER_SESSION,
    PENDING_TTL_SECONDS,
    InteractionStep,
    PendingAuthorization,
    interaction_steps,
    next_unsatisfied_step,
    pending_discard,
    pending_from_next_url,
    pending_load,
    pending_new,
    pending_save,
)
from ciam.interaction import pending as interaction
from consent.steps import ConsentStep
from tests.conftest import query_of

# --- steps used to check the pipeline (named in CIAM_INTERACTION_STEPS below) ---------------


class AlwaysSatisfiedStep(InteractionStep):
    name = "always"

    def is_satisfied(self, request, pending):
        return True

    def url(self, request, pending):  # pragma: no cover - never asked
        raise AssertionError("a satisfied step is never visited")


class TermsStep(InteractionStep):
    """Satisfied once the pending request records that the terms were accepted."""

    name = "terms"
    prompt_none_error = "interaction_required"

    def is_satisfied(self, request, pending):
        return self.name in pending.done

    def url(self, request, pending):
        return f"/test-steps/terms/{pending.id}"


class AccountChoiceStep(TermsStep):
    name = "account_choice"
    prompt_none_error = "account_selection_required"

    def url(self, request, pending):
        return f"/test-steps/account/{pending.id}"


STEP_PATHS = [
    "tests.unit.test_interaction.AlwaysSatisfiedStep",
    "tests.unit.test_interaction.AccountChoiceStep",
    "tests.unit.test_interaction.TermsStep",
]


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def request_with_session(db):
    request = RequestFactory().get("/")
    request.session = SessionStore()
    return request


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The interaction module's clock, under the test's control."""
    fake = Clock(1_700_000_000.0)
    monkeypatch.setattr(interaction, "time", SimpleNamespace(time=fake.time))
    return fake


def new_pending(**params: str) -> PendingAuthorization:
    query = {"response_type": "code", "client_id": "c1", "scope": "openid", **params}
    return pending_new(
        client_id="c1", client_name="Shop", query=urlencode(query), scopes=["openid"]
    )


# --- saving, loading, discarding -----------------------------------------------------------


def test_saved_request_loads_back_unchanged(request_with_session):
    """A pending request survives the round trip through the session."""
    pending = new_pending(state="s1", prompt="login consent", max_age="30")
    pending.done.append("consent")
    pending_save(request_with_session, pending)
    loaded = pending_load(request_with_session, pending.id)
    assert loaded == pending
    assert loaded.params["state"] == "s1"
    assert loaded.prompt == {"login", "consent"}
    assert loaded.max_age == 30
    assert loaded.done == ["consent"]


def test_ids_are_random_and_unguessable():
    """Every pending request gets a fresh id of at least 128 bits."""
    ids = {new_pending().id for _ in range(50)}
    assert len(ids) == 50
    assert all(len(value) >= 22 for value in ids)


def test_discarded_request_is_gone(request_with_session):
    """pending_discard removes the request; discarding twice or an unknown id is fine."""
    first, second = new_pending(), new_pending()
    pending_save(request_with_session, first)
    pending_save(request_with_session, second)
    pending_discard(request_with_session, first.id)
    pending_discard(request_with_session, first.id)
    pending_discard(request_with_session, "unknown")
    assert pending_load(request_with_session, first.id) is None
    assert pending_load(request_with_session, second.id) == second


def test_unknown_id_loads_nothing(request_with_session):
    """Ids the session does not hold (or an empty session) give None."""
    assert pending_load(request_with_session, "nope") is None
    assert pending_load(request_with_session, "") is None


def test_request_expires_after_ttl(request_with_session, clock):
    """A pending request older than PENDING_TTL_SECONDS no longer loads."""
    pending = new_pending()
    pending_save(request_with_session, pending)
    clock.now += PENDING_TTL_SECONDS - 1
    assert pending_load(request_with_session, pending.id) == pending
    clock.now += 1
    assert pending_load(request_with_session, pending.id) is None


def test_saving_drops_expired_requests(request_with_session, clock):
    """Expired requests are removed from the session when another one is saved."""
    old = new_pending()
    pending_save(request_with_session, old)
    clock.now += PENDING_TTL_SECONDS + 1
    pending_save(request_with_session, new_pending())
    assert old.id not in request_with_session.session[interaction.SESSION_KEY_PENDING]


def test_session_keeps_only_the_newest_requests(request_with_session, clock):
    """At most MAX_PENDING_PER_SESSION requests are kept; the oldest go first."""
    saved = []
    for _ in range(MAX_PENDING_PER_SESSION + 3):
        clock.now += 1
        pending = new_pending()
        pending_save(request_with_session, pending)
        saved.append(pending)
    stored = request_with_session.session[interaction.SESSION_KEY_PENDING]
    assert len(stored) == MAX_PENDING_PER_SESSION
    assert set(stored) == {pending.id for pending in saved[-MAX_PENDING_PER_SESSION:]}
    assert pending_load(request_with_session, saved[0].id) is None
    assert pending_load(request_with_session, saved[-1].id) == saved[-1]


def test_requests_are_per_session(db):
    """A pending request saved in one session is unknown to another."""
    mine = RequestFactory().get("/")
    mine.session = SessionStore()
    theirs = RequestFactory().get("/")
    theirs.session = SessionStore()
    pending = new_pending()
    pending_save(mine, pending)
    assert pending_load(theirs, pending.id) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", None),
        ("-5", None),
        ("1.5", None),
        ("", None),
        ("0", 0),
        ("3600", 3600),
    ],
)
def test_max_age_reads_only_non_negative_integers(value, expected):
    """max_age is a non-negative integer or absent."""
    assert new_pending(max_age=value).max_age == expected


# --- next=/authorize/resume/<id> ------------------------------------------------------------


@pytest.fixture
def saved(request_with_session) -> PendingAuthorization:
    pending = new_pending()
    pending_save(request_with_session, pending)
    return pending


def test_next_url_of_the_resume_path_finds_the_request(request_with_session, saved):
    """/authorize/resume/<id> (with or without a query) leads back to the pending request."""
    assert pending_from_next_url(request_with_session, saved.resume_url) == saved
    assert pending_from_next_url(request_with_session, saved.resume_url + "?x=1") == saved


@pytest.mark.parametrize(
    "template",
    [
        "https://evil.example/authorize/resume/{id}",
        "http://localhost/authorize/resume/{id}",
        "//evil.example/authorize/resume/{id}",
        "///evil.example/authorize/resume/{id}",
        "/\\evil.example/authorize/resume/{id}",
        "authorize/resume/{id}",
        "/authorize/resume/{id}/more",
        "/accounts/login/?next=/authorize/resume/{id}",
        "/consent/{id}/",
        "",
        "/",
        "/authorize/resume/",
        "/authorize/resume/unknown",
    ],
)
def test_only_local_resume_paths_are_accepted(request_with_session, saved, template):
    """Absolute URLs, scheme-relative //host URLs, other paths and unknown ids give None."""
    assert pending_from_next_url(request_with_session, template.format(id=saved.id)) is None


# --- steps from settings --------------------------------------------------------------------


def test_default_steps_sign_in_before_consent():
    """The shipped pipeline starts with sign-in, and consent comes after it."""
    kinds = [type(step) for step in interaction_steps()]
    assert kinds[0] is SignInStep
    assert ConsentStep in kinds


def test_steps_follow_the_setting_in_order(settings, request_with_session):
    """CIAM_INTERACTION_STEPS decides which steps run and in which order; the first
    unsatisfied one is next, then the one after it."""
    settings.CIAM_INTERACTION_STEPS = STEP_PATHS
    steps = interaction_steps()
    assert [type(step) for step in steps] == [AlwaysSatisfiedStep, AccountChoiceStep, TermsStep]
    pending = new_pending()
    assert isinstance(next_unsatisfied_step(request_with_session, pending), AccountChoiceStep)
    pending.done.append("account_choice")
    assert isinstance(next_unsatisfied_step(request_with_session, pending), TermsStep)
    pending.done.append("terms")
    assert next_unsatisfied_step(request_with_session, pending) is None


def test_changing_the_setting_changes_the_steps(settings):
    """Steps are cached per list of paths: a new list gives new steps, the old list the
    old ones again."""
    default_paths = list(settings.CIAM_INTERACTION_STEPS)
    default = interaction_steps()
    settings.CIAM_INTERACTION_STEPS = list(reversed(STEP_PATHS))
    assert [type(step) for step in interaction_steps()] == [
        TermsStep,
        AccountChoiceStep,
        AlwaysSatisfiedStep,
    ]
    settings.CIAM_INTERACTION_STEPS = default_paths
    assert [type(step) for step in interaction_steps()] == [type(step) for step in default]


def _authorize_query(client, **extra: str) -> str:
    return urlencode(
        {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "scope": "openid",
            "state": "st-9",
            **extra,
        }
    )


def test_pipeline_sends_the_user_to_the_first_unsatisfied_step(settings, client, web_client):
    """/authorize redirects to the URL of the first unsatisfied configured step, and keeps
    the request pending for it."""
    settings.CIAM_INTERACTION_STEPS = STEP_PATHS
    response = client.get("/authorize?" + _authorize_query(web_client))
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/test-steps/account/")
    pending_id = location.rsplit("/", 1)[1]
    stored = client.session[interaction.SESSION_KEY_PENDING]
    assert pending_id in stored
    assert stored[pending_id]["client_id"] == web_client.client_id


def test_pipeline_resumes_at_the_next_step(settings, client, web_client):
    """After a step is done, /authorize/resume/<id> goes on to the next unsatisfied step."""
    settings.CIAM_INTERACTION_STEPS = STEP_PATHS
    location = client.get("/authorize?" + _authorize_query(web_client))["Location"]
    pending_id = location.rsplit("/", 1)[1]
    session = client.session
    session[interaction.SESSION_KEY_PENDING][pending_id]["done"] = ["account_choice"]
    session.save()
    response = client.get(f"/authorize/resume/{pending_id}")
    assert response.status_code == 302
    assert response["Location"] == f"/test-steps/terms/{pending_id}"


@pytest.mark.parametrize(
    ("paths", "error"),
    [
        (STEP_PATHS, "account_selection_required"),
        (STEP_PATHS[:1] + STEP_PATHS[2:], "interaction_required"),
    ],
)
def test_prompt_none_turns_the_step_into_its_error(settings, client, web_client, paths, error):
    """With prompt=none no step page is shown: the first unsatisfied step's error goes to
    the client's redirect_uri with state and iss (OIDC Core 3.1.2.6)."""
    settings.CIAM_INTERACTION_STEPS = paths
    response = client.get("/authorize?" + _authorize_query(web_client, prompt="none"))
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(web_client.redirect_uri + "?")
    params = query_of(location)
    assert params["error"] == error
    assert params["state"] == "st-9"
    assert params["iss"] == settings.CIAM_ISSUER
    assert "code" not in params
    assert not client.session.get(interaction.SESSION_KEY_PENDING)
