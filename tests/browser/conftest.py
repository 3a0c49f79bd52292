"""Browser tests: Debian's Chromium driven by Playwright against the live provider.

The fixtures (chromium, open_tab, tab) live in tests/browser/fixtures.py and are registered
once, by tests/conftest.py; this file only skips browser tests where Chromium is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .fixtures import (  # noqa: F401 - names other test packages import from here
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    RP_ORIGIN,
    SHOTS,
    Tab,
    open_tab,
)


def pytest_collection_modifyitems(config, items) -> None:
    if not Path(CHROMIUM).exists():
        skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (apt-get install chromium)")
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)
