"""The default risk policy: what a customer-facing provider does out of the box.

Operators change it in admin (and give a client a policy of its own). A new device, a new
network and many sign-ins (velocity) alone are recorded and shown to the customer, not
challenged (test suites and shared devices sign in often): the strict rules are kept for
what is most likely an attack.
"""

from django.db import migrations

DEFAULT_RULES = [
    ("bad_address", "high", "block"),
    ("user_agent_changed", "high", "step_up"),
    ("impossible_travel", "medium", "step_up"),
    ("new_country", "medium", "step_up"),
    ("failed_attempts", "medium", "step_up"),
]


def create_default_policy(apps, schema_editor):
    RiskPolicy = apps.get_model("sessions_ctx", "RiskPolicy")
    RiskRule = apps.get_model("sessions_ctx", "RiskRule")
    if RiskPolicy.objects.filter(application__isnull=True).exists():
        return
    policy = RiskPolicy.objects.create(name="Default")
    RiskRule.objects.bulk_create(
        RiskRule(policy=policy, finding=finding, min_confidence=confidence, action=action)
        for finding, confidence, action in DEFAULT_RULES
    )


class Migration(migrations.Migration):
    dependencies = [("sessions_ctx", "0001_initial")]

    operations = [migrations.RunPython(create_default_policy, migrations.RunPython.noop)]
