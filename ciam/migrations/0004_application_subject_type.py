# Subject types (OIDC Core 8): clients registered before keep the database id as their users'
# sub (``legacy``), so that their relying parties still recognise the users they stored; new
# clients get CIAM_DEFAULT_SUBJECT_TYPE (the default set in 0005).

from django.db import migrations, models


def existing_clients_keep_legacy_subjects(apps, schema_editor):
    """Clients that existed before subject types (an empty one) get ``legacy``."""
    Application = apps.get_model("ciam", "Application")
    db = schema_editor.connection.alias
    Application.objects.using(db).filter(subject_type="").update(subject_type="legacy")


class Migration(migrations.Migration):

    dependencies = [
        ("ciam", "0003_remove_application_backchannel_logout_uri"),
    ]

    operations = [
        migrations.AddField(
            model_name="application",
            name="sector_identifier",
            field=models.CharField(
                blank=True,
                help_text="Pairwise clients: the host name whose clients share pairwise subs (OIDC Core 8.1). Empty: the host of the redirect URIs, which must then be one host. Set it to the old host before moving a pairwise client to new hosts.",
                max_length=253,
                verbose_name="sector identifier",
            ),
        ),
        migrations.AddField(
            model_name="application",
            name="subject_type",
            field=models.CharField(
                blank=True,
                default="",
                max_length=8,
                verbose_name="subject type",
            ),
        ),
        migrations.RunPython(
            existing_clients_keep_legacy_subjects, migrations.RunPython.noop, elidable=False
        ),
    ]
