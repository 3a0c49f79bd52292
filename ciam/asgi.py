"""The ASGI application: Django for HTTP, the live monitor's WebSocket through Channels.

Production keeps HTTP on the WSGI server (deploy/serve: token paths stay on granian's WSGI
threads, ciam.wsgi) and runs this application in a second granian process for the
WebSocket path only (``deploy/serve --asgi``, nginx routes /admin/monitor/ws/ to it).
``./dev run`` (daphne's runserver) serves it all, HTTP included.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ciam.settings")
# Django first: the apps load before any consumer module is imported.
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from console.monitor.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        # The browser's Origin must be one of ALLOWED_HOSTS (cross-site WebSocket hijacking:
        # cookies go with any site's socket), then the session cookie names the operator.
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
