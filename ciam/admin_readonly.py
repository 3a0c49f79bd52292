"""Admin pieces for records nobody edits (the audit log, the outbox): shown, never added,
changed or deleted from the admin, superusers included."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString


class ReadOnlyAdminMixin:
    """Put before the ModelAdmin class: every add, change and delete permission is refused."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def json_display(value: Any, *, sort_keys: bool = True) -> SafeString:
    """``value`` as indented JSON in a wrapping <pre> (escaped)."""
    return format_html(
        "<pre style='white-space: pre-wrap'>{}</pre>",
        json.dumps(value, ensure_ascii=False, indent=2, sort_keys=sort_keys),
    )
