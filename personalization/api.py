"""``GET /api/personalization/<ref>`` for back ends (a ``client_credentials`` token with
``personalization:read``): a customer's interests, best contact window, segments and
next-item recommendations, precomputed by training, only while the customer grants a
personalization purpose the calling client may see. Answers are JSON, errors included
(ciam/api.py)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from ciam.api import api_endpoint, api_user_resolve, invalid_request, json_response

from .app_settings import app_settings
from .claims import insight_claims
from .models import Insight
from .services.consent import client_personalization_purpose_ids, personalization_granted

SCOPE_READ = "personalization:read"


def _limit(value: str | None) -> int:
    most = app_settings.RECOMMENDATIONS
    if value is None or value == "":
        return most
    if len(value) > 4 or not value.isascii() or not value.isdigit() or not 1 <= int(value) <= most:
        raise invalid_request(f"limit is a whole number from 1 to {most}.")
    return int(value)


@api_endpoint(methods=("GET",), scope=SCOPE_READ, realm="personalization")
def customer_personalization(request: HttpRequest, client: Any, user_ref: str) -> HttpResponse:
    """The personalization of the customer named ``email:...`` or ``sub:...``; ``?limit=``
    caps the recommendations. Without the customer's consent for this client:
    ``"personalization": false`` and nothing else."""
    limit = _limit(request.GET.get("limit"))
    user = api_user_resolve(reference=user_ref)
    purposes = personalization_granted(user=user, application=client)
    if not purposes:
        return json_response({"user": user_ref, "personalization": False})
    insight = Insight.objects.filter(user_id=user.pk).first()
    if insight is not None and not set(insight.purposes or []) <= (
        client_personalization_purpose_ids(application=client)
    ):
        # Computed with the interactions of a purpose this client may not see.
        return json_response({"user": user_ref, "personalization": False})
    document: dict[str, Any] = {
        "user": user_ref,
        "personalization": True,
        "purposes": purposes,
        **insight_claims(insight),
        "recommendations": list(insight.recommendations[:limit]) if insight else [],
        "computed_at": insight.computed_at.isoformat() if insight else None,
    }
    return json_response(document)
