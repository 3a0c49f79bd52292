"""The profile schema operators declare, the values customers give with where each came from,
the rules that decide when a question is asked, and what each question taught the learner.

- ``ProfileField``: one field of the schema (type, words in both languages, validation,
  normalisation, sensitivity, the claim it feeds and the consent purpose it needs).
- ``ProfileValue``: a user's value of one field with its provenance (when, how, which client).
  ``Profile.values`` is the same values as one JSON object, written in the same transaction
  (profiling/services/values.py), so claims are read with the user in one query.
- ``AskRule`` and ``ClientProfileSettings``: when and where a question may be asked, and the
  fields a client requires before it gets a code.
- ``ProfileQuestion`` (every question shown, its context and outcome: the learner's log) and
  ``LearnerArm`` (the learner's counts per field and context bucket).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oauth2_provider.settings import oauth2_settings

from consent.models import language_suffix

from .learner import ArmCounts


def value_is_empty(value: Any) -> bool:
    """Whether a profile value means "no value" (None, "", [] or {})."""
    return value is None or value == "" or value == [] or value == {}


class FieldType(models.TextChoices):
    TEXT = "text", _("Text")
    EMAIL = "email", _("Email address")
    PHONE = "phone", _("Phone number")
    DATE = "date", _("Date")
    CHOICE = "choice", _("One choice")
    MULTI_CHOICE = "multi_choice", _("Several choices")
    BOOLEAN = "boolean", _("Yes or no")
    NUMBER = "number", _("Number")
    ADDRESS = "address", _("Postal address")
    DOCUMENT = "document", _("National document")
    URL = "url", _("Web address")


class DocumentKind(models.TextChoices):
    BR_CPF = "br_cpf", _("CPF (Brazil, people)")
    BR_CNPJ = "br_cnpj", _("CNPJ (Brazil, companies)")
    BR_CPF_OR_CNPJ = "br_cpf_cnpj", _("CPF or CNPJ (Brazil)")


class Sensitivity(models.TextChoices):
    PERSONAL = "personal", _("Personal data")
    # LGPD art. 11 / GDPR art. 9: health, religion, ethnicity, sex life, biometrics...
    SENSITIVE = "sensitive", _("Sensitive personal data (LGPD art. 11)")


class ClaimScope(models.TextChoices):
    """The scope that releases a field's claim (OIDC Core 5.4)."""

    PROFILE = "profile", "profile"
    EMAIL = "email", "email"
    PHONE = "phone", "phone"
    ADDRESS = "address", "address"


