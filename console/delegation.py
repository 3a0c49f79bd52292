"""Delegated administration: operators who run only some clients and see only their customers.

A delegated operator is an active staff user, not a superuser, without global permissions on
clients, who holds django-guardian object permissions (``ciam.view_application``,
``ciam.change_application``) on one or more clients. In the admin they see those clients
(``DelegatedClientAdminMixin``) and, read-only, the customers who signed in to or consented
for them (``DelegatedCustomerAdminMixin``); every other admin page stays closed, as Django's
admin does for a staff user without model permissions.

Who counts as a customer of a client is proved by records that carry both the client and the
user: authorization codes (``ciam.AuthorizationContext``, DOT ``Grant``), tokens (DOT
``AccessToken``, ``RefreshToken``, ``IDToken``), OAuth consent (``consent.Consent``) and the
consent ledger (``consent.ConsentRecord``). Staff accounts are never listed as customers, so
an operator cannot open another operator's (or their own) account page.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm
from oauth2_provider.models import get_application_model

# The object permissions that make a delegation (app label of the client model: "ciam").
VIEW_CLIENT = "view_application"
CHANGE_CLIENT = "change_application"
_CLIENT_PERMS = (VIEW_CLIENT, CHANGE_CLIENT)

# Computed once per user object (one admin page asks many times); cleared by grant/revoke.
_CACHE_ATTRIBUTE = "_console_delegated_client_ids"


def _perm(codename: str) -> str:
    return f"{get_application_model()._meta.app_label}.{codename}"


def _has_global_client_perms(user: Any) -> bool:
    # Without an object, guardian's backend answers False: this is ModelBackend's answer.
    return any(user.has_perm(_perm(codename)) for codename in _CLIENT_PERMS)


def _is_operator(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def _sees_everything(user: Any) -> bool:
    return _is_operator(user) and (user.is_superuser or _has_global_client_perms(user))


def _client_ids_by_perm(user: Any) -> dict[str, frozenset[int]]:
    """Ids of the clients this user holds each object permission on (user or group)."""
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    if cached is not None:
        return cached
    ids: dict[str, frozenset[int]] = {}
    for codename in _CLIENT_PERMS:
        if not _is_operator(user):
            ids[codename] = frozenset()
            continue
        ids[codename] = frozenset(
            get_objects_for_user(
                user,
                _perm(codename),
                klass=get_application_model(),
                with_superuser=False,
                accept_global_perms=False,
            ).values_list("pk", flat=True)
        )
    setattr(user, _CACHE_ATTRIBUTE, ids)
    return ids


def _object_client_ids(user: Any, codename: str | None = None) -> frozenset[int]:
    """Ids of the clients this user holds ``codename`` (default: view or change) on."""
    ids = _client_ids_by_perm(user)
    if codename is not None:
        return ids[codename]
    return frozenset().union(*ids.values())


def _forget(user: Any) -> None:
    if hasattr(user, _CACHE_ATTRIBUTE):
        delattr(user, _CACHE_ATTRIBUTE)
    # Django's ModelBackend and guardian cache permissions on the instance too.
    for attribute in ("_perm_cache", "_user_perm_cache", "_group_perm_cache", "_guardian_perms"):
        if hasattr(user, attribute):
            delattr(user, attribute)


def is_delegated_operator(user: Any) -> bool:
    """Staff, not superuser, without global client permissions, managing at least one client
    through object permissions."""
    return (
        _is_operator(user)
        and not user.is_superuser
        and not _has_global_client_perms(user)
        and bool(_object_client_ids(user))
    )


def delegated_clients(user: Any) -> QuerySet[Any]:
    """The clients ``user`` administers: all of them for superusers (and operators with global
    client permissions), those of their object permissions for a delegated operator, none for
    anybody else."""
    clients = get_application_model().objects.all()
    if _sees_everything(user):
        return clients
    ids = _object_client_ids(user)
    return clients.filter(pk__in=ids) if ids else clients.none()


def _customers_of(client_ids: QuerySet[Any] | frozenset[int]) -> Q:
    """Users proved by a record that carries both them and one of these clients."""
    from oauth2_provider.models import (
        get_access_token_model,
        get_grant_model,
        get_id_token_model,
        get_refresh_token_model,
    )

    from ciam.models import AuthorizationContext
    from consent.models import Consent, ConsentRecord

    proofs: list[type[models.Model]] = [
        AuthorizationContext,
        get_grant_model(),
        get_access_token_model(),
        get_refresh_token_model(),
        get_id_token_model(),
        Consent,
        ConsentRecord,
    ]
    condition = Q()
    for model in proofs:
        subquery = model._default_manager.filter(
            application_id__in=client_ids, user_id__isnull=False
        ).values("user_id")
        condition |= Q(pk__in=subquery)
    return condition


def delegated_customers(user: Any) -> QuerySet[Any]:
    """The customers ``user`` may see: everybody for superusers (and operators with global
    client permissions); for a delegated operator the non-staff users who signed in to or
    consented for their clients (one query of ``EXISTS``-style subqueries, no loop); none for
    anybody else."""
    users = get_user_model()._default_manager.all()
    if _sees_everything(user):
        return users
    ids = _object_client_ids(user)
    if not ids:
        return users.none()
    return users.filter(_customers_of(ids)).filter(is_staff=False, is_superuser=False)


def _audit(*, action: str, actor: Any, target: models.Model, operator: Any) -> None:
    try:
        from audit.services import audit_record
    except ImportError:  # the audit log is optional for this module
        return
    audit_record(
        action=action,
        actor=actor,
        subject=operator,
        target=target,
        changes={"operator": getattr(operator, "email", str(operator.pk))},
        actor_kind="operator" if actor is not None else "system",
    )


@transaction.atomic
def delegation_grant(*, operator: Any, client: models.Model, granted_by: Any | None) -> None:
    """``operator`` administers ``client`` from now on: guardian object permissions to view and
    change it (they never get add or delete). Recorded in the audit log."""
    for codename in _CLIENT_PERMS:
        assign_perm(_perm(codename), operator, client)
    _forget(operator)
    _audit(action="client.delegation_granted", actor=granted_by, target=client, operator=operator)


@transaction.atomic
def delegation_revoke(*, operator: Any, client: models.Model, revoked_by: Any | None) -> None:
    """``operator`` no longer administers ``client``. Recorded in the audit log."""
    for codename in _CLIENT_PERMS:
        remove_perm(_perm(codename), operator, client)
    _forget(operator)
    _audit(action="client.delegation_revoked", actor=revoked_by, target=client, operator=operator)


def delegated_operators(client: models.Model) -> Any:
    """The users holding a delegation (a view or change object permission) on ``client``."""
    from guardian.shortcuts import get_users_with_perms

    return get_users_with_perms(
        client, only_with_perms_in=list(_CLIENT_PERMS), with_superusers=False
    )


class DelegatedClientAdminMixin:
    """Mix into the client (Application) ModelAdmin, as its first base.

    Superusers and operators with global permissions see the ModelAdmin unchanged. A delegated
    operator sees only their clients, may change those they hold ``change_application`` on,
    never adds or deletes one, runs no bulk action, and cannot change the fields listed in
    ``delegated_readonly_fields``: those that widen whose data the client reaches or who
    administers it. Kept editable: the client's own configuration (name, redirect and logout
    URIs, secret, signing algorithm, minimum acr, consent lifetime).

    Read-only by default, and why:
    - ``user``: the owner account, a lookup into every user;
    - ``skip_authorization``: a first-party client gets every customer's data without consent;
    - ``client_type``, ``authorization_grant_type``: a machine grant (client credentials)
      reaches the back-end APIs rather than the client's own signed-in customers;
    - ``subject_type``, ``sector_identifier``: a public sub or another sector's pairwise sub
      links this client's customers with those of other clients (OIDC Core 8);
    - ``delegated_administrators``: who else administers the client;
    - ``client_id``: the identifier other systems and tokens know the client by;
    - ``registration_source``, ``cimd_expires_at``: how the client was registered.
    The change history (superusers' change messages) stays closed to them.
    A subclass extends the tuple (``(*DelegatedClientAdminMixin.delegated_readonly_fields,
    "my_field")``); names that the form or model do not have are skipped.
    """

    delegated_readonly_fields: tuple[str, ...] = (
        "user",
        "client_id",
        "skip_authorization",
        "client_type",
        "authorization_grant_type",
        "subject_type",
        "sector_identifier",
        "registration_source",
        "cimd_expires_at",
        "delegated_administrators",
    )

    def _delegated_readonly(self) -> list[str]:
        model = self.model  # type: ignore[attr-defined]
        model_fields = {field.name for field in model._meta.get_fields()}
        declared = set(getattr(self.form, "declared_fields", {}))  # type: ignore[attr-defined]
        return [
            name
            for name in self.delegated_readonly_fields
            if name in model_fields or name in declared or hasattr(self, name)
        ]

    def has_module_permission(self, request: HttpRequest) -> bool:
        if is_delegated_operator(request.user):
            return True
        return super().has_module_permission(request)  # type: ignore[misc]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        if is_delegated_operator(request.user):
            return queryset.filter(pk__in=_object_client_ids(request.user))
        return queryset

    def _may(self, request: HttpRequest, codename: str, obj: Any) -> bool:
        allowed = _object_client_ids(request.user, codename)
        if obj is None:
            return bool(allowed)
        return obj.pk in allowed

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_delegated_operator(request.user):
            if obj is None:
                return True
            return self._may(request, VIEW_CLIENT, obj) or self._may(request, CHANGE_CLIENT, obj)
        return super().has_view_permission(request, obj)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_delegated_operator(request.user):
            return self._may(request, CHANGE_CLIENT, obj)
        return super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        if is_delegated_operator(request.user):
            return False
        return super().has_add_permission(request, *args)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_delegated_operator(request.user):
            return False
        return super().has_delete_permission(request, obj)  # type: ignore[misc]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = super().get_readonly_fields(request, obj)  # type: ignore[misc]
        if is_delegated_operator(request.user):
            extra = [name for name in self._delegated_readonly() if name not in readonly]
            return (*readonly, *extra)
        return readonly

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        if is_delegated_operator(request.user):
            return {}
        return super().get_actions(request)  # type: ignore[misc]

    def get_list_filter(self, request: HttpRequest) -> Any:
        if is_delegated_operator(request.user):
            return ()
        return super().get_list_filter(request)  # type: ignore[misc]

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        # Inlines are other models (profile settings, purposes): their own permissions apply,
        # which a delegated operator does not hold. Left out rather than shown empty.
        if is_delegated_operator(request.user):
            return ()
        return super().get_inlines(request, obj)  # type: ignore[misc]

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        # The history names other operators and quotes their changes.
        if is_delegated_operator(request.user):
            raise PermissionDenied
        return super().history_view(request, object_id, extra_context)  # type: ignore[misc]


class DelegatedCustomerAdminMixin:
    """Mix into the User ModelAdmin, as its first base.

    Superusers and operators with global permissions see the ModelAdmin unchanged. A delegated
    operator sees, read-only, the customers of ``delegated_customers``: no add, change or
    delete, no bulk actions, no filters that list groups, no permission, password or staff
    fields, no change history. Another user's page is a 404 (the admin finds no such object
    in the scoped queryset), the password-change page a 403.
    """

    delegated_fieldsets: tuple[tuple[Any, dict[str, Any]], ...] = (
        (None, {"fields": ("email", "is_active")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    delegated_list_display: tuple[str, ...] = ("email", "is_active", "date_joined", "last_login")

    def has_module_permission(self, request: HttpRequest) -> bool:
        if is_delegated_operator(request.user):
            return True
        return super().has_module_permission(request)  # type: ignore[misc]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        if is_delegated_operator(request.user):
            return queryset.filter(pk__in=delegated_customers(request.user).values("pk"))
        return queryset

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_delegated_operator(request.user):
            if obj is None:
                return True
            return delegated_customers(request.user).filter(pk=obj.pk).exists()
        return super().has_view_permission(request, obj)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_delegated_operator(request.user):
            return False
        return super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        if is_delegated_operator(request.user):
            return False
        return super().has_add_permission(request, *args)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_delegated_operator(request.user):
            return False
        return super().has_delete_permission(request, obj)  # type: ignore[misc]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        if is_delegated_operator(request.user):
            return {}
        return super().get_actions(request)  # type: ignore[misc]

    def get_list_filter(self, request: HttpRequest) -> Any:
        if is_delegated_operator(request.user):
            return ("is_active",)
        return super().get_list_filter(request)  # type: ignore[misc]

    def get_list_display(self, request: HttpRequest) -> Any:
        if is_delegated_operator(request.user):
            return self.delegated_list_display
        return super().get_list_display(request)  # type: ignore[misc]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if is_delegated_operator(request.user):
            return self.delegated_fieldsets
        return super().get_fieldsets(request, obj)  # type: ignore[misc]

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        if is_delegated_operator(request.user):
            return ()
        return super().get_inlines(request, obj)  # type: ignore[misc]

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        # The history names other operators and quotes their changes.
        if is_delegated_operator(request.user):
            raise PermissionDenied
        return super().history_view(request, object_id, extra_context)  # type: ignore[misc]
