"""PostgreSQL: the consent ledger refuses UPDATE and DELETE at the database too.

The one exception is ledger_erase's anonymising UPDATE (user_id NULL, ip_address NULL,
user_agent '', erased true, every other column unchanged), let through only when the
transaction set ``ciam.consent_erasure`` to 'on' (set_config(..., true) = SET LOCAL).
TRUNCATE is left to privileges (the test runner's flush uses it). SQLite: nothing to do,
the model and its queryset refuse changes there.
"""

from django.db import migrations

TABLE = "consent_consentrecord"
ERASABLE = "'user_id' - 'ip_address' - 'user_agent' - 'erased'"

INSTALL = f"""
CREATE OR REPLACE FUNCTION consent_ledger_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND coalesce(current_setting('ciam.consent_erasure', true), '') = 'on'
       AND NEW.user_id IS NULL
       AND NEW.ip_address IS NULL
       AND NEW.user_agent = ''
       AND NEW.erased
       AND (to_jsonb(NEW) - {ERASABLE}) = (to_jsonb(OLD) - {ERASABLE})
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'consent ledger is append-only: % refused on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER consent_ledger_append_only
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION consent_ledger_append_only();
"""

UNINSTALL = f"""
DROP TRIGGER IF EXISTS consent_ledger_append_only ON {TABLE};
DROP FUNCTION IF EXISTS consent_ledger_append_only();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSTALL, params=None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNINSTALL, params=None)


class Migration(migrations.Migration):
    dependencies = [("consent", "0002_purposes_ledger")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
