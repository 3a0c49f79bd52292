from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def branding(request: HttpRequest) -> dict[str, str]:
    """Name, logo and colour of the hosted pages (CIAM_BRAND_* settings)."""
    return {
        "brand_name": settings.CIAM_BRAND_NAME,
        "brand_logo_url": settings.CIAM_BRAND_LOGO_URL,
        "brand_color": settings.CIAM_BRAND_COLOR,
    }
