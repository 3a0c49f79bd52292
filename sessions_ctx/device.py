"""The device cookie: a long-lived, signed random id that recognises a returning browser.

The id is assigned on a browser's first request (``device_id_of`` then returns it before
the response carries the cookie), signed so that a forged value is ignored and replaced,
and renewed in every response that assigns it. It says "this browser was here before", no
more: a second factor's "remember this browser" and the risk engine's "known device" are
bound to it (accounts.mfa, risk.assessors).
"""

from __future__ import annotations

import secrets

from django.core import signing
from django.http import HttpRequest, HttpResponseBase

from .app_settings import app_settings
from .constants import DEVICE_COOKIE_NAME, DEVICE_COOKIE_SALT

REQUEST_ATTRIBUTE = "_ciam_device_id"
NEW_ATTRIBUTE = "_ciam_device_new"


def _read(request: HttpRequest) -> str:
    value = request.COOKIES.get(DEVICE_COOKIE_NAME, "")
    if not value:
        return ""
    try:
        device_id = signing.get_cookie_signer(salt=DEVICE_COOKIE_SALT).unsign(value)
    except signing.BadSignature:
        return ""
    return device_id if 20 <= len(device_id) <= 64 else ""


def device_id_of(request: HttpRequest) -> str:
    """This browser's device id; a new one (set in the response by the middleware) when the
    request carries none or a forged one."""
    device_id = getattr(request, REQUEST_ATTRIBUTE, None)
    if device_id is None:
        device_id = _read(request)
        if not device_id:
            device_id = secrets.token_urlsafe(24)
            setattr(request, NEW_ATTRIBUTE, True)
        setattr(request, REQUEST_ATTRIBUTE, device_id)
    return str(device_id)


def device_cookie_set(request: HttpRequest, response: HttpResponseBase) -> None:
    """Give the browser its device cookie when this request assigned a new id."""
    if not getattr(request, NEW_ATTRIBUTE, False):
        return
    from django.conf import settings

    value = signing.get_cookie_signer(salt=DEVICE_COOKIE_SALT).sign(device_id_of(request))
    response.set_cookie(
        DEVICE_COOKIE_NAME,
        value,
        max_age=app_settings.DEVICE_COOKIE_DAYS * 24 * 3600,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
