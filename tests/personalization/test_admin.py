"""Personalization in the operators' console: operators with the model permissions edit
segments (their conditions checked on the field, members recomputed with a button) and read,
never change, what training derived; staff without permissions and delegated operators get
nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from events.models import OutboxEvent
from personalization.models import (
    CatalogueItem,
    Insight,
    Interest,
    ItemNeighbour,
    Segment,
    SegmentMembership,
    TrainingRun,
)
from personalization.services.insight import insight_refresh
from tests.console.conftest import Delegation
from tests.factories import UserFactory

HOST = {"HTTP_HOST": "localhost"}
ADD_URL = "/admin/personalization/segment/add/"
ACME = [{"type": "interest", "kind": "brand", "name": "Acme", "min_score": 0.5}]
DERIVED = [
    "segmentmembership",
    "interest",
    "insight",
    "catalogueitem",
    "itemneighbour",
    "trainingrun",
]


def changelist(model: str) -> str:
    return f"/admin/personalization/{model}/"


def segment_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "key": "acme-fans",
        "name_en": "Acme fans",
        "name_pt_br": "Fãs da Acme",
        "description": "",
        "conditions": json.dumps(ACME),
        "active": "on",
    }
    data.update(overrides)
    return data


@pytest.fixture
def derived(segment_customer) -> dict[str, Any]:
    """One row of every derived model, about a customer who likes Acme and is a member."""
    customer = segment_customer()
    customer.email = "ana.fan@example.com"
    customer.save(update_fields=["email"])
    Interest.objects.create(
        user=customer, kind="brand", key="Acme", score=0.9, evidence={"purchase": 3}
    )
    Interest.objects.create(user=customer, kind="category", key="Shoes", score=0.4, hidden=True)
    segment = Segment.objects.create(key="acme-fans", name_en="Acme fans", conditions=ACME)
    SegmentMembership.objects.create(segment=segment, user=customer)
    insight = insight_refresh(
        user=customer,
        emit=False,
        best_hours=[19, 20],
        recommendations=[{"item": "sku-2", "score": 0.5, "because": "sku-1"}],
    )
    CatalogueItem.objects.create(key="sku-1", category="Shoes", brand="Acme", popularity=2.0)
    ItemNeighbour.objects.create(item="sku-1", neighbour="sku-2", score=0.7)
    run = TrainingRun.objects.create(kind="full", model="item_item", population={"hours": [0.1]})
    return {
        "customer": customer,
        "segment": segment,
        "insight": insight,
        "objects": {
            "segmentmembership": SegmentMembership.objects.get().pk,
            "interest": Interest.objects.filter(key="Acme").get().pk,
            "insight": insight.pk,
            "catalogueitem": CatalogueItem.objects.get().pk,
            "itemneighbour": ItemNeighbour.objects.get().pk,
            "trainingrun": run.pk,
        },
    }


def form_errors(response: Any) -> dict[str, list[str]]:
    return dict(response.context["adminform"].form.errors)


# --- Segments -----------------------------------------------------------------------------


def test_an_operator_creates_a_segment(segment_admin_client, segment_purposes):
    """Valid conditions are saved (normalised); the form documents every condition type."""
    page = segment_admin_client.get(ADD_URL, **HOST)
    assert page.status_code == 200
    html = page.content.decode()
    for shape in ("interest", "engaged_within_days", "consent", "profile", "best_hour"):
        assert f"&quot;type&quot;: &quot;{shape}&quot;" in html
    conditions = [{"type": "interest", "kind": "brand", "name": "  Acme "}]
    response = segment_admin_client.post(
        ADD_URL, segment_form(conditions=json.dumps(conditions)), **HOST
    )
    assert response.status_code == 302, form_errors(response)
    segment = Segment.objects.get(key="acme-fans")
    assert segment.conditions == [
        {"type": "interest", "kind": "brand", "name": "Acme", "min_score": 0.0}
    ]
    assert segment.name_pt_br == "Fãs da Acme"


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ("[{not json", "Enter a valid JSON."),
        ('{"type": "consent"}', "JSON list"),
        ("", "JSON list"),
        ('[{"type": "age"}]', "unknown type “age”"),
        ('[{"type": "engaged_within_days", "days": 0}]', "from 1 to 3650"),
        ('[{"type": "consent", "purpose": "nope"}]', "no consent purpose has the key “nope”"),
        ('[{"type": "profile", "field": "nope", "op": "set"}]', "no profile field"),
    ],
)
def test_invalid_conditions_show_the_error_on_the_field(
    segment_admin_client, segment_purposes, conditions, message
):
    """Malformed JSON or conditions: the form again, the error on the conditions field,
    nothing saved."""
    response = segment_admin_client.post(ADD_URL, segment_form(conditions=conditions), **HOST)
    assert response.status_code == 200
    errors = form_errors(response)
    assert list(errors) == ["conditions"]
    assert message in " ".join(errors["conditions"])
    assert not Segment.objects.exists()


def test_the_key_is_fixed_once_created(segment_admin_client, segment_purposes):
    """Claims and events know a segment by its key: the change form shows it read-only;
    changing the conditions says when members follow."""
    segment = Segment.objects.create(key="acme-fans", name_en="Acme fans", conditions=ACME)
    url = f"/admin/personalization/segment/{segment.pk}/change/"
    page = segment_admin_client.get(url, **HOST)
    assert 'name="key"' not in page.content.decode()
    data = segment_form(key="renamed", conditions='[{"type": "engaged_within_days", "days": 7}]')
    response = segment_admin_client.post(url, data, follow=True, **HOST)
    assert response.status_code == 200
    segment.refresh_from_db()
    assert segment.key == "acme-fans"
    assert segment.conditions == [{"type": "engaged_within_days", "days": 7}]
    assert "Recompute members" in response.content.decode()


def fans(segment_customer: Any, count: int = 2) -> list[Any]:
    users = []
    for _ in range(count):
        user = segment_customer()
        Interest.objects.create(user=user, kind="brand", key="Acme", score=0.9)
        users.append(user)
    return users


def test_the_recompute_button_asks_then_recomputes(segment_admin_client, segment_customer):
    """The segment page has the button; opening it only asks; confirming recomputes the
    members (events written) and returns to the segment, whose page links to its members."""
    users = fans(segment_customer)
    segment = Segment.objects.create(key="acme-fans", name_en="Acme fans", conditions=ACME)
    change_url = f"/admin/personalization/segment/{segment.pk}/change/"
    recompute_url = reverse("admin:personalization_segment_recompute_members", args=[segment.pk])
    assert recompute_url in segment_admin_client.get(change_url, **HOST).content.decode()

    dialog = segment_admin_client.get(recompute_url, **HOST)
    assert dialog.status_code == 200
    assert "_form_submitted" in dialog.content.decode()
    assert not SegmentMembership.objects.exists()

    response = segment_admin_client.post(recompute_url, {"_form_submitted": "True"}, **HOST)
    assert response.status_code == 302
    assert response["Location"] == change_url
    assert set(SegmentMembership.objects.values_list("user_id", flat=True)) == {
        user.pk for user in users
    }
    assert OutboxEvent.objects.filter(type="segment.entered").count() == 2
    page = segment_admin_client.get(change_url, **HOST).content.decode()
    assert "acme-fans recomputed: 2 entered, 0 left, 2 members." in page
    assert f"/admin/personalization/segmentmembership/?segment__id__exact={segment.pk}" in page

    fans(segment_customer, 1)
    htmx = segment_admin_client.post(
        recompute_url, {"_form_submitted": "True"}, HTTP_HX_REQUEST="true", **HOST
    )
    assert htmx["HX-Redirect"] == change_url
    assert SegmentMembership.objects.count() == 3


def test_recompute_from_the_list(segment_admin_client, segment_customer):
    """The list action recomputes the selected segments."""
    fans(segment_customer)
    segment = Segment.objects.create(key="acme-fans", name_en="Acme fans", conditions=ACME)
    other = Segment.objects.create(key="late", name_en="Late", conditions=[])
    response = segment_admin_client.post(
        changelist("segment"),
        {"action": "recompute_selected", "_selected_action": [segment.pk]},
        **HOST,
    )
    assert response.status_code == 302
    segment.refresh_from_db()
    other.refresh_from_db()
    assert (segment.members, other.members) == (2, 0)


def test_deleting_a_segment_lets_its_members_leave(segment_admin_client, segment_customer):
    """Deleted from the console, a segment's members get a ``segment.left`` event."""
    fans(segment_customer, 1)
    segment = Segment.objects.create(key="acme-fans", name_en="Acme fans", conditions=ACME)
    segment_admin_client.post(
        reverse("admin:personalization_segment_recompute_members", args=[segment.pk]),
        {"_form_submitted": "True"},
        **HOST,
    )
    url = f"/admin/personalization/segment/{segment.pk}/delete/"
    response = segment_admin_client.post(url, {"post": "yes"}, **HOST)
    assert response.status_code == 302
    assert not Segment.objects.exists()
    assert OutboxEvent.objects.filter(type="segment.left").count() == 1


