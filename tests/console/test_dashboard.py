"""The operators' dashboard on the admin index: daily figures as SVG charts with data tables,
a range selector, a delegated operator's figures limited to their clients."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from console.dashboard import dashboard_charts
from console.metrics import count_increment
from console.models import DailyCount, Metric
from tests.factories import PASSWORD, UserFactory

HOST = {"HTTP_HOST": "localhost"}


def _chart(charts, key):
    return next(chart for chart in charts if chart.key == key)


def _series(chart, name):
    return next(series.values for series in chart.series if series.name == name)


@pytest.fixture
def seeded(delegation):
    """Sign-ups, counters, risk decisions, ledger decisions and profile values."""
    from consent.models import ConsentAction, ConsentChannel
    from consent.services.ledger import consent_record
    from profiling.models import ProfileField, ProfileValue
    from profiling.standard import standard_fields_ensure
    from sessions_ctx.models import Action, RiskDecision

    from ..consent.purposes_helpers import make_purpose

    now = timezone.now()
    two_days_ago = now - timedelta(days=2)
    get_user_model().objects.filter(pk=delegation.own_customers[0].pk).update(
        date_joined=two_days_ago
    )
    get_user_model().objects.filter(pk=delegation.other_customer.pk).update(
        date_joined=now - timedelta(days=60)
    )
    today = timezone.localdate()
    count_increment(metric=Metric.SIGN_IN_PAGE_VIEW, by=10)
    count_increment(metric=Metric.SIGN_IN_SUCCESS, label="password", by=3)
    count_increment(metric=Metric.SIGN_IN_SUCCESS, label="passkey", by=2)
    count_increment(metric=Metric.SIGN_IN_FAILURE, label="password", by=4)
    count_increment(metric=Metric.SECOND_FACTOR, label="password")
    count_increment(metric=Metric.SIGN_IN_SUCCESS, label="password", day=today - timedelta(40))
    for action, client in (
        (Action.STEP_UP, delegation.own),
        (Action.STEP_UP, delegation.other),
        (Action.BLOCK, delegation.other),
    ):
        RiskDecision.objects.create(
            user=delegation.own_customers[0],
            trigger=RiskDecision.Trigger.SIGN_IN,
            action=action,
            client_id=client.client_id,
        )
    newsletter = make_purpose("newsletter")
    version = newsletter.versions.get()
    customers = delegation.own_customers
    for user, action, client in (
        (customers[0], ConsentAction.GRANTED, delegation.own),
        (customers[1], ConsentAction.GRANTED, delegation.own),
        (customers[2], ConsentAction.DECLINED, delegation.own),
        (delegation.other_customer, ConsentAction.DECLINED, delegation.other),
    ):
        consent_record(
            user=user,
            version=version,
            action=action,
            channel=ConsentChannel.SIGNIN,
            application=client,
        )
    standard_fields_ensure()
    given_name = ProfileField.objects.get(key="given_name")
    ProfileValue.objects.filter(field=given_name).delete()
    for user in (*customers[:2], delegation.other_customer):
        ProfileValue.objects.create(
            user=user, field=given_name, value="Ana", source="account", collected_at=now
        )
    return delegation


def test_figures_for_seeded_data(seeded):
    """Every chart counts what was seeded within the range, and nothing before it."""
    charts = dashboard_charts(days=7)
    assert [chart.key for chart in charts] == [
        "signups",
        "signin_outcomes",
        "signin_methods",
        "conversion",
        "challenges",
        "consents",
        "profile",
    ]
    signups = _chart(charts, "signups")
    assert len(signups.categories) == 7
    # Today: the customers created by the fixture (staff excluded); two days ago: one.
    assert signups.series[0].values[-3] == 1
    assert signups.series[0].values[-1] == 2  # tokened and consented (staff not counted)
    outcomes = _chart(charts, "signin_outcomes")
    assert _series(outcomes, "Success")[-1] == 5
    assert _series(outcomes, "Failure")[-1] == 4
    assert _series(outcomes, "Challenged (step-up)")[-1] == 2
    assert _series(outcomes, "Blocked")[-1] == 1
    methods = _chart(charts, "signin_methods")
    assert methods.categories[:2] == ["Password", "Passkey"]
    assert _series(methods, "Success")[:2] == [3, 2]
    conversion = _chart(charts, "conversion")
    assert conversion.series[0].values[-1] == 50
    assert "5 sign-ins from 10 sign-in page views (50%)" in conversion.note
    challenges = _chart(charts, "challenges")
    assert _series(challenges, "Second factor")[-1] == 1
    consents = _chart(charts, "consents")
    assert consents.categories == ["newsletter"]
    assert _series(consents, "Granted") == [50.0]
    assert _series(consents, "Refused") == [50.0]
    profile = _chart(charts, "profile")
    first_name = next(series for series in profile.series if series.name == "First name")
    customers = get_user_model().objects.filter(is_staff=False).count()
    assert first_name.values[-1] == round(100 * 3 / customers, 1)


def test_delegated_operator_sees_only_their_clients_figures(seeded):
    """A delegated operator's dashboard has the figures that carry a client, for their
    client only: its sign-ins, its risk step-ups, its customers' consent decisions."""
    charts = dashboard_charts(days=7, client_pks=[seeded.own.pk])
    assert [chart.key for chart in charts] == ["client_sign_ins", "challenges", "consents"]
    sign_ins = _chart(charts, "client_sign_ins")
    assert sign_ins.series[0].values[-1] == 2  # the customer and the staff tester
    challenges = _chart(charts, "challenges")
    assert _series(challenges, "Risk step-ups")[-1] == 1
    assert _series(challenges, "Blocked by risk policy")[-1] == 0
    consents = _chart(charts, "consents")
    assert _series(consents, "Granted") == [pytest.approx(66.7)]
    assert "3 decisions" in consents.note


