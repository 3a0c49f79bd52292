"""Profile questions in the interaction pipeline, over HTTP against the live provider: a
field a client requires blocks only that client until it is given (not skippable, refused
when invalid or junk, ``interaction_required`` with prompt=none); optional questions are
never asked with prompt=none, nor when another step interrupted the sign-in, nor more than
once per interaction; abandoned questions are settled."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import get_application_model

from profiling.models import (
    AskRule,
    ClientProfileSettings,
    FieldType,
    LearnerArm,
    Outcome,
    Position,
    ProfileField,
    ProfileQuestion,
    ProfileValue,
    ValueSource,
)
from profiling.schema import schema_forget
from profiling.services.questions import questions_settle
from tests.conftest import Browser, query_of
from tests.factories import make_client

REDIRECT = "https://rp.example.test/callback"


def params(client_id: str, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid profile phone",
        "state": secrets.token_urlsafe(8),
        **extra,
    }


@pytest.fixture
def clients(db):
    """Two first-party clients; ``shop`` requires a phone number, ``blog`` nothing."""
    shop = make_client("web", name="Shop", redirect_uris=[REDIRECT], first_party=True)
    blog = make_client("web", name="Blog", redirect_uris=[REDIRECT], first_party=True)
    settings = ClientProfileSettings.objects.create(
        application=get_application_model().objects.get(client_id=shop.client_id)
    )
    settings.required_fields.add(ProfileField.objects.get(key="phone_number"))
    schema_forget()
    return shop, blog


def _form(browser: Browser, response, **data: str):
    response = browser.post(
        response.url,
        data={"csrfmiddlewaretoken": browser.csrf(response.text), **data},
        headers={"Referer": response.url},
    )
    return browser.follow_local(response)


def test_required_field_blocks_only_its_client(issuer, user, password, clients):
    """The blog gets its code at once; the shop's sign-in stops at the required-details
    page, which has no skip, refuses an invalid number, stores a valid one in E.164 with
    provenance, and then issues the code. The next sign-in to the shop is not stopped."""
    shop, blog = clients
    browser = Browser(issuer)
    location = browser.authorize(params(blog.client_id), email=user.email, password=password)
    assert "code" in query_of(location)

    page = browser.follow_local(browser.get("/authorize?" + _qs(params(shop.client_id))))
    assert page.status_code == 200, page.url
    assert "/profile/required/" in page.url
    assert "Shop needs a few details" in page.text
    assert 'value="skip"' not in page.text

    page = _form(browser, page, action="save", phone_number="12")
    assert page.status_code == 400
    assert "area code" in page.text
    assert not ProfileValue.objects.filter(user=user).filter(field__key="phone_number").exists()

    done = _form(browser, page, action="save", phone_number="(11) 98765-4321")
    assert done.status_code == 302
    assert "code=" in done.headers["Location"]
    value = ProfileValue.objects.get(user=user, field__key="phone_number")
    assert value.value == "+5511987654321"
    assert value.source == ValueSource.QUESTION
    assert value.client.client_id == shop.client_id
    question = ProfileQuestion.objects.get(user=user, field__key="phone_number")
    assert question.required
    assert question.outcome == Outcome.ANSWERED
    assert not LearnerArm.objects.exists()  # required questions teach the learner nothing

    again = browser.authorize(params(shop.client_id))
    assert "code" in query_of(again)


def test_required_field_cancel_and_prompt_none(issuer, user, password, clients):
    """Cancel on the required page sends access_denied to the client; with prompt=none a
    missing required field ends the request with interaction_required."""
    shop, blog = clients
    browser = Browser(issuer)
    browser.authorize(params(blog.client_id), email=user.email, password=password)
    silent = browser.authorize(params(shop.client_id, prompt="none"))
    assert query_of(silent)["error"] == "interaction_required"

    page = browser.follow_local(browser.get("/authorize?" + _qs(params(shop.client_id))))
    assert "/profile/required/" in page.url
    cancelled = _form(browser, page, action="cancel")
    assert query_of(cancelled.headers["Location"])["error"] == "access_denied"


def test_required_junk_name_is_refused_politely(issuer, user, password, db):
    """A required name typed as junk is asked again with a polite message and not stored."""
    shop = make_client("web", name="Shop", redirect_uris=[REDIRECT], first_party=True)
    settings = ClientProfileSettings.objects.create(
        application=get_application_model().objects.get(client_id=shop.client_id)
    )
    settings.required_fields.add(ProfileField.objects.get(key="nickname"))
    browser = Browser(issuer)
    page = browser.follow_local(browser.get("/authorize?" + _qs(params(shop.client_id))))
    page = browser.login_form(page, user.email, password)
    assert "/profile/required/" in page.url
    page = _form(browser, page, action="save", nickname="asdf")
    assert page.status_code == 200
    assert "real answer" in page.text
    assert not ProfileValue.objects.filter(user=user, field__key="nickname").exists()
    done = _form(browser, page, action="save", nickname="Aninha")
    assert "code=" in done.headers["Location"]


@pytest.fixture
def style_rule(db, settings):
    settings.CIAM_PROFILING_POLICY = "fixed"
    settings.CIAM_PROFILING_MIN_HOURS_BETWEEN_QUESTIONS = 0
    field = ProfileField.objects.create(
        key="home_style", type=FieldType.TEXT, label_en="Your home's style", claim="shop:style"
    )
    rule = AskRule.objects.create(name="Style", position=Position.BEFORE_RETURN)
    rule.fields.add(field)
    schema_forget()
    return field


def test_optional_question_never_with_prompt_none(issuer, user, password, style_rule):
    """prompt=none: the optional question is not asked and the code is issued."""
    blog = make_client("web", name="Blog", redirect_uris=[REDIRECT], first_party=True)
    browser = Browser(issuer)
    page = browser.follow_local(browser.get("/authorize?" + _qs(params(blog.client_id))))
    page = browser.login_form(page, user.email, password)
    assert "/profile/question/" in page.url
    assert page.url.endswith("/return/")
    skipped = _form(browser, page, action="skip")
    assert "code=" in skipped.headers["Location"]
    silent = browser.authorize(params(blog.client_id, prompt="none"))
    assert "code" in query_of(silent)


def test_no_optional_question_after_another_interruption(
    issuer, user, password, style_rule, third_party_client
):
    """A sign-in already interrupted by the consent page gets no optional question."""
    browser = Browser(issuer)
    location = browser.authorize(
        params(third_party_client.client_id), email=user.email, password=password, consent="allow"
    )
    assert "code" in query_of(location)
    assert not ProfileQuestion.objects.filter(user=user).exists()


def test_min_hours_between_questions(issuer, user, password, style_rule, settings):
    """A user asked less than CIAM_PROFILING_MIN_HOURS_BETWEEN_QUESTIONS ago in another
    interaction is not asked again."""
    settings.CIAM_PROFILING_MIN_HOURS_BETWEEN_QUESTIONS = 20
    blog = make_client("web", name="Blog", redirect_uris=[REDIRECT], first_party=True)
    other = ProfileField.objects.create(key="sofa", type=FieldType.TEXT, label_en="Sofa")
    AskRule.objects.get().fields.add(other)
    schema_forget()
    browser = Browser(issuer)
    page = browser.follow_local(browser.get("/authorize?" + _qs(params(blog.client_id))))
    page = browser.login_form(page, user.email, password)
    assert "/profile/question/" in page.url
    _form(browser, page, action="skip")
    location = browser.authorize(params(blog.client_id))
    assert "code" in query_of(location)
    assert ProfileQuestion.objects.filter(user=user).count() == 1


def test_unanswered_question_becomes_abandoned(issuer, user, password, style_rule):
    """A question left without answer or skip is settled as abandoned, and the learner
    counts it in its bucket and overall."""
    blog = make_client("web", name="Blog", redirect_uris=[REDIRECT], first_party=True)
    browser = Browser(issuer)
    page = browser.follow_local(browser.get("/authorize?" + _qs(params(blog.client_id))))
    page = browser.login_form(page, user.email, password)
    assert "/profile/question/" in page.url
    question = ProfileQuestion.objects.get(user=user)
    assert question.outcome == Outcome.PENDING
    assert questions_settle(now=timezone.now()) == 0
    assert questions_settle(now=timezone.now() + timedelta(hours=1)) == 1
    question.refresh_from_db()
    assert question.outcome == Outcome.ABANDONED
    arms = {arm.bucket: arm for arm in LearnerArm.objects.filter(field=style_rule)}
    assert arms["*"].abandoned == 1
    assert arms[question.bucket].shown == 1


def test_expired_or_unknown_question_page(issuer, user, password, style_rule):
    """A question page for an unknown request shows the expired page, not an error."""
    browser = Browser(issuer)
    response = browser.get("/profile/question/nope/")
    assert response.status_code in (302, 400)


def _qs(values: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(values)


def test_settle_command_settles_stale_questions(user, style_rule, capsys):
    """``manage.py profiling_settle`` settles questions left pending too long."""
    from django.core.management import call_command

    ProfileQuestion.objects.create(
        user=user,
        field=style_rule,
        interaction="x",
        position=Position.BEFORE_RETURN,
        bucket="b",
        shown_at=timezone.now() - timedelta(hours=2),
    )
    call_command("profiling_settle")
    assert "1 question(s) settled" in capsys.readouterr().out
    assert ProfileQuestion.objects.get().outcome == Outcome.ABANDONED


def test_randomised_decision_is_logged_with_its_propensity(
    issuer, user, password, style_rule, settings
):
    """With every decision randomised, the decision (ask the one field, or nothing) is
    logged with propensity 1/2; when it asked, it names the question shown."""
    from profiling.models import LearnerDecision

    settings.CIAM_PROFILING_POLICY = "learner"
    settings.CIAM_PROFILING_EXPLORE_RATE = 1.0
    blog = make_client("web", name="Blog", redirect_uris=[REDIRECT], first_party=True)
    browser = Browser(issuer)
    page = browser.follow_local(browser.get("/authorize?" + _qs(params(blog.client_id))))
    page = browser.login_form(page, user.email, password)
    decision = LearnerDecision.objects.get(user=user)
    assert decision.propensity == 0.5
    assert decision.candidates == ["home_style"]
    if decision.chosen:
        assert "/profile/question/" in page.url
        assert decision.question.field == style_rule
    else:
        assert page.status_code == 302
        assert "code=" in page.headers["Location"]
