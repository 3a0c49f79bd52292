"""The consent step asks for the purposes a client needs or offers, on the same page as the
OAuth grant, and records every decision in the ledger (consent/steps.py, consent/views.py)."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from consent.models import ConsentAction, ConsentRecord
from consent.selectors import consent_state
from tests.conftest import query_of

from .purposes_helpers import make_purpose, publish

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def params_for(client, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": "openid email",
        "state": "st",
        **extra,
    }


def open_consent_page(browser, client, user, password, **extra: str):
    """Run the request up to the consent page (signing in on the way)."""
    response = browser.follow_local(
        browser.get("/authorize?" + urlencode(params_for(client, **extra)))
    )
    if "/accounts/login/" in response.url:
        response = browser.login_form(response, user.email, password)
    assert "/consent/" in response.url, response.url
    return response


def shown_ids(page) -> list[str]:
    return re.findall(r'name="shown" value="(\d+)"', page.text)


def submit(browser, page, *, accept: list[str], decision: str = "allow", shown=None):
    data: list[tuple[str, str]] = [
        ("csrfmiddlewaretoken", browser.csrf(page.text)),
        ("decision", decision),
    ]
    data += [("shown", value) for value in (shown_ids(page) if shown is None else shown)]
    data += [("accept", value) for value in accept]
    response = browser.post(page.url, data=data, headers={"Referer": page.url})
    return browser.follow_local(response)


def test_first_party_client_asks_required_purpose_and_records_it(
    browser, user, password, web_client
):
    """A purpose every client requires (the terms) is asked even by a first-party client;
    nothing is pre-ticked; accepting records a granted entry with the hash of the words shown
    and the code is issued."""
    terms = make_purpose("terms", required_everywhere=True)
    page = open_consent_page(browser, web_client, user, password)
    assert "terms terms v1" in page.text
    assert "checked" not in page.text
    response = submit(browser, page, accept=shown_ids(page))
    assert response.status_code == 302
    assert "code" in query_of(response.headers["Location"])
    record = ConsentRecord.objects.get(user=user, purpose=terms)
    assert record.action == ConsentAction.GRANTED
    assert record.text_sha256 == record.version.text_sha256("en")
    assert record.channel == "signin"


def test_required_purpose_left_unticked_is_not_recorded(browser, user, password, web_client):
    """Allow without ticking a required purpose shows the page again with a message."""
    make_purpose("terms", required_everywhere=True)
    page = open_consent_page(browser, web_client, user, password)
    again = submit(browser, page, accept=[])
    assert again.status_code == 400
    assert "To continue, accept" in again.text
    assert not ConsentRecord.objects.filter(user=user).exists()


def test_declining_a_required_purpose_returns_access_denied(browser, user, password, web_client):
    make_purpose("terms", required_everywhere=True)
    page = open_consent_page(browser, web_client, user, password)
    response = submit(browser, page, accept=[], decision="deny")
    assert query_of(response.headers["Location"])["error"] == "access_denied"
    assert not ConsentRecord.objects.filter(user=user).exists()


def test_prompt_none_with_a_required_purpose_missing_is_consent_required(
    browser, user, password, web_client
):
    """prompt=none never shows the page: consent_required goes back to the client."""
    make_purpose("terms", required_everywhere=True)
    open_consent_page(browser, web_client, user, password)  # signs in, leaves it unanswered
    response = browser.get("/authorize?" + urlencode(params_for(web_client, prompt="none")))
    response = browser.follow_local(response)
    assert query_of(response.headers["Location"])["error"] == "consent_required"


def test_optional_purposes_are_offered_once_and_never_block_prompt_none(
    browser, user, password, web_client
):
    """An optional purpose is offered unticked; leaving it unticked records a decline, so it
    is not asked again; with prompt=none an undecided optional purpose does not block."""
    make_purpose("newsletter", kind="marketing_email", clients={web_client.client_id: False})
    silent = browser.follow_local(
        browser.get("/authorize?" + urlencode(params_for(web_client, prompt="none")))
    )
    assert query_of(silent.headers["Location"])["error"] == "login_required"
    page = open_consent_page(browser, web_client, user, password)
    assert "Optional" in page.text
    assert "required aria-describedby" not in page.text
    response = submit(browser, page, accept=[])
    assert "code" in query_of(response.headers["Location"])
    assert consent_state(user=user)["newsletter"].granted is False
    again = browser.follow_local(browser.get("/authorize?" + urlencode(params_for(web_client))))
    assert "code" in query_of(again.headers["Location"])


def test_grant_and_purposes_are_one_page_for_a_third_party_client(
    browser, user, password, third_party_client
):
    """A third-party client's scopes and its purposes are asked together; optional ones
    ticked are granted, unticked declined."""
    make_purpose("partner-terms", clients={third_party_client.client_id: True})
    make_purpose("offers", clients={third_party_client.client_id: False})
    page = open_consent_page(browser, third_party_client, user, password)
    assert "wants to access your account" in page.text
    assert "partner-terms terms v1" in page.text
    assert "offers terms v1" in page.text
    response = submit(browser, page, accept=shown_ids(page))
    assert "code" in query_of(response.headers["Location"])
    state = consent_state(user=user)
    assert state["partner-terms"].granted
    assert state["offers"].granted


def test_material_change_asks_again_only_the_affected_purpose(browser, user, password, web_client):
    """After a material version of one purpose only that purpose is asked again; a minor
    version of another asks nothing."""
    terms = make_purpose("terms", required_everywhere=True)
    privacy = make_purpose("privacy", required_everywhere=True)
    submit(browser, open_consent_page(browser, web_client, user, password), accept=[])  # no-op
    page = open_consent_page(browser, web_client, user, password)
    submit(browser, page, accept=shown_ids(page))
    publish(privacy, change="minor")
    quiet = browser.follow_local(browser.get("/authorize?" + urlencode(params_for(web_client))))
    assert "code" in query_of(quiet.headers["Location"])
    publish(terms, change="material")
    page = browser.follow_local(browser.get("/authorize?" + urlencode(params_for(web_client))))
    assert "/consent/" in page.url
    assert "terms terms v2" in page.text
    assert "privacy" not in page.text
    submit(browser, page, accept=shown_ids(page))
    assert consent_state(user=user)["terms"].version.number == 2


@pytest.mark.parametrize(
    "tamper",
    ["stale", "foreign", "not-a-number", "accept-not-shown", "unknown-decision"],
)
def test_stale_or_tampered_form_records_nothing(browser, user, password, web_client, tamper):
    """A form that does not match what is asked now: a clear message, no record, no 500."""
    terms = make_purpose("terms", required_everywhere=True)
    page = open_consent_page(browser, web_client, user, password)
    ids = shown_ids(page)
    decision = "allow"
    if tamper == "stale":
        publish(terms)  # a new version appears while the page is open
        shown, accept = ids, ids
    elif tamper == "foreign":
        shown, accept = ["999999"], ["999999"]
    elif tamper == "not-a-number":
        shown, accept = ["1 OR 1=1"], ids
    elif tamper == "accept-not-shown":
        shown, accept = ids, [*ids, "999999"]
    else:
        shown, accept, decision = ids, ids, "maybe"
    response = submit(browser, page, accept=accept, shown=shown, decision=decision)
    # A junk decision shows the screen again (200); data that does not match, 400.
    assert response.status_code == (200 if tamper == "unknown-decision" else 400)
    assert not ConsentRecord.objects.filter(user=user).exists()


def test_double_submit_records_once(browser, user, password, web_client):
    """The same form posted twice records the decision once."""
    make_purpose("terms", required_everywhere=True)
    page = open_consent_page(browser, web_client, user, password)
    submit(browser, page, accept=shown_ids(page))
    second = submit(browser, page, accept=shown_ids(page))
    assert second.status_code in (302, 400)
    assert ConsentRecord.objects.filter(user=user).count() == 1


def test_purposes_are_shown_in_portuguese_with_the_portuguese_hash(
    browser, user, password, web_client
):
    """ui_locales=pt-BR shows the pt-BR words, and the record holds the hash of those."""
    make_purpose("terms", required_everywhere=True)
    page = open_consent_page(browser, web_client, user, password, ui_locales="pt-BR")
    assert "Termos terms v1" in page.text
    submit(browser, page, accept=shown_ids(page))
    record = ConsentRecord.objects.get(user=user)
    assert record.text_sha256 == record.version.text_sha256("pt-br")
