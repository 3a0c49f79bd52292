"""WSGI entry point (granian --interface wsgi ciam.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ciam.settings")
django_application = get_wsgi_application()

from ciam.fastpath import ProviderApplication  # noqa: E402 - needs Django set up

application = ProviderApplication(django_application)
