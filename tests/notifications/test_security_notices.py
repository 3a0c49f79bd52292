"""Security notices: after every change of how an account signs in, its owner gets an email
in the language of the page that made the change (pt-BR or English), subject and body."""

from __future__ import annotations

import re

import pytest
from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.core import mail
from django.dispatch import Signal
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.mfa import signals as mfa_signals
from accounts.mfa.notices import email_added_notify
from accounts.passkeys.signals import passkey_registered, passkey_removed
from tests.factories import PASSWORD, UserFactory
from tests.mfa.conftest import enrol, next_totp_code, totp_code_for_key
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.conftest import register
from tests.passkeys.test_management import make_passkey

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-horse-staple-42"
LANGUAGES = ["en", "pt-br"]
# What every notice says, by language: the warning and the details of the change.
COMMON = {
    "en": ["If you did not make this change", "Details of the change:", "IP address: 127.0.0.1"],
    "pt-br": ["Se não foi você", "Detalhes da alteração:", "Endereço IP: 127.0.0.1"],
}


def browser(language: str) -> Client:
    """A test client whose pages are in ``language`` (the language cookie)."""
    client = Client(HTTP_USER_AGENT="NoticeTest/1.0")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def signed_in(language: str, user) -> Client:
    client = browser(language)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def with_both_factors(language: str, enrolled) -> Client:
    client = signed_in(language, enrolled.user)
    response = client.post("/account/mfa/verify/", {"code": next_totp_code(enrolled.device)})
    assert response.status_code == 302, response.content
    return client


def only_notice(to: str):
    """The one email in the outbox, to ``to``, with both bodies."""
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    message = mail.outbox[0]
    assert message.to == [to]
    html = dict((mime, body) for body, mime in message.alternatives).get("text/html", "")
    return message.subject, message.body, html


def assert_notice(language: str, to: str, subject: str, sentence: str) -> None:
    """One notice to ``to``: ``subject`` and ``sentence`` (text and HTML), the warning and
    the change's address and browser, no untranslated template left."""
    got_subject, text, html = only_notice(to)
    assert subject in got_subject, got_subject
    assert sentence in text, text
    assert sentence.replace("“", "&ldquo;") in html or sentence in html, html
    for common in COMMON[language]:
        assert common in text, text
    assert "NoticeTest/1.0" in text
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", text), text
    assert "{%" not in text
    assert "{{" not in text


@pytest.fixture
def received() -> dict[str, list[dict]]:
    """The second-factor and passkey signals sent during the test, with their arguments."""
    seen: dict[str, list[dict]] = {}
    handlers = []
    signals: dict[str, Signal] = {
        "second_factor_enabled": mfa_signals.second_factor_enabled,
        "second_factor_disabled": mfa_signals.second_factor_disabled,
        "recovery_codes_generated": mfa_signals.recovery_codes_generated,
        "passkey_registered": passkey_registered,
        "passkey_removed": passkey_removed,
    }
    for name, signal in signals.items():

        def handler(sender, _name=name, **kwargs):
            seen.setdefault(_name, []).append(kwargs)

        signal.connect(handler, weak=False)
        handlers.append((signal, handler))
    yield seen
    for signal, handler in handlers:
        signal.disconnect(handler)


