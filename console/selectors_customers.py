"""Reads of the operators' customer pages: the search of the customer list and what the
customer page shows (profile with provenance, ways to sign in, sessions, consents, security
events, connected apps)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_refresh_token_model,
)
from stdnum.br import cnpj, cpf

from accounts.mfa.selectors import recovery_codes_remaining, totp_device_confirmed
from accounts.passkeys.selectors import passkeys_of
from consent.models import Consent
from consent.selectors import consent_history
from profiling.models import FieldType, Profile, ProfileField, ProfileValue
from profiling.selectors import profile_document
from profiling.validation import field_is_name
from sessions_ctx.models import BrowserSession, RiskDecision, UserDevice

# How many rows each panel of the customer page lists (the newest first).
PANEL_ROWS = 50
# A term longer than this is not a name, an address or a number anybody types.
SEARCH_TERM_MAX_LENGTH = 200
# Fewer digits than this match too many phone numbers and documents to be useful.
MIN_SEARCH_DIGITS = 6
DEFAULT_PHONE_REGION = "BR"

_NON_DIGITS = re.compile(r"\D+")


# --- search -----------------------------------------------------------------------------------


def _phone_candidates(term: str) -> set[str]:
    """The E.164 numbers ``term`` may stand for: as typed with its country code, or in the
    region of each phone field of the schema (Brazil when a field has none)."""
    regions = {
        (region or DEFAULT_PHONE_REGION).strip().upper()
        for region in ProfileField.objects.filter(type=FieldType.PHONE).values_list(
            "phone_region", flat=True
        )
    } or {DEFAULT_PHONE_REGION}
    numbers: set[str] = set()
    for region in regions:
        if region not in phonenumbers.SUPPORTED_REGIONS:
            region = DEFAULT_PHONE_REGION
        try:
            number = phonenumbers.parse(term, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            numbers.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return numbers


def _document_candidates(term: str) -> set[str]:
    """The CPF or CNPJ ``term`` stands for, compact (as profiling stores documents)."""
    found: set[str] = set()
    for module in (cpf, cnpj):
        try:
            found.add(str(module.validate(term)))
        except Exception:  # noqa: S112 - python-stdnum raises ValidationError subclasses
            continue
    return found


def _users_with_values(field_ids: list[int], condition: Q) -> QuerySet[Any]:
    return ProfileValue.objects.filter(condition, field_id__in=field_ids).values("user_id")


def _users_named(keys: list[str], word: str) -> QuerySet[Any]:
    """Users with ``word`` in one of the name fields of their profile (read from
    ``Profile.values`` by key, so that accented names match as text)."""
    condition = Q(pk__in=[])
    for key in keys:
        condition |= Q(**{f"values__{key}__icontains": word})
    return Profile.objects.filter(condition).values("user_id")


def customer_search_condition(term: str) -> Q | None:
    """The users ``term`` finds, as a condition on the user model, or None for an empty
    term. Each word must match the email address (the user's or any of their addresses) or
    a name field of the profile; the whole term also finds a phone number (normalised to
    E.164, e.g. "(11) 91234-5678") and a national document (CPF or CNPJ, formatted or not),
    exactly or by its digits."""
    term = (term or "").strip()[:SEARCH_TERM_MAX_LENGTH]
    if not term:
        return None
    fields = list(ProfileField.objects.all())
    name_keys = [f.key for f in fields if f.type == FieldType.TEXT and field_is_name(f)]
    phone_ids = [f.pk for f in fields if f.type == FieldType.PHONE]
    document_ids = [f.pk for f in fields if f.type == FieldType.DOCUMENT]

    words = Q()
    for word in term.split():
        words &= (
            Q(email__icontains=word)
            | Q(pk__in=EmailAddress.objects.filter(email__icontains=word).values("user_id"))
            | Q(pk__in=_users_named(name_keys, word))
        )
    condition = words

    digits = _NON_DIGITS.sub("", term)
    numbers = _phone_candidates(term) if phone_ids else set()
    if phone_ids and (numbers or len(digits) >= MIN_SEARCH_DIGITS):
        phone = Q(value__in=sorted(numbers)) if numbers else Q()
        if len(digits) >= MIN_SEARCH_DIGITS:
            phone |= Q(value__icontains=digits)
        condition |= Q(pk__in=_users_with_values(phone_ids, phone))
    documents = _document_candidates(term) if document_ids else set()
    if document_ids and (documents or len(digits) >= MIN_SEARCH_DIGITS):
        document = Q(value__in=sorted(documents)) if documents else Q()
        if len(digits) >= MIN_SEARCH_DIGITS:
            document |= Q(value__icontains=digits)
        condition |= Q(pk__in=_users_with_values(document_ids, document))
    return condition


def customer_email_search_condition(term: str) -> Q | None:
    """The users whose account email holds every word of ``term``; None for an empty term."""
    term = (term or "").strip()[:SEARCH_TERM_MAX_LENGTH]
    if not term:
        return None
    condition = Q()
    for word in term.split():
        condition &= Q(email__icontains=word)
    return condition


def customers_search(
    queryset: QuerySet[Any], term: str, *, email_only: bool = False
) -> QuerySet[Any]:
    """``queryset`` narrowed to the customers ``term`` finds (see
    ``customer_search_condition``). ``email_only`` (a delegated operator) matches the
    account's email address alone: names, phone numbers, documents and other addresses the
    customer gave elsewhere are no way to find or test for an account."""
    if email_only:
        condition = customer_email_search_condition(term)
    else:
        condition = customer_search_condition(term)
    return queryset if condition is None else queryset.filter(condition)


# --- the customer page ------------------------------------------------------------------------


@dataclass
class ConnectedClient:
    """What one client holds of the customer now (never a token's value)."""

    name: str
    client_id: str
    scopes: set[str] = field(default_factory=set)
    active_access_tokens: int = 0
    active_refresh_tokens: int = 0
    pending_codes: int = 0
    last_issued_at: Any = None
    consent_granted_at: Any = None
    consent_revoked_at: Any = None

    def seen(self, created: Any) -> None:
        if self.last_issued_at is None or created > self.last_issued_at:
            self.last_issued_at = created

    @property
    def scope_list(self) -> list[str]:
        return sorted(self.scopes)


def _connected_clients(user: Any) -> list[ConnectedClient]:
    now = timezone.now()
    clients: dict[int, ConnectedClient] = {}

    def entry(application: Any) -> ConnectedClient:
        if application.pk not in clients:
            clients[application.pk] = ConnectedClient(
                name=application.name or application.client_id, client_id=application.client_id
            )
        return clients[application.pk]

    for token in get_access_token_model().objects.filter(user=user).select_related("application"):
        if token.application is None:
            continue
        item = entry(token.application)
        item.scopes.update(token.scope.split())
        item.seen(token.created)
        if token.expires > now:
            item.active_access_tokens += 1
    for refresh in (
        get_refresh_token_model().objects.filter(user=user).select_related("application")
    ):
        item = entry(refresh.application)
        item.seen(refresh.created)
        if refresh.revoked is None:
            item.active_refresh_tokens += 1
    for grant in get_grant_model().objects.filter(user=user).select_related("application"):
        item = entry(grant.application)
        item.scopes.update(grant.scope.split())
        item.seen(grant.created)
        if grant.expires > now:
            item.pending_codes += 1
    for consent in Consent.objects.filter(user=user).select_related("application"):
        item = entry(consent.application)
        item.scopes.update(consent.scopes or [])
        item.consent_granted_at = consent.granted_at
        item.consent_revoked_at = consent.revoked_at
    return sorted(clients.values(), key=lambda item: item.name.lower())


def _consent_rows(user: Any, client_ids: set[int] | None = None) -> list[dict[str, Any]]:
    """The consent ledger of ``user``, newest first (only the records of ``client_ids`` when
    given), each purpose titled in the reader's language."""
    language = translation.get_language() or "en"
    records = consent_history(user=user).select_related("application")
    if client_ids is not None:
        records = records.filter(application_id__in=client_ids)
    return [
        {
            "purpose": record.version.title_for(language) or record.purpose.key,
            "version": record.version.number,
            "action": record.get_action_display(),
            "action_value": record.action,
            "channel": record.get_channel_display(),
            "client": (record.application.name or record.application.client_id)
            if record.application
            else record.client_id,
            "client_id": record.application.client_id if record.application else record.client_id,
            "at": record.at,
            "language": record.language,
            "receipt_id": record.receipt_id,
        }
        for record in records[:PANEL_ROWS]
    ]


def audit_entries_of(user: Any) -> list[Any] | None:
    """The audit log's entries about ``user``, newest first; None when this installation
    has no audit log."""
    try:
        from audit.models import AuditEntry
    except ImportError:
        return None
    return list(AuditEntry.objects.filter(subject=user).order_by("-created_at")[:PANEL_ROWS])


def customer_overview(*, user: Any, client_ids: set[int] | None = None) -> dict[str, Any]:
    """Everything the customer page shows about ``user``, read once. With ``client_ids``
    (a delegated operator's clients) the page holds what these clients have of the customer
    only: the profile fields they require or that they collected (without where the other
    fields came from), the primary email address, whether a password, an authenticator app
    and social sign-in are set, and the consents, connected apps and risk decisions of these
    clients. Sessions, devices, passkeys, social account ids, other addresses and the audit
    log are left out (they carry no client): the operator learns nothing of the customer's
    other clients."""
    if client_ids is None:
        return _customer_overview(user)
    return _delegated_overview(user, set(client_ids))


def _delegated_profile(user: Any, client_ids: set[int]) -> dict[str, Any] | None:
    """The profile fields these clients require (profiling's per-client settings) or that
    one of them collected; the client column names one of these clients or nobody."""
    from oauth2_provider.models import get_application_model

    from profiling.models import ClientProfileSettings

    document = profile_document(user=user)
    if document is None:
        return None
    required = set(
        ClientProfileSettings.objects.filter(application_id__in=client_ids).values_list(
            "required_fields__key", flat=True
        )
    )
    own = set(
        get_application_model()
        .objects.filter(pk__in=client_ids)
        .values_list("client_id", flat=True)
    )
    fields: dict[str, Any] = {}
    for key, entry in document["fields"].items():
        if entry.get("value") is None:
            continue
        collected_by_own = entry.get("client") in own
        if key not in required and not collected_by_own:
            continue
        shown = dict(entry)
        if not collected_by_own:
            shown["client"] = None
            shown["source_detail"] = ""
        fields[key] = shown
    if not fields:
        return None
    return {"fields": fields, "updated_at": None, "questions": []}


def _delegated_overview(user: Any, client_ids: set[int]) -> dict[str, Any]:
    from oauth2_provider.models import get_application_model

    allowed = set(
        get_application_model()
        .objects.filter(pk__in=client_ids)
        .values_list("client_id", flat=True)
    )
    primary = customer_primary_address(user=user)
    totp = totp_device_confirmed(user=user)
    social = [
        {"provider": account.provider, "uid": "", "date_joined": account.date_joined}
        for account in SocialAccount.objects.filter(user=user).order_by("provider")
    ]
    return {
        "delegated": True,
        "profile": _delegated_profile(user, client_ids),
        "sign_in": {
            "password": user.has_usable_password(),
            "passkeys": [],
            "totp": totp,
            "recovery_codes_left": 0,
            "social_accounts": social,
            "email_addresses": [primary] if primary is not None else [],
        },
        "primary_email": primary,
        "sessions": [],
        "active_sessions": 0,
        "devices": [],
        "consents": _consent_rows(user, client_ids),
        "risk_decisions": list(
            RiskDecision.objects.filter(user=user, client_id__in=allowed)[:PANEL_ROWS]
        ),
        "audit_entries": None,
        "connected_clients": [
            item for item in _connected_clients(user) if item.client_id in allowed
        ],
    }


def _customer_overview(user: Any) -> dict[str, Any]:
    totp = totp_device_confirmed(user=user)
    return {
        "profile": profile_document(user=user),
        "sign_in": {
            "password": user.has_usable_password(),
            "passkeys": list(passkeys_of(user)),
            "totp": totp,
            "recovery_codes_left": recovery_codes_remaining(user=user) if totp else 0,
            "social_accounts": list(SocialAccount.objects.filter(user=user).order_by("provider")),
            "email_addresses": list(
                EmailAddress.objects.filter(user=user).order_by("-primary", "email")
            ),
        },
        "primary_email": customer_primary_address(user=user),
        "sessions": list(BrowserSession.objects.filter(user=user)[:PANEL_ROWS]),
        "active_sessions": BrowserSession.objects.filter(user=user, ended_at__isnull=True).count(),
        "devices": list(UserDevice.objects.filter(user=user).order_by("-last_seen_at")),
        "consents": _consent_rows(user),
        "risk_decisions": list(RiskDecision.objects.filter(user=user)[:PANEL_ROWS]),
        "audit_entries": audit_entries_of(user),
        "connected_clients": _connected_clients(user),
    }


def customer_primary_address(*, user: Any) -> EmailAddress | None:
    """The customer's primary email address (allauth's), else the one of their email."""
    addresses = EmailAddress.objects.filter(user=user)
    return (
        addresses.filter(primary=True).first() or addresses.filter(email__iexact=user.email).first()
    )
