"""PostgreSQL: the audit log refuses UPDATE and DELETE at the database too.

Two UPDATEs get through:
- the erasure's (audit.services.audit_erase): only the columns naming a person change
  (actor_id and subject_id to NULL, labels, target_repr, changes, ip, user_agent, erased
  to true), and only when the transaction set ``ciam.audit_erasure`` to 'on'
  (set_config(..., true) = SET LOCAL);
- ON DELETE SET NULL of a deleted user or content type: a link set to NULL, nothing else.
TRUNCATE is left to privileges (the test runner's flush uses it). SQLite: nothing to do,
the model and its queryset refuse changes there.
"""

from django.db import migrations

TABLE = "audit_auditentry"
ERASABLE = (
    "'actor_id' - 'actor_label' - 'subject_id' - 'subject_label' - 'target_repr' - 'changes' "
    "- 'ip' - 'user_agent' - 'erased'"
)
LINKS = "'actor_id' - 'subject_id' - 'target_content_type_id'"

INSTALL = f"""
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND coalesce(current_setting('ciam.audit_erasure', true), '') = 'on'
       AND (NEW.actor_id IS NULL OR NEW.actor_id = OLD.actor_id)
       AND (NEW.subject_id IS NULL OR NEW.subject_id = OLD.subject_id)
       AND NEW.erased
       AND (to_jsonb(NEW) - {ERASABLE}) = (to_jsonb(OLD) - {ERASABLE})
    THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE'
       AND (NEW.actor_id IS NULL OR NEW.actor_id = OLD.actor_id)
       AND (NEW.subject_id IS NULL OR NEW.subject_id = OLD.subject_id)
       AND (NEW.target_content_type_id IS NULL
            OR NEW.target_content_type_id = OLD.target_content_type_id)
       AND (to_jsonb(NEW) - {LINKS}) = (to_jsonb(OLD) - {LINKS})
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit log is append-only: % refused on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
"""

UNINSTALL = f"""
DROP TRIGGER IF EXISTS audit_log_append_only ON {TABLE};
DROP FUNCTION IF EXISTS audit_log_append_only();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSTALL, params=None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNINSTALL, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
