from __future__ import annotations

from django.http import HttpRequest

from .app_settings import app_settings


def branding(request: HttpRequest) -> dict[str, str]:
    """Name, logo and colour of the hosted pages (CIAM_BRAND_* settings)."""
    return {
        "brand_name": app_settings.BRAND_NAME,
        "brand_logo_url": app_settings.BRAND_LOGO_URL,
        "brand_color": app_settings.BRAND_COLOR,
    }
