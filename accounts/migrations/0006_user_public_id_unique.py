from django.db import migrations, models

import accounts.models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0005_user_public_id"),
    ]

    operations = [
        migrations.AlterField(
            model_name="user",
            name="public_id",
            field=models.CharField(
                default=accounts.models.new_public_id,
                editable=False,
                max_length=32,
                unique=True,
                verbose_name="public subject identifier",
            ),
        ),
    ]
