"""pytest plugin (loaded with ``-p tests.live_issuer``, before Django's settings).

The provider's issuer is part of every token, so the live test server must run at the
issuer's address. Each test process picks a free loopback port and exports it as
CIAM_ISSUER and as pytest-django's live server address before settings are imported.
"""

from __future__ import annotations

import os
import socket


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_port = _free_port()
os.environ["CIAM_ISSUER"] = f"http://localhost:{_port}"
os.environ["DJANGO_LIVE_TEST_SERVER_ADDRESS"] = f"localhost:{_port}"
# Tests serve static files from the source tree (no collectstatic manifest).
os.environ["CIAM_STATIC_MANIFEST"] = "0"
os.environ.setdefault("CIAM_VAR_DIR", os.path.join(os.getcwd(), "var", "test"))


def _production_routing(application):
    """The live server's WSGI application: static files from the source tree as Django's
    live server serves them, inside the router production runs (ciam.wsgi): metadata from
    bytes, token/userinfo/introspection/revocation through the back-channel handler."""
    from ciam.fastpath import ProviderApplication

    return ProviderApplication(_StaticFilesHandler(application))


_StaticFilesHandler = None


def pytest_configure(config) -> None:
    # pytest-django's live server wraps Django's handler in StaticFilesHandler, looked up
    # when the server starts: it gets the production router around it instead.
    global _StaticFilesHandler
    from django.contrib.staticfiles import handlers

    if _StaticFilesHandler is None:
        _StaticFilesHandler = handlers.StaticFilesHandler
        handlers.StaticFilesHandler = _production_routing
