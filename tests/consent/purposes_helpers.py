"""Purposes and versions for tests, published as an operator would."""

from __future__ import annotations

from oauth2_provider.models import get_application_model

from consent.models import ClientPurpose, Purpose, PurposeKind, PurposeVersion
from consent.services.ledger import purpose_version_next_number, purpose_version_publish


def publish(purpose: Purpose, *, change: str = "material", title: str = "") -> PurposeVersion:
    """A new published version of ``purpose`` with English and pt-BR words."""
    number = purpose_version_next_number(purpose=purpose)
    version = PurposeVersion.objects.create(
        purpose=purpose,
        number=number,
        title_en=title or f"{purpose.key} terms v{number}",
        title_pt_br=f"Termos {purpose.key} v{number}",
        summary_en=f"What {purpose.key} means, version {number}.",
        summary_pt_br=f"O que {purpose.key} significa, versão {number}.",
        text_en=f"The full text of {purpose.key}, version {number}.",
        text_pt_br=f"O texto completo de {purpose.key}, versão {number}.",
    )
    return purpose_version_publish(version=version, change=change)


def make_purpose(
    key: str,
    *,
    kind: str = PurposeKind.CUSTOM,
    required_everywhere: bool = False,
    clients: dict | None = None,
) -> Purpose:
    """A purpose with one published version; ``clients`` maps client_id -> required."""
    purpose = Purpose.objects.create(key=key, kind=kind, required=required_everywhere)
    Application = get_application_model()
    for client_id, required in (clients or {}).items():
        ClientPurpose.objects.create(
            application=Application.objects.get(client_id=client_id),
            purpose=purpose,
            required=required,
        )
    publish(purpose)
    return purpose
