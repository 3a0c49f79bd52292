"""The operators' customer administration: the user list (searched by email, name, phone or
national document) and the customer page (profile with provenance, ways to sign in,
sessions, consents, security events, connected apps) with the actions an operator runs on
an account. Registered by console/admin_customers.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.admin import ModelAdmin  # type: ignore[import-untyped]
from unfold.forms import (  # type: ignore[import-untyped]
    AdminPasswordChangeForm,
    UserChangeForm,
    UserCreationForm,
)

from accounts.passkeys.models import Passkey
from accounts.privacy.services import user_tokens_revoke

from .admin_thirdparty import SecretLookupGuardMixin
from .delegation import DelegatedCustomerAdminMixin, delegated_clients, is_delegated_operator
from .selectors_customers import customer_overview, customers_search
from .services import customers as services
from .services.customers import CustomerActionRefused

# Fields only superusers change: who is an operator and what they may do, and who may sign in
# (disabling an account goes with signing it out everywhere: the "disable" action).
SUPERUSER_FIELDS = ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")


def _refusal_message(error: CustomerActionRefused, verb: str = "") -> str:
    code = str(error)
    if code == "own_account" and verb == "erase":
        return _("You cannot erase your own account from here.")
    if code == "no_address":
        return _("This customer has no email address.")
    if code == "address_taken":
        return _("Another account has already verified this email address.")
    if code == "own_account":
        return _("You cannot do this to your own account.")
    if code == "operator_account":
        return _("Only superusers can do this to an operator's account.")
    return _("This action cannot be done to this customer.")


@dataclass(frozen=True)
class CustomerAction:
    """One button of the customer page (and its bulk action on the list)."""

    verb: str
    label: Any
    confirm_title: Any
    confirm_text: Any
    run: Callable[[Any, HttpRequest], str]
    destructive: bool = False
    superuser_only: bool = False
    shown: Callable[[Any, dict[str, Any]], bool] = lambda user, overview: True


def _primary_unverified(user: Any, overview: dict[str, Any]) -> bool:
    address = overview.get("primary_email")
    return address is not None and not address.verified


def _run_verify_email(user: Any, request: HttpRequest) -> str:
    if services.customer_email_verify(user=user, operator=request.user, request=request):
        return _("The email address of %(email)s is now verified.") % {"email": user.email}
    return _("The email address of %(email)s was already verified.") % {"email": user.email}


def _run_password_reset(user: Any, request: HttpRequest) -> str:
    email = services.customer_password_reset_send(user=user, operator=request.user, request=request)
    return _("A password reset link was emailed to %(email)s.") % {"email": email}


def _run_password_compromised(user: Any, request: HttpRequest) -> str:
    email = services.customer_password_compromised(
        user=user, operator=request.user, request=request
    )
    return _(
        "%(email)s was signed out everywhere, the password no longer works and a reset link "
        "was emailed."
    ) % {"email": email}


def _run_resend_verification(user: Any, request: HttpRequest) -> str:
    if services.customer_verification_resend(user=user, operator=request.user, request=request):
        return _("A verification email was sent to %(email)s.") % {"email": user.email}
    return _(
        "No verification email was sent to %(email)s: it is verified already, or one was "
        "sent moments ago."
    ) % {"email": user.email}


def _run_sign_out(user: Any, request: HttpRequest) -> str:
    ended = services.customer_sign_out_everywhere(user=user, operator=request.user, request=request)
    return ngettext(
        "%(email)s was signed out everywhere (%(count)d session ended).",
        "%(email)s was signed out everywhere (%(count)d sessions ended).",
        ended,
    ) % {"email": user.email, "count": ended}


def _run_disable(user: Any, request: HttpRequest) -> str:
    services.customer_disable(user=user, operator=request.user, request=request)
    return _("%(email)s is disabled and was signed out everywhere.") % {"email": user.email}


def _run_enable(user: Any, request: HttpRequest) -> str:
    services.customer_enable(user=user, operator=request.user, request=request)
    return _("%(email)s can sign in again.") % {"email": user.email}


def _run_erase(user: Any, request: HttpRequest) -> str:
    email = user.email
    services.customer_erase(user=user, operator=request.user, request=request)
    return _("The account of %(email)s was erased.") % {"email": email}


CUSTOMER_ACTIONS: dict[str, CustomerAction] = {
    action.verb: action
    for action in (
        CustomerAction(
            verb="verify-email",
            label=gettext_lazy("Verify email"),
            confirm_title=gettext_lazy("Verify the email address?"),
            confirm_text="",
            run=_run_verify_email,
            shown=_primary_unverified,
        ),
        CustomerAction(
            verb="resend-verification",
            label=gettext_lazy("Resend verification"),
            confirm_title=gettext_lazy("Resend the verification email?"),
            confirm_text="",
            run=_run_resend_verification,
            shown=_primary_unverified,
        ),
        CustomerAction(
            verb="password-reset",
            label=gettext_lazy("Send password reset"),
            confirm_title=gettext_lazy("Send a password reset link?"),
            confirm_text="",
            run=_run_password_reset,
        ),
        CustomerAction(
            verb="password-compromised",
            label=gettext_lazy("Password compromised"),
            confirm_title=gettext_lazy("Treat the password as compromised?"),
            confirm_text=gettext_lazy(
                "Every session of this customer ends, the current password stops working "
                "and a password reset link is emailed to the customer."
            ),
            run=_run_password_compromised,
            destructive=True,
        ),
        CustomerAction(
            verb="sign-out",
            label=gettext_lazy("Sign out everywhere"),
            confirm_title=gettext_lazy("Sign out everywhere?"),
            confirm_text=gettext_lazy(
                "Every session of this customer ends: each browser is signed out, the "
                "tokens of those sessions are revoked and the applications are told."
            ),
            run=_run_sign_out,
            destructive=True,
        ),
        CustomerAction(
            verb="disable",
            label=gettext_lazy("Disable"),
            confirm_title=gettext_lazy("Disable this account?"),
            confirm_text=gettext_lazy(
                "The customer can no longer sign in and is signed out everywhere, until the "
                "account is enabled again."
            ),
            run=_run_disable,
            destructive=True,
            superuser_only=True,
            shown=lambda user, overview: user.is_active,
        ),
        CustomerAction(
            verb="enable",
            label=gettext_lazy("Enable"),
            confirm_title=gettext_lazy("Enable this account?"),
            confirm_text="",
            run=_run_enable,
            superuser_only=True,
            shown=lambda user, overview: not user.is_active,
        ),
        CustomerAction(
            verb="erase",
            label=gettext_lazy("Erase account"),
            confirm_title=gettext_lazy("Erase accounts?"),
            confirm_text="",
            run=_run_erase,
            destructive=True,
            superuser_only=True,
        ),
    )
}


# --- list filters -----------------------------------------------------------------------------


class _HasFilter(admin.SimpleListFilter):
    """Yes / no on an annotation of the list's queryset (see CustomerAdmin.get_queryset)."""

    annotation = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        if self.value() == "yes":
            return queryset.filter(**{self.annotation: True})
        if self.value() == "no":
            return queryset.filter(**{self.annotation: False})
        return queryset


