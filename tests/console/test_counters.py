"""The dashboard's counters never break the request that feeds them: a database error is
logged and the request goes on; inside a transaction the count waits for the commit;
operators signing in to the admin are not counted as customers; a failure is labelled by
its method only when the credentials tell it."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.signals import user_login_failed
from django.db import DatabaseError
from django.test import RequestFactory

from console import metrics
from console.metrics import count_record
from console.models import DailyCount, Metric
from tests.factories import PASSWORD, UserFactory

HOST = {"HTTP_HOST": "localhost"}
pytestmark = pytest.mark.django_db


def _total(metric, label=None) -> int:
    rows = DailyCount.objects.filter(metric=metric)
    if label is not None:
        rows = rows.filter(label=label)
    return sum(rows.values_list("count", flat=True))


def test_a_failing_counter_is_logged_not_raised(
    monkeypatch, caplog, client, django_capture_on_commit_callbacks
):
    """With the counter table failing, the sign-in page and a wrong password still answer
    normally, and the failure is logged."""

    def broken(**kwargs):
        raise DatabaseError("counter table is locked")

    monkeypatch.setattr(metrics, "count_increment", broken)
    user = UserFactory(email="counted@example.com")
    with (
        caplog.at_level(logging.ERROR, logger="console.metrics"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert client.get("/accounts/login/", **HOST).status_code == 200
        response = client.post(
            "/accounts/login/", {"login": user.email, "password": "wrong-1"}, **HOST
        )
    assert response.status_code == 200
    assert any("not incremented" in record.getMessage() for record in caplog.records)


def test_inside_a_transaction_the_count_waits_for_the_commit(
    django_capture_on_commit_callbacks,
):
    """In an atomic block nothing is written until the commit."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        count_record(metric=Metric.SIGN_IN_PAGE_VIEW)
    assert _total(Metric.SIGN_IN_PAGE_VIEW) == 0
    assert len(callbacks) == 1
    callbacks[0]()
    assert _total(Metric.SIGN_IN_PAGE_VIEW) == 1


def test_admin_sign_ins_are_not_customer_sign_ins(client, django_capture_on_commit_callbacks):
    """An operator's wrong and right password on the admin's sign-in page count neither as
    a customer failure nor as a customer sign-in; the hosted page's still count."""
    from django.contrib.auth import get_user_model

    operator = get_user_model().objects.create_superuser(
        email="root@example.com", password=PASSWORD
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/login/", {"username": operator.email, "password": "nope"}, **HOST)
        client.post("/admin/login/", {"username": operator.email, "password": PASSWORD}, **HOST)
    assert _total(Metric.SIGN_IN_FAILURE) == 0
    assert _total(Metric.SIGN_IN_SUCCESS) == 0
    customer = UserFactory(email="customer@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/login/", {"login": customer.email, "password": "nope"}, **HOST)
    assert _total(Metric.SIGN_IN_FAILURE, "password") == 1


def test_failure_without_a_password_is_not_labelled_password(
    django_capture_on_commit_callbacks,
):
    """A failure whose credentials carry no password is counted under "other"."""
    request = RequestFactory().post("/accounts/login/code/confirm/")
    with django_capture_on_commit_callbacks(execute=True):
        user_login_failed.send(sender=None, credentials={"email": "x@example.com"}, request=request)
    assert _total(Metric.SIGN_IN_FAILURE, "other") == 1
    assert _total(Metric.SIGN_IN_FAILURE, "password") == 0
