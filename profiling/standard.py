"""The schema a new installation starts with: the OpenID Connect standard claims (OIDC Core
5.1) as fields, each feeding the claim of its name. Operators change, deactivate or add to
them in admin; ``standard_fields_ensure`` creates them only in an empty schema."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .models import ClaimScope, FieldType, ProfileField

# key (= claim), type, English label, Portuguese label, other attributes.
STANDARD_FIELDS: tuple[tuple[str, str, str, str, dict[str, Any]], ...] = (
    ("given_name", FieldType.TEXT, "First name", "Nome", {"max_length": 150}),
    ("family_name", FieldType.TEXT, "Last name", "Sobrenome", {"max_length": 150}),
    ("middle_name", FieldType.TEXT, "Middle name", "Nome do meio", {"max_length": 150}),
    ("nickname", FieldType.TEXT, "Nickname", "Apelido", {"max_length": 150}),
    ("picture", FieldType.URL, "Picture", "Foto", {"check_junk": False}),
    ("website", FieldType.URL, "Website", "Site", {"check_junk": False}),
    ("gender", FieldType.TEXT, "Gender", "Gênero", {"max_length": 32, "check_junk": False}),
    ("birthdate", FieldType.DATE, "Date of birth", "Data de nascimento", {}),
    (
        "zoneinfo",
        FieldType.TEXT,
        "Time zone",
        "Fuso horário",
        {"max_length": 64, "check_junk": False},
    ),
    ("locale", FieldType.TEXT, "Language", "Idioma", {"max_length": 16, "check_junk": False}),
    ("phone_number", FieldType.PHONE, "Mobile phone", "Celular", {}),
    ("address", FieldType.ADDRESS, "Address", "Endereço", {}),
)
SCOPES = {"phone_number": ClaimScope.PHONE, "address": ClaimScope.ADDRESS}


@transaction.atomic
def standard_fields_ensure() -> int:
    """Create the standard fields when the schema has no field at all (a new database, or
    one emptied by ``flush``); returns how many were created."""
    if ProfileField.objects.exists():
        return 0
    ProfileField.objects.bulk_create(
        ProfileField(
            key=key,
            type=type_,
            label_en=label_en,
            label_pt_br=label_pt_br,
            claim=key,
            scope=SCOPES.get(key, ClaimScope.PROFILE),
            order=(index + 1) * 10,
            **extra,
        )
        for index, (key, type_, label_en, label_pt_br, extra) in enumerate(STANDARD_FIELDS)
    )
    from .schema import schema_forget

    schema_forget()
    return len(STANDARD_FIELDS)
