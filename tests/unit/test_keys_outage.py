"""The keyring through a database outage: the keys already loaded keep signing and being
published, and the reload is tried again a few seconds later."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from django.db import OperationalError

from ciam import keys

pytestmark = pytest.mark.django_db


def _unreachable():
    raise OperationalError("connection refused")


def test_a_failed_reload_keeps_the_loaded_keys(monkeypatch):
    loaded = keys.keyring(refresh=True)
    keys._keyring = replace(loaded, loaded_at=time.monotonic() - 3600)  # due for a reload
    monkeypatch.setattr(keys, "_build_keyring", _unreachable)
    during = keys.keyring()
    assert during.jwks_json == loaded.jwks_json
    assert during.active("RS256").kid == loaded.active("RS256").kid
    # Tried again RELOAD_RETRY_SECONDS later, not on every request meanwhile.
    age = time.monotonic() - during.loaded_at
    assert keys.reload_seconds() - keys.RELOAD_RETRY_SECONDS - 1 < age
    assert keys.keyring() is during
    monkeypatch.undo()
    keys._keyring = replace(during, loaded_at=time.monotonic() - 3600)
    assert keys.keyring().loaded_at > during.loaded_at


def test_without_loaded_keys_the_error_is_raised(monkeypatch):
    keys._keyring = None
    monkeypatch.setattr(keys, "_build_keyring", _unreachable)
    with pytest.raises(OperationalError):
        keys.keyring()
