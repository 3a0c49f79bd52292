"""The error pages (400, 403, 404, 500) shown when a view or middleware fails.

Django's own views (``django.views.defaults``) carry ``requires_csrf_token``, which reads
a POSTed form body to look for a CSRF token. When the body is what failed (a form that
declares a charset other than UTF-8: Django refuses to decode it with ``BadRequest``),
that read fails again inside the error view, and the 400 becomes a 500, or an exception
no page answers. These are the same views, templates and status codes without that
decorator: ``{% csrf_token %}`` still works in them (CsrfViewMiddleware prepares the token
of every request).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.views import defaults


def _undecorated(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    unwrapped: Callable[..., HttpResponse] = inspect.unwrap(view)
    return unwrapped


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _undecorated(defaults.bad_request)(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _undecorated(defaults.permission_denied)(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _undecorated(defaults.page_not_found)(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    return _undecorated(defaults.server_error)(request)
