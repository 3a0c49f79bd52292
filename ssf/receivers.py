"""What this app hears: accounts going away, so that their RISC account-purged SET can
still name them by the ``sub`` each stream's client knew (ssf.models.SsfDeletedSubject).

- ``events.signals.event_written`` for ``user.deleted`` (inside the deleting transaction,
  before the row goes): the clients the customer still uses then (an operator's delete).
- ``accounts.privacy.signals.account_erased`` (after an erasure committed): the erasure has
  already removed the tokens and grants, the signal names the clients and their subs.
"""

from __future__ import annotations

from typing import Any

from .services.subjects import deleted_subjects_record, deleted_subjects_record_of_user


def on_event_written(sender: Any, event: Any, **kwargs: Any) -> None:
    if event.type == "user.deleted" and event.user is not None:
        deleted_subjects_record_of_user(user=event.user, public_subject=event.subject)


def on_account_erased(sender: Any, subject: str, subjects: dict[str, str], **kwargs: Any) -> None:
    deleted_subjects_record(public_subject=subject, subjects=subjects)


def connect() -> None:
    """Connect every receiver (idempotent: each has a dispatch_uid)."""
    from accounts.privacy.signals import account_erased
    from events.signals import event_written

    event_written.connect(on_event_written, dispatch_uid="ssf.event_written")
    account_erased.connect(on_account_erased, dispatch_uid="ssf.account_erased")
