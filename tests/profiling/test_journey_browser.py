"""Progressive profiling in Chromium, end to end: a customer is asked one field on their
second sign-in, skips it, is not asked again while it is snoozed, answers later (after a junk
answer is refused politely), and the relying party receives the claim."""

from __future__ import annotations

import base64
import json
import re
import secrets
from datetime import timedelta

import pytest
from authlib.integrations.requests_client import OAuth2Session
from django.utils import timezone

from profiling.models import (
    AskRule,
    FieldType,
    Outcome,
    Position,
    ProfileField,
    ProfileQuestion,
    ProfileValue,
    ValueSource,
)
from profiling.schema import schema_forget
from tests.passkeys.test_browser import sign_out

pytestmark = pytest.mark.browser

CLAIM = "shop:home_style"
BENEFIT = "so we can show what fits your space"
ANSWER = "Scandinavian, light oak"


@pytest.fixture
def home_style(db, settings):
    """A custom field asked from the second sign-in on, snoozed 14 days after a skip."""
    settings.CIAM_PROFILING_POLICY = "fixed"
    settings.CIAM_PROFILING_MIN_HOURS_BETWEEN_QUESTIONS = 0
    field = ProfileField.objects.create(
        key="home_style",
        type=FieldType.TEXT,
        label_en="Your home's style",
        label_pt_br="O estilo da sua casa",
        benefit_en=BENEFIT,
        benefit_pt_br="para mostrarmos o que combina com o seu espaço",
        claim=CLAIM,
    )
    rule = AskRule.objects.create(
        name="Style from the second sign-in",
        position=Position.AFTER_SIGN_IN,
        min_sign_ins=2,
        snooze_days=14,
    )
    rule.fields.add(field)
    schema_forget()
    yield field
    schema_forget()


def sign_in(tab, web_client, user, password) -> tuple[OAuth2Session, str]:
    """Start a code flow with Authlib, sign in with the password; the page reached next."""
    session = OAuth2Session(
        web_client.client_id,
        web_client.client_secret,
        scope="openid profile",
        redirect_uri=web_client.redirect_uri,
    )
    url, _state = session.create_authorization_url(
        tab.issuer + "/authorize", nonce=secrets.token_urlsafe(8)
    )
    tab.goto(url)
    page = tab.page
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()
    return session, url


def test_asked_on_second_sign_in_skip_snooze_answer_and_claim(
    tab, web_client, user, password, home_style
):
    """First sign-in: no question. Second: the question with its benefit line; "Skip"
    goes on to the client. Third: not asked (snoozed). After the snooze: asked again; junk is
    refused politely, a real answer is stored with its provenance and reaches the relying
    party as a claim in the ID token and UserInfo."""
    page = tab.page

    sign_in(tab, web_client, user, password)
    assert "code=" in tab.wait_for_rp()
    assert not ProfileQuestion.objects.filter(user=user).exists()
    sign_out(tab)

    sign_in(tab, web_client, user, password)
    page.wait_for_url(re.compile(r".*/profile/question/.*"))
    assert page.get_by_role("heading", name="One quick question").is_visible()
    assert page.get_by_text("So we can show what fits your space").is_visible()
    assert page.get_by_label("Your home's style").is_visible()
    assert tab.unlabelled_controls() == []
    tab.shot("profiling-question")
    page.get_by_role("button", name="Skip").click()
    assert "code=" in tab.wait_for_rp()
    question = ProfileQuestion.objects.get(user=user)
    assert question.outcome == Outcome.SKIPPED
    assert question.context["sign_ins"] == 2
    sign_out(tab)

    sign_in(tab, web_client, user, password)
    assert "code=" in tab.wait_for_rp()
    assert ProfileQuestion.objects.filter(user=user).count() == 1
    sign_out(tab)

    past = timezone.now() - timedelta(days=15)
    ProfileQuestion.objects.filter(user=user).update(shown_at=past, decided_at=past)
    session, _url = sign_in(tab, web_client, user, password)
    page.wait_for_url(re.compile(r".*/profile/question/.*"))
    page.get_by_label("Your home's style").fill("asdf")
    page.get_by_role("button", name="Save", exact=True).click()
    assert page.get_by_role("alert").filter(has_text="doesn't look like a real answer").is_visible()
    assert not ProfileValue.objects.filter(user=user, field=home_style).exists()
    page.get_by_label("Your home's style").fill(ANSWER)
    page.get_by_role("button", name="Save", exact=True).click()
    location = tab.wait_for_rp()

    value = ProfileValue.objects.get(user=user, field=home_style)
    assert value.value == ANSWER
    assert value.source == ValueSource.QUESTION
    assert value.client.client_id == web_client.client_id
    assert ProfileQuestion.objects.filter(user=user, outcome=Outcome.ANSWERED).count() == 1
    token = session.fetch_token(tab.issuer + "/token", authorization_response=location)
    userinfo = session.get(tab.issuer + "/userinfo").json()
    assert userinfo[CLAIM] == ANSWER
    assert userinfo["profile_completeness"] > 0
    payload = token["id_token"].split(".")[1]
    id_token = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert id_token[CLAIM] == ANSWER
    assert tab.csp_violations == []


def test_required_page_in_portuguese_fits_a_phone(tab, password, db):
    """A client that needs an address and a phone number asks for both on one page, in
    pt-BR (ui_locales) with every control labelled, no sideways scrolling at 390 px, and
    continues to the client once they are given."""
    from oauth2_provider.models import get_application_model

    from profiling.models import ClientProfileSettings
    from tests.browser.test_sessions_pages import shots
    from tests.factories import UserFactory, make_client

    shop = make_client(
        "web", name="Loja", redirect_uris=["https://rp.example.test/callback"], first_party=True
    )
    settings = ClientProfileSettings.objects.create(
        application=get_application_model().objects.get(client_id=shop.client_id)
    )
    settings.required_fields.add(*ProfileField.objects.filter(key__in=["phone_number", "address"]))
    user = UserFactory()
    tab.authorize(
        {
            "response_type": "code",
            "client_id": shop.client_id,
            "redirect_uri": "https://rp.example.test/callback",
            "scope": "openid phone address",
            "state": "s",
            "ui_locales": "pt-BR",
        }
    )
    page = tab.page
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", password)
    page.locator("button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/profile/required/.*"))
    assert page.locator("html").get_attribute("lang") == "pt-br"
    assert page.get_by_role("heading", name="Loja precisa de alguns dados").is_visible()
    assert tab.unlabelled_controls() == []
    shots(page, "profiling-required-pt-br")
    page.get_by_label("Celular").fill("(21) 99876-5432")
    page.get_by_label("Rua e número").fill("Rua das Laranjeiras 10")
    page.get_by_label("CEP").fill("22240003")
    page.get_by_label("Cidade").fill("Rio de Janeiro")
    page.get_by_role("button", name="Continuar").click()
    assert "code=" in tab.wait_for_rp()
    address = ProfileValue.objects.get(user=user, field__key="address").value
    assert address["postal_code"] == "22240-003"
    assert tab.csp_violations == []
