"""WSGI entry point (granian --interface wsgi ciam.wsgi:application)."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ciam.settings")
django_application = get_wsgi_application()

from ciam.fastpath import ProviderApplication  # noqa: E402 - needs Django set up

application = ProviderApplication(django_application)

# Import every URL module and view now rather than on the first request, then freeze: what
# is loaded at start lives as long as the process, and frozen it is left out of the garbage
# collector's full collections, which otherwise scan ~80,000 objects (40-60 ms, during
# which every thread of the worker waits) and show up as p99 latency.
get_resolver().reverse_dict  # noqa: B018 - populating the resolver imports the views
gc.collect()
gc.freeze()