class ProfileField(models.Model):
    """One field of the profile schema."""

    key = models.SlugField(
        _("key"),
        max_length=64,
        unique=True,
        help_text=_("Stable identifier used by the API and the values: never rename it."),
    )
    type = models.CharField(_("type"), max_length=16, choices=FieldType.choices)
    label_en = models.CharField(_("label (English)"), max_length=120)
    label_pt_br = models.CharField(_("label (Portuguese)"), max_length=120, blank=True)
    help_en = models.CharField(_("help text (English)"), max_length=300, blank=True)
    help_pt_br = models.CharField(_("help text (Portuguese)"), max_length=300, blank=True)
    benefit_en = models.CharField(
        _("benefit (English)"),
        max_length=200,
        blank=True,
        help_text=_(
            "Why answering helps the customer, e.g. “so we can show what fits your space”."
        ),
    )
    benefit_pt_br = models.CharField(_("benefit (Portuguese)"), max_length=200, blank=True)
    # Validation (profiling/validation.py reads these; which apply depends on the type).
    choices = models.JSONField(
        _("choices"),
        default=list,
        blank=True,
        help_text=_(
            'For choice fields: a JSON list of {"value": "...", "label_en": "...", '
            '"label_pt_br": "..."}.'
        ),
    )
    pattern = models.CharField(
        _("format (regular expression)"),
        max_length=200,
        blank=True,
        help_text=_("Text fields: the whole normalised value must match it."),
    )
    min_length = models.PositiveIntegerField(_("minimum length"), null=True, blank=True)
    max_length = models.PositiveIntegerField(_("maximum length"), null=True, blank=True)
    min_value = models.DecimalField(
        _("minimum value"), max_digits=18, decimal_places=6, null=True, blank=True
    )
    max_value = models.DecimalField(
        _("maximum value"), max_digits=18, decimal_places=6, null=True, blank=True
    )
    min_date = models.DateField(_("earliest date"), null=True, blank=True)
    max_date = models.DateField(
        _("latest date"),
        null=True,
        blank=True,
        help_text=_("Date fields; a date in the future is refused unless a later one is set."),
    )
    document_kind = models.CharField(
        _("document"), max_length=16, choices=DocumentKind.choices, blank=True
    )
    phone_region = models.CharField(
        _("default phone region"),
        max_length=2,
        default="BR",
        blank=True,
        help_text=_("Country of numbers typed without +country code (ISO 3166 alpha-2)."),
    )
    check_junk = models.BooleanField(
        _("refuse junk"),
        default=True,
        help_text=_("Text answers such as “asdf” or “test test” are asked again politely."),
    )
    sensitivity = models.CharField(
        _("sensitivity"), max_length=16, choices=Sensitivity.choices, default=Sensitivity.PERSONAL
    )
    claim = models.CharField(
        _("claim"),
        max_length=200,
        blank=True,
        help_text=_(
            "The OIDC claim it feeds: a standard claim (given_name, birthdate, phone_number, "
            "address...) or a namespaced custom claim (https://example.com/style or "
            "example:style). Empty: no claim."
        ),
    )
    scope = models.CharField(
        _("scope"),
        max_length=16,
        choices=ClaimScope.choices,
        default=ClaimScope.PROFILE,
        help_text=_("The scope that releases a custom claim (standard claims keep their own)."),
    )
    purpose = models.ForeignKey(
        "consent.Purpose",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="profile_fields",
        verbose_name=_("consent purpose"),
        help_text=_(
            "Asked for and released as a claim only while the customer has granted it. "
            "Sensitive fields need one."
        ),
    )
    editable = models.BooleanField(
        _("customers may fill it"),
        default=True,
        help_text=_(
            "Asked in questions and shown in the account area. Untick for values only your "
            "systems set (a loyalty tier): the API and operators still write them."
        ),
    )
    active = models.BooleanField(_("active"), default=True)
    order = models.PositiveIntegerField(_("order"), default=100)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("profile field")
        verbose_name_plural = _("profile fields")
        ordering = ["order", "key"]

    def __str__(self) -> str:
        return self.key

    def label_for(self, language: str) -> str:
        return getattr(self, f"label_{language_suffix(language)}") or self.label_en

    def help_for(self, language: str) -> str:
        return getattr(self, f"help_{language_suffix(language)}") or self.help_en

    def benefit_for(self, language: str) -> str:
        return getattr(self, f"benefit_{language_suffix(language)}") or self.benefit_en

    def choice_values(self) -> list[str]:
        return [str(c.get("value")) for c in self.choices or [] if isinstance(c, dict)]

    def choice_label(self, value: str, language: str) -> str:
        suffix = language_suffix(language)
        for choice in self.choices or []:
            if isinstance(choice, dict) and str(choice.get("value")) == value:
                return str(choice.get(f"label_{suffix}") or choice.get("label_en") or value)
        return value


