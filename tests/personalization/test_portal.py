"""The portal's "Interests" page with Django's test client: the customer sees their
interests with the reason behind each in plain words (English and pt-BR), removes and adds
them, sees when they are usually active, and turns personalization off (after a
confirmation: everything derived is deleted and the withdrawal is in the consent ledger) or
on (a grant). Malformed posts, other customers' interests and other methods are readable
4xx pages; a visitor who is not signed in is sent to sign in."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext, pgettext

from consent.models import ConsentAction, ConsentChannel, ConsentRecord
from personalization.models import Insight, Interest, InterestSource, SegmentMembership
from personalization.selectors import (
    hour_ranges,
    interest_explanation,
    interests_for_portal,
    window_sentence,
)
from tests.factories import UserFactory

from .fixtures_portal import (
    LAST_AT,
    declared,
    derive_for,
    interests_customer,  # noqa: F401 - fixture
    interests_purpose,  # noqa: F401 - fixture
    personalization_grant,
)

# F811: the fixtures come from fixtures_portal.py (imported above by name). RUF001: the
# page's time ranges use an en dash between their ends.
# ruff: noqa: F811, RUF001

pytestmark = pytest.mark.django_db

PAGE = "/account/interests/"
ADD = "/account/interests/add"
SWITCH = "/account/interests/switch"


def remove_url(interest_id: Any) -> str:
    return f"/account/interests/{interest_id}/remove"


def browser_of(user: Any, language: str = "") -> Client:
    browser = Client()
    browser.force_login(user)
    if language:
        browser.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return browser


def text_of(response: Any) -> str:
    return html.unescape(response.content.decode())


def explained(kind: str, key: str, evidence: dict[str, Any], **fields: Any) -> str:
    with translation.override("en"):
        return interest_explanation(Interest(kind=kind, key=key, evidence=evidence, **fields))


# --- the page ---------------------------------------------------------------------------------


def test_page_lists_interests_with_reasons_and_the_window(interests_customer):
    """The customer's interests, best first, each with its reason; the removed one apart
    with "Add back"; the window in words; the way to turn personalization off."""
    response = browser_of(interests_customer).get(PAGE)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    page = text_of(response)
    assert "<h1>Your interests</h1>" in page
    assert page.index("Acme") < page.index("Shoes") < page.index("Garden")
    assert (
        "Because you bought from Acme 3 times and viewed it twice. Last time on Nov. 30, 2026."
        in page
    )
    assert "Because you viewed Shoes 5 times." in page
    assert "Because customers with similar tastes like it." in page
    removed = page[page.index("You removed") :]
    assert "Globex" in removed
    assert "Globex" not in page[: page.index("You removed")]
    assert "Add back" in removed
    assert "You are usually active around 19:00–20:00 on Tuesdays and Thursdays." in page
    assert "Times in the time zone of Sao Paulo." in page
    assert "Turn off personalization" in page
    assert "Turn on personalization" not in page


def test_page_speaks_portuguese(interests_customer):
    """In pt-BR the page, the reasons and the window use the Portuguese words (the
    catalogue's, with the English words where a string is not translated yet)."""
    page = text_of(browser_of(interests_customer, "pt-br").get(PAGE))
    assert 'lang="pt-br"' in page
    with translation.override("pt-br"):
        expected = [
            gettext("Your interests"),
            gettext("Back to your account"),
            interest_explanation(Interest.objects.get(key="Acme")),
            interest_explanation(Interest.objects.get(key="Garden")),
            window_sentence(
                ["19:00–20:00"],
                [pgettext("weekday, plural", "Tuesdays"), pgettext("weekday, plural", "Thursdays")],
                from_population=False,
            ),
        ]
    assert expected[1] == "Voltar para sua conta"
    for words in expected:
        assert words in page
    assert "30 de novembro de 2026" in page  # Django's own pt-BR date


def test_window_from_the_population_says_so(interests_purpose):
    """A customer with little activity of their own: the window is the population's, and
    the page says there is not enough activity yet."""
    user = UserFactory()
    personalization_grant(user, interests_purpose)
    derive_for(user, from_population=True)
    page = text_of(browser_of(user).get(PAGE))
    assert (
        "Not enough activity yet: like most customers, you are likely to be active around "
        "19:00–20:00 on Tuesdays and Thursdays." in page
    )


def test_page_without_anything_learned_yet(interests_purpose):
    """Personalization on, nothing derived: the empty state and no window yet."""
    user = UserFactory()
    personalization_grant(user, interests_purpose)
    page = text_of(browser_of(user).get(PAGE))
    assert "Nothing yet." in page
    assert "Not enough activity yet to tell when you are usually active." in page
    assert "You removed" not in page


def test_page_while_off_explains_and_offers_to_turn_on(interests_purpose):
    """Personalization off: what it does and the button to turn it on; no interests, no add
    form, no window."""
    user = UserFactory()
    page = text_of(browser_of(user).get(PAGE))
    assert "Personalization is off" in page
    assert "What personalization does" in page
    assert "Turn on personalization" in page
    assert 'action="/account/interests/add"' not in page
    assert "When you are usually active" not in page


def test_page_while_not_offered_has_no_switch(db):
    """No personalization purpose is published: nothing to turn on."""
    page = text_of(browser_of(UserFactory()).get(PAGE))
    assert "Personalization is not offered at the moment." in page
    assert "Turn on personalization" not in page


def test_the_selector_says_nothing_while_off(interests_purpose):
    """Stale rows of a customer who does not grant the purpose are not shown."""
    user = UserFactory()
    derive_for(user)
    data = interests_for_portal(user=user)
    assert not data.allowed
    assert data.interests == []
    assert data.removed == []
    assert data.window is None


def test_visitor_is_sent_to_sign_in(interests_customer):
    """Not signed in: the page and its actions send to the sign-in page, and change
    nothing."""
    anonymous = Client()
    response = anonymous.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/account/interests/")
    acme = Interest.objects.get(key="Acme")
    for url, data in [
        (ADD, {"kind": "brand", "name": "Initech"}),
        (remove_url(acme.pk), {}),
        (SWITCH, {"turn": "off", "confirm": "1"}),
    ]:
        response = anonymous.post(url, data)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    assert not Interest.objects.filter(key="Initech").exists()
    assert not Interest.objects.get(pk=acme.pk).hidden
    assert Insight.objects.filter(user=interests_customer).exists()


# --- explanations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "key", "evidence", "fields", "expected"),
    [
        ("brand", "Acme", {"purchase": 3}, {}, "Because you bought from Acme 3 times."),
        ("brand", "Acme", {"purchase": 1}, {}, "Because you bought from Acme once."),
        ("category", "Shoes", {"page_view": 5}, {}, "Because you viewed Shoes 5 times."),
        ("category", "Shoes", {"purchase": 2}, {}, "Because you bought Shoes twice."),
        (
            "brand",
            "Acme",
            {"purchase": 3, "page_view": 2},
            {},
            "Because you bought from Acme 3 times and viewed it twice.",
        ),
        (
            # The two that weigh most (a purchase counts three views), in sentence order.
            "brand",
            "Acme",
            {"purchase": 1, "page_view": 2, "campaign_click": 7},
            {},
            "Because you bought from Acme once and opened its offers 7 times.",
        ),
        (
            "category",
            "Shoes",
            {"page_view": 4, "campaign_click": 1, "app_open": 9},
            {},
            "Because you viewed Shoes 4 times and opened offers for it once.",
        ),
        (
            "category",
            "Garden",
            {"similar_customers": 12},
            {},
            "Because customers with similar tastes like it.",
        ),
        ("brand", "Acme", {"purchase": 3}, {"source": InterestSource.CUSTOMER}, "You added this."),
        ("brand", "Acme", {}, {}, "Learned from your activity."),
        (
            "brand",
            "Acme",
            {"purchase": "3", "page_view": True, "campaign_click": -2, "last_at": "yesterday"},
            {},
            "Learned from your activity.",
        ),
        (
            "brand",
            "Acme",
            {"page_view": 1, "last_at": LAST_AT},
            {},
            "Because you viewed Acme once. Last time on Nov. 30, 2026.",
        ),
    ],
)
def test_explanation_in_plain_words(kind, key, evidence, fields, expected):
    """The reason names at most the two strongest facts, counted in words ("once",
    "twice"), and the last activity's date; added interests say so; predicted ones name the
    similar customers; unusable evidence gives a general reason."""
    assert explained(kind, key, evidence, **fields) == expected


