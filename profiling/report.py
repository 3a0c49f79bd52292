"""The reads behind the profiling report in admin (profiling/admin.py, ``ProfileFieldAdmin``).

- ``question_outcomes``: per field, the questions shown over a period and what became of them.
- ``learner_preferences``: per context bucket, the fields ranked by the learner's posterior
  answer rate (and abandonment rate), from the ``LearnerArm`` counts.
- ``completeness_over_time`` and ``completeness_by_field``: how much of the schema customers
  have filled, day by day and today.
- ``completeness_chart``: the geometry of the completeness chart (an inline SVG drawn by the
  template, no JavaScript).

Every read is a few aggregate queries, whatever the number of users or days.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .learner import OVERALL_BUCKET, ArmCounts, Candidate, LearnerSettings, posterior_mean
from .models import LearnerArm, Outcome, Position, ProfileField, ProfileQuestion, ProfileValue

PERIODS: tuple[str, ...] = ("7", "30", "90", "all")
DEFAULT_PERIOD = "30"
CHART_DAYS = 30
CONTEXTS_SHOWN = 12  # buckets listed besides "*", those with the most evidence first


def report_period(raw: str | None) -> str:
    """The period asked for (``7``, ``30``, ``90`` days or ``all``); the default (30 days)
    for anything else."""
    return raw if raw in PERIODS else DEFAULT_PERIOD


def period_start(period: str, *, now: datetime | None = None) -> datetime | None:
    """When ``period`` starts (None: since the beginning)."""
    if period == "all":
        return None
    return (now or timezone.now()) - timedelta(days=int(report_period(period)))


@dataclass(frozen=True)
class FieldOutcomes:
    """What became of the questions about one field."""

    key: str
    label: str
    shown: int
    answered: int
    skipped: int
    abandoned: int
    junk: int
    pending: int

    def share(self, count: int) -> float:
        return 100.0 * count / self.shown if self.shown else 0.0

    @property
    def answered_pct(self) -> float:
        return self.share(self.answered)

    @property
    def skipped_pct(self) -> float:
        return self.share(self.skipped)

    @property
    def abandoned_pct(self) -> float:
        return self.share(self.abandoned)

    @property
    def junk_pct(self) -> float:
        return self.share(self.junk)

    @property
    def pending_pct(self) -> float:
        return self.share(self.pending)


def question_outcomes(*, since: datetime | None, language: str) -> list[FieldOutcomes]:
    """Per field, the questions shown since ``since`` (all when None) by outcome, the most
    asked first (one grouped query). Shares are of the questions shown, pending ones
    included."""
    questions = ProfileQuestion.objects.all()
    if since is not None:
        questions = questions.filter(shown_at__gte=since)
    rows = (
        questions.values("field_id")
        .annotate(
            shown=Count("id"),
            **{
                outcome.value: Count("id", filter=Q(outcome=outcome))
                for outcome in (
                    Outcome.ANSWERED,
                    Outcome.SKIPPED,
                    Outcome.ABANDONED,
                    Outcome.JUNK,
                    Outcome.PENDING,
                )
            },
        )
        .order_by()
    )
    counts = {row["field_id"]: row for row in rows}
    fields = ProfileField.objects.filter(pk__in=counts)
    result = [
        FieldOutcomes(
            key=field.key,
            label=field.label_for(language),
            shown=counts[field.pk]["shown"],
            answered=counts[field.pk][Outcome.ANSWERED],
            skipped=counts[field.pk][Outcome.SKIPPED],
            abandoned=counts[field.pk][Outcome.ABANDONED],
            junk=counts[field.pk][Outcome.JUNK],
            pending=counts[field.pk][Outcome.PENDING],
        )
        for field in fields
    ]
    return sorted(result, key=lambda item: (-item.shown, item.key))


@dataclass(frozen=True)
class ArmEstimate:
    """The learner's current belief about one field in one context."""

    key: str
    label: str
    shown: int
    answered: int
    abandoned: int
    answer_rate: float  # posterior mean, 0-1
    abandon_rate: float  # posterior mean, 0-1

    @property
    def answer_pct(self) -> float:
        return 100.0 * self.answer_rate

    @property
    def abandon_pct(self) -> float:
        return 100.0 * self.abandon_rate


@dataclass(frozen=True)
class ContextPreference:
    """One context bucket and its fields, the learner's favourite first."""

    bucket: str
    label: str
    shown: int
    fields: tuple[ArmEstimate, ...]


@dataclass(frozen=True)
class LearnerReport:
    contexts: tuple[ContextPreference, ...]
    contexts_hidden: int  # buckets with less evidence, left out


def _counts(arm: LearnerArm | None) -> ArmCounts:
    return arm.counts() if arm is not None else ArmCounts()