PASSWORD_CHANGED = {
    "en": ("Your password was changed", "The password of your account was changed."),
    "pt-br": ("Sua senha foi alterada", "A senha da sua conta foi alterada."),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_password_change_is_notified_in_the_page_language(language):
    """Changing the password (allauth's page) emails the owner, in the page's language."""
    user = UserFactory()
    client = signed_in(language, user)
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content.decode()[-1500:]
    assert_notice(language, user.email, *PASSWORD_CHANGED[language])


PASSWORD_RESET = {
    "en": ("Your password was reset", "The password of your account was reset."),
    "pt-br": ("Sua senha foi redefinida", "A senha da sua conta foi redefinida."),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_password_reset_is_notified_in_the_page_language(language):
    """Setting a new password from the emailed reset link emails the owner."""
    user = UserFactory()
    client = browser(language)
    key = f"{user_pk_to_url_str(user)}-{default_token_generator.make_token(user)}"
    response = client.get(f"/accounts/password/reset/key/{key}/")
    assert response.status_code == 302, response.status_code
    response = client.post(
        response["Location"], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302, response.content.decode()[-1500:]
    assert_notice(language, user.email, *PASSWORD_RESET[language])


PASSWORD_SET = {
    "en": ("A password was set for your account", "A password was set for your account."),
    "pt-br": (
        "Uma senha foi definida para a sua conta",
        "Uma senha foi definida para a sua conta.",
    ),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_password_set_is_notified_in_the_page_language(language):
    """A customer without a password who sets one is told."""
    user = UserFactory(password=None)
    client = signed_in(language, user)
    response = client.post(
        "/accounts/password/set/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302, response.content.decode()[-1500:]
    assert_notice(language, user.email, *PASSWORD_SET[language])


EMAIL_REMOVED = {
    "en": ("An email address was removed", "The email address other@example.com was removed"),
    "pt-br": ("Um endereço de e-mail foi removido", "O endereço de e-mail other@example.com"),
}
EMAIL_CHANGED = {
    "en": ("Your email address was changed", "was changed from {old} to other@example.com"),
    "pt-br": (
        "Seu endereço de e-mail foi alterado",
        "foi alterado de {old} para other@example.com",
    ),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_email_removed_and_made_primary_are_notified(language):
    """Removing an address tells the primary one; making another address primary tells the
    previous primary address."""
    user = UserFactory()
    EmailAddress.objects.filter(user=user).delete()
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    other = EmailAddress.objects.create(
        user=user, email="other@example.com", primary=False, verified=True
    )
    client = signed_in(language, user)

    response = client.post("/accounts/email/", {"email": other.email, "action_primary": ""})
    assert response.status_code == 302, response.content.decode()[-1500:]
    subject, sentence = EMAIL_CHANGED[language]
    assert_notice(language, user.email, subject, sentence.format(old=user.email))

    mail.outbox.clear()
    EmailAddress.objects.filter(pk=other.pk).update(primary=False)
    EmailAddress.objects.filter(user=user, email=user.email).update(primary=True)
    response = client.post("/accounts/email/", {"email": other.email, "action_remove": ""})
    assert response.status_code == 302, response.content.decode()[-1500:]
    assert_notice(language, user.email, *EMAIL_REMOVED[language])


EMAIL_ADDED = {
    "en": (
        "An email address was added to your account",
        "The email address new@example.com was added to your account.",
    ),
    "pt-br": (
        "Um endereço de e-mail foi adicionado à sua conta",
        "O endereço de e-mail new@example.com foi adicionado à sua conta.",
    ),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_added_email_address_is_notified_to_the_primary_one(language):
    """email_added_notify (allauth's email_added) writes to the primary address, not to the
    new one, and links to the email addresses page (on the issuer, whatever host the request
    named)."""
    user = UserFactory()
    added = EmailAddress.objects.create(user=user, email="new@example.com", verified=True)
    request = RequestFactory().get("/", HTTP_USER_AGENT="NoticeTest/1.0")
    with translation.override(language):
        email_added_notify(request=request, user=user, email_address=added)
    assert_notice(language, user.email, *EMAIL_ADDED[language])
    assert settings.CIAM_ISSUER.rstrip("/") + "/accounts/email/" in mail.outbox[0].body
    assert "testserver" not in mail.outbox[0].body


def test_the_only_address_gets_no_added_notice():
    """The first address of an account is its own confirmation: no notice."""
    user = UserFactory()
    EmailAddress.objects.filter(user=user).delete()
    only = EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    email_added_notify(request=RequestFactory().get("/"), user=user, email_address=only)
    assert mail.outbox == []


TOTP_ON = {
    "en": ("Two-step verification is on", "Two-step verification was turned on"),
    "pt-br": (
        "A verificação em duas etapas está ativada",
        "A verificação em duas etapas foi ativada",
    ),
}
TOTP_OFF = {
    "en": ("Two-step verification is off", "Two-step verification was turned off"),
    "pt-br": (
        "A verificação em duas etapas está desativada",
        "A verificação em duas etapas foi desativada",
    ),
}
NEW_CODES = {
    "en": ("New recovery codes were made", "New recovery codes were made for your account."),
    "pt-br": (
        "Novos códigos de recuperação foram gerados",
        "Novos códigos de recuperação foram gerados para a sua conta.",
    ),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_second_factor_on_new_codes_off_are_notified_and_signalled(language, received):
    """Turning two-step verification on sends one notice (the first codes come with it) and
    both signals; new recovery codes and turning it off send one each."""
    user = UserFactory()
    client = signed_in(language, user)
    page = client.get("/account/mfa/totp/").content.decode()
    key = re.search(r'id="totp-key"[^>]*>([A-Z2-7 ]+)<', page).group(1)
    response = client.post("/account/mfa/totp/", {"code": totp_code_for_key(key)})
    assert response.status_code == 302, response.content.decode()[-1500:]
    assert_notice(language, user.email, *TOTP_ON[language])
    assert "/account/mfa/" in mail.outbox[0].body
    assert [e["user"] for e in received["second_factor_enabled"]] == [user]
    assert received["second_factor_enabled"][0]["request"] is not None
    assert received["recovery_codes_generated"][0]["initial"] is True

    mail.outbox.clear()
    client.get("/account/mfa/recovery-codes/")  # the codes shown once
    response = client.post("/account/mfa/recovery-codes/", {"password": PASSWORD})
    assert response.status_code == 302
    assert_notice(language, user.email, *NEW_CODES[language])
    assert received["recovery_codes_generated"][-1]["initial"] is False
    assert received["recovery_codes_generated"][-1]["count"] == 10

    mail.outbox.clear()
    response = client.post("/account/mfa/totp/remove/", {"password": PASSWORD})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert_notice(language, user.email, *TOTP_OFF[language])
    assert [e["user"] for e in received["second_factor_disabled"]] == [user]


def test_changes_without_a_request_send_no_mail_but_signal(received):
    """A command or fixture (no request) changes codes silently, still signalled."""
    enrol(UserFactory())
    assert mail.outbox == []
    assert received["recovery_codes_generated"][0]["request"] is None


def test_notices_can_be_turned_off(settings):
    """ACCOUNT_EMAIL_NOTIFICATIONS = False silences the provider's notices too."""
    settings.ACCOUNT_EMAIL_NOTIFICATIONS = False
    enrolled = enrol(UserFactory())
    client = with_both_factors("en", enrolled)
    assert client.post("/account/mfa/totp/remove/", {"password": PASSWORD}).status_code == 302
    assert mail.outbox == []


PASSKEY_ADDED = {
    "en": ("A passkey was added to your account", "A passkey named “Work laptop” was added"),
    "pt-br": (
        "Uma chave de acesso foi adicionada à sua conta",
        "Uma chave de acesso chamada “Work laptop” foi adicionada",
    ),
}
PASSKEY_REMOVED = {
    "en": ("A passkey was removed from your account", "The passkey “Phone” was removed"),
    "pt-br": (
        "Uma chave de acesso foi removida da sua conta",
        "A chave de acesso “Phone” foi removida",
    ),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_passkey_added_and_removed_are_notified(language, received):
    """Registering a passkey and removing one each email the owner, naming the passkey."""
    from accounts.passkeys.app_settings import app_settings

    user = UserFactory()
    client = signed_in(language, user)
    authenticator = SoftAuthenticator(rp_id=app_settings.RP_ID, origin=app_settings.ORIGINS[0])
    response = register(client, authenticator, name="Work laptop")
    assert response.status_code == 200, response.content
    assert_notice(language, user.email, *PASSKEY_ADDED[language])
    assert "/account/passkeys/" in mail.outbox[0].body
    assert len(received["passkey_registered"]) == 1

    mail.outbox.clear()
    phone = make_passkey(user, "Phone")
    response = client.post(reverse("passkeys:remove", args=[phone.pk]))
    assert response.status_code == 302
    assert_notice(language, user.email, *PASSKEY_REMOVED[language])
    assert len(received["passkey_removed"]) == 1


def test_the_profile_language_wins_over_the_page_language():
    """A customer whose profile says pt-BR (the locale claim) is told in Portuguese, even
    when the change was made on a page in English; an unknown language falls back to the
    page's."""
    from profiling.services.values import profile_update

    user = UserFactory()
    profile_update(user=user, changes={"locale": "pt-BR"}, source="account")
    client = signed_in("en", user)
    page = client.get("/account/mfa/totp/").content.decode()
    key = re.search(r'id="totp-key"[^>]*>([A-Z2-7 ]+)<', page).group(1)
    assert client.post("/account/mfa/totp/", {"code": totp_code_for_key(key)}).status_code == 302
    assert_notice("pt-br", user.email, *TOTP_ON["pt-br"])

    mail.outbox.clear()
    profile_update(user=user, changes={"locale": "de-DE"}, source="account")
    assert client.post("/account/mfa/totp/remove/", {"password": PASSWORD}).status_code == 302
    assert_notice("en", user.email, *TOTP_OFF["en"])