# --- Derived data -------------------------------------------------------------------------


@pytest.mark.parametrize("model", DERIVED)
def test_derived_data_is_read_only(segment_admin_client, derived, model):
    """Not even a superuser adds, changes or deletes derived rows: the pages show them."""
    pk = derived["objects"][model]
    base = changelist(model)
    assert segment_admin_client.get(base + "add/", **HOST).status_code == 403
    assert segment_admin_client.get(f"{base}{pk}/delete/", **HOST).status_code == 403
    assert segment_admin_client.post(f"{base}{pk}/change/", {}, **HOST).status_code == 403
    page = segment_admin_client.get(f"{base}{pk}/change/", **HOST)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    listing = segment_admin_client.get(base, **HOST).content.decode()
    assert "delete_selected" not in listing


def test_json_is_shown_readably(segment_admin_client, derived):
    """The insight's lists are indented JSON, not Python reprs."""
    insight = derived["insight"]
    page = segment_admin_client.get(changelist("insight") + f"{insight.pk}/change/", **HOST)
    html = page.content.decode()
    assert "&quot;item&quot;: &quot;sku-2&quot;" in html
    assert "&quot;acme-fans&quot;" in html


@pytest.mark.parametrize(
    ("model", "query", "count"),
    [
        ("interest", {"q": "ana.fan@example.com"}, 2),
        ("interest", {"q": "acme"}, 1),
        ("interest", {"kind__exact": "category", "hidden__exact": "1"}, 1),
        ("interest", {"source__exact": "customer"}, 0),
        ("insight", {"q": "ana.fan"}, 1),
        ("insight", {"q": "nobody@example.com"}, 0),
        ("segmentmembership", {"q": "ana.fan"}, 1),
        ("catalogueitem", {"q": "sku"}, 1),
        ("itemneighbour", {"q": "sku-2"}, 1),
        ("trainingrun", {"kind__exact": "full"}, 1),
        ("segment", {"q": "acme", "active__exact": "1"}, 1),
    ],
)
def test_lists_render_with_search_and_filters(segment_admin_client, derived, model, query, count):
    """Every list renders, its search and filters narrowing it."""
    response = segment_admin_client.get(changelist(model), query, **HOST)
    assert response.status_code == 200
    assert response.context["cl"].result_count == count