# The parts of learner.context_bucket, in words.
DEVICE_LABELS = {
    "desktop": gettext_lazy("Desktop"),
    "mobile": gettext_lazy("Mobile"),
    "other": gettext_lazy("Other device"),
}
DAY_PART_LABELS = {
    "night": gettext_lazy("Night"),
    "morning": gettext_lazy("Morning"),
    "afternoon": gettext_lazy("Afternoon"),
    "evening": gettext_lazy("Evening"),
}
WEEK_LABELS = {"weekday": gettext_lazy("Weekday"), "weekend": gettext_lazy("Weekend")}


def context_label(bucket: str) -> str:
    """A context bucket in words, e.g. ``after_sign_in|mobile|evening|weekday|2-3`` as
    "Right after signing in · Mobile · Evening · Weekday · Sign-ins 2-3"; an unknown shape
    as it is."""
    if bucket == OVERALL_BUCKET:
        return _("Every context")
    parts = bucket.split("|")
    if len(parts) != 5:
        return bucket
    position, device, day_part, week, sign_ins = parts
    words = [
        str(Position(position).label) if position in Position.values else position,
        str(DEVICE_LABELS.get(device, device)),
        str(DAY_PART_LABELS.get(day_part, day_part)),
        str(WEEK_LABELS.get(week, week)),
        _("First sign-in") if sign_ins == "1" else _("Sign-ins %(range)s") % {"range": sign_ins},
    ]
    return " · ".join(words)


def learner_preferences(
    *, language: str, settings: LearnerSettings | None = None, contexts_shown: int = CONTEXTS_SHOWN
) -> LearnerReport:
    """For every context bucket (``*`` first, then the ``contexts_shown`` buckets with the
    most questions shown), the active fields ranked by their posterior answer rate, then by
    the lowest posterior abandonment rate (``learner.posterior_mean``: a bucket borrows
    from the field's overall counts). One query."""
    settings = settings or LearnerSettings()
    arms = list(
        LearnerArm.objects.filter(field__active=True)
        .select_related("field")
        .order_by("bucket", "field__order", "field__key")
    )
    overall = {arm.field_id: arm for arm in arms if arm.bucket == OVERALL_BUCKET}
    by_bucket: dict[str, list[LearnerArm]] = defaultdict(list)
    for arm in arms:
        by_bucket[arm.bucket].append(arm)
    contexts: list[ContextPreference] = []
    for bucket, bucket_arms in by_bucket.items():
        estimates = []
        for arm in bucket_arms:
            counts = _counts(arm)
            candidate = Candidate(
                field_key=arm.field.key,
                bucket=counts,
                overall=counts if bucket == OVERALL_BUCKET else _counts(overall.get(arm.field_id)),
            )
            answer_rate, abandon_rate = posterior_mean(candidate, settings)
            estimates.append(
                ArmEstimate(
                    key=arm.field.key,
                    label=arm.field.label_for(language),
                    shown=arm.shown,
                    answered=arm.answered,
                    abandoned=arm.abandoned,
                    answer_rate=answer_rate,
                    abandon_rate=abandon_rate,
                )
            )
        estimates.sort(key=lambda e: (-e.answer_rate, e.abandon_rate, e.key))
        contexts.append(
            ContextPreference(
                bucket=bucket,
                label=context_label(bucket),
                shown=sum(arm.shown for arm in bucket_arms),
                fields=tuple(estimates),
            )
        )
    everywhere = [c for c in contexts if c.bucket == OVERALL_BUCKET]
    others = sorted(
        (c for c in contexts if c.bucket != OVERALL_BUCKET), key=lambda c: (-c.shown, c.bucket)
    )
    return LearnerReport(
        contexts=tuple(everywhere + others[:contexts_shown]),
        contexts_hidden=max(0, len(others) - contexts_shown),
    )


