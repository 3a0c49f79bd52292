"""Profiling tests read messages in English unless they choose a language themselves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Another test in the same process may leave a language active."""
    with translation.override("en"):
        yield
