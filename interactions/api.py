"""The interaction ingest API (``/api/interactions/``) and the unified customer profile
(``/api/customers/<ref>``) for back ends (README "Interactions and the unified profile").

Machine clients call them with a ``client_credentials`` access token (RFC 6750 2.1: in the
Authorization header): ``events:write`` to send interactions, ``profile:read`` to read a
customer. ciam/fastpath.py serves them with the back-channel middleware. Every answer is
JSON, errors included (the toolkit: ciam/api.py).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ciam.api import (
    ApiError,
    api_endpoint,
    api_user_resolve,
    invalid_request,
    json_body,
    json_response,
    not_found_response,
)
from ciam.services.authorization import oauth_server

from .app_settings import app_settings
from .models import ANONYMOUS_ID_MAX_LENGTH
from .selectors import CursorError, page_limit, unified_profile
from .services.ingest import (
    DUPLICATE,
    INVALID,
    REFUSED,
    STORED,
    IngestError,
    anonymous_id_identify,
    interactions_ingest,
    users_resolve,
)
from .validation import text_value, user_reference_parse

SCOPE_WRITE = "events:write"
SCOPE_READ = "profile:read"
REALM = "interactions"
IDENTIFY_MAX_BODY_BYTES = 4 * 1024


def _body(request: HttpRequest, max_bytes: int, *, what: str) -> Any:
    """The JSON body; 413 ``request_too_large`` above ``max_bytes`` (RFC 9110 15.5.14)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    too_large = ApiError(
        413,
        "request_too_large",
        f"The body is larger than {max_bytes} bytes: send smaller batches.",
    )
    if length > max_bytes:
        raise too_large
    try:
        body = request.body
    except RequestDataTooBig:  # over DATA_UPLOAD_MAX_MEMORY_SIZE
        raise too_large from None
    if len(body) > max_bytes:
        raise too_large
    return json_body(request, max_bytes, what=what)


def _raise(error: IngestError) -> ApiError:
    return ApiError(error.status, error.code, error.description)


@api_endpoint(methods=("POST",), scope=SCOPE_WRITE, realm=REALM)
def ingest(request: HttpRequest, client: Any) -> HttpResponse:
    """``POST /api/interactions/``: ``{"interactions": [...]}``; one result per item, in
    order (``stored``, ``duplicate``, ``refused`` with ``reason``, ``invalid`` with
    ``errors``) and their counts."""
    payload = _body(request, app_settings.MAX_BODY_BYTES, what="interactions")
    if not isinstance(payload, dict) or set(payload) != {"interactions"}:
        raise invalid_request('Send a JSON object {"interactions": [...]}.')
    items = payload["interactions"]
    if not isinstance(items, list) or not items:
        raise invalid_request('"interactions" is a non-empty list of objects.')
    try:
        results = interactions_ingest(client=client, items=items)
    except IngestError as error:
        raise _raise(error) from None
    counts = {status: 0 for status in (STORED, DUPLICATE, REFUSED, INVALID)}
    for result in results:
        counts[result.status] += 1
    return json_response({**counts, "results": [result.as_dict() for result in results]})


def _customer(reference: Any) -> Any:
    """The customer of an identify call's ``user`` member (public sub or verified email)."""
    errors: dict[str, str] = {}
    parsed = user_reference_parse({"user": reference}, errors)
    if parsed is None:
        raise invalid_request(errors.get("user", 'Name the customer as {"sub": ...}.'))
    user = users_resolve([parsed]).get(parsed)
    if user is None:
        raise ApiError(404, "unknown_user", "No active customer matches this reference.")
    return user


@api_endpoint(methods=("POST",), scope=SCOPE_WRITE, realm=REALM)
def identify(request: HttpRequest, client: Any) -> HttpResponse:
    """``POST /api/interactions/identify``: ``{"anonymous_id", "user": {"sub"|"email"}}``:
    the visitor is this customer; their interactions under purposes the customer grants are
    linked (``linked``), the others stay anonymous (``kept_anonymous``)."""
    payload = _body(request, IDENTIFY_MAX_BODY_BYTES, what="identification")
    if not isinstance(payload, dict) or set(payload) != {"anonymous_id", "user"}:
        raise invalid_request('Send a JSON object {"anonymous_id": ..., "user": {"sub": ...}}.')
    anonymous_id = text_value(payload["anonymous_id"], max_length=ANONYMOUS_ID_MAX_LENGTH)
    if anonymous_id is None:
        raise invalid_request(
            f"anonymous_id is a non-empty text of at most {ANONYMOUS_ID_MAX_LENGTH} characters."
        )
    user = _customer(payload["user"])
    try:
        result = anonymous_id_identify(client=client, anonymous_id=anonymous_id, user=user)
    except IngestError as error:
        raise _raise(error) from None
    return json_response(
        {
            "anonymous_id": anonymous_id,
            "linked": result.linked,
            "kept_anonymous": result.kept_anonymous,
            "new_link": result.created,
        }
    )


def _token_scopes(request: HttpRequest) -> set[str]:
    """The scopes of the request's (already validated) Bearer token."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    _, oauth_request = oauth_server().verify_request(
        request.build_absolute_uri(request.path), "GET", "", {"Authorization": header}, scopes=[]
    )
    return set(getattr(oauth_request, "scopes", None) or [])


@api_endpoint(methods=("GET",), scope=SCOPE_READ, realm="customers")
def customer(request: HttpRequest, client: Any, user_ref: str) -> HttpResponse:
    """``GET /api/customers/<ref>``: the unified profile of the customer named ``email:...``
    or ``sub:...``, as far as the token's scopes and the customer's consents allow;
    ``?limit=`` and ``?cursor=`` page the interaction timeline."""
    user = api_user_resolve(reference=user_ref)
    try:
        limit = page_limit(request.GET.get("limit"))
        document = unified_profile(
            user=user,
            application=client,
            scopes=_token_scopes(request),
            cursor=request.GET.get("cursor") or None,
            limit=limit,
        )
    except CursorError as error:
        raise invalid_request(f"The {error} parameter is malformed.") from None
    return json_response({"user": user_ref, **document})


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any other path under these APIs: a JSON 404, like every answer of the APIs."""
    return not_found_response()