@dataclass(frozen=True)
class CompletenessPoint:
    """The schema's average filled share among the users who existed at the end of ``day``."""

    day: date
    users: int
    average: float  # 0-100


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def completeness_over_time(
    *, days: int = CHART_DAYS, today: date | None = None
) -> list[CompletenessPoint]:
    """One point per day of the last ``days`` days (today included): the average share of the
    active schema fields filled by the users who had joined by the end of that day.

    Counted from ``date_joined`` and ``ProfileValue.collected_at`` with four aggregate
    queries (before the first day, then per day), never per user. A value counts from when
    it was last collected (a value changed later counts from the change) and a value since
    removed does not count: the curve is today's values by the day they were given.
    """
    today = today or timezone.localdate()
    first_day = today - timedelta(days=days - 1)
    start = _day_start(first_day)
    end = _day_start(today + timedelta(days=1))
    field_count = ProfileField.objects.filter(active=True).count()
    users = get_user_model().objects.all()
    values = ProfileValue.objects.filter(field__active=True)
    users_before = users.filter(date_joined__lt=start).count()
    values_before = values.filter(collected_at__lt=start).count()
    users_per_day = dict(
        users.filter(date_joined__gte=start, date_joined__lt=end)
        .annotate(day=TruncDate("date_joined"))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("day", "n")
    )
    values_per_day = dict(
        values.filter(collected_at__gte=start, collected_at__lt=end)
        .annotate(day=TruncDate("collected_at"))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("day", "n")
    )
    points: list[CompletenessPoint] = []
    user_total, value_total = users_before, values_before
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        user_total += users_per_day.get(day, 0)
        value_total += values_per_day.get(day, 0)
        slots = user_total * field_count
        average = min(100.0, 100.0 * value_total / slots) if slots else 0.0
        points.append(CompletenessPoint(day=day, users=user_total, average=average))
    return points


@dataclass(frozen=True)
class FieldCompleteness:
    key: str
    label: str
    filled: int  # users with a value
    users: int

    @property
    def share(self) -> float:
        return 100.0 * self.filled / self.users if self.users else 0.0


def completeness_by_field(*, language: str) -> list[FieldCompleteness]:
    """Per active field, in schema order, how many users have a value today and their share
    of all users (three queries)."""
    users = get_user_model().objects.count()
    filled = dict(
        ProfileValue.objects.filter(field__active=True)
        .values("field_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("field_id", "n")
    )
    return [
        FieldCompleteness(
            key=field.key,
            label=field.label_for(language),
            filled=filled.get(field.pk, 0),
            users=users,
        )
        for field in ProfileField.objects.filter(active=True).order_by("order", "key")
    ]


# The chart ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartTick:
    position: float  # x or y in the SVG's user units
    label: str


@dataclass(frozen=True)
class ChartDot:
    x: float
    y: float
    point: CompletenessPoint


@dataclass(frozen=True)
class Chart:
    """What the template draws: the SVG's size, plot area, axes and the daily points."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    y_max: int
    y_ticks: tuple[ChartTick, ...]
    x_ticks: tuple[ChartDot, ...]  # the dots whose day is labelled
    dots: tuple[ChartDot, ...]
    line: str  # the polyline's points attribute
    area: str  # the polygon under the line


def completeness_chart(
    points: list[CompletenessPoint], *, width: int = 720, height: int = 260
) -> Chart:
    """The geometry of the completeness chart: the y axis goes to the next multiple of 10
    above the highest point (at least 10%, at most 100%), the x axis labels every fifth day
    counted back from the last one, and the first."""
    left, right, top, bottom = 52, width - 16, 16, height - 40
    highest = max((p.average for p in points), default=0.0)
    y_max = int(min(100, max(10, math.ceil(highest / 10) * 10)))
    plot_w, plot_h = right - left, bottom - top

    def x_at(index: int) -> float:
        return round(left + (plot_w * index / (len(points) - 1) if len(points) > 1 else plot_w), 1)

    def y_at(value: float) -> float:
        return round(bottom - plot_h * value / y_max, 1)

    y_ticks = tuple(ChartTick(y_at(v), f"{v}%") for v in range(0, y_max + 1, y_max // 5))
    dots = tuple(ChartDot(x_at(i), y_at(p.average), p) for i, p in enumerate(points))
    x_ticks = tuple(d for i, d in enumerate(dots) if i == 0 or (len(dots) - 1 - i) % 5 == 0)
    line = " ".join(f"{d.x},{d.y}" for d in dots)
    area = f"{left},{bottom} {line} {dots[-1].x},{bottom}" if dots else ""
    return Chart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        y_max=y_max,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        dots=dots,
        line=line,
        area=area,
    )


REPLAY_LABELS = {
    "learner": gettext_lazy("The learner as it is now"),
    "fixed order": gettext_lazy("Fixed order"),
    "never ask": gettext_lazy("Never ask"),
}


def replay_rows(*, since: datetime | None) -> tuple[int, list[dict[str, Any]]]:
    """The replay comparison of profiling/replay.py as table rows (None where unknown)."""
    from .replay import replay_compare

    total, estimates = replay_compare(since=since)
    rows = []
    for item in estimates:
        estimate = item.estimate
        rows.append(
            {
                "label": REPLAY_LABELS.get(item.name, item.name),
                "mean": None if math.isnan(estimate.mean) else estimate.mean,
                "spread": None if math.isnan(estimate.stderr) else 1.96 * estimate.stderr,
                "matched": estimate.matched,
            }
        )
    return total, rows