def test_explanation_in_portuguese_is_pluralised():
    """Counts go through ngettext in the page's language: one and many differ."""
    with translation.override("pt-br"):
        once = interest_explanation(Interest(kind="brand", key="Acme", evidence={"purchase": 1}))
        many = interest_explanation(Interest(kind="brand", key="Acme", evidence={"purchase": 5}))
    assert "Acme" in once
    assert "5" in many
    assert once.replace("Acme", "") != many.replace("Acme", "").replace("5", "")


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        ([19], ["19:00–20:00"]),
        ([20, 19, 12], ["12:00–13:00", "19:00–21:00"]),
        ([23, 0], ["23:00–01:00"]),
        ([7, 7, "8", 24, -1, True, None], ["07:00–08:00"]),
        ([], []),
        ("19", []),
        (list(range(24)), ["00:00–24:00"]),
    ],
)
def test_hours_as_time_ranges(hours, expected):
    """Best hours as local time ranges in the day's order, neighbours joined; junk
    ignored."""
    assert hour_ranges(hours) == expected


@pytest.mark.parametrize(
    ("hours", "days", "from_population", "expected"),
    [
        (["12:00–13:00"], ["Saturdays"], False, "You are usually active around 12:00–13:00 on "),
        (
            ["12:00–13:00", "19:00–21:00"],
            [],
            False,
            "You are usually active around 12:00–13:00 and 19:00–21:00.",
        ),
        ([], ["Mondays", "Fridays", "Sundays"], False, "You are usually active on Mondays, "),
        (["08:00–09:00"], [], True, "Not enough activity yet: like most customers, you are"),
        ([], [], True, "Not enough activity yet to tell when you are usually active."),
        ([], [], False, "Not enough activity yet to tell when you are usually active."),
    ],
)
def test_window_sentence(hours, days, from_population, expected):
    """The window in one sentence, lists joined with "and"."""
    with translation.override("en"):
        assert window_sentence(hours, days, from_population=from_population).startswith(expected)


