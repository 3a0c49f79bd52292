"""Sending sign-in codes is limited per email address in its normal form: other spellings of
one address share its counter (as wrong passwords do, test_password_throttle.py)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.passwordless.test_email_sign_in import start

pytestmark = pytest.mark.django_db

# The domain typed in Unicode, in ASCII (IDNA) and in capitals: one address.
SPELLINGS = ["someone@exämple.com", "someone@xn--exmple-cua.com", "Someone@EXÄMPLE.com"]


def test_every_spelling_of_an_address_shares_its_sending_limit(settings, mailoutbox):
    settings.CIAM_EMAIL_SIGN_IN_RESEND_SECONDS = 0
    settings.CIAM_EMAIL_SIGN_IN_SENDS_PER_EMAIL = 2
    settings.CIAM_EMAIL_SIGN_IN_SENDS_PER_IP = 100
    assert start(Client(REMOTE_ADDR="10.0.0.1"), SPELLINGS[0]).status_code == 302
    assert start(Client(REMOTE_ADDR="10.0.0.2"), SPELLINGS[1]).status_code == 302
    response = start(Client(REMOTE_ADDR="10.0.0.3"), SPELLINGS[2])
    assert response.status_code == 429
    assert len(mailoutbox) == 2


def test_the_resend_cool_down_holds_for_every_spelling(settings, mailoutbox):
    settings.CIAM_EMAIL_SIGN_IN_RESEND_SECONDS = 60
    assert start(Client(REMOTE_ADDR="10.0.0.1"), SPELLINGS[1]).status_code == 302
    response = start(Client(REMOTE_ADDR="10.0.0.2"), SPELLINGS[0])
    assert len(mailoutbox) == 1, response.status_code
