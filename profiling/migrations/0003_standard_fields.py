"""The standard-claim columns of ``Profile`` become fields of the schema (OIDC Core 5.1), and
their values move to ``ProfileValue`` rows and ``Profile.values``."""

from django.db import migrations

# key, type, English label, Portuguese label, extra attributes. The key is the claim name.
STANDARD_FIELDS = [
    ("given_name", "text", "First name", "Nome", {"max_length": 150}),
    ("family_name", "text", "Last name", "Sobrenome", {"max_length": 150}),
    ("middle_name", "text", "Middle name", "Nome do meio", {"max_length": 150}),
    ("nickname", "text", "Nickname", "Apelido", {"max_length": 150}),
    ("picture", "url", "Picture", "Foto", {"check_junk": False}),
    ("website", "url", "Website", "Site", {"check_junk": False}),
    ("gender", "text", "Gender", "Gênero", {"max_length": 32, "check_junk": False}),
    ("birthdate", "date", "Date of birth", "Data de nascimento", {}),
    ("zoneinfo", "text", "Time zone", "Fuso horário", {"max_length": 64, "check_junk": False}),
    ("locale", "text", "Language", "Idioma", {"max_length": 16, "check_junk": False}),
    ("phone_number", "phone", "Mobile phone", "Celular", {}),
    ("address", "address", "Address", "Endereço", {}),
]
SCOPES = {"phone_number": "phone", "address": "address"}
TEXT_COLUMNS = ["given_name", "family_name", "middle_name", "nickname", "picture", "website",
                "gender", "zoneinfo", "locale", "phone_number"]
ADDRESS_COLUMNS = ["street_address", "locality", "region", "postal_code", "country"]


def forwards(apps, schema_editor):
    ProfileField = apps.get_model("profiling", "ProfileField")
    Profile = apps.get_model("profiling", "Profile")
    ProfileValue = apps.get_model("profiling", "ProfileValue")
    fields = {}
    for order, (key, type_, label_en, label_pt_br, extra) in enumerate(STANDARD_FIELDS):
        fields[key], _ = ProfileField.objects.get_or_create(
            key=key,
            defaults={
                "type": type_,
                "label_en": label_en,
                "label_pt_br": label_pt_br,
                "claim": key,
                "scope": SCOPES.get(key, "profile"),
                "order": (order + 1) * 10,
                **extra,
            },
        )
    for profile in Profile.objects.all().iterator():
        values = {}
        for column in TEXT_COLUMNS:
            if getattr(profile, column):
                values[column] = getattr(profile, column)
        if profile.birthdate:
            values["birthdate"] = profile.birthdate.isoformat()
        address = {c: getattr(profile, c) for c in ADDRESS_COLUMNS if getattr(profile, c)}
        if address:
            values["address"] = address
        verified = ["phone_number"] if profile.phone_number and profile.phone_number_verified else []
        for key, value in values.items():
            ProfileValue.objects.update_or_create(
                user_id=profile.user_id,
                field=fields[key],
                defaults={
                    "value": value,
                    "verified": key in verified,
                    "source": "import",
                    "source_detail": "profile columns",
                    "collected_at": profile.updated_at,
                },
            )
        Profile.objects.filter(pk=profile.pk).update(values=values, verified=verified)


def _fit(model, column, value):
    """``value`` as text cut to the column's length (URLs and address parts may be longer
    now than the old columns allow)."""
    limit = model._meta.get_field(column).max_length
    text = str(value or "")
    return text[:limit] if limit else text


def backwards(apps, schema_editor):
    Profile = apps.get_model("profiling", "Profile")
    for profile in Profile.objects.all().iterator():
        values = profile.values or {}
        columns = {column: _fit(Profile, column, values.get(column)) for column in TEXT_COLUMNS}
        address = values.get("address") if isinstance(values.get("address"), dict) else {}
        columns.update({c: _fit(Profile, c, address.get(c)) for c in ADDRESS_COLUMNS})
        columns["birthdate"] = values.get("birthdate") or None
        columns["phone_number_verified"] = "phone_number" in (profile.verified or [])
        # update(): the profiles keep their updated_at.
        Profile.objects.filter(pk=profile.pk).update(**columns)


class Migration(migrations.Migration):
    dependencies = [("profiling", "0002_schema")]

    operations = [migrations.RunPython(forwards, backwards)]
