"""The passkeys page: list, rename, remove (recent sign-in, never the last way in)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.passkeys.app_settings import app_settings
from accounts.passkeys.models import Passkey
from accounts.passkeys.selectors import user_has_passkey
from sessions_ctx.constants import SESSION_KEY_AUTH
from tests.factories import UserFactory

from .authenticator import SoftAuthenticator
from .conftest import age_authentication, register

pytestmark = pytest.mark.django_db


def new_device() -> SoftAuthenticator:
    return SoftAuthenticator(rp_id=app_settings.RP_ID, origin=app_settings.ORIGINS[0])


def make_passkey(user, name: str = "Phone", **fields) -> Passkey:
    device = new_device()
    return Passkey.objects.create(
        user=user,
        credential_id=device.credential_id,
        public_key=device.cose_public_key(),
        user_handle=b"h" * 32,
        name=name,
        **fields,
    )


def test_page_needs_sign_in(client):
    """Anonymous visitors are sent to the sign-in page."""
    response = client.get(reverse("passkeys:manage"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_list_shows_name_created_and_last_used(signed_in, user):
    """Each passkey shows its name, creation date and last use (or "Never")."""
    make_passkey(user, "Work laptop")
    make_passkey(user, "Phone", last_used_at=timezone.now(), backed_up=True)
    make_passkey(UserFactory(), "Someone else's")
    html = signed_in.get(reverse("passkeys:manage")).content.decode()
    assert "Work laptop" in html
    assert "Phone" in html
    assert "Someone else" not in html
    assert "Never" in html
    assert "Synced" in html
    assert html.count("<time datetime=") == 3  # two created, one last used


def test_add_controls_need_javascript_and_a_recent_sign_in(signed_in):
    """Fresh sign-in: the add controls (for the script) and no password form; the script is
    external (CSP script-src 'self')."""
    html = signed_in.get(reverse("passkeys:manage")).content.decode()
    assert 'id="passkey-create"' in html
    assert "js/passkeys-create.js" in html
    assert 'name="password"' not in html
    assert "<script>" not in html


def test_old_sign_in_asks_for_the_password_first(signed_in, user, password):
    """After 10 minutes the page asks for the password; the right one unlocks adding."""
    age_authentication(signed_in, 600)
    html = signed_in.get(reverse("passkeys:manage")).content.decode()
    assert 'name="password"' in html
    assert 'id="passkey-create"' not in html
    wrong = signed_in.post(reverse("passkeys:manage"), {"password": "nope"})
    assert wrong.status_code == 400
    assert "not correct" in wrong.content.decode()
    right = signed_in.post(reverse("passkeys:manage"), {"password": password})
    assert right.status_code == 302
    assert 'id="passkey-create"' in signed_in.get(reverse("passkeys:manage")).content.decode()
    assert "pwd" in signed_in.session[SESSION_KEY_AUTH]["amr"]


def test_wrong_passwords_are_rate_limited(signed_in, user, password, settings):
    """Wrong confirmations count against the address: past the limit, 429 even with the
    right password."""
    settings.CIAM_PASSKEYS_MAX_FAILED_ATTEMPTS = 2
    age_authentication(signed_in, 600)
    for _ in range(2):
        assert signed_in.post(reverse("passkeys:manage"), {"password": "x"}).status_code == 400
    blocked = signed_in.post(reverse("passkeys:manage"), {"password": password})
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.content.decode()


def test_rename(signed_in, user):
    """A passkey is renamed; blank names are refused."""
    passkey = make_passkey(user, "Old")
    url = reverse("passkeys:rename", args=[passkey.pk])
    assert 'value="Old"' in signed_in.get(url).content.decode()
    assert signed_in.post(url, {"name": "   "}).status_code == 400
    response = signed_in.post(url, {"name": "  Tablet "})
    assert response.status_code == 302
    passkey.refresh_from_db()
    assert passkey.name == "Tablet"


def test_other_users_passkeys_are_not_found(signed_in):
    """Renaming or removing someone else's passkey: 404, nothing changes."""
    passkey = make_passkey(UserFactory(), "Theirs")
    assert (
        signed_in.post(reverse("passkeys:rename", args=[passkey.pk]), {"name": "x"}).status_code
        == 404
    )
    assert signed_in.post(reverse("passkeys:remove", args=[passkey.pk])).status_code == 404
    passkey.refresh_from_db()
    assert passkey.name == "Theirs"


