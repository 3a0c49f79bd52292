"""What personalization derives from a customer's consented interactions and answers:
interests (categories and brands, with the evidence behind each), the precomputed insight
released as claims (one indexed read during token issuance), the item neighbours of the
collaborative model, operators' segments and their members, and the log of training runs.

Derived data exists only while the customer grants a ``personalization`` purpose: withdrawing
it deletes every row here for that customer (``services/forget.py``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

KEY_MAX_LENGTH = 200


class InterestKind(models.TextChoices):
    CATEGORY = "category", _("Category")
    BRAND = "brand", _("Brand")


class InterestSource(models.TextChoices):
    INFERRED = "inferred", _("Inferred from activity")
    CUSTOMER = "customer", _("Added by the customer")


class Interest(models.Model):
    """A customer's interest in a category or brand: inferred from their activity (a score,
    and the evidence: counts per interaction type), or added by the customer themselves
    (zero-party data: score 1, never replaced by inference). ``hidden``: the customer
    removed it; inference never brings it back."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="interests",
        verbose_name=_("customer"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=InterestKind.choices)
    key = models.CharField(_("name"), max_length=KEY_MAX_LENGTH)
    score = models.FloatField(_("score"), default=0.0)
    source = models.CharField(
        _("source"), max_length=16, choices=InterestSource.choices, default=InterestSource.INFERRED
    )
    hidden = models.BooleanField(
        _("removed by the customer"),
        default=False,
        help_text=_("The customer removed this interest: it is not inferred again."),
    )
    # {"purchase": 3, "page_view": 2, "last_at": "2026-11-30T18:02:00+00:00"}
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("interest")
        verbose_name_plural = _("interests")
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "key"], name="interest_one_per_key")
        ]
        indexes = [models.Index(fields=["user", "-score"], name="interest_by_user")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"


class Insight(models.Model):
    """Everything shared about one customer, computed ahead: the ``interests`` claims and the
    back-end API read this row only (its primary key is the user's)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="insight",
        verbose_name=_("customer"),
    )
    # [{"kind": "brand", "key": "Acme", "score": 0.82, "source": "inferred"}], best first
    interests = models.JSONField(_("interests"), default=list, blank=True)
    # [{"item": "sku-1", "category": "...", "brand": "...", "score": 0.4, "because": "sku-9"}]
    recommendations = models.JSONField(_("recommendations"), default=list, blank=True)
    # Hours (0-23) and ISO weekdays (1 = Monday) in ``time_zone``, best first.
    best_hours = models.JSONField(_("best hours"), default=list, blank=True)
    best_weekdays = models.JSONField(_("best weekdays"), default=list, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    # True when the window comes mostly from the population prior (few own interactions).
    window_from_prior = models.BooleanField(_("window from the population"), default=True)
    segments = models.JSONField(_("segments"), default=list, blank=True)
    interactions = models.PositiveIntegerField(_("interactions used"), default=0)
    engaged_at = models.DateTimeField(_("last engaged"), null=True, blank=True)
    # Ids of the personalization purposes whose interactions it was computed from: released
    # only to a client that may see every one of them.
    purposes = models.JSONField(_("purposes"), default=list, blank=True)
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)

    class Meta:
        verbose_name = _("personalization insight")
        verbose_name_plural = _("personalization insights")

    def __str__(self) -> str:
        return str(self.user_id)


class CatalogueItem(models.Model):
    """An item seen in consented interactions: its category and brand (the latest reported)
    and its popularity (recency-weighted, the baseline and the cold-start fallback)."""

    key = models.CharField(_("item"), max_length=KEY_MAX_LENGTH, unique=True)
    category = models.CharField(_("category"), max_length=KEY_MAX_LENGTH, blank=True)
    brand = models.CharField(_("brand"), max_length=KEY_MAX_LENGTH, blank=True)
    popularity = models.FloatField(_("popularity"), default=0.0)
    # Distinct customers who took it (the evidence of a predicted interest).
    customers = models.PositiveIntegerField(_("customers"), default=0)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("catalogue item")
        verbose_name_plural = _("catalogue items")
        indexes = [models.Index(fields=["-popularity"], name="catalogue_popular")]

    def __str__(self) -> str:
        return self.key


class ItemNeighbour(models.Model):
    """The collaborative model: items often taken by the same customers (cosine similarity
    of item-item co-occurrence), the strongest few per item. A customer's recommendations
    are recomputed from these without refitting (incremental runs)."""

    item = models.CharField(_("item"), max_length=KEY_MAX_LENGTH)
    neighbour = models.CharField(_("neighbour"), max_length=KEY_MAX_LENGTH)
    score = models.FloatField(_("similarity"))

    class Meta:
        verbose_name = _("item neighbour")
        verbose_name_plural = _("item neighbours")
        constraints = [
            models.UniqueConstraint(fields=["item", "neighbour"], name="item_neighbour_once")
        ]

    def __str__(self) -> str:
        return f"{self.item} ~ {self.neighbour}"


# Condition types whose segments relying parties may see (``Segment.shared``).
SHARED_CONDITION_TYPES = frozenset({"interest", "engaged_within_days", "best_hour"})


class Segment(models.Model):
    """An operator's rule-based group of customers (``conditions``: every one must hold;
    personalization/segments.py reads and checks them). Membership is recomputed by
    ``manage.py personalization_train`` and on each customer's own changes; entering and
    leaving are published as events."""

    key = models.SlugField(_("key"), max_length=64, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_pt_br = models.CharField(_("name (Portuguese)"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    conditions = models.JSONField(_("conditions"), default=list)
    active = models.BooleanField(_("active"), default=True)
    members = models.PositiveIntegerField(_("members"), default=0, editable=False)
    computed_at = models.DateTimeField(_("computed at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key

    @property
    def shared(self) -> bool:
        """Whether relying parties may see the membership (the ``segments`` claim and API):
        only when its conditions are all about personalization itself (interests,
        engagement, contact hours). A segment over a consent decision or a profile value
        would tell a client what its own scopes and purposes do not let it see."""
        conditions = self.conditions if isinstance(self.conditions, list) else []
        return all(
            isinstance(condition, dict) and condition.get("type") in SHARED_CONDITION_TYPES
            for condition in conditions
        )

    def name_for(self, language: str) -> str:
        if language.lower().startswith("pt") and self.name_pt_br:
            return self.name_pt_br
        return self.name_en


class SegmentMembership(models.Model):
    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("segment")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="segment_memberships",
        verbose_name=_("customer"),
    )
    since = models.DateTimeField(_("member since"), default=timezone.now)

    class Meta:
        verbose_name = _("segment membership")
        verbose_name_plural = _("segment memberships")
        constraints = [
            models.UniqueConstraint(fields=["segment", "user"], name="segment_member_once")
        ]

    def __str__(self) -> str:
        return f"{self.segment_id}:{self.user_id}"


class TrainingKind(models.TextChoices):
    FULL = "full", _("Full")
    INCREMENTAL = "incremental", _("Incremental")


class TrainingRun(models.Model):
    """One run of ``manage.py personalization_train``: what it used and what it cost."""

    kind = models.CharField(_("kind"), max_length=16, choices=TrainingKind.choices)
    model = models.CharField(_("model"), max_length=32)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    users = models.PositiveIntegerField(_("customers"), default=0)
    interactions = models.PositiveIntegerField(_("interactions"), default=0)
    items = models.PositiveIntegerField(_("items"), default=0)
    seconds = models.FloatField(_("seconds"), default=0.0)
    # The interaction id the run read up to: the next incremental run starts after it.
    through_interaction = models.BigIntegerField(_("through interaction"), default=0)
    # The population's engagement by local hour (24 shares) and ISO weekday (7 shares): the
    # prior of new customers' windows in incremental runs.
    population = models.JSONField(_("population rhythm"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("training run")
        verbose_name_plural = _("training runs")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.started_at:%Y-%m-%d %H:%M}"