# --- add and remove ---------------------------------------------------------------------------


def test_add_an_interest(interests_customer):
    """Adding a brand: stored as the customer's own (score 1), a message, listed first with
    "You added this"."""
    browser = browser_of(interests_customer)
    response = browser.post(ADD, {"kind": "brand", "name": "  Initech   Labs "})
    assert response.status_code == 303
    assert response["Location"] == PAGE
    interest = Interest.objects.get(user=interests_customer, key="Initech Labs")
    assert interest.source == InterestSource.CUSTOMER
    assert interest.kind == "brand"
    assert interest.score == 1.0
    page = text_of(browser.get(PAGE))
    assert "“Initech Labs” was added to your interests." in page
    assert page.index("Initech Labs", page.index("What you like")) < page.index("Acme")
    assert "You added this." in page
    assert "Added by you" in page


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"kind": "brand"}, "Name the interest."),
        ({"kind": "brand", "name": "   "}, "Name the interest."),
        ({"kind": "brand", "name": "x" * 201}, "Ensure this value has at most 200 characters"),
        ({"kind": "colour", "name": "Blue"}, "Choose a category or a brand."),
        ({"name": "Blue"}, "Choose a category or a brand."),
        ({"kind": "brand", "name": "Bad\x01name"}, "The name holds characters that cannot"),
        ({"kind": "brand", "name": "Bad\x00name"}, "Null characters are not allowed."),
    ],
)
def test_add_refuses_bad_input_on_the_form(interests_customer, data, error):
    """Missing or unusable fields: the page again (400) with the error on the form, nothing
    stored."""
    before = Interest.objects.filter(user=interests_customer).count()
    response = browser_of(interests_customer).post(ADD, data)
    assert response.status_code == 400
    page = text_of(response)
    assert error in page
    assert 'class="errorlist' in page
    assert Interest.objects.filter(user=interests_customer).count() == before


