from django.db import migrations, models

import ciam.subjects


class Migration(migrations.Migration):

    dependencies = [
        ("ciam", "0004_application_subject_type"),
    ]

    operations = [
        migrations.AlterField(
            model_name="application",
            name="subject_type",
            field=models.CharField(
                choices=[
                    ("public", "Public: the same for every client"),
                    ("pairwise", "Pairwise: one per sector, unlinkable across sectors"),
                    ("legacy", "Legacy: the database id (clients registered before)"),
                ],
                default=ciam.subjects.default_subject_type,
                help_text="The sub this client sees (OIDC Core 8). Changing it changes every user's sub for this client: its relying party no longer recognises its users.",
                max_length=8,
                verbose_name="subject type",
            ),
        ),
    ]
