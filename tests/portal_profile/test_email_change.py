"""Changing the email address (/accounts/email/, allauth with ACCOUNT_CHANGE_EMAIL): the new
address gets a code and becomes the sign-in address only once the code is confirmed; the
old address is then removed and told of the change."""

from __future__ import annotations

import re

from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from tests.factories import UserFactory

EMAIL_PAGE = "/accounts/email/"
CODE_PAGE = "/accounts/confirm-email/"
CODE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4})\b")


def _start(client, new: str):
    response = client.post(EMAIL_PAGE, {"email": new, "action_add": ""})
    assert response.status_code == 302, response.content.decode()[:500]
    assert response["Location"] == CODE_PAGE
    return response


def test_change_is_verified_before_the_switch_and_the_old_address_told(client, db):
    """The code goes to the new address only; until it is typed the old address stays the
    primary one; after it, the new one is primary and verified, the old one removed and
    emailed a notice."""
    user = UserFactory(email="old@example.com")
    client.force_login(user)
    page = client.get(EMAIL_PAGE)
    assert page.status_code == 200
    assert "old@example.com" in page.content.decode()

    _start(client, "new@example.com")
    assert [m.to for m in mail.outbox] == [["new@example.com"]]
    code = CODE.search(mail.outbox[0].body).group(1)
    # Nothing switched yet: the new address is not even stored.
    assert list(EmailAddress.objects.filter(user=user).values_list("email", "primary")) == [
        ("old@example.com", True)
    ]
    user.refresh_from_db()
    assert user.email == "old@example.com"

    assert client.get(CODE_PAGE).status_code == 200
    response = client.post(CODE_PAGE, {"code": code})
    assert response.status_code == 302
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.verified, address.primary) == ("new@example.com", True, True)
    user.refresh_from_db()
    assert user.email == "new@example.com"
    notice = mail.outbox[-1]
    assert notice.to == ["old@example.com"]
    assert "new@example.com" in notice.body


def test_wrong_codes_change_nothing(client, db):
    """Wrong or malformed codes re-show the code page; after too many the change is
    dropped; the old address stays primary; never a server error."""
    user = UserFactory(email="keep@example.com")
    client.force_login(user)
    _start(client, "other@example.com")
    for attempt in ("AAAA-AAAA", "", "x" * 500, "<script>"):
        response = client.post(CODE_PAGE, {"code": attempt})
        assert response.status_code in (200, 302, 400)
    assert client.get(EMAIL_PAGE).status_code == 200
    address = EmailAddress.objects.get(user=user, primary=True)
    assert address.email == "keep@example.com"
    assert not EmailAddress.objects.filter(email="other@example.com").exists()


def test_address_of_another_account_is_not_leaked(client, db):
    """An address another account uses looks the same to the customer (a code page, the
    code mailed to that address, whose owner alone reads it); even with that code the
    address never moves to a second account."""
    other = UserFactory(email="taken@example.com")
    user = UserFactory(email="mine@example.com")
    client.force_login(user)
    _start(client, "taken@example.com")
    assert [m.to for m in mail.outbox] == [["taken@example.com"]]
    code = CODE.search(mail.outbox[0].body)
    client.post(CODE_PAGE, {"code": code.group(1) if code else "AAAA-AAAA"})
    assert EmailAddress.objects.get(user=user, primary=True).email == "mine@example.com"
    assert EmailAddress.objects.get(email="taken@example.com").user == other


def test_unverified_address_cannot_be_made_primary(client, db):
    """An unverified address on the account is never made primary by a post."""
    user = UserFactory(email="first@example.com")
    EmailAddress.objects.create(user=user, email="unproven@example.com", verified=False)
    client.force_login(user)
    response = client.post(EMAIL_PAGE, {"email": "unproven@example.com", "action_primary": ""})
    assert response.status_code in (200, 302)
    assert EmailAddress.objects.get(user=user, primary=True).email == "first@example.com"
    user.refresh_from_db()
    assert user.email == "first@example.com"


def test_malformed_posts(client, db):
    """A malformed address, an unknown one, an empty post or a missing CSRF token is a
    readable answer, never a 500."""
    user = UserFactory(email="me@example.com")
    client.force_login(user)
    bad = client.post(EMAIL_PAGE, {"email": "not an address", "action_add": ""})
    assert bad.status_code == 200
    assert "errorlist" in bad.content.decode() or "valid" in bad.content.decode()
    assert (
        client.post(EMAIL_PAGE, {"email": "ghost@example.com", "action_primary": ""})["Location"]
        == EMAIL_PAGE
    )
    assert client.post(EMAIL_PAGE, {}).status_code == 302
    assert client.post(CODE_PAGE, {"code": "AAAA-AAAA"}).status_code in (200, 302, 400)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(EMAIL_PAGE, {"email": "x@example.com", "action_add": ""}).status_code == 403
    assert EmailAddress.objects.get(user=user).email == "me@example.com"
    assert mail.outbox == []
