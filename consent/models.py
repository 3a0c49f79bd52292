from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oauth2_provider.settings import oauth2_settings


class Consent(models.Model):
    """A user's standing permission for a client to receive some scopes and claims."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents"
    )
    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="consents"
    )
    scopes = models.JSONField(_("scopes"), default=list)
    claims = models.JSONField(_("individually requested claims"), default=list, blank=True)
    granted_at = models.DateTimeField(_("granted at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        constraints = [
            models.UniqueConstraint(fields=["user", "application"], name="consent_one_per_client")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} -> {self.application_id}: {' '.join(self.scopes)}"

    def covers(
        self, scopes: list[str], claims: list[str], *, max_age_days: int | None = None
    ) -> bool:
        """Whether this grant covers ``scopes`` and ``claims`` now: not revoked, not older
        than the client's ``consent_max_age_days`` when it sets one, and every scope and claim
        granted (new scopes ask again)."""
        if max_age_days is not None and self.granted_at < timezone.now() - timedelta(
            days=max_age_days
        ):
            return False
        return (
            self.revoked_at is None
            and set(scopes) <= set(self.scopes)
            and set(claims) <= set(self.claims)
        )


# --- Purposes, their versions, and the append-only consent ledger (issue 9) ---------------


class PurposeKind(models.TextChoices):
    TERMS_OF_SERVICE = "terms_of_service", _("Terms of service")
    PRIVACY_NOTICE = "privacy_notice", _("Privacy notice")
    MARKETING_EMAIL = "marketing_email", _("Marketing by email")
    MARKETING_MESSAGES = "marketing_messages", _("Marketing by SMS or WhatsApp")
    PERSONALIZATION = "personalization", _("Personalization")
    ANALYTICS = "analytics", _("Analytics")
    PARTNER_SHARING = "partner_sharing", _("Sharing with partners")
    CUSTOM = "custom", _("Other")


class LegalBasis(models.TextChoices):
    """LGPD art. 7 / GDPR art. 6(1) lawful bases."""

    CONSENT = "consent", _("Consent")
    CONTRACT = "contract", _("Performance of a contract")
    LEGAL_OBLIGATION = "legal_obligation", _("Legal obligation")
    VITAL_INTERESTS = "vital_interests", _("Vital interests")
    PUBLIC_INTEREST = "public_interest", _("Public interest")
    LEGITIMATE_INTERESTS = "legitimate_interests", _("Legitimate interests")


class Purpose(models.Model):
    """Something the user is asked to agree to: terms, a privacy notice, marketing...

    Its words live in ``PurposeVersion`` rows; the current version is the latest published.
    """

    key = models.SlugField(
        _("key"),
        max_length=64,
        unique=True,
        help_text=_("Stable identifier; part of every ledger record's hash: never rename it."),
    )
    kind = models.CharField(_("kind"), max_length=32, choices=PurposeKind.choices)
    legal_basis = models.CharField(
        _("legal basis"), max_length=32, choices=LegalBasis.choices, default=LegalBasis.CONSENT
    )
    required = models.BooleanField(
        _("required by every client"),
        default=False,
        help_text=_("Every client, first-party or third-party, needs it (e.g. the terms)."),
    )
    data_categories = models.JSONField(
        _("personal data categories"),
        default=list,
        blank=True,
        help_text=_('A JSON list of strings, e.g. ["email", "phone_number"].'),
    )
    # The client model is swappable (DOT's OAUTH2_PROVIDER_APPLICATION_MODEL): typed loosely.
    clients: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        oauth2_settings.APPLICATION_MODEL,
        through="ClientPurpose",
        related_name="purposes",
        blank=True,
        verbose_name=_("clients"),
    )
    active = models.BooleanField(
        _("active"), default=True, help_text=_("Inactive purposes are never asked for.")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("purpose")
        verbose_name_plural = _("purposes")
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key

    def current_version(self) -> PurposeVersion | None:
        """The latest published version (highest number), or None when all are drafts."""
        return self.versions.filter(published_at__isnull=False).order_by("-number").first()


class VersionChange(models.TextChoices):
    MATERIAL = "material", _("Material change (users are asked again)")
    MINOR = "minor", _("Minor change (no new consent needed)")


def language_suffix(language: str) -> str:
    """The field suffix of ``language``: ``pt_br`` for Portuguese, ``en`` otherwise."""
    return "pt_br" if (language or "").lower().replace("_", "-").startswith("pt") else "en"


class PurposeVersion(models.Model):
    """The words of a purpose at one point in time; immutable once published."""

    purpose = models.ForeignKey(
        Purpose, on_delete=models.CASCADE, related_name="versions", verbose_name=_("purpose")
    )
    number = models.PositiveIntegerField(_("version number"))
    title_en = models.CharField(_("title (English)"), max_length=200)
    title_pt_br = models.CharField(_("title (Portuguese)"), max_length=200, blank=True)
    summary_en = models.TextField(_("summary (English)"), blank=True)
    summary_pt_br = models.TextField(_("summary (Portuguese)"), blank=True)
    text_en = models.TextField(_("full text (English)"), blank=True)
    text_pt_br = models.TextField(_("full text (Portuguese)"), blank=True)
    policy_url = models.URLField(_("policy URL"), blank=True)
    change = models.CharField(
        _("change"), max_length=16, choices=VersionChange.choices, default=VersionChange.MATERIAL
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("purpose version")
        verbose_name_plural = _("purpose versions")
        ordering = ["purpose__key", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["purpose", "number"], name="purpose_version_number")
        ]

    def __str__(self) -> str:
        state = "" if self.published_at else " (draft)"
        return f"{self.purpose.key} v{self.number}{state}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The words of a published version are what users agreed to (their text_sha256 is
        # in the ledger): they never change. Publish with purpose_version_publish.
        if (
            not self._state.adding
            and PurposeVersion.objects.filter(pk=self.pk, published_at__isnull=False).exists()
        ):
            raise LedgerImmutableError(f"{self} is published: write a new version instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if self.published_at is not None:
            raise LedgerImmutableError(f"{self} is published: it cannot be deleted.")
        return super().delete(*args, **kwargs)

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    @property
    def is_material(self) -> bool:
        return self.change == VersionChange.MATERIAL

    def title_for(self, language: str) -> str:
        """The title shown in ``language`` (English when no translation was written)."""
        return str(getattr(self, "title_" + language_suffix(language)) or self.title_en)

    def summary_for(self, language: str) -> str:
        return str(getattr(self, "summary_" + language_suffix(language)) or self.summary_en)

    def text_for(self, language: str) -> str:
        return str(getattr(self, "text_" + language_suffix(language)) or self.text_en)

    def text_sha256(self, language: str) -> str:
        """SHA-256 (hex) of exactly what is shown in ``language``: title, summary and full
        text joined by a blank line (the proof of which words the user agreed to)."""
        shown = "\n\n".join(
            (self.title_for(language), self.summary_for(language), self.text_for(language))
        )
        return hashlib.sha256(shown.encode("utf-8")).hexdigest()


class ClientPurpose(models.Model):
    """A client needs (required) or may offer (optional) a purpose."""

    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="client_purposes",
        verbose_name=_("client"),
    )
    purpose = models.ForeignKey(
        Purpose,
        on_delete=models.CASCADE,
        related_name="client_purposes",
        verbose_name=_("purpose"),
    )
    required = models.BooleanField(
        _("required"),
        default=False,
        help_text=_("Required: the user cannot continue to this client without it."),
    )

    class Meta:
        verbose_name = _("client purpose")
        verbose_name_plural = _("client purposes")
        constraints = [
            models.UniqueConstraint(fields=["application", "purpose"], name="client_purpose_once")
        ]

    def __str__(self) -> str:
        kind = "required" if self.required else "optional"
        return f"{self.application_id}: {self.purpose_id} ({kind})"


class ConsentAction(models.TextChoices):
    GRANTED = "granted", _("Granted")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    EXPIRED = "expired", _("Expired")
    RECONFIRMED = "reconfirmed", _("Reconfirmed")
    # Shown and not accepted, without an earlier grant to withdraw (ISO/IEC TS 27560: refused).
    DECLINED = "declined", _("Declined")


GRANTING_ACTIONS = frozenset({ConsentAction.GRANTED, ConsentAction.RECONFIRMED})


class ConsentChannel(models.TextChoices):
    SIGNUP = "signup", _("Sign-up")
    SIGNIN = "signin", _("Sign-in")
    PORTAL = "portal", _("Account portal")
    ADMIN = "admin", _("Operator admin")
    API = "api", _("API")
    IMPORT = "import", _("Import")


class LedgerImmutableError(RuntimeError):
    """The consent ledger is append-only: records are never changed or deleted."""


# Set only by consent.services.ledger.ledger_erase, for the one change the ledger allows.
_erasure_allowed: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "consent_ledger_erasure", default=False
)
ERASABLE_FIELDS = frozenset({"user", "user_id", "ip_address", "user_agent", "erased"})


@contextlib.contextmanager
def ledger_erasure() -> Iterator[None]:
    """Within this block (and only here) the ledger's queryset accepts the anonymising
    ``update(user=None, ip_address=None, user_agent="", erased=True)``."""
    token = _erasure_allowed.set(True)
    try:
        yield
    finally:
        _erasure_allowed.reset(token)


class ConsentRecordQuerySet(models.QuerySet["ConsentRecord"]):
    """Refuses bulk changes: ``update`` only for erasure, ``delete`` never."""

    def update(self, **kwargs: Any) -> int:
        if not _erasure_allowed.get() or not set(kwargs) <= ERASABLE_FIELDS:
            raise LedgerImmutableError("Consent records cannot be updated.")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        raise LedgerImmutableError("Consent records cannot be deleted.")

    def for_chain(self) -> ConsentRecordQuerySet:
        return self.select_related("purpose", "version").order_by("subject", "sequence")


ConsentRecordManager = models.Manager.from_queryset(ConsentRecordQuerySet)


class ConsentRecord(models.Model):
    """One decision of one user about one purpose version: the append-only consent ledger.

    Each user's records form a hash chain (``sequence`` 1, 2, ... and ``previous_hash``), so a
    rewritten, removed or reordered record is detected (``consent.selectors.ledger_breaks``).
    The hash covers ``subject`` (an HMAC of the user id) and HMAC digests of the IP address
    and user agent rather than the raw values: erasure (``ledger_erase``) blanks the user,
    the IP address and the user agent and the chain still verifies. See ``chain_fields``.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        # A user with records is erased (ledger_erase) before being deleted.
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="consent_records",
        verbose_name=_("user"),
    )
    subject = models.CharField(_("subject (HMAC of the user id)"), max_length=64, db_index=True)
    sequence = models.PositiveIntegerField(_("sequence in the subject's chain"))
    purpose = models.ForeignKey(
        Purpose, on_delete=models.PROTECT, related_name="records", verbose_name=_("purpose")
    )
    version = models.ForeignKey(
        PurposeVersion,
        on_delete=models.PROTECT,
        related_name="records",
        verbose_name=_("purpose version"),
    )
    action = models.CharField(_("action"), max_length=16, choices=ConsentAction.choices)
    at = models.DateTimeField(_("at"), default=timezone.now)
    channel = models.CharField(_("channel"), max_length=16, choices=ConsentChannel.choices)
    # No database constraint: deleting a client must not rewrite or block the ledger; the
    # client_id below keeps which client it was.
    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("client"),
    )
    client_id = models.CharField(_("client ID"), max_length=100, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    ip_address_digest = models.CharField(_("IP address HMAC"), max_length=64, blank=True)
    user_agent = models.TextField(_("user agent"), blank=True)
    user_agent_digest = models.CharField(_("user agent HMAC"), max_length=64, blank=True)
    language = models.CharField(_("language"), max_length=16)
    text_sha256 = models.CharField(_("SHA-256 of the text shown"), max_length=64)
    receipt_id = models.UUIDField(_("receipt ID"), default=uuid.uuid4, unique=True)
    previous_hash = models.CharField(_("previous record's hash"), max_length=64, blank=True)
    hash = models.CharField(_("hash"), max_length=64, unique=True)
    erased = models.BooleanField(_("erased"), default=False)

    objects = ConsentRecordManager()

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-at", "-sequence"]
        constraints = [
            # Two appends racing for the same place in a chain cannot both succeed.
            models.UniqueConstraint(fields=["subject", "sequence"], name="consent_record_chain")
        ]
        indexes = [
            models.Index(fields=["user", "purpose", "sequence"]),
            # The operators' dashboard reads decisions per day.
            models.Index(fields=["at"], name="consent_record_at"),
        ]

    def __str__(self) -> str:
        return f"{self.subject[:12]} #{self.sequence} {self.action} {self.version_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise LedgerImmutableError("Consent records cannot be changed.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise LedgerImmutableError("Consent records cannot be deleted.")

    @property
    def granted(self) -> bool:
        return self.action in GRANTING_ACTIONS

    def chain_fields(self) -> dict[str, Any]:
        """What the hash covers. Raw IP address and user agent are left out (their HMAC
        digests are in) so that erasure, which blanks them, keeps the hash valid; the digests
        are keyed so that they cannot be reversed by trying every address."""
        return {
            "id": str(self.id),
            "sequence": self.sequence,
            "subject": self.subject,
            "purpose": self.purpose.key,
            "version": self.version.number,
            "action": self.action,
            "at": self.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "channel": self.channel,
            "client_id": self.client_id,
            "ip": self.ip_address_digest,
            "user_agent": self.user_agent_digest,
            "language": self.language,
            "text_sha256": self.text_sha256,
            "receipt_id": str(self.receipt_id),
            "previous_hash": self.previous_hash,
        }

    def compute_hash(self) -> str:
        canonical = json.dumps(
            self.chain_fields(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
