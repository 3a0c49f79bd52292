# Public subject identifiers (OIDC Core 8): added empty, then filled for existing users; made
# unique and required in 0006 (a separate migration: PostgreSQL refuses to alter a table in
# the transaction that updated its rows while foreign-key checks are pending).

from django.db import migrations, models

import accounts.models

BATCH = 1000


def assign_public_ids(apps, schema_editor):
    """Every user without a public subject identifier gets one (random, never reused)."""
    User = apps.get_model("accounts", "User")
    db = schema_editor.connection.alias
    while True:
        batch = list(User.objects.using(db).filter(public_id__isnull=True).only("pk")[:BATCH])
        if not batch:
            return
        for user in batch:
            user.public_id = accounts.models.new_public_id()
        User.objects.using(db).bulk_update(batch, ["public_id"])


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0004_erasurerequest"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="public_id",
            field=models.CharField(
                editable=False,
                max_length=32,
                null=True,
                verbose_name="public subject identifier",
            ),
        ),
        migrations.RunPython(assign_public_ids, migrations.RunPython.noop, elidable=False),
    ]