class Profile(models.Model):
    """A customer's profile: the values of the schema's fields, by field key, as one JSON
    object (the provenance of each is in ``ProfileValue``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    values = models.JSONField(_("values"), default=dict, blank=True)
    # Keys of the values whose owner proved control (phone_number_verified, OIDC Core 5.1).
    verified = models.JSONField(_("verified values"), default=list, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return f"Profile of {self.user_id}"

    def value(self, key: str) -> Any:
        return (self.values or {}).get(key)

    @property
    def name(self) -> str:
        return " ".join(
            str(part) for part in (self.value("given_name"), self.value("family_name")) if part
        )


class ValueSource(models.TextChoices):
    """How a value reached the profile."""

    SIGNUP = "signup", _("Sign-up")
    QUESTION = "question", _("Question during sign-in")
    SOCIAL = "social", _("Social sign-in provider")
    ACCOUNT = "account", _("Account area")
    API = "api", _("Profile API")
    IMPORT = "import", _("Import")
    ADMIN = "admin", _("Operator")


class ProfileValue(models.Model):
    """A user's value of one field, and where it came from."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile_values"
    )
    field = models.ForeignKey(
        ProfileField, on_delete=models.CASCADE, related_name="values", verbose_name=_("field")
    )
    value = models.JSONField(_("value"))
    verified = models.BooleanField(_("verified"), default=False)
    source = models.CharField(_("source"), max_length=16, choices=ValueSource.choices)
    source_detail = models.CharField(
        _("source detail"),
        max_length=64,
        blank=True,
        help_text=_("The social provider, the import batch..."),
    )
    client = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("client"),
    )
    collected_at = models.DateTimeField(_("collected at"), default=timezone.now)

    class Meta:
        verbose_name = _("profile value")
        verbose_name_plural = _("profile values")
        constraints = [
            models.UniqueConstraint(fields=["user", "field"], name="profile_value_one_per_field")
        ]
        indexes = [models.Index(fields=["field", "collected_at"], name="profile_value_collected")]

    def __str__(self) -> str:
        return f"{self.user_id}.{self.field_id}"


class Position(models.TextChoices):
    """Where in the journey a question is asked."""

    AFTER_SIGN_IN = "after_sign_in", _("Right after signing in")
    BEFORE_RETURN = "before_return", _("Before returning to the application")


class AskRule(models.Model):
    """When a question about some fields may be asked (profiling/rules.py decides)."""

    name = models.CharField(_("name"), max_length=120)
    active = models.BooleanField(_("active"), default=True)
    priority = models.PositiveIntegerField(
        _("priority"), default=100, help_text=_("Lower first, for the fixed order.")
    )
    fields = models.ManyToManyField(
        ProfileField, related_name="ask_rules", verbose_name=_("fields")
    )
    position = models.CharField(
        _("where"), max_length=16, choices=Position.choices, default=Position.AFTER_SIGN_IN
    )
    min_sign_ins = models.PositiveIntegerField(
        _("from sign-in number"),
        default=1,
        help_text=_("1: from the first sign-in; 2: from the second..."),
    )
    min_days_since_signup = models.PositiveIntegerField(
        _("days since sign-up, at least"), default=0
    )
    clients: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        oauth2_settings.APPLICATION_MODEL,
        related_name="+",
        blank=True,
        verbose_name=_("clients"),
        help_text=_("Only when one of these clients asks; none: any client."),
    )
    when_requested = models.BooleanField(
        _("only when the client asks for it"),
        default=False,
        help_text=_("Only when the request's scopes or claims include the field's claim."),
    )
    transactional_only = models.BooleanField(
        _("only before a transactional client"),
        default=False,
        help_text=_("Only before a client marked transactional (a checkout)."),
    )
    fields_per_question = models.PositiveSmallIntegerField(
        _("fields per question"), default=1, choices=[(1, "1"), (2, "2")]
    )
    max_questions = models.PositiveSmallIntegerField(_("questions per sign-in, at most"), default=1)
    snooze_days = models.PositiveIntegerField(_("after a skip, ask again after (days)"), default=14)
    max_skips = models.PositiveIntegerField(_("never again after this many skips"), default=3)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("ask rule")
        verbose_name_plural = _("ask rules")
        ordering = ["priority", "pk"]

    def __str__(self) -> str:
        return self.name


class ClientProfileSettings(models.Model):
    """What a client needs from the profile."""

    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="profile_settings",
        verbose_name=_("client"),
    )
    transactional = models.BooleanField(
        _("transactional"),
        default=False,
        help_text=_("A checkout or similar: rules marked “only before a transactional client”."),
    )
    required_fields = models.ManyToManyField(
        ProfileField,
        blank=True,
        related_name="required_by",
        verbose_name=_("required fields"),
        help_text=_("Asked before this client gets a code, and not skippable."),
    )

    class Meta:
        verbose_name = _("client profile settings")
        verbose_name_plural = _("client profile settings")

    def __str__(self) -> str:
        return str(self.application)


