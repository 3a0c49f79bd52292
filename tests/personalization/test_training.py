"""Training over the database (``manage.py personalization_train``): only consenting
customers and their interactions under a personalization purpose are read; interests with
their evidence, recommendations, contact windows and insights are written; the customer's
own and removed interests survive; an incremental run updates only customers with new
activity from the stored neighbours."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from consent.models import ConsentAction, ConsentChannel, Purpose, PurposeKind
from consent.services.ledger import consent_record
from events.models import OutboxEvent
from interactions.models import Interaction
from personalization.models import (
    CatalogueItem,
    Insight,
    Interest,
    InterestSource,
    ItemNeighbour,
    TrainingRun,
)
from personalization.services.interests import interest_add
from personalization.services.training import interaction_rows, personalization_train
from tests.consent.purposes_helpers import make_purpose
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def purposes() -> dict[str, Purpose]:
    return {
        "personalization": make_purpose("personalization", kind=PurposeKind.PERSONALIZATION),
        "analytics": make_purpose("analytics", kind=PurposeKind.ANALYTICS),
    }


def grant(user: Any, purpose: Purpose) -> None:
    consent_record(
        user=user,
        version=purpose.current_version(),
        action=ConsentAction.GRANTED,
        channel=ConsentChannel.PORTAL,
    )


def record(
    user: Any,
    kind: str = "purchase",
    *,
    item: str = "",
    category: str = "",
    brand: str = "",
    days_ago: float = 1,
    hour: int | None = None,
    purpose: str = "personalization",
    **properties: Any,
) -> Interaction:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    if hour is not None:
        at = at.replace(hour=hour, minute=0)
    props = {"item": item, "category": category, "brand": brand, **properties}
    return Interaction.objects.create(
        user=user,
        type=kind,
        channel="web",
        occurred_at=at,
        received_at=at,
        properties={key: value for key, value in props.items() if value != ""},
        purpose=purpose,
        idempotency_key=str(uuid.uuid4()),
    )


def shop(purposes) -> dict[str, Any]:
    """Five consenting customers who buy from Acme (shoes) and then Acme socks; one
    customer who bought Acme shoes only; one who did not consent."""
    customers = [UserFactory(email=f"c{n}@example.com") for n in range(5)]
    for customer in customers:
        grant(customer, purposes["personalization"])
        record(customer, item="acme-shoe", category="Shoes", brand="Acme", days_ago=3, hour=14)
        record(customer, item="acme-sock", category="Socks", brand="Acme", days_ago=2, hour=14)
    newcomer = UserFactory(email="new@example.com")
    grant(newcomer, purposes["personalization"])
    for day in range(3):
        record(
            newcomer, item="acme-shoe", category="Shoes", brand="Acme", days_ago=day + 1, hour=19
        )
    record(newcomer, "page_view", category="Hats", brand="Zeta", days_ago=1, hour=19)
    record(newcomer, "page_view", item="zeta-hat", brand="Zeta", purpose="analytics")
    stranger = UserFactory(email="stranger@example.com")
    record(stranger, item="acme-shoe", category="Shoes", brand="Acme")
    return {"customers": customers, "newcomer": newcomer, "stranger": stranger}


def test_full_run_derives_interests_recommendations_and_windows(purposes):
    people = shop(purposes)
    newcomer = people["newcomer"]
    run = personalization_train(kind="full")
    assert run.error == ""
    assert run.users == 6
    assert run.finished_at is not None

    interests = {(i.kind, i.key): i for i in Interest.objects.filter(user=newcomer)}
    acme = interests[("brand", "Acme")]
    assert acme.score == 1.0
    assert acme.evidence["purchase"] == 3
    assert "last_at" in acme.evidence
    assert interests[("category", "Shoes")].score > interests[("category", "Hats")].score
    # Socks: never touched, but customers with similar tastes bought them.
    assert interests[("category", "Socks")].evidence.get("similar_customers") == 5

    insight = Insight.objects.get(user=newcomer)
    assert insight.recommendations[0]["item"] == "acme-sock"
    assert insight.recommendations[0]["because"] == "acme-shoe"
    assert insight.recommendations[0]["brand"] == "Acme"
    assert insight.interests[0]["name"] in {"Acme", "Shoes"}
    assert insight.time_zone == "America/Sao_Paulo"
    assert len(insight.best_hours) == 3
    assert insight.interactions == 4  # the analytics page view is not used

    assert not Interest.objects.filter(user=people["stranger"]).exists()
    assert not Insight.objects.filter(user=people["stranger"]).exists()
    assert CatalogueItem.objects.get(key="acme-sock").brand == "Acme"
    assert not CatalogueItem.objects.filter(key="zeta-hat").exists()
    assert ItemNeighbour.objects.filter(item="acme-shoe", neighbour="acme-sock").exists()
    assert OutboxEvent.objects.filter(
        type="personalization.interests_changed", user=newcomer
    ).exists()


def test_the_customers_own_and_removed_interests_survive_training(purposes):
    people = shop(purposes)
    newcomer = people["newcomer"]
    personalization_train(kind="full")
    acme = Interest.objects.get(user=newcomer, kind="brand", key="Acme")
    from personalization.services.interests import interest_remove

    interest_remove(user=newcomer, interest_id=acme.pk)
    interest_add(user=newcomer, kind="category", key="Gardening")
    personalization_train(kind="full")
    assert Interest.objects.get(user=newcomer, kind="brand", key="Acme").hidden
    garden = Interest.objects.get(user=newcomer, key="Gardening")
    assert garden.source == InterestSource.CUSTOMER
    shared = Insight.objects.get(user=newcomer).interests
    assert shared[0] == {
        "kind": "category",
        "name": "Gardening",
        "score": 1.0,
        "source": "declared",
    }
    assert "Acme" not in {entry["name"] for entry in shared}


def test_second_full_run_emits_no_event_when_nothing_changed(purposes):
    shop(purposes)
    personalization_train(kind="full")
    before = OutboxEvent.objects.filter(type="personalization.interests_changed").count()
    personalization_train(kind="full")
    after = OutboxEvent.objects.filter(type="personalization.interests_changed").count()
    assert after == before


def test_incremental_run_updates_only_customers_with_new_activity(purposes):
    people = shop(purposes)
    personalization_train(kind="full")
    first = people["customers"][0]
    untouched = people["customers"][1]
    before = Insight.objects.get(user=untouched).computed_at
    record(first, item="zeta-hat", category="Hats", brand="Zeta", days_ago=0)
    run = personalization_train(kind="auto")
    assert run.kind == "incremental"
    assert run.users == 1
    assert Interest.objects.filter(user=first, kind="brand", key="Zeta").exists()
    assert Insight.objects.get(user=untouched).computed_at == before
    # Received within a minute of the last run: read again (a late commit is not missed).
    assert personalization_train(kind="incremental").users == 1
    # A few minutes later, nothing new: the next incremental run reads no customer.
    Interaction.objects.update(received_at=datetime.now(UTC) - timedelta(minutes=5))
    assert personalization_train(kind="incremental").users == 0


def test_incremental_run_picks_up_a_customer_who_just_consented(purposes):
    people = shop(purposes)
    personalization_train(kind="full")
    stranger = people["stranger"]
    grant(stranger, purposes["personalization"])
    run = personalization_train(kind="incremental")
    assert run.users == 1
    assert Interest.objects.filter(user=stranger, key="Acme").exists()
    assert Insight.objects.get(user=stranger).recommendations[0]["item"] == "acme-sock"


def test_full_run_deletes_what_non_consenting_customers_still_had(purposes):
    people = shop(purposes)
    stranger = people["stranger"]
    Interest.objects.create(user=stranger, kind="brand", key="Acme", score=0.5)
    Insight.objects.create(user=stranger)
    personalization_train(kind="full")
    assert not Interest.objects.filter(user=stranger).exists()
    assert not Insight.objects.filter(user=stranger).exists()


def test_purchase_items_list_and_junk_properties():
    rows = list(
        interaction_rows(
            7,
            "purchase",
            1.0,
            {
                "items": [
                    {"item": "a", "category": "Shoes", "brand": "Acme"},
                    {"item": {"nested": 1}, "category": "  Socks  ", "brand": None},
                    "junk",
                    {},
                ]
            },
        )
    )
    assert rows == [
        (7, "a", "Shoes", "Acme", "purchase", 1.0),
        (7, "", "Socks", "", "purchase", 1.0),
    ]
    assert list(interaction_rows(7, "page_view", 1.0, ["not", "a", "dict"])) == []
    assert list(interaction_rows(7, "page_view", 1.0, {"url": "https://x.test/"})) == []


def test_empty_database_trains_without_error(purposes):
    run = personalization_train(kind="full")
    assert (run.users, run.interactions, run.error) == (0, 0, "")


def test_command_reports_and_refuses_two_kinds(purposes):
    shop(purposes)
    out = StringIO()
    call_command("personalization_train", "--full", stdout=out)
    assert "full run" in out.getvalue()
    assert "6 customers" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("personalization_train", "--full", "--incremental")
    assert TrainingRun.objects.count() == 1


def test_a_failed_run_is_recorded_with_its_error(purposes, monkeypatch):
    shop(purposes)
    from personalization.services import training

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(training, "_catalogue_replace", broken)
    with pytest.raises(RuntimeError):
        personalization_train(kind="full")
    run = TrainingRun.objects.get()
    assert run.error == "RuntimeError: disk full"
    with pytest.raises(CommandError, match="disk full"):
        call_command("personalization_train", "--full", stdout=StringIO())


def test_a_withdrawal_during_a_run_wins(purposes, monkeypatch):
    """A customer withdraws after the run read who consents, before it writes: the run
    writes nothing for them (it locks each batch's customers and reads consent again)."""
    from consent.services.ledger import purpose_withdraw
    from personalization.services import training

    people = shop(purposes)
    newcomer = people["newcomer"]
    real = training._derived

    def derived_then_withdraw(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        purpose_withdraw(user=newcomer, purpose=purposes["personalization"], channel="portal")
        return found

    monkeypatch.setattr(training, "_derived", derived_then_withdraw)
    personalization_train(kind="full")
    assert not Interest.objects.filter(user=newcomer).exists()
    assert not Insight.objects.filter(user=newcomer).exists()
    assert Insight.objects.filter(user=people["customers"][0]).exists()


def test_als_runs_are_always_full(purposes, settings):
    """With the ALS model there are no stored neighbours to update a customer from: the
    automatic run after a full one is full again, and recommendations stay."""
    settings.CIAM_PERSONALIZATION_MODEL = "als"
    people = shop(purposes)
    assert personalization_train(kind="auto").kind == "full"
    assert not ItemNeighbour.objects.exists()
    assert personalization_train(kind="auto").kind == "full"
    assert personalization_train(kind="incremental").kind == "full"
    assert Insight.objects.get(user=people["newcomer"]).recommendations


def test_a_second_run_while_one_is_under_way_is_refused(purposes):
    """An unfinished run started less than a few hours ago: the next one refuses to start
    (the command says so); a run left unfinished long ago (a killed process) does not
    block."""
    from personalization.services.training import TrainingBusy

    shop(purposes)
    running = TrainingRun.objects.create(kind="full", model="item_item")
    with pytest.raises(TrainingBusy):
        personalization_train(kind="full")
    with pytest.raises(CommandError, match="under way"):
        call_command("personalization_train", stdout=StringIO())
    TrainingRun.objects.filter(pk=running.pk).update(
        started_at=datetime.now(UTC) - timedelta(hours=7)
    )
    assert personalization_train(kind="full").error == ""


def test_incremental_run_keeps_predicted_interests(purposes):
    """The newcomer's predicted interest (Socks, from similar customers) survives an
    incremental update of theirs, with the same evidence as a full run gives."""
    people = shop(purposes)
    newcomer = people["newcomer"]
    personalization_train(kind="full")
    full = Interest.objects.get(user=newcomer, kind="category", key="Socks")
    record(newcomer, "page_view", category="Hats", brand="Zeta", days_ago=0)
    assert personalization_train(kind="incremental").users == 1
    again = Interest.objects.get(user=newcomer, kind="category", key="Socks")
    assert again.evidence == {"similar_customers": 5}
    assert again.score == full.score
    assert CatalogueItem.objects.get(key="acme-sock").customers == 5
