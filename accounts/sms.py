"""Text messages (SMS) to customers' mobile numbers, through a pluggable backend.

Like Django's email backends: ``CIAM_SMS_BACKEND`` names the class (a dotted path) that
delivers; ``sms_send`` is the one way to send. Shipped backends, none of which leaves this
machine:

- ``accounts.sms.ConsoleBackend`` (default): writes each message to standard output;
- ``accounts.sms.FileBackend``: appends each message to a file per day under
  ``CIAM_SMS_FILE_PATH``;
- ``accounts.sms.LocmemBackend``: keeps messages in ``accounts.sms.outbox`` (tests read it,
  as they read ``django.core.mail.outbox``).

A provider's gateway is another class with the same ``send_messages`` method.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

DEFAULT_BACKEND = "accounts.sms.ConsoleBackend"


@dataclass(frozen=True)
class TextMessage:
    """One message: the recipient in E.164 (``+5511987654321``) and the text."""

    to: str
    body: str
    sent_at: str = field(default_factory=lambda: timezone.now().isoformat())


class BaseBackend:
    """Delivers messages; returns how many were accepted."""

    def send_messages(self, messages: list[TextMessage]) -> int:
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    """Writes every message to standard output (local use)."""

    _lock = threading.Lock()

    def send_messages(self, messages: list[TextMessage]) -> int:
        with self._lock:
            for message in messages:
                sys.stdout.write(f"SMS to {message.to}: {message.body}\n")
            sys.stdout.flush()
        return len(messages)


class FileBackend(BaseBackend):
    """Appends every message, one JSON object a line, to ``<CIAM_SMS_FILE_PATH>/<date>.log``."""

    _lock = threading.Lock()

    def send_messages(self, messages: list[TextMessage]) -> int:
        directory = Path(getattr(settings, "CIAM_SMS_FILE_PATH", "") or "var/sms")
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{timezone.now().date().isoformat()}.log"
        with self._lock, path.open("a", encoding="utf-8") as handle:
            for message in messages:
                handle.write(json.dumps(asdict(message), ensure_ascii=False) + "\n")
        return len(messages)


# The local-memory outbox (LocmemBackend): tests empty it and read it.
outbox: list[TextMessage] = []


class LocmemBackend(BaseBackend):
    """Keeps every message in ``accounts.sms.outbox``."""

    def send_messages(self, messages: list[TextMessage]) -> int:
        outbox.extend(messages)
        return len(messages)


def sms_backend() -> BaseBackend:
    """An instance of the configured backend (``CIAM_SMS_BACKEND``)."""
    path = getattr(settings, "CIAM_SMS_BACKEND", "") or DEFAULT_BACKEND
    backend_class = import_string(path)
    return backend_class()


def sms_send(*, to: str, body: str) -> bool:
    """Send ``body`` to the number ``to`` (E.164); whether the backend accepted it."""
    return sms_backend().send_messages([TextMessage(to=to, body=body)]) == 1
