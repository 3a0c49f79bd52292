"""The operators' console look and navigation (django-unfold's UNFOLD settings).

ciam/settings.py names these functions by dotted path; unfold calls each one with the
request, so names, colours and links follow the CIAM_BRAND_* settings and the operator's
language and permissions at the time of the request, never at import time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.http import HttpRequest
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.module_loading import import_string
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ciam.app_settings import app_settings

DEFAULT_BRAND_COLOR = "#1f5fbf"

# Lightness of each weight in Tailwind's palettes (OKLCH, 0..1), 600 being the weight unfold
# uses for buttons and links on white, and the share of the brand's chroma each one keeps.
_TAILWIND_LIGHTNESS = {
    "50": 0.977,
    "100": 0.946,
    "200": 0.902,
    "300": 0.827,
    "400": 0.714,
    "500": 0.627,
    "600": 0.558,
    "700": 0.496,
    "800": 0.438,
    "900": 0.381,
    "950": 0.291,
}
_CHROMA_SHARE = {
    "50": 0.06,
    "100": 0.13,
    "200": 0.24,
    "300": 0.45,
    "400": 0.77,
    "500": 0.95,
    "600": 1.0,
    "700": 0.95,
    "800": 0.82,
    "900": 0.66,
    "950": 0.55,
}
# White text on primary-600 stays readable (WCAG 2.2 1.4.3, 4.5:1) at or below this OKLCH
# lightness for any hue; a lighter brand colour is darkened to it for buttons and links.
_MAX_BUTTON_LIGHTNESS = 0.56
_MIN_BUTTON_LIGHTNESS = 0.32
_MAX_CHROMA = 0.3


def _hex_to_rgb(value: str) -> tuple[float, float, float] | None:
    """``#rgb``, ``#rrggbb`` or ``#rrggbbaa`` (alpha ignored) as sRGB in 0..1; else None."""
    match = re.fullmatch(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})", value.strip())
    if not match:
        return None
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    red, green, blue = (int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return red, green, blue


def _oklch(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    """sRGB to OKLCH (Björn Ottosson's OKLab, CSS Color 4 section 9)."""

    def linear(channel: float) -> float:
        if channel <= 0.04045:
            return channel / 12.92
        return float(((channel + 0.055) / 1.055) ** 2.4)

    r, g, b = (linear(c) for c in rgb)
    lms_l = math.cbrt(0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b)
    lms_m = math.cbrt(0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b)
    lms_s = math.cbrt(0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b)
    lightness = 0.2104542553 * lms_l + 0.7936177850 * lms_m - 0.0040720468 * lms_s
    a = 1.9779984951 * lms_l - 2.4285922050 * lms_m + 0.4505937099 * lms_s
    b_ = 0.0259040371 * lms_l + 0.7827717662 * lms_m - 0.8086757660 * lms_s
    chroma = math.hypot(a, b_)
    hue = math.degrees(math.atan2(b_, a)) % 360 if chroma > 1e-4 else 0.0
    return lightness, chroma, hue


def palette_from_color(color: str) -> dict[str, str]:
    """Eleven weights (50..950) of one hue, as CSS ``oklch()`` values, from a hex colour.

    The brand colour sets hue and chroma; lightness follows Tailwind's ladder, anchored so
    that weight 600 is the brand colour itself when white text on it is readable, and the
    readable colour nearest to it otherwise. An invalid value gives the default palette.
    """
    rgb = _hex_to_rgb(color) or _hex_to_rgb(DEFAULT_BRAND_COLOR)
    assert rgb is not None
    lightness, chroma, hue = _oklch(rgb)
    anchor = min(max(lightness, _MIN_BUTTON_LIGHTNESS), _MAX_BUTTON_LIGHTNESS)
    top, tw_anchor, tw_bottom = 0.977, _TAILWIND_LIGHTNESS["600"], _TAILWIND_LIGHTNESS["950"]
    bottom = max(0.2, anchor - (tw_anchor - tw_bottom))
    chroma = min(chroma, _MAX_CHROMA)
    palette = {}
    for weight, tw_lightness in _TAILWIND_LIGHTNESS.items():
        if tw_lightness >= tw_anchor:
            share = (tw_lightness - tw_anchor) / (top - tw_anchor)
            value = anchor + share * (top - anchor)
        else:
            share = (tw_anchor - tw_lightness) / (tw_anchor - tw_bottom)
            value = anchor - share * (anchor - bottom)
        palette[weight] = (
            f"oklch({value * 100:.1f}% {chroma * _CHROMA_SHARE[weight]:.3f} {hue:.1f})"
        )
    return palette


def primary_palette(request: HttpRequest | None = None) -> dict[str, str]:
    """UNFOLD["COLORS"]["primary"]: the palette of CIAM_BRAND_COLOR."""
    return palette_from_color(app_settings.BRAND_COLOR)


def site_header(request: HttpRequest | None = None) -> str:
    """The name above the sidebar: the provider's brand."""
    return app_settings.BRAND_NAME


def site_subheader(request: HttpRequest | None = None) -> str:
    """The line under the brand, in the operator's language."""
    return gettext("Identity provider administration")


def site_title(request: HttpRequest | None = None) -> str:
    """The end of every admin page's title."""
    return f"{app_settings.BRAND_NAME} · {gettext('Identity provider administration')}"


def admin_stylesheet(request: HttpRequest | None = None) -> str:
    """UNFOLD["STYLES"]: Django admin's CSS variables in unfold's palette, and the look of
    the console's own pages (console/static/console/admin.css)."""
    return static("console/admin.css")


def site_icon(request: HttpRequest | None = None) -> str | None:
    """CIAM_BRAND_LOGO_URL beside the brand name; none: unfold shows the site symbol."""
    return app_settings.BRAND_LOGO_URL or None


# --- Sidebar ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """One sidebar entry: a model's changelist (``model``) or a named admin view (``url``
    with the model whose view permission it needs). ``title`` defaults to the model's
    plural name."""

    model: str
    icon: str
    title: str | Promise | None = None
    url: str | None = None


SIDEBAR: tuple[tuple[str | Promise, tuple[Link, ...]], ...] = (
    (
        _("Customers"),
        (
            Link("accounts.User", "person", _("Users")),
            Link("profiling.Profile", "badge"),
            Link("profiling.ProfileValue", "data_table"),
            Link("sessions_ctx.BrowserSession", "devices"),
            Link("sessions_ctx.UserDevice", "smartphone"),
            Link("accounts.Passkey", "passkey"),
            Link("account.EmailAddress", "mail"),
            Link("socialaccount.SocialAccount", "share"),
            Link("accounts.ErasureRequest", "person_remove"),
        ),
    ),
    (
        _("Applications"),
        (
            Link("ciam.Application", "apps", _("Clients")),
            Link("profiling.ClientProfileSettings", "tune"),
            Link("ciam.AuthorizationContext", "login"),
            Link("oauth2_provider.AccessToken", "key"),
            Link("oauth2_provider.RefreshToken", "autorenew"),
            Link("oauth2_provider.IDToken", "id_card"),
            Link("oauth2_provider.Grant", "pin"),
        ),
    ),
    (
        _("Consent"),
        (
            Link("consent.Purpose", "flag"),
            Link("consent.PurposeVersion", "history_edu"),
            Link("consent.ConsentRecord", "receipt_long", _("Consent ledger")),
            Link("consent.Consent", "handshake", _("Client grants")),
        ),
    ),
    (
        _("Profiling"),
        (
            Link("profiling.ProfileField", "list_alt"),
            Link("profiling.AskRule", "quiz"),
            Link("profiling.ProfileQuestion", "help"),
            Link("profiling.LearnerDecision", "casino"),
            Link(
                "profiling.ProfileField",
                "monitoring",
                _("Profiling report"),
                url="admin:profiling_profilefield_report",
            ),
        ),
    ),
    (
        _("Personalization"),
        (
            Link("personalization.Segment", "groups"),
            Link("personalization.SegmentMembership", "group_add"),
            Link("personalization.Interest", "favorite"),
            Link("personalization.Insight", "insights"),
            Link("personalization.CatalogueItem", "inventory_2"),
            Link("personalization.ItemNeighbour", "hub"),
            Link("personalization.TrainingRun", "model_training"),
        ),
    ),
    (
        _("Risk"),
        (
            Link("sessions_ctx.RiskPolicy", "policy"),
            Link("sessions_ctx.RiskRule", "rule"),
            Link("sessions_ctx.RiskDecision", "gpp_maybe"),
        ),
    ),
    (
        _("Security"),
        (
            Link("ciam.SigningKey", "key_vertical"),
            Link("ciam.BackchannelLogoutDelivery", "outbox"),
            Link("audit.AuditEntry", "manage_search", _("Audit log")),
            Link("otp_totp.TOTPDevice", "phonelink_lock"),
            Link("otp_static.StaticDevice", "password"),
        ),
    ),
    (
        _("Settings"),
        (
            Link("sites.Site", "language"),
            Link("socialaccount.SocialApp", "hub"),
            Link("auth.Group", "group"),
        ),
    ),
)

# What a delegated operator (console.delegation) may reach: their clients and customers.
DELEGATED_MODELS = frozenset({"ciam.application", "accounts.user"})


def _model_admin(label: str) -> Any | None:
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return None
    return admin.site._registry.get(model)


def _is_delegated_operator(user: Any) -> bool:
    try:
        check: Callable[[Any], bool] = import_string("console.delegation.is_delegated_operator")
    except ImportError:
        return False
    return bool(check(user))


def model_admin_visible(request: HttpRequest, model_admin: Any) -> bool:
    """Whether the operator may open this model's pages: the test Django's own index uses
    (module permission, then any of add/change/delete/view), and for a delegated operator
    only their clients and customers."""
    if not model_admin.has_module_permission(request):
        return False
    if True not in model_admin.get_model_perms(request).values():
        return False
    if model_admin.model._meta.label_lower not in DELEGATED_MODELS:
        return not _is_delegated_operator(request.user)
    return True


def _permission(label: str) -> Callable[[HttpRequest], bool]:
    def allowed(request: HttpRequest) -> bool:
        model_admin = _model_admin(label)
        return model_admin is not None and model_admin_visible(request, model_admin)

    return allowed


def _href(link: Link, model_admin: Any) -> str | None:
    opts = model_admin.model._meta
    name = link.url or f"admin:{opts.app_label}_{opts.model_name}_changelist"
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def _items(links: Iterable[Link]) -> list[dict[str, Any]]:
    items = []
    for link in links:
        model_admin = _model_admin(link.model)
        if model_admin is None:  # not installed or not registered in this deployment
            continue
        href = _href(link, model_admin)
        if href is None:
            continue
        items.append(
            {
                "title": link.title or capfirst(model_admin.model._meta.verbose_name_plural),
                "icon": link.icon,
                "link": href,
                "permission": _permission(link.model),
            }
        )
    return items


def _monitor_allowed(request: HttpRequest) -> bool:
    from console.monitor.access import monitor_allowed

    return monitor_allowed(request.user)


def _monitor_items() -> list[dict[str, Any]]:
    """The live monitor (console.monitor), for operators holding its permission."""
    if not apps.is_installed("console.monitor"):
        return []
    try:
        link = reverse("monitor:page")
    except NoReverseMatch:
        return []
    return [
        {
            "title": _("Live monitor"),
            "icon": "monitor_heart",
            "link": link,
            "permission": _monitor_allowed,
        }
    ]


def sidebar_navigation(request: HttpRequest | None = None) -> list[dict[str, Any]]:
    """UNFOLD["SIDEBAR"]["navigation"]: the admin grouped by domain. Each link carries a
    permission callback (unfold hides it when the callback says no); links to models that
    are not registered here are left out."""
    groups: list[dict[str, Any]] = [
        {
            "items": [
                {
                    "title": _("Dashboard"),
                    "icon": "dashboard",
                    "link": reverse("admin:index"),
                },
                *_monitor_items(),
            ]
        }
    ]
    for title, links in SIDEBAR:
        items = _items(links)
        if items:
            groups.append({"title": title, "separator": True, "items": items})
    return groups