def test_add_while_off_is_refused(interests_purpose):
    """Personalization off: nothing is added, the page says to turn it on (409)."""
    user = UserFactory()
    response = browser_of(user).post(ADD, {"kind": "brand", "name": "Acme"})
    assert response.status_code == 409
    assert "Personalization is off. Turn it on to add interests." in text_of(response)
    assert not Interest.objects.filter(user=user).exists()


def test_remove_then_add_back(interests_customer):
    """Removing an interest keeps it as removed (not shared, not learned again), listed under
    "You removed"; "Add back" makes it the customer's own."""
    browser = browser_of(interests_customer)
    shoes = Interest.objects.get(user=interests_customer, key="Shoes")
    response = browser.post(remove_url(shoes.pk))
    assert response.status_code == 303
    shoes.refresh_from_db()
    assert shoes.hidden
    insight = Insight.objects.get(user=interests_customer)
    assert "Shoes" not in [shared["name"] for shared in insight.interests]
    page = text_of(browser.get(PAGE))
    assert "“Shoes” was removed. It will not be suggested again unless you add it back." in page
    assert "Shoes" in page[page.index("You removed") :]
    assert "Because you viewed Shoes 5 times." not in page

    response = browser.post(ADD, {"kind": "category", "name": "Shoes"})
    assert response.status_code == 303
    shoes.refresh_from_db()
    assert not shoes.hidden
    assert shoes.source == InterestSource.CUSTOMER


def test_someone_elses_interest_is_not_found(interests_customer, interests_purpose):
    """Another customer's interest id, an unknown one or a malformed one: a readable 404,
    nothing changed."""
    other = UserFactory()
    personalization_grant(other, interests_purpose)
    theirs = declared(other, "brand", "Theirs")
    browser = browser_of(interests_customer)
    for interest_id in [theirs.pk, 987654, "abc", "1" * 40, "-1", "٣"]:
        response = browser.post(remove_url(interest_id))
        assert response.status_code == 404, interest_id
        assert "Interest not found" in text_of(response)
    theirs.refresh_from_db()
    assert not theirs.hidden


@pytest.mark.parametrize("url", [ADD, SWITCH, remove_url(1)])
def test_other_methods_on_actions_are_refused(interests_customer, url):
    """A GET on an action: a readable 405 naming POST, nothing changed."""
    response = browser_of(interests_customer).get(url)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert "This address only takes a form" in text_of(response)


def test_page_refuses_post(interests_customer):
    """The page itself is read-only."""
    assert browser_of(interests_customer).post(PAGE).status_code == 405


# --- the switch -------------------------------------------------------------------------------


