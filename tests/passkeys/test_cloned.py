"""A passkey whose signature counter goes backwards (a copy of it may exist) is disabled.

WebAuthn L3 6.1.1: a counter that does not grow signals a cloned authenticator. Refusing the
one attempt is not enough, since each try of the copy raises its counter: the passkey is
disabled, its owner emailed, and only its owner, signed in another way since, re-enables it.
The assertions are built by hand (tests/passkeys/authenticator.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.passkeys.models import Passkey
from accounts.passkeys.selectors import passkey_is_last_way_in, user_has_passkey
from tests.factories import PASSWORD, UserFactory

from .authenticator import SoftAuthenticator
from .conftest import age_authentication, register, sign_in
from .test_browser import add_virtual_authenticator, register_on_passkeys_page, sign_out
from .test_browser import auth_params as browser_auth_params

pytestmark = pytest.mark.django_db


@pytest.fixture
def enrolled(user, authenticator) -> SoftAuthenticator:
    """``user`` registered ``authenticator`` and signed in with it up to counter 5."""
    device_browser = Client()
    device_browser.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    assert register(device_browser, authenticator, name="Work laptop").status_code == 200
    assert sign_in(Client(), authenticator, sign_count=5).status_code == 200
    return authenticator


def copy_used(enrolled: SoftAuthenticator, count: int = 3):
    """The copy of the passkey signs in with a counter below the stored one."""
    return sign_in(Client(), enrolled, sign_count=count)


def test_a_regressed_counter_disables_the_passkey(user, enrolled):
    """The attempt is refused (counter_regressed) and the passkey is disabled for that
    reason; it no longer counts as a passkey of the user."""
    response = copy_used(enrolled)
    assert response.status_code == 400
    assert response.json()["error"] == "counter_regressed"
    passkey = Passkey.objects.get(user=user)
    assert passkey.disabled_at is not None
    assert passkey.disabled_reason == Passkey.DisabledReason.COUNTER_REGRESSED
    assert passkey.sign_count == 5
    assert not user_has_passkey(user)
    assert not passkey_is_last_way_in(passkey)  # a disabled passkey is no way in


@pytest.mark.parametrize("counts", [[6], [4, 5, 6, 7], [100]])
def test_a_disabled_passkey_never_signs_in_even_with_a_growing_counter(
    client, user, enrolled, counts
):
    """After the regression, the copy's retries (and the real device, whose counter is
    ahead) are refused with passkey_disabled, however high the counter: nobody is signed
    in and the stored counter stays."""
    copy_used(enrolled)
    for count in counts:
        response = sign_in(client, enrolled, sign_count=count)
        assert response.status_code == 403
        assert response.json()["error"] == "passkey_disabled"
        assert "disabled" in response.json()["message"]
        assert SESSION_KEY not in client.session
    assert Passkey.objects.get(user=user).sign_count == 5


def test_the_owner_is_emailed_once(user, enrolled, mailoutbox):
    """The customer gets one email naming the passkey, saying it is disabled and how to
    re-enable or remove it; more tries of the copy send no more emails."""
    mailoutbox.clear()  # the "passkey added" notice of the enrolment
    copy_used(enrolled)
    copy_used(enrolled, count=2)
    sign_in(Client(), enrolled, sign_count=9)
    assert len(mailoutbox) == 1
    (message,) = mailoutbox
    assert message.to == [user.email]
    assert "disabled" in message.subject
    assert "“Work laptop”" in message.body
    assert "copy" in message.body
    assert "re-enable or remove" in message.body
    assert "/account/passkeys/" in message.body
    html = message.alternatives[0][0]
    assert "Work laptop" in html


def test_the_passkeys_page_shows_it_disabled_with_re_enable_and_remove(client, user, enrolled):
    """The list marks the passkey disabled and offers "Re-enable" and "Remove"."""
    copy_used(enrolled)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(reverse("passkeys:manage")).content.decode()
    passkey = Passkey.objects.get(user=user)
    assert "data-passkey-disabled" in page
    assert "A copy of this passkey may exist." in page
    assert reverse("passkeys:reenable", args=[passkey.pk]) in page
    assert reverse("passkeys:remove", args=[passkey.pk]) in page


def test_a_session_from_before_the_disabling_cannot_re_enable(client, user, enrolled):
    """A session that signed in before the passkey was disabled (the copy's, say) is asked
    to sign in again: re-enabling is refused and the passkey stays disabled."""
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    copy_used(enrolled)
    passkey = Passkey.objects.get(user=user)
    url = reverse("passkeys:reenable", args=[passkey.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="password"' in page.content.decode()  # asked to confirm it is them
    response = client.post(url)
    assert response.status_code == 400
    assert Passkey.objects.get(pk=passkey.pk).is_disabled


def test_re_enabling_needs_a_recent_sign_in_by_another_method(client, user, enrolled):
    """After an old sign-in the password is asked; a wrong one is refused; the right one
    (a sign-in after the disabling) re-enables the passkey, which signs in again."""
    copy_used(enrolled)
    passkey = Passkey.objects.get(user=user)
    Passkey.objects.filter(pk=passkey.pk).update(disabled_at=timezone.now() - timedelta(seconds=30))
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    age_authentication(client, 3600)
    url = reverse("passkeys:reenable", args=[passkey.pk])

    wrong = client.post(url, {"password": "not-the-password"})
    assert wrong.status_code == 400
    assert Passkey.objects.get(pk=passkey.pk).is_disabled

    response = client.post(url, {"password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("passkeys:manage")
    passkey.refresh_from_db()
    assert passkey.disabled_at is None
    assert passkey.disabled_reason == ""
    assert sign_in(Client(), enrolled, sign_count=6).status_code == 200


def test_a_recent_sign_in_after_the_disabling_re_enables_without_a_password(client, user, enrolled):
    """A sign-in after the disabling, recent enough, re-enables at once."""
    copy_used(enrolled)
    passkey = Passkey.objects.get(user=user)
    Passkey.objects.filter(pk=passkey.pk).update(disabled_at=timezone.now() - timedelta(seconds=30))
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("passkeys:reenable", args=[passkey.pk])
    assert 'name="password"' not in client.get(url).content.decode()
    assert client.post(url).status_code == 302
    assert not Passkey.objects.get(pk=passkey.pk).is_disabled


def test_someone_else_cannot_re_enable_it(client, user, enrolled):
    """Another user's disabled passkey is not found."""
    copy_used(enrolled)
    passkey = Passkey.objects.get(user=user)
    client.force_login(UserFactory(), backend="django.contrib.auth.backends.ModelBackend")
    assert client.post(reverse("passkeys:reenable", args=[passkey.pk])).status_code == 404
    assert Passkey.objects.get(pk=passkey.pk).is_disabled


def test_a_disabled_passkey_can_be_removed(client, user, enrolled):
    """ "Remove" works for a disabled passkey (with a recent sign-in)."""
    copy_used(enrolled)
    passkey = Passkey.objects.get(user=user)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(reverse("passkeys:remove", args=[passkey.pk]))
    assert response.status_code == 302
    assert not Passkey.objects.filter(pk=passkey.pk).exists()


@pytest.mark.browser
def test_the_sign_in_page_does_not_retry_a_refused_passkey_by_itself(
    open_tab, web_client, user, password
):
    """When the server refuses the passkey (here its stored counter is ahead of the
    authenticator's, as for a copy), the sign-in page shows the refusal and starts no new
    ceremony by itself: only pressing the button does, and that one is refused as
    disabled. (Chromium's virtual authenticator answers autofill requests on its own, so
    an automatic retry would show up as more authenticate-begin requests.)"""
    tab = open_tab()
    add_virtual_authenticator(tab)
    register_on_passkeys_page(tab, user.email, password, name="Test laptop")
    sign_out(tab)
    Passkey.objects.filter(user=user).update(sign_count=1000)

    begins: list[str] = []
    tab.page.on(
        "request",
        lambda request: (
            begins.append(request.url)
            if request.url.endswith("/account/passkeys/authenticate/begin")
            else None
        ),
    )
    tab.authorize(browser_auth_params(web_client))
    alert = tab.page.locator("[data-passkey-error]")
    alert.wait_for(state="visible")
    assert "disabled" in alert.inner_text()
    tab.page.wait_for_timeout(3000)  # time enough for retries, were there any
    assert len(begins) == 1
    assert Passkey.objects.get(user=user).is_disabled
    assert "/accounts/login/" in tab.page.url

    tab.page.get_by_role("button", name="Sign in with a passkey").click()
    tab.page.get_by_text("This passkey is disabled because a copy of it may exist.").wait_for()
    tab.page.wait_for_timeout(2000)
    assert len(begins) == 2
    assert "/accounts/login/" in tab.page.url
    assert Passkey.objects.get(user=user).sign_count == 1000
    assert tab.csp_violations == []
