"""The audit table is append-only: PostgreSQL refuses UPDATE, DELETE and TRUNCATE on it.

The hash chain makes tampering detectable (manage.py verify_audit); these triggers stop it from
happening by accident or through the application's own database role. TRUNCATE is refused unless
the session sets `lamina.audit_truncate = allow`, which only the test suite does (pytest-django
flushes every table with TRUNCATE between transactional tests), so `manage.py flush` cannot erase
the trail in production. The table owner can still disable the triggers: the chain is what an
auditor trusts.

SQLite (the embedded default) has no such triggers; there the migration does nothing.
"""

from django.db import migrations

INSTALL = """
CREATE OR REPLACE FUNCTION reviews_auditevent_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF current_setting('lamina.audit_truncate', true) = 'allow' THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION 'the audit trail is append-only: TRUNCATE of % refused', TG_TABLE_NAME;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: % of audit event % refused', TG_OP, OLD.id;
END;
$$;

CREATE TRIGGER reviews_auditevent_no_update_delete
    BEFORE UPDATE OR DELETE ON reviews_auditevent
    FOR EACH ROW EXECUTE FUNCTION reviews_auditevent_append_only();

CREATE TRIGGER reviews_auditevent_no_truncate
    BEFORE TRUNCATE ON reviews_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION reviews_auditevent_append_only();
"""

REMOVE = """
DROP TRIGGER IF EXISTS reviews_auditevent_no_truncate ON reviews_auditevent;
DROP TRIGGER IF EXISTS reviews_auditevent_no_update_delete ON reviews_auditevent;
DROP FUNCTION IF EXISTS reviews_auditevent_append_only();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            # No parameters: the % in RAISE messages must reach PostgreSQL as written.
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("reviews", "0001_initial")]

    operations = [
        migrations.RunPython(_on_postgresql(INSTALL), _on_postgresql(REMOVE), elidable=False),
    ]
