"""Writing profile values: validated and normalised by the schema, with their provenance.

Every writer goes through ``profile_update``: the sign-up, questions asked during sign-in,
social sign-in, the account area, the profile API, imports and operators. It validates
every change first (nothing is written when one is refused), then writes the
``ProfileValue`` rows (one per field, with when, how and from which client) and the
``Profile.values`` object the claims are read from, in one transaction.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Profile, ProfileField, ProfileValue, ValueSource, value_is_empty
from ..schema import schema_current, schema_forget
from ..signals import profile_changed, profile_written
from ..validation import FieldInvalid, value_normalise


class ProfileInvalid(Exception):
    """Some changes were refused: field key -> the refusal (nothing was written)."""

    def __init__(self, errors: Mapping[str, FieldInvalid]) -> None:
        super().__init__("; ".join(f"{key}: {error.code}" for key, error in errors.items()))
        self.errors = dict(errors)


@dataclass(frozen=True)
class ProfileChanges:
    """What ``profile_update`` did: field key -> new value (None: removed)."""

    changed: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.changed)


def profile_changes_validate(
    *, changes: Mapping[str, Any], check_junk: bool = True
) -> dict[str, Any]:
    """``changes`` (field key -> raw value) normalised by the schema; ``ProfileInvalid``
    naming every refused field. Unknown and inactive fields are refused (``unknown_field``);
    an empty value (None, "", [], {}) means "remove". Without ``check_junk`` text is not
    checked for junk (an operator's or an import's data is kept as given)."""
    schema = schema_current()
    errors: dict[str, FieldInvalid] = {}
    normalised: dict[str, Any] = {}
    for key, raw in changes.items():
        profile_field = schema.by_key.get(key) if isinstance(key, str) else None
        if profile_field is None:
            errors[str(key)[:64]] = FieldInvalid("unknown_field", _("There is no such field."))
            continue
        if not check_junk and profile_field.check_junk:
            profile_field = copy.copy(profile_field)
            profile_field.check_junk = False
        try:
            normalised[key] = value_normalise(profile_field, raw)
        except FieldInvalid as error:
            errors[key] = error
    if errors:
        raise ProfileInvalid(errors)
    return normalised


@transaction.atomic
def profile_update(
    *,
    user: Any,
    changes: Mapping[str, Any],
    source: ValueSource | str,
    client: Any | None = None,
    source_detail: str = "",
    verified: Iterable[str] = (),
    keep_existing: bool = False,
    check_junk: bool = True,
) -> ProfileChanges:
    """Validate and write ``changes`` (field key -> raw value) to ``user``'s profile.

    Raises ``ProfileInvalid`` before writing anything when a change is refused. A value equal
    to the stored one keeps its provenance (nothing is written). ``verified`` names keys whose
    new value the owner proved control of (a phone number confirmed by code). With
    ``keep_existing`` a field that already has a value is left alone (a social provider's
    claims never overwrite what the customer typed). ``check_junk``: see
    ``profile_changes_validate``.
    """
    normalised = profile_changes_validate(changes=changes, check_junk=check_junk)
    if not normalised:
        return ProfileChanges()
    schema = schema_current()
    profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
    values = dict(profile.values or {})
    verified_keys = set(profile.verified or [])
    proven = set(verified)
    now = timezone.now()
    changed: dict[str, Any] = {}
    for key, value in normalised.items():
        profile_field = schema.by_key[key]
        current = values.get(key)
        if keep_existing and not value_is_empty(current):
            continue
        if value is None:
            if key in values:
                values.pop(key)
                verified_keys.discard(key)
                ProfileValue.objects.filter(user=user, field=profile_field).delete()
                changed[key] = None
            continue
        is_verified = key in proven
        if value == current and (not is_verified or key in verified_keys):
            continue
        ProfileValue.objects.update_or_create(
            user=user,
            field=profile_field,
            defaults={
                "value": value,
                "verified": is_verified,
                "source": str(source),
                "source_detail": source_detail[:64],
                "client": client,
                "collected_at": now,
            },
        )
        values[key] = value
        if is_verified:
            verified_keys.add(key)
        else:
            verified_keys.discard(key)
        changed[key] = value
    if changed:
        profile.values = values
        profile.verified = sorted(verified_keys)
        profile.save(update_fields=["values", "verified", "updated_at"])
        profile_written.send(sender=Profile, user=user, changed=changed, source=str(source))
        transaction.on_commit(
            lambda: profile_changed.send(
                sender=Profile, user=user, changed=changed, source=str(source)
            )
        )
    return ProfileChanges(changed=changed)


@transaction.atomic
def profile_value_remove(*, user: Any, field: ProfileField) -> bool:
    """Remove ``user``'s value of ``field``, active or not, and its copy in
    ``Profile.values``; returns whether there was one."""
    profile = Profile.objects.select_for_update().filter(user=user).first()
    deleted, _kinds = ProfileValue.objects.filter(user=user, field=field).delete()
    if profile is not None and (field.key in (profile.values or {}) or deleted):
        profile.values = {k: v for k, v in (profile.values or {}).items() if k != field.key}
        profile.verified = [k for k in profile.verified or [] if k != field.key]
        profile.save(update_fields=["values", "verified", "updated_at"])
    if deleted:
        profile_written.send(
            sender=Profile, user=user, changed={field.key: None}, source=ValueSource.ADMIN
        )
        transaction.on_commit(
            lambda: profile_changed.send(
                sender=Profile, user=user, changed={field.key: None}, source=ValueSource.ADMIN
            )
        )
    return bool(deleted)


@transaction.atomic
def profile_field_delete(*, field: ProfileField) -> int:
    """Delete ``field`` from the schema with every value of it, ``Profile.values`` copies
    included (a later field with the same key starts empty); returns how many profiles held
    a value."""
    profiles = list(Profile.objects.select_for_update().filter(values__has_key=field.key))
    for profile in profiles:
        profile.values = {k: v for k, v in (profile.values or {}).items() if k != field.key}
        profile.verified = [k for k in profile.verified or [] if k != field.key]
        profile.save(update_fields=["values", "verified", "updated_at"])
    field.delete()  # values, questions and learner counts go with it (CASCADE)
    schema_forget()
    return len(profiles)
