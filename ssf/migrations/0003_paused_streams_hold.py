"""The endpoints of paused streams hold their deliveries (webhooks.Endpoint.held), which the
webhooks fan-out now writes for them in its one query."""

from django.db import migrations


def paused_endpoints_hold(apps, schema_editor):
    SsfStream = apps.get_model("ssf", "SsfStream")
    Endpoint = apps.get_model("webhooks", "Endpoint")
    paused = SsfStream.objects.filter(status="paused").values_list("endpoint_id", flat=True)
    Endpoint.objects.filter(pk__in=list(paused)).update(held=True)


class Migration(migrations.Migration):
    dependencies = [
        ("ssf", "0002_stream_operator_status"),
        ("webhooks", "0002_endpoint_held"),
    ]

    operations = [
        migrations.RunPython(paused_endpoints_hold, migrations.RunPython.noop),
    ]
