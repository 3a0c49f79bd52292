"""The provider's URLs with the operators' endpoints included, as ciam/urls.py includes them
once wired: the tests pass with and without that line."""

from __future__ import annotations

from django.urls import include, path

from ciam.urls import urlpatterns as provider_urlpatterns

urlpatterns = [path("", include("ciam.ops.urls")), *provider_urlpatterns]