def test_admin_index_shows_the_dashboard(seeded, client):
    """The superuser's admin index draws each chart as SVG with a title and a data table,
    and the range selector marks the current range."""
    client.force_login(seeded.superuser)
    page = client.get("/admin/?days=7", **HOST)
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("<svg viewBox") == 7
    assert "Sign-ins by method" in html
    assert 'id="chart-consents-table"' in html
    assert 'href="?days=7" ' in html
    assert 'aria-current="page">7 days' in html


@pytest.mark.parametrize("days", ["abc", "5", "-7", "", "30.0", "9" * 40, "%00"])
def test_malformed_range_falls_back_to_thirty_days(seeded, client, days):
    """A range that is not 7, 30 or 90 shows the 30-day dashboard, never an error."""
    client.force_login(seeded.superuser)
    page = client.get("/admin/", {"days": days}, **HOST)
    assert page.status_code == 200
    assert page.context["dashboard"]["days"] == 30
    assert len(page.context["dashboard"]["charts"][0].categories) == 30


def test_delegated_operator_index_is_scoped(seeded, client):
    """The delegated operator's index shows their clients' figures only."""
    client.force_login(seeded.operator)
    page = client.get("/admin/?days=90", **HOST)
    assert page.status_code == 200
    dashboard = page.context["dashboard"]
    assert dashboard["scoped"]
    assert [chart.key for chart in dashboard["charts"]] == [
        "client_sign_ins",
        "challenges",
        "consents",
    ]
    assert "Sign-ups per day" not in page.content.decode()


def test_staff_without_permissions_get_no_dashboard(delegation, client):
    """A staff user who administers nothing sees no figures."""
    client.force_login(delegation.staff_on_own)
    page = client.get("/admin/", **HOST)
    assert page.status_code == 200
    assert "dashboard" not in page.context or not page.context.get("dashboard")


def test_dashboard_is_cached_for_a_minute(seeded, client, django_assert_max_num_queries):
    """A second view within a minute reads no figure from the database again."""
    client.force_login(seeded.superuser)
    client.get("/admin/?days=7", **HOST)
    count_increment(metric=Metric.SIGN_IN_FAILURE, label="password", by=100)
    page = client.get("/admin/?days=7", **HOST)
    outcomes = _chart(page.context["dashboard"]["charts"], "signin_outcomes")
    assert _series(outcomes, "Failure")[-1] == 4


def test_sign_in_page_views_and_outcomes_are_counted(
    client, db, django_capture_on_commit_callbacks
):
    """Showing the sign-in page, a wrong password and a right one each count once, the
    sign-in under the password method (each count once the transaction commits)."""
    user = UserFactory(email="counted@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get("/accounts/login/", **HOST).status_code == 200
        client.post("/accounts/login/", {"login": user.email, "password": "wrong-1"}, **HOST)
        client.post("/accounts/login/", {"login": user.email, "password": PASSWORD}, **HOST)

    def total(metric, label=None):
        rows = DailyCount.objects.filter(metric=metric)
        if label is not None:
            rows = rows.filter(label=label)
        return sum(rows.values_list("count", flat=True))

    assert total(Metric.SIGN_IN_PAGE_VIEW) == 1
    assert total(Metric.SIGN_IN_FAILURE, "password") == 1
    assert total(Metric.SIGN_IN_SUCCESS, "password") == 1


def test_counter_increments_in_place(db):
    """Increments of one day's counter add up in one row."""
    for _ in range(3):
        count_increment(metric=Metric.SIGN_IN_PAGE_VIEW)
    row = DailyCount.objects.get(metric=Metric.SIGN_IN_PAGE_VIEW)
    assert row.count == 3
