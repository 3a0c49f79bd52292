"""Validators of the addresses customers type into the account forms."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail.message import sanitize_address
from django.core.validators import EmailValidator


def email_mailable(value: str) -> bool:
    """Whether an email can be addressed to ``value``: Django's mail writes it (the domain in
    its IDNA form, RFC 5890). Django's EmailValidator accepts any character from U+00A1 up
    in a domain label, IDNA refuses some (a soft hyphen maps to an empty label; U+2028 and
    U+FFFD are prohibited), and sending would then fail."""
    try:
        sanitize_address(value, settings.DEFAULT_CHARSET)
    except ValueError:  # UnicodeError (IDNA) included
        return False
    return True


def validate_mailable_email(value: str) -> None:
    """``ValidationError`` "Enter a valid email address." unless ``email_mailable``."""
    if not email_mailable(value):
        raise ValidationError(EmailValidator.message, code="invalid")
