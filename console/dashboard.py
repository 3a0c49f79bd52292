"""The operators' dashboard on the admin index (django-unfold's DASHBOARD_CALLBACK).

Every figure is a per-day aggregate over a bounded window (7, 30 or 90 days) on a dated
column, computed at most once a minute per scope, range and language (the cache):
- sign-ups: ``User.date_joined``;
- sign-ins by method and outcome, sign-in page views, second factors: the daily counters
  (console.models.DailyCount, fed by console/receivers.py and console/metrics.py);
- risk step-ups and blocks: ``sessions_ctx.RiskDecision.created_at``;
- consent per purpose: the consent ledger (``consent.ConsentRecord.at``);
- profile completeness: ``profiling.ProfileValue.collected_at`` (indexed with the field);
- a delegated operator's sign-ins: ``ciam.AuthorizationContext.created`` of their clients.
A delegated operator sees only figures that carry a client, limited to their clients.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .charts import Chart, Series, chart_layout
from .delegation import delegated_clients, is_delegated_operator
from .models import DailyCount, Metric

RANGES = (7, 30, 90)
DEFAULT_RANGE = 30
RANGE_PARAMETER = "days"
CACHE_SECONDS = 60
CACHE_PREFIX = "console.dashboard"
# How many profile fields the completeness chart draws (the most filled first).
PROFILE_FIELDS_SHOWN = 6


def dashboard_range(request: HttpRequest) -> int:
    """The ``?days=`` asked for when it is one of RANGES, else the default."""
    raw = request.GET.get(RANGE_PARAMETER, "")
    try:
        days = int(raw)
    except (TypeError, ValueError):
        return DEFAULT_RANGE
    return days if days in RANGES else DEFAULT_RANGE


def _days(since: date, until: date) -> list[date]:
    return [since + timedelta(days=offset) for offset in range((until - since).days + 1)]


def _start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def _per_day(queryset: Any, column: str, days: list[date], value: Any = None) -> list[float]:
    """Counts (or ``value`` sums) of ``queryset`` per day of ``column``."""
    rows = (
        queryset.annotate(day=TruncDate(column))
        .values("day")
        .annotate(total=value if value is not None else Count("pk"))
    )
    found = {row["day"]: row["total"] or 0 for row in rows}
    return [float(found.get(day, 0)) for day in days]


def _day_label(day: date) -> str:
    # Day and month in the reader's order (pt-BR 25/12, English 12/25): short enough for
    # an axis label.
    language = translation.get_language() or "en"
    return day.strftime("%d/%m") if language.startswith("pt") else day.strftime("%m/%d")


def _counter(metric: str, days: list[date], **filters: Any) -> list[float]:
    rows = (
        DailyCount.objects.filter(metric=metric, day__gte=days[0], day__lte=days[-1], **filters)
        .values("day")
        .annotate(total=Sum("count"))
    )
    found = {row["day"]: row["total"] for row in rows}
    return [float(found.get(day, 0)) for day in days]


def _method_label(method: str) -> str:
    names = {
        "password": _("Password"),
        "email_code": _("Email code or link"),
        "passkey": _("Passkey"),
        "social": _("Social login"),
        "other": _("Other"),
    }
    if method.startswith("social:"):
        provider = method.split(":", 1)[1]
        return _("Social login (%(provider)s)") % {"provider": provider or "?"}
    return str(names.get(method, method))


# --- Figures -------------------------------------------------------------------------------


def _signups(days: list[date]) -> Chart:
    users = get_user_model()._default_manager.filter(
        date_joined__gte=_start(days[0]), is_staff=False
    )
    return Chart(
        key="signups",
        title=_("Sign-ups per day"),
        kind="bars",
        categories=[_day_label(day) for day in days],
        series=[Series(_("Sign-ups"), _per_day(users, "date_joined", days))],
        y_label=_("Customers"),
        x_label=_("Day"),
    )


def _risk(days: list[date], client_ids: list[str] | None) -> dict[str, list[float]]:
    from sessions_ctx.models import Action, RiskDecision

    decisions = RiskDecision.objects.filter(created_at__gte=_start(days[0]))
    if client_ids is not None:
        decisions = decisions.filter(client_id__in=client_ids)
    return {
        "step_up": _per_day(decisions.filter(action=Action.STEP_UP), "created_at", days),
        "blocked": _per_day(
            decisions.filter(action__in=[Action.BLOCK, Action.END_SESSION]), "created_at", days
        ),
    }


def _sign_in_outcomes(days: list[date], risk: dict[str, list[float]]) -> Chart:
    return Chart(
        key="signin_outcomes",
        title=_("Sign-ins by outcome"),
        kind="bars",
        categories=[_day_label(day) for day in days],
        series=[
            Series(_("Success"), _counter(Metric.SIGN_IN_SUCCESS, days)),
            Series(_("Failure"), _counter(Metric.SIGN_IN_FAILURE, days)),
            Series(_("Challenged (step-up)"), risk["step_up"]),
            Series(_("Blocked"), risk["blocked"]),
        ],
        y_label=_("Sign-ins"),
        x_label=_("Day"),
    )


def _sign_in_methods(days: list[date]) -> Chart:
    rows = (
        DailyCount.objects.filter(
            metric__in=[Metric.SIGN_IN_SUCCESS, Metric.SIGN_IN_FAILURE, Metric.SECOND_FACTOR],
            day__gte=days[0],
            day__lte=days[-1],
        )
        .values("metric", "label")
        .annotate(total=Sum("count"))
    )
    totals: dict[tuple[str, str], float] = {
        (row["metric"], row["label"]): float(row["total"]) for row in rows
    }
    methods = sorted(
        {label for _metric, label in totals},
        key=lambda label: -totals.get((Metric.SIGN_IN_SUCCESS, label), 0),
    )
    return Chart(
        key="signin_methods",
        title=_("Sign-ins by method"),
        kind="bars",
        categories=[_method_label(method) for method in methods],
        series=[
            Series(_("Success"), [totals.get((Metric.SIGN_IN_SUCCESS, m), 0) for m in methods]),
            Series(_("Failure"), [totals.get((Metric.SIGN_IN_FAILURE, m), 0) for m in methods]),
        ],
        y_label=_("Sign-ins"),
        x_label=_("Method"),
        note=_("Failures are counted for passwords only (wrong password or unknown account)."),
    )


def _conversion(days: list[date]) -> Chart:
    views = _counter(Metric.SIGN_IN_PAGE_VIEW, days)
    successes = _counter(Metric.SIGN_IN_SUCCESS, days)
    rates = [
        min(100.0, 100 * success / view) if view else 0.0
        for view, success in zip(views, successes, strict=True)
    ]
    total_views, total_successes = sum(views), sum(successes)
    overall = 100 * total_successes / total_views if total_views else 0
    return Chart(
        key="conversion",
        title=_("Sign-in page to success"),
        kind="lines",
        categories=[_day_label(day) for day in days],
        series=[Series(_("Success per page view"), rates)],
        y_label=_("Conversion"),
        x_label=_("Day"),
        percent=True,
        note=_("%(successes)d sign-ins from %(views)d sign-in page views (%(rate).0f%%).")
        % {"successes": total_successes, "views": total_views, "rate": overall},
    )


def _challenges(days: list[date], risk: dict[str, list[float]], scoped: bool) -> Chart:
    series = [
        Series(_("Risk step-ups"), risk["step_up"]),
        Series(_("Blocked by risk policy"), risk["blocked"]),
    ]
    if not scoped:
        series.append(Series(_("Second factor"), _counter(Metric.SECOND_FACTOR, days)))
    return Chart(
        key="challenges",
        title=_("Challenges"),
        kind="bars",
        categories=[_day_label(day) for day in days],
        series=series,
        y_label=_("Challenges"),
        x_label=_("Day"),
    )


def _consents(days: list[date], client_pks: list[int] | None) -> Chart:
    from consent.models import ConsentAction, ConsentRecord

    records = ConsentRecord.objects.filter(at__gte=_start(days[0]))
    if client_pks is not None:
        records = records.filter(application_id__in=client_pks)
    aggregated = (
        records.order_by()
        .values("purpose__key")
        .annotate(
            n_granted=Count(
                "pk", filter=Q(action__in=[ConsentAction.GRANTED, ConsentAction.RECONFIRMED])
            ),
            n_refused=Count("pk", filter=Q(action=ConsentAction.DECLINED)),
            n_withdrawn=Count("pk", filter=Q(action=ConsentAction.WITHDRAWN)),
        )
        .order_by("purpose__key")
    )
    rows: list[dict[str, Any]] = list(aggregated)
    shares: list[list[float]] = [[], [], []]
    for row in rows:
        total = row["n_granted"] + row["n_refused"] + row["n_withdrawn"]
        for index, name in enumerate(("n_granted", "n_refused", "n_withdrawn")):
            shares[index].append(round(100 * row[name] / total, 1) if total else 0.0)
    return Chart(
        key="consents",
        title=_("Consent per purpose"),
        kind="bars",
        categories=[str(row["purpose__key"]) for row in rows],
        series=[
            Series(_("Granted"), shares[0]),
            Series(_("Refused"), shares[1]),
            Series(_("Withdrawn"), shares[2]),
        ],
        y_label=_("Share of decisions"),
        x_label=_("Purpose"),
        percent=True,
        note=_("%(count)d decisions in the consent ledger.")
        % {"count": sum(row["n_granted"] + row["n_refused"] + row["n_withdrawn"] for row in rows)},
    )


def _profile_completeness(days: list[date]) -> Chart:
    from profiling.models import ProfileField, ProfileValue
    from profiling.standard import STANDARD_FIELDS

    keys = [key for key, *_rest in STANDARD_FIELDS]
    fields = {field.pk: field for field in ProfileField.objects.filter(key__in=keys)}
    users = get_user_model()._default_manager.filter(is_staff=False)
    since = _start(days[0])
    customers_before = users.filter(date_joined__lt=since).count()
    joined = _per_day(users.filter(date_joined__gte=since), "date_joined", days)
    values = ProfileValue.objects.filter(field_id__in=list(fields))
    before = {
        row["field_id"]: row["total"]
        for row in values.filter(collected_at__lt=since)
        .values("field_id")
        .annotate(total=Count("pk"))
    }
    added = (
        values.filter(collected_at__gte=since)
        .annotate(day=TruncDate("collected_at"))
        .values("field_id", "day")
        .annotate(total=Count("pk"))
    )
    per_field: dict[int, dict[date, int]] = {}
    for row in added:
        per_field.setdefault(row["field_id"], {})[row["day"]] = row["total"]
    customers: list[float] = []
    running = float(customers_before)
    for count in joined:
        running += count
        customers.append(running)
    language = translation.get_language() or "en"
    series: list[tuple[float, Series]] = []
    for pk, field in fields.items():
        filled = float(before.get(pk, 0))
        shares = []
        for index, day in enumerate(days):
            filled += per_field.get(pk, {}).get(day, 0)
            shares.append(
                round(min(100.0, 100 * filled / customers[index]), 1) if customers[index] else 0
            )
        label = field.label_pt_br if language.startswith("pt") and field.label_pt_br else None
        if any(shares):
            series.append((shares[-1], Series(label or field.label_en, shares)))
    series.sort(key=lambda item: -item[0])
    return Chart(
        key="profile",
        title=_("Profile completeness"),
        kind="lines",
        categories=[_day_label(day) for day in days],
        series=[item[1] for item in series[:PROFILE_FIELDS_SHOWN]],
        y_label=_("Share of customers"),
        x_label=_("Day"),
        percent=True,
    )


def _client_sign_ins(days: list[date], client_pks: list[int]) -> Chart:
    from ciam.models import AuthorizationContext

    contexts = AuthorizationContext.objects.filter(
        created__gte=_start(days[0]), application_id__in=client_pks
    )
    return Chart(
        key="client_sign_ins",
        title=_("Sign-ins to your clients"),
        kind="bars",
        categories=[_day_label(day) for day in days],
        series=[Series(_("Authorizations"), _per_day(contexts, "created", days))],
        y_label=_("Sign-ins"),
        x_label=_("Day"),
    )


def dashboard_charts(*, days: int, client_pks: list[int] | None = None) -> list[Chart]:
    """The dashboard's charts over the last ``days`` days (today included); for a delegated
    operator (``client_pks`` set) only those figures that carry a client, for those clients."""
    today = timezone.localdate()
    window = _days(today - timedelta(days=days - 1), today)
    if client_pks is not None:
        from oauth2_provider.models import get_application_model

        client_ids = list(
            get_application_model()
            .objects.filter(pk__in=client_pks)
            .values_list("client_id", flat=True)
        )
        risk = _risk(window, client_ids)
        charts = [
            _client_sign_ins(window, client_pks),
            _challenges(window, risk, scoped=True),
            _consents(window, client_pks),
        ]
    else:
        risk = _risk(window, None)
        charts = [
            _signups(window),
            _sign_in_outcomes(window, risk),
            _sign_in_methods(window),
            _conversion(window),
            _challenges(window, risk, scoped=False),
            _consents(window, None),
            _profile_completeness(window),
        ]
    return [chart_layout(chart) for chart in charts]


def _scope(user: Any) -> list[int] | bool | None:
    """None: every figure; a list of client pks: a delegated operator's; False: none."""
    if user.is_superuser:
        return None
    if is_delegated_operator(user):
        return sorted(delegated_clients(user).values_list("pk", flat=True))
    if user.has_perm("console.view_dailycount"):
        return None
    return False


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """The admin index's dashboard (django-unfold's DASHBOARD_CALLBACK)."""
    scope = _scope(request.user)
    if scope is False:
        return context
    days = dashboard_range(request)
    client_pks = scope if isinstance(scope, list) else None
    scope_key = (
        "all" if client_pks is None else hashlib.sha256(repr(client_pks).encode()).hexdigest()
    )
    key = f"{CACHE_PREFIX}:{scope_key}:{days}:{translation.get_language()}"
    charts = cache.get(key)
    if charts is None:
        charts = dashboard_charts(days=days, client_pks=client_pks)
        cache.set(key, charts, CACHE_SECONDS)
    context["dashboard"] = {
        "charts": charts,
        "days": days,
        "ranges": [
            {"days": value, "label": _("%(days)d days") % {"days": value}, "current": value == days}
            for value in RANGES
        ],
        "scoped": client_pks is not None,
        "parameter": RANGE_PARAMETER,
    }
    return context