class Outcome(models.TextChoices):
    PENDING = "pending", _("Waiting for an answer")
    ANSWERED = "answered", _("Answered")
    SKIPPED = "skipped", _("Skipped")
    ABANDONED = "abandoned", _("Sign-in abandoned")
    JUNK = "junk", _("Junk refused")


class ProfileQuestion(models.Model):
    """One field asked on a question page: its context and outcome (the learner's log)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile_questions"
    )
    field = models.ForeignKey(ProfileField, on_delete=models.CASCADE, related_name="questions")
    rule = models.ForeignKey(
        AskRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="questions"
    )
    client = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    interaction = models.CharField(_("interaction"), max_length=64, db_index=True)
    required = models.BooleanField(_("required"), default=False)
    position = models.CharField(_("where"), max_length=16, choices=Position.choices)
    context = models.JSONField(_("context"), default=dict)
    bucket = models.CharField(_("context bucket"), max_length=64)
    explored = models.BooleanField(
        _("randomised"), default=False, help_text=_("Chosen at random, for offline evaluation.")
    )
    propensity = models.FloatField(_("probability of this choice"), default=1.0)
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.PENDING
    )
    shown_at = models.DateTimeField(_("shown at"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("question asked")
        verbose_name_plural = _("questions asked")
        ordering = ["-shown_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["interaction", "field", "required"], name="profile_question_once"
            )
        ]
        indexes = [
            models.Index(fields=["user", "field", "-shown_at"], name="profile_question_user"),
            models.Index(fields=["outcome", "shown_at"], name="profile_question_outcome"),
        ]

    def __str__(self) -> str:
        return f"{self.field_id} for {self.user_id}: {self.outcome}"


class LearnerDecision(models.Model):
    """A decision the learner made at random (``CIAM_PROFILING_EXPLORE_RATE``), "ask
    nothing" included: the log that replay evaluation compares policies on
    (``manage.py profiling_replay``)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    interaction = models.CharField(_("interaction"), max_length=64)
    position = models.CharField(_("where"), max_length=16, choices=Position.choices)
    bucket = models.CharField(_("context bucket"), max_length=64)
    candidates = models.JSONField(_("eligible fields"), default=list)
    chosen = models.CharField(_("field asked"), max_length=64, blank=True)
    propensity = models.FloatField(_("probability of this choice"))
    question = models.ForeignKey(
        "ProfileQuestion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), default=timezone.now)

    class Meta:
        verbose_name = _("randomised decision")
        verbose_name_plural = _("randomised decisions")
        indexes = [models.Index(fields=["decided_at"], name="learner_decision_time")]

    def __str__(self) -> str:
        return f"{self.bucket}: {self.chosen or '-'}"


class LearnerArm(models.Model):
    """The learner's counts for one field in one context bucket (``OVERALL_BUCKET``, ``*``:
    every context)."""

    field = models.ForeignKey(ProfileField, on_delete=models.CASCADE, related_name="arms")
    bucket = models.CharField(_("context bucket"), max_length=64)
    shown = models.PositiveIntegerField(_("shown"), default=0)
    answered = models.PositiveIntegerField(_("answered"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    abandoned = models.PositiveIntegerField(_("abandoned"), default=0)
    junk = models.PositiveIntegerField(_("junk"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("learner arm")
        verbose_name_plural = _("learner arms")
        constraints = [
            models.UniqueConstraint(fields=["field", "bucket"], name="learner_arm_field_bucket")
        ]

    def __str__(self) -> str:
        return f"{self.field_id}@{self.bucket}"

    def counts(self) -> ArmCounts:
        """This arm's counts, as the learner (profiling/learner.py) reads them."""
        return ArmCounts(
            shown=self.shown,
            answered=self.answered,
            skipped=self.skipped,
            abandoned=self.abandoned,
            junk=self.junk,
        )