class VerifiedEmailFilter(_HasFilter):
    title = gettext_lazy("verified email")
    parameter_name = "verified_email"
    annotation = "has_verified_email"


class PasskeyFilter(_HasFilter):
    title = gettext_lazy("passkey")
    parameter_name = "passkey"
    annotation = "has_passkey"


class TwoStepFilter(_HasFilter):
    title = gettext_lazy("two-step verification")
    parameter_name = "two_step"
    annotation = "has_two_step"


# --- the admin --------------------------------------------------------------------------------


def is_privileged(user: Any) -> bool:
    """An operator's account (staff or superuser): only superusers change it."""
    return bool(user.is_staff or user.is_superuser)


class CustomerAdmin(
    SecretLookupGuardMixin, DelegatedCustomerAdminMixin, DjangoUserAdmin, ModelAdmin
):
    """Users in the console: customers and operators. An operator's account (staff or
    superuser) is read-only for operators who are not superusers: its email, password and
    every action stay with the superusers."""

    secret_lookup_fields = ("password",)

    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    ordering = ("email",)
    list_display = (
        "email",
        "display_name",
        "email_verified",
        "is_active",
        "date_joined",
        "last_login",
        "two_step",
    )
    list_filter = (
        "is_active",
        "is_staff",
        VerifiedEmailFilter,
        PasskeyFilter,
        TwoStepFilter,
        "date_joined",
    )
    search_fields = ("email",)
    search_help_text = gettext_lazy(
        "Email address, name, phone number or CPF/CNPJ, formatted or not."
    )
    actions = (
        "verify_email_selected",
        "resend_verification_selected",
        "password_reset_selected",
        "sign_out_everywhere",
        "disable_selected",
        "enable_selected",
        "erase_accounts",
    )
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (
            gettext_lazy("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (gettext_lazy("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    # The customer page: actions and panels above the account's form.
    change_form_outer_before_template = "admin/accounts/user/customer_page.html"

    # --- list ---------------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        users = OuterRef("pk")
        return (
            super()
            .get_queryset(request)
            .select_related("profile")
            .annotate(
                has_verified_email=Exists(
                    EmailAddress.objects.filter(user=users, primary=True, verified=True)
                ),
                has_passkey=Exists(Passkey.objects.filter(user=users)),
                has_two_step=Exists(TOTPDevice.objects.filter(user=users, confirmed=True)),
            )
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        email_only = is_delegated_operator(request.user)
        return customers_search(queryset, search_term, email_only=email_only), False

    @admin.display(description=gettext_lazy("name"))
    def display_name(self, obj: Any) -> str:
        profile = getattr(obj, "profile", None)
        return profile.name if profile is not None else ""

    @admin.display(description=gettext_lazy("verified"), boolean=True)
    def email_verified(self, obj: Any) -> bool:
        return bool(getattr(obj, "has_verified_email", False))

    @admin.display(description=gettext_lazy("two-step"), boolean=True)
    def two_step(self, obj: Any) -> bool:
        return bool(getattr(obj, "has_two_step", False))

    # --- change form ----------------------------------------------------------------------

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Covers the change form, the password page and every action (may_run).
        if obj is not None and is_privileged(obj) and not request.user.is_superuser:
            return False
        return bool(super().has_change_permission(request, obj))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += [name for name in SUPERUSER_FIELDS if name not in readonly]
        return readonly

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            # Unticking "active" is disabling: the account's sessions end and its tokens are
            # revoked too (as services.customer_disable does).
            services.customer_sign_out_everywhere(user=obj, operator=request.user, request=request)
            user_tokens_revoke(user=obj)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        user = self.get_object(request, object_id)
        if user is not None and self.has_view_permission(request, user):
            client_ids = None
            if is_delegated_operator(request.user):
                client_ids = set(delegated_clients(request.user).values_list("pk", flat=True))
            overview = customer_overview(user=user, client_ids=client_ids)
            extra_context["customer"] = overview
            extra_context["customer_actions"] = self.customer_actions_for(request, user, overview)
        return super().change_view(request, object_id, form_url, extra_context)

    # --- actions ------------------------------------------------------------------------------

    def may_run(self, request: HttpRequest, action: CustomerAction, user: Any = None) -> bool:
        if action.superuser_only and not request.user.is_superuser:
            return False
        return bool(self.has_change_permission(request, user))

    def customer_actions_for(
        self, request: HttpRequest, user: Any, overview: dict[str, Any]
    ) -> list[dict[str, Any]]:
        return [
            {
                "verb": action.verb,
                "label": action.label,
                "destructive": action.destructive,
                "url": reverse(
                    f"{self.admin_site.name}:accounts_user_customer_action",
                    args=[user.pk, action.verb],
                ),
            }
            for action in CUSTOMER_ACTIONS.values()
            if action.shown(user, overview) and self.may_run(request, action, user)
        ]

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/customer/<slug:verb>/",
                self.admin_site.admin_view(self.customer_action_view),
                name="accounts_user_customer_action",
            ),
            *super().get_urls(),
        ]

    def customer_action_view(self, request: HttpRequest, object_id: str, verb: str) -> HttpResponse:
        """Run one action on one customer (POST only). A destructive action shows its
        confirmation page first; confirming posts again with ``confirm=yes``."""
        return require_POST(self._customer_action)(request, object_id=object_id, verb=verb)

    def _customer_action(self, request: HttpRequest, object_id: str, verb: str) -> HttpResponse:
        action = CUSTOMER_ACTIONS.get(verb)
        user = self.get_object(request, object_id)
        if action is None or user is None:
            raise Http404
        if not self.may_run(request, action, user):
            raise PermissionDenied
        if action.destructive and request.POST.get("confirm") != "yes":
            return self._confirmation(request, action, [user], action_name="")
        change_url = reverse(f"{self.admin_site.name}:accounts_user_change", args=[user.pk])
        try:
            message = action.run(user, request)
        except CustomerActionRefused as error:
            self.message_user(request, _refusal_message(error, verb), messages.ERROR)
            return HttpResponseRedirect(change_url)
        self.message_user(request, message, messages.SUCCESS)
        if verb == "erase":
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:accounts_user_changelist"))
        return HttpResponseRedirect(change_url)

    def _confirmation(
        self, request: HttpRequest, action: CustomerAction, users: list[Any], action_name: str
    ) -> TemplateResponse:
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": action.confirm_title,
            "users": users,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": action_name,
            "customer_action": action,
        }
        # Erasure confirms on the page of accounts.privacy's own erase action.
        template = (
            "admin/privacy/erase_confirm.html"
            if action.verb == "erase"
            else ["admin/accounts/user/customer_action_confirm.html"]
        )
        return TemplateResponse(request, template, context)

    def _bulk(
        self, request: HttpRequest, queryset: QuerySet[Any], verb: str, action_name: str
    ) -> HttpResponse | None:
        action = CUSTOMER_ACTIONS[verb]
        if not self.may_run(request, action):
            raise PermissionDenied
        users = []
        for user in queryset:
            if self.has_change_permission(request, user):
                users.append(user)
            else:
                self.message_user(
                    request,
                    f"{user.email}: {_refusal_message(CustomerActionRefused('operator_account'))}",
                    messages.WARNING,
                )
        if not users:
            return None
        if action.destructive and request.POST.get("confirm") != "yes":
            return self._confirmation(request, action, users, action_name=action_name)
        done = 0
        for user in users:
            try:
                action.run(user, request)
            except CustomerActionRefused as error:
                self.message_user(
                    request, f"{user.email}: {_refusal_message(error, verb)}", messages.WARNING
                )
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext(
                    "%(action)s: done for %(count)d account.",
                    "%(action)s: done for %(count)d accounts.",
                    done,
                )
                % {"action": action.label, "count": done},
                messages.SUCCESS,
            )
        return None

    def has_superuser_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser and self.has_change_permission(request))

    @admin.action(description=gettext_lazy("Verify email"), permissions=["change"])
    def verify_email_selected(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        return self._bulk(request, queryset, "verify-email", "verify_email_selected")

    @admin.action(description=gettext_lazy("Resend verification"), permissions=["change"])
    def resend_verification_selected(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        return self._bulk(request, queryset, "resend-verification", "resend_verification_selected")

    @admin.action(description=gettext_lazy("Send password reset"), permissions=["change"])
    def password_reset_selected(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        return self._bulk(request, queryset, "password-reset", "password_reset_selected")

    @admin.action(description=gettext_lazy("Sign out everywhere"), permissions=["change"])
    def sign_out_everywhere(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        return self._bulk(request, queryset, "sign-out", "sign_out_everywhere")

    @admin.action(description=gettext_lazy("Disable"), permissions=["superuser"])
    def disable_selected(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        return self._bulk(request, queryset, "disable", "disable_selected")

    @admin.action(description=gettext_lazy("Enable"), permissions=["superuser"])
    def enable_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        return self._bulk(request, queryset, "enable", "enable_selected")

    @admin.action(
        description=gettext_lazy("Erase selected accounts now"), permissions=["superuser"]
    )
    def erase_accounts(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        return self._bulk(request, queryset, "erase", "erase_accounts")