def test_remove_with_a_recent_sign_in(signed_in, user):
    """Fresh sign-in: confirm and the passkey is gone."""
    passkey = make_passkey(user)
    url = reverse("passkeys:remove", args=[passkey.pk])
    assert 'name="password"' not in signed_in.get(url).content.decode()
    response = signed_in.post(url)
    assert response.status_code == 302
    assert not user_has_passkey(user)


def test_remove_after_an_old_sign_in_needs_the_password(signed_in, user, password):
    """After 10 minutes removing asks for the password; a wrong one removes nothing."""
    passkey = make_passkey(user)
    url = reverse("passkeys:remove", args=[passkey.pk])
    age_authentication(signed_in, 600)
    assert 'name="password"' in signed_in.get(url).content.decode()
    assert signed_in.post(url).status_code == 400
    assert signed_in.post(url, {"password": "wrong"}).status_code == 400
    assert user_has_passkey(user)
    assert signed_in.post(url, {"password": password}).status_code == 302
    assert not user_has_passkey(user)


def test_last_way_in_cannot_be_removed(client):
    """Without a usable password, the only passkey cannot be removed; with a second one, the
    first can."""
    user = UserFactory(password=None)
    assert not user.has_usable_password()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    only = make_passkey(user, "Only")
    url = reverse("passkeys:remove", args=[only.pk])
    assert "only way you can sign in" in client.get(url).content.decode()
    refused = client.post(url)
    assert refused.status_code == 400
    assert Passkey.objects.filter(pk=only.pk).exists()
    make_passkey(user, "Second")
    assert client.post(url).status_code == 302
    assert not Passkey.objects.filter(pk=only.pk).exists()


def test_passwordless_user_with_an_old_sign_in_must_sign_in_again(client):
    """No password to confirm with: removing after an old sign-in links to signing in
    again (with a passkey) instead."""
    user = UserFactory(password=None)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    first = make_passkey(user, "One")
    make_passkey(user, "Two")
    age_authentication(client, 600)
    url = reverse("passkeys:remove", args=[first.pk])
    html = client.get(url).content.decode()
    assert "Sign in again" in html
    refused = client.post(url)
    assert refused.status_code == 403
    assert Passkey.objects.filter(pk=first.pk).exists()


def test_registered_passkey_appears_in_the_list(signed_in, user):
    """A passkey added through the JSON endpoints is listed under its name."""
    assert register(signed_in, new_device(), name="Security key").status_code == 200
    html = signed_in.get(reverse("passkeys:manage")).content.decode()
    assert "Security key" in html
    assert "added" in html  # the confirmation message


def test_other_browser_cannot_remove_without_its_own_recent_sign_in(user, password):
    """Recency is per session: an old session elsewhere does not inherit a fresh one."""
    passkey = make_passkey(user)
    fresh = Client()
    fresh.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    old = Client()
    old.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    age_authentication(old, 3600)
    assert old.post(reverse("passkeys:remove", args=[passkey.pk])).status_code == 400
    assert Passkey.objects.filter(pk=passkey.pk).exists()


def test_rate_limited_confirmation_says_when_to_try_again(signed_in, user, password, settings):
    """The 429 of a refused password confirmation carries Retry-After (RFC 6585 4), like the
    other pages refused for too many failures."""
    settings.CIAM_PASSKEYS_MAX_FAILED_ATTEMPTS = 1
    age_authentication(signed_in, 600)
    assert signed_in.post(reverse("passkeys:manage"), {"password": "x"}).status_code == 400
    blocked = signed_in.post(reverse("passkeys:manage"), {"password": password})
    assert blocked.status_code == 429
    assert 0 < int(blocked["Retry-After"]) <= 300
    passkey = make_passkey(user)
    removal = signed_in.post(reverse("passkeys:remove", args=[passkey.pk]), {"password": password})
    assert removal.status_code == 429
    assert 0 < int(removal["Retry-After"]) <= 300
    assert Passkey.objects.filter(pk=passkey.pk).exists()
