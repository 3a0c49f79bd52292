"""``portal_overview``: the overview's summary of each section, for the home page.

Lazy: only a template that reads ``portal_overview`` runs its queries.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .selectors import portal_overview as portal_overview_of


def portal_overview(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"portal_overview": SimpleLazyObject(lambda: portal_overview_of(user=user))}
