"""The subjects of deleted accounts, remembered per stream for their account-purged SET.

Every stream gets a row when an account goes: the ``sub`` its client knew, or "" when the
client did not know the account (its delivery is then skipped at once, not waited for).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from accounts.privacy.models import ErasureRequest
from ciam.subjects import subject_for

from ..models import SsfDeletedSubject, SsfStream
from ..selectors import customer_uses_client

# Long enough for the worker to send the account-purged SET, retries included (~3 days).
DELETED_SUBJECT_DAYS = 7


def _remember(*, stream: SsfStream, public_subject: str, subject: str) -> None:
    SsfDeletedSubject.objects.update_or_create(
        stream=stream, public_subject=public_subject, defaults={"subject": subject}
    )


def deleted_subjects_record_of_user(*, user: Any, public_subject: str) -> int:
    """Before ``user``'s row goes (inside the deleting transaction): remember their sub for
    every stream whose client they use. An erasure has removed their tokens and grants
    already: it is left to ``deleted_subjects_record``, which its signal calls."""
    if ErasureRequest.objects.filter(user=user, completed_at__isnull=False).exists():
        return 0
    public_subject = public_subject or str(user.public_id)
    recorded = 0
    for stream in SsfStream.objects.select_related("application"):
        uses = customer_uses_client(user=user, application=stream.application)
        subject = subject_for(user, stream.application) if uses else ""
        _remember(stream=stream, public_subject=public_subject, subject=subject)
        recorded += bool(subject)
    return recorded


def deleted_subjects_record(*, public_subject: str, subjects: dict[str, str]) -> int:
    """After an erasure: remember the sub each client knew (``subjects``: client_id -> sub)
    for its streams, and that the other streams' clients did not know the account."""
    if not public_subject:
        return 0
    recorded = 0
    for stream in SsfStream.objects.select_related("application"):
        subject = str((subjects or {}).get(stream.application.client_id) or "")
        _remember(stream=stream, public_subject=public_subject, subject=subject)
        recorded += bool(subject)
    return recorded


def deleted_subjects_prune(*, now: Any = None) -> int:
    """Forget the subjects of accounts deleted more than DELETED_SUBJECT_DAYS ago."""
    cutoff = (now or timezone.now()) - timedelta(days=DELETED_SUBJECT_DAYS)
    deleted, _ = SsfDeletedSubject.objects.filter(created_at__lt=cutoff).delete()
    return deleted
