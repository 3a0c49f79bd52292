from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .selectors import email_sign_in_url


def email_sign_in(request: HttpRequest) -> dict[str, SimpleLazyObject]:
    """``email_sign_in_url`` for the sign-in and sign-up pages: the email sign-in page with
    the page's ``next`` carried along ("" when email sign-in is off).

    Lazy: only pages that use it read the query string (an error page rendered for a
    request with a malformed or oversized query string must not read it again).
    """
    return {"email_sign_in_url": SimpleLazyObject(lambda: email_sign_in_url(request))}
