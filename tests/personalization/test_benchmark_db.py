"""benchmarks/personalization_db.py at a very small size, inside the test database: the shop
is seeded, the three training runs and the claims timings give every row, and the table
prints."""

from __future__ import annotations

import pytest

from benchmarks import personalization_db as bench

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop() -> bench.Shop:
    return bench.shop_seed(customers=30, interactions=300, seed=3)


def test_seed_writes_consenting_customers_and_their_interactions(shop):
    """The seed writes the customers, who all grant the personalization purpose, and the
    interactions under that purpose with the item's category and brand."""
    from interactions.models import Interaction
    from personalization.services.training import consenting_customers

    assert len(shop.user_ids) == 30
    assert set(consenting_customers().purposes) == set(shop.user_ids)
    assert shop.interactions == Interaction.objects.count() == 300
    row = Interaction.objects.first()
    assert row is not None
    assert row.purpose == "personalization"
    assert set(row.properties) == {"item", "category", "brand"}


def test_training_measure_gives_a_row_per_run(shop):
    """A full run derives insights for every customer and the item-item model; the second
    full run reads the same; the incremental one only the 1% with new activity."""
    rows = bench.training_measure(shop, seed=3)

    assert [row.name.split(" (")[0] for row in rows] == [
        "full",
        "full again, nothing changed",
        "incremental",
    ]
    full, again, incremental = rows
    assert full.insights == 30
    assert full.neighbours > 0
    assert full.catalogue > 0
    assert full.events > 0
    assert full.events == sum(full.events_by_type.values())
    assert again.interactions == full.interactions
    assert incremental.customers == 1
    assert all(row.seconds > 0 and row.peak_mb > 0 for row in rows)


def test_claims_measure_times_the_interests_scope_and_prints_the_table(shop, capsys):
    """The interests scope costs queries UserInfo without it does not make; the table ends
    with its verdict lines."""
    training = bench.training_measure(shop, seed=3)
    rows = bench.claims_measure(shop, iterations=5, warmup=1)

    by_name = {row.name: row for row in rows}
    without = by_name["UserInfo claims, openid email"]
    with_scope = by_name["UserInfo claims, openid email interests"]
    cost = by_name["interests scope's cost (paired difference)"]
    assert len(rows) == 6
    assert all(row.count == 5 and row.median_ms > 0 for row in rows if row is not cost)
    assert with_scope.queries > without.queries
    assert cost.queries == with_scope.queries - without.queries
    assert by_name["interests_claim alone"].queries == cost.queries

    bench.print_table(["--customers", "30"], shop, rows, training)
    printed = capsys.readouterr().out
    assert printed.startswith("$ benchmarks/personalization_db.py --customers 30\n")
    assert "interests claims add < 1 ms (median)" in printed
    assert "a full run with nothing changed writes no events" in printed