def test_switch_off_asks_then_deletes_and_records_the_withdrawal(interests_customer):
    """Turning off first shows what is deleted (nothing changes yet); confirmed, the
    interests (the customer's own too), the insight and the segment memberships are
    deleted, the ledger records a withdrawal from the portal, and the page is off."""
    user = interests_customer
    declared(user, "brand", "Mine")
    browser = browser_of(user)
    response = browser.post(SWITCH, {"turn": "off"})
    assert response.status_code == 200
    page = text_of(response)
    assert "Turn off personalization?" in page
    assert "3 interests learned from your activity" in page  # Globex was removed
    assert "1 interest you added" in page
    assert Interest.objects.filter(user=user).count() == 5
    assert not ConsentRecord.objects.filter(user=user, action=ConsentAction.WITHDRAWN).exists()

    response = browser.post(SWITCH, {"turn": "off", "confirm": "1"})
    assert response.status_code == 303
    assert not Interest.objects.filter(user=user).exists()
    assert not Insight.objects.filter(user=user).exists()
    assert not SegmentMembership.objects.filter(user=user).exists()
    latest = ConsentRecord.objects.filter(user=user).order_by("-at", "-sequence").first()
    assert latest is not None
    assert latest.action == ConsentAction.WITHDRAWN
    assert latest.channel == ConsentChannel.PORTAL
    assert latest.purpose.key == "personalization"
    page = text_of(browser.get(PAGE))
    assert "Personalization is off. Your interests, the ones you added and the best time" in page
    assert "Turn on personalization" in page
    assert "Acme" not in page
    assert "Mine" not in page


def test_switch_off_when_already_off_changes_nothing(interests_purpose):
    """Off already: no record is written, the page says so."""
    user = UserFactory()
    browser = browser_of(user)
    response = browser.post(SWITCH, {"turn": "off", "confirm": "1"})
    assert response.status_code == 303
    assert not ConsentRecord.objects.filter(user=user).exists()
    assert "Personalization is already off." in text_of(browser.get(PAGE))


def test_switch_on_records_a_grant(interests_purpose):
    """Turning on grants the purpose's current version in the ledger, from the portal; the
    page then shows the interests' sections."""
    user = UserFactory()
    browser = browser_of(user)
    version = interests_purpose.current_version()
    page = text_of(browser.get(PAGE))
    assert version.title_en in page  # the words granted are on the page
    response = browser.post(SWITCH, {"turn": "on", "version": str(version.pk)})
    assert response.status_code == 303
    record = ConsentRecord.objects.get(user=user)
    assert record.action == ConsentAction.GRANTED
    assert record.channel == ConsentChannel.PORTAL
    assert record.version == interests_purpose.current_version()
    page = text_of(browser.get(PAGE))
    assert "Personalization is on." in page
    assert "Add an interest" in page
    # Once more: already on, nothing new is recorded.
    browser.post(SWITCH, {"turn": "on", "version": str(version.pk)})
    assert ConsentRecord.objects.filter(user=user).count() == 1


def test_switch_on_grants_only_the_words_shown(interests_purpose):
    """A post naming no version, or another one than the current: nothing is granted and
    the page asks to read again."""
    user = UserFactory()
    browser = browser_of(user)
    for data in ({"turn": "on"}, {"turn": "on", "version": "999999"}):
        assert browser.post(SWITCH, data).status_code in (303, 400)
    assert not ConsentRecord.objects.filter(user=user).exists()


def test_switch_on_without_a_purpose_says_it_cannot(db):
    """Nothing to grant: an error message, no record."""
    user = UserFactory()
    browser = browser_of(user)
    assert browser.post(SWITCH, {"turn": "on"}).status_code == 303
    assert "Personalization cannot be turned on at the moment." in text_of(browser.get(PAGE))
    assert not ConsentRecord.objects.filter(user=user).exists()


@pytest.mark.parametrize("data", [{}, {"turn": "maybe"}, {"turn": "1"}, {"confirm": "1"}])
def test_switch_refuses_malformed_posts(interests_customer, data):
    """Without a clear on or off: a readable 400, nothing changed."""
    response = browser_of(interests_customer).post(SWITCH, data)
    assert response.status_code == 400
    assert "Nothing was changed" in text_of(response)
    assert Interest.objects.filter(user=interests_customer).exists()
