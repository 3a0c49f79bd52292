"""Every monitor test starts without a cached snapshot or counted sockets of another."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from console.monitor.consumers import session_sockets
from console.monitor.selectors import shared_snapshot


@pytest.fixture(autouse=True)
def _monitor_state() -> Iterator[None]:
    shared_snapshot.clear()
    yield
    shared_snapshot.clear()
    session_sockets._open.clear()
