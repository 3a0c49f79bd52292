"""WSGI entry point (gunicorn ciam.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ciam.settings")
django_application = get_wsgi_application()

from ciam.fastpath import PublicMetadataApplication  # noqa: E402 - needs Django set up

application = PublicMetadataApplication(django_application)
