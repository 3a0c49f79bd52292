"""The consent page of the interaction pipeline, and the account page where consent is seen,
withdrawn and proven."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings

from ciam.interaction import PendingAuthorization
from ciam.interaction.pages import cancel_to_client, error_page, step_done, step_page

from .models import ConsentChannel, ConsentRecord, Purpose, PurposeVersion
from .receipts import receipt_jws
from .selectors import (
    ConnectedApp,
    PurposeDecision,
    connected_app,
    connected_applications,
    connected_apps,
    consent_history,
    consent_state,
    purposes_current,
)
from .services.grants import consent_grant, consent_revoke
from .services.ledger import purpose_withdraw, purposes_decide
from .steps import STEP_NAME, ConsentNeeds, consent_needs


def page_language() -> str:
    """The language of the texts shown: pt-BR pages show the pt-BR texts."""
    return "pt-br" if (translation.get_language() or "").lower().startswith("pt") else "en"


class ShownWords:
    """The words of ``version`` in ``language``, as a page shows them."""

    version: PurposeVersion
    language: str

    @property
    def title(self) -> str:
        return self.version.title_for(self.language)

    @property
    def summary(self) -> str:
        return self.version.summary_for(self.language)

    @property
    def text(self) -> str:
        return self.version.text_for(self.language)


@dataclass(frozen=True)
class PurposeOnPage(ShownWords):
    """A purpose version as the consent page shows it, in the page's language."""

    version: PurposeVersion
    required: bool
    language: str

    @property
    def id(self) -> int:
        return self.version.pk

    @property
    def data_categories(self) -> list[str]:
        return list(self.version.purpose.data_categories or [])


def _purposes_on_page(needs: ConsentNeeds, language: str) -> list[PurposeOnPage]:
    return [PurposeOnPage(version, True, language) for version in needs.purposes.required] + [
        PurposeOnPage(version, False, language) for version in needs.purposes.optional
    ]


def _posted_ids(request: HttpRequest, name: str) -> set[int] | None:
    """The version ids posted under ``name``; None when one is not a number (tampered)."""
    values = request.POST.getlist(name)
    if not all(value.isascii() and value.isdigit() and len(value) < 12 for value in values):
        return None
    return {int(value) for value in values}


def _channel(request: HttpRequest, pending: PendingAuthorization) -> str:
    joined = request.user.date_joined.timestamp()  # type: ignore[union-attr]
    return ConsentChannel.SIGNUP if joined >= pending.created_at else ConsentChannel.SIGNIN


@step_page
def ask(request: HttpRequest, pending: PendingAuthorization) -> HttpResponse:
    """One page for the OAuth grant and the purposes (consent/steps.py).

    "Allow" with every required purpose ticked records the grant and each decision in the
    ledger, with the hash of the text shown; "Deny" sends access_denied to the client (RFC
    6749 4.1.2.1). A page that no longer matches what has to be asked (a new version was
    published meanwhile, a tampered or repeated form) records nothing and shows the page
    again with a message.
    """
    application = pending.client
    needs = consent_needs(request, pending)
    if application is None or needs is None:
        return error_page(request, "invalid_client", _("This application no longer exists."))
    if not needs.anything:
        # Asked and answered already (a second submit, another tab): nothing to record.
        return step_done(request, pending, STEP_NAME)
    language = page_language()
    purposes = _purposes_on_page(needs, language)
    error = ""
    status = 400
    if request.method == "POST":
        decision = request.POST.get("decision")
        if decision == "deny" and needs.blocking:
            return cancel_to_client(request, pending)
        shown = _posted_ids(request, "shown")
        accepted = _posted_ids(request, "accept")
        current = {purpose.id for purpose in purposes}
        if decision not in ("allow", "deny"):
            error = _("Choose Allow or Deny.")
            status = 200  # not an error of the form's data: the screen, once more
        elif shown is None or accepted is None or shown != current or not accepted <= shown:
            error = _(
                "What is asked here changed since the page was shown. Review it and choose again."
            )
        elif missing := [p for p in purposes if p.required and p.id not in accepted]:
            error = _("To continue, accept: %(titles)s.") % {
                "titles": ", ".join(purpose.title for purpose in missing)
            }
        else:
            if needs.grant:
                consent_grant(
                    user=request.user,
                    application=application,
                    scopes=pending.scopes,
                    claims=pending.individually_requested_claims,
                )
            purposes_decide(
                user=request.user,
                application=application,
                granted=[p.version for p in purposes if p.id in accepted],
                declined=[p.version for p in purposes if p.id not in accepted],
                channel=_channel(request, pending),
                request=request,
                language=language,
            )
            return step_done(request, pending, STEP_NAME)

    all_scopes = oauth2_settings.SCOPES
    return render(
        request,
        "consent/consent.html",
        {
            "application": application,
            "client_name": pending.client_name,
            "grant": needs.grant,
            "blocking": needs.blocking,
            "scopes": [(scope, all_scopes.get(scope, scope)) for scope in pending.scopes],
            "claims": pending.individually_requested_claims,
            "required_purposes": [p for p in purposes if p.required],
            "optional_purposes": [p for p in purposes if not p.required],
            "pending_id": pending.id,
            "error": error,
        },
        status=status if error else 200,
    )


# --- the account page: see, change and prove consent --------------------------------------