def test_the_members_list_filters_by_segment(segment_admin_client, derived, segment_customer):
    """The members link of a segment lists its members only."""
    other = Segment.objects.create(key="other", name_en="Other", conditions=[])
    SegmentMembership.objects.create(segment=other, user=segment_customer())
    url = changelist("segmentmembership")
    response = segment_admin_client.get(url, {"segment__id__exact": other.pk}, **HOST)
    assert response.context["cl"].result_count == 1
    assert segment_admin_client.get(url, **HOST).context["cl"].result_count == 2


# --- Who may open these pages -------------------------------------------------------------


def test_staff_without_permissions_get_403(client, derived):
    """A staff account without model permissions opens none of these pages; given the view
    permission on interests, it reads them and still cannot recompute segments."""
    staff = UserFactory(email="staff-member@example.com", is_staff=True)
    client.force_login(staff)
    segment = derived["segment"]
    urls = [changelist(model) for model in ["segment", *DERIVED]]
    urls += [
        ADD_URL,
        reverse("admin:personalization_segment_recompute_members", args=[segment.pk]),
    ]
    for url in urls:
        assert client.get(url, **HOST).status_code == 403, url

    staff.user_permissions.add(
        Permission.objects.get(codename="view_interest"),
        Permission.objects.get(codename="view_segment"),
    )
    staff = get_user_model().objects.get(pk=staff.pk)
    client.force_login(staff)
    assert client.get(changelist("interest"), **HOST).status_code == 200
    assert client.get(changelist("segment"), **HOST).status_code == 200
    recompute = reverse("admin:personalization_segment_recompute_members", args=[segment.pk])
    assert client.post(recompute, {"_form_submitted": "True"}, **HOST).status_code == 403
    assert client.get(ADD_URL, **HOST).status_code == 403


def test_delegated_operators_see_nothing_here(client, derived, delegation: Delegation):
    """A delegated operator, even holding the model permissions, gets no personalization
    page: the data spans every client's customers."""
    operator = delegation.operator
    for codename in ("view_interest", "view_segment", "change_segment"):
        operator.user_permissions.add(Permission.objects.get(codename=codename))
    operator = get_user_model().objects.get(pk=operator.pk)
    client.force_login(operator)
    assert client.get(changelist("interest"), **HOST).status_code == 403
    assert client.get(changelist("segment"), **HOST).status_code == 403
    recompute = reverse(
        "admin:personalization_segment_recompute_members", args=[derived["segment"].pk]
    )
    assert client.post(recompute, {"_form_submitted": "True"}, **HOST).status_code == 403
    assert not Insight.objects.exclude(segments=["acme-fans"]).exists()