@dataclass(frozen=True)
class PurposeInAccount(ShownWords):
    """A purpose as the account page lists it: its current words and the user's decision."""

    purpose: Purpose
    version: PurposeVersion
    decision: PurposeDecision | None
    language: str

    @property
    def granted(self) -> bool:
        return self.decision is not None and self.decision.granted

    @property
    def outdated(self) -> bool:
        """Granted for older words than the current version."""
        return self.granted and self.decision is not None and self.decision.version != self.version


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    """Your consents: each purpose with your decision, changeable in one click (withdrawing
    is as easy as giving: LGPD art. 8 §5, GDPR art. 7(3)); the applications you allowed,
    removable (their tokens are revoked); the history, each entry with its signed receipt."""
    user = request.user
    language = page_language()
    if request.method == "POST":
        return _account_change(request, language)
    state = consent_state(user=user)
    purposes = [
        PurposeInAccount(version.purpose, version, state.get(version.purpose.key), language)
        for version in purposes_current()
    ]
    return render(
        request,
        "consent/account.html",
        {
            "purposes": purposes,
            "applications": connected_applications(user=user),
            "history": consent_history(user=user)[:50],
        },
    )


def _account_change(request: HttpRequest, language: str) -> HttpResponse:
    action = request.POST.get("action", "")
    key = request.POST.get("purpose", "")[:100]
    back = HttpResponseRedirect(reverse("consent:account"))
    if action in ("withdraw", "grant"):
        purpose = Purpose.objects.filter(key=key, active=True).first()
        version = purpose.current_version() if purpose is not None else None
        if purpose is None or version is None:
            messages.error(request, _("That purpose is not offered any more."))
            return back
        if action == "withdraw":
            purpose_withdraw(
                user=request.user,
                purpose=purpose,
                channel=ConsentChannel.PORTAL,
                request=request,
                language=language,
            )
            messages.success(
                request,
                _("You withdrew your consent: %(title)s.") % {"title": version.title_for(language)},
            )
        else:
            purposes_decide(
                user=request.user,
                application=None,
                granted=[version],
                declined=[],
                channel=ConsentChannel.PORTAL,
                request=request,
                language=language,
            )
            messages.success(
                request,
                _("You gave your consent: %(title)s.") % {"title": version.title_for(language)},
            )
        return back
    if action == "remove_app":
        application = (
            get_application_model()
            .objects.filter(client_id=request.POST.get("client_id", "")[:100])
            .first()
        )
        if (
            application is None
            or consent_revoke(user=request.user, application=application) is None
        ):
            messages.error(request, _("That application has no access to remove."))
        else:
            messages.success(
                request,
                _("%(name)s no longer has access to your account.") % {"name": application.name},
            )
        return back
    messages.error(request, _("Choose what to change."))
    return back


@never_cache
@login_required
@require_GET
def receipt(request: HttpRequest, receipt_id: str) -> HttpResponse:
    """The signed receipt (a JWS anyone can verify against /jwks) of one of your records."""
    try:
        record_id = uuid.UUID(receipt_id)
    except ValueError:
        record_id = None
    user = request.user
    record = (
        ConsentRecord.objects.filter(user=user, receipt_id=record_id).first()
        if record_id is not None and user.is_authenticated
        else None
    )
    if record is None:
        return error_page(request, "not_found", _("There is no such receipt."), 404)
    response = HttpResponse(receipt_jws(record), content_type="application/jwt")
    response["Content-Disposition"] = f'attachment; filename="consent-receipt-{record_id}.jwt"'
    return response


# --- Connected apps: every client holding something of the user, and its removal ----------


def _app_id(value: str) -> int | None:
    """The application id in a URL, or None when it is not one (a tampered link)."""
    return int(value) if value.isascii() and value.isdigit() and len(value) < 12 else None


@dataclass(frozen=True)
class AppOnPage:
    """A connected app as the page shows it: scope and purpose names in the page's words."""

    app: ConnectedApp
    scopes: list[str]
    purposes: list[str]


def _on_page(app: ConnectedApp) -> AppOnPage:
    language = page_language()
    names = oauth2_settings.SCOPES
    return AppOnPage(
        app=app,
        scopes=[str(names.get(scope, scope)) for scope in app.scopes],
        purposes=[purpose.title_for(language) for purpose in app.purposes],
    )


def _app_not_found(request: HttpRequest) -> HttpResponse:
    return error_page(
        request,
        "not_found",
        _("That application has no access to your account (it may have been removed already)."),
        404,
    )


@never_cache
@login_required
@require_GET
def apps(request: HttpRequest) -> HttpResponse:
    """Connected apps: each client that holds a grant, tokens or a code of yours (first-party
    ones too), with the scopes it may use, the purposes you agreed to that it may rely on,
    since when and when it last got a token; each removable."""
    return render(
        request,
        "consent/apps.html",
        {"apps": [_on_page(app) for app in connected_apps(user=request.user)]},
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def app_revoke(request: HttpRequest, app_id: str) -> HttpResponse:
    """Remove an application's access: GET asks to confirm (no script needed), POST revokes
    its grant, tokens and codes (consent.services.grants.consent_revoke) and is audited."""
    application_id = _app_id(app_id)
    app = (
        connected_app(user=request.user, application_id=application_id)
        if application_id is not None
        else None
    )
    if app is None:
        return _app_not_found(request)
    if request.method == "GET":
        return render(
            request,
            "consent/apps.html",
            {"confirm": _on_page(app)},
        )
    if consent_revoke(user=request.user, application=app.application) is None:
        # No standing grant (a first-party client): its tokens went all the same, and no
        # consent_revoked signal recorded it.
        from audit.services import audit_record

        audit_record(
            action="consent.client_revoked",
            actor=request.user,
            target=app.application,
            changes={"client_id": app.application.client_id, "tokens_only": True},
            request=request,
        )
    messages.success(
        request, _("%(name)s no longer has access to your account.") % {"name": app.name}
    )
    return HttpResponseRedirect(reverse("consent:apps"))
