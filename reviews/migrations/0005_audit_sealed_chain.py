"""The audit chain is sealed instead of locked.

Events are now written unsealed (no position, prev_hash or hash) and sealed later in batches by
reviews.audit.audit_seal(), which records an AuditCheckpoint per batch. The append-only trigger
now allows exactly one UPDATE of an event: setting the seal columns of an unsealed row, its
content unchanged; every other UPDATE, DELETE and TRUNCATE is refused, for any session (the old
`lamina.audit_truncate` switch is gone). The checkpoints are append-only too. Events written before
this migration already form a chain: they get their positions in id order and one checkpoint.
"""

from django.db import migrations, models
from django.utils import timezone

from reviews.audit_merkle import merkle_root

EVENT_TRIGGER = """
CREATE OR REPLACE FUNCTION reviews_auditevent_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.position IS NULL
       AND NEW.position IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL
       AND (to_jsonb(NEW) - ARRAY['position', 'prev_hash', 'hash'])
           = (to_jsonb(OLD) - ARRAY['position', 'prev_hash', 'hash']) THEN
        RETURN NEW;  -- the seal, once
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'the audit trail is append-only: TRUNCATE of % refused', TG_TABLE_NAME;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: % of audit event % refused', TG_OP, OLD.id;
END;
$$;
"""

EVENT_TRIGGER_BEFORE = """
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
"""

CHECKPOINT_TRIGGERS = """
CREATE OR REPLACE FUNCTION reviews_auditcheckpoint_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit checkpoints are append-only: % refused', TG_OP;
END;
$$;

CREATE TRIGGER reviews_auditcheckpoint_no_update_delete
    BEFORE UPDATE OR DELETE ON reviews_auditcheckpoint
    FOR EACH ROW EXECUTE FUNCTION reviews_auditcheckpoint_append_only();

CREATE TRIGGER reviews_auditcheckpoint_no_truncate
    BEFORE TRUNCATE ON reviews_auditcheckpoint
    FOR EACH STATEMENT EXECUTE FUNCTION reviews_auditcheckpoint_append_only();
"""

CHECKPOINT_TRIGGERS_REMOVE = """
DROP TRIGGER IF EXISTS reviews_auditcheckpoint_no_truncate ON reviews_auditcheckpoint;
DROP TRIGGER IF EXISTS reviews_auditcheckpoint_no_update_delete ON reviews_auditcheckpoint;
DROP FUNCTION IF EXISTS reviews_auditcheckpoint_append_only();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


def position_existing_events(apps, schema_editor):
    """The events written before sealing existed are already chained in id order."""
    AuditEvent = apps.get_model("reviews", "AuditEvent")
    AuditCheckpoint = apps.get_model("reviews", "AuditCheckpoint")
    hashes = []
    for position, (pk, event_hash) in enumerate(
        AuditEvent.objects.order_by("id").values_list("id", "hash").iterator(), start=1
    ):
        AuditEvent.objects.filter(pk=pk).update(position=position)
        hashes.append(event_hash)
    if hashes:
        AuditCheckpoint.objects.create(
            tree_size=len(hashes),
            first_position=1,
            previous_head="0" * 64,
            head_hash=hashes[-1],
            merkle_root=merkle_root(hashes),
            sealed_at=timezone.now(),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0004_policy_simulation"),
    ]
    atomic = True

    operations = [
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("tree_size", models.BigIntegerField(unique=True)),
                ("first_position", models.BigIntegerField()),
                ("previous_head", models.CharField(max_length=64)),
                ("head_hash", models.CharField(max_length=64, unique=True)),
                ("merkle_root", models.CharField(max_length=64)),
                ("sealed_at", models.DateTimeField()),
            ],
            options={
                "ordering": ["tree_size"],
            },
        ),
        migrations.AddField(
            model_name="auditevent",
            name="position",
            field=models.BigIntegerField(blank=True, null=True, unique=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(blank=True, max_length=64, null=True, unique=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("position__isnull", True)), fields=["id"], name="audit_unsealed"
            ),
        ),
        migrations.RunPython(
            _on_postgresql(EVENT_TRIGGER), _on_postgresql(EVENT_TRIGGER_BEFORE), elidable=False
        ),
        migrations.RunPython(position_existing_events, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(
            _on_postgresql(CHECKPOINT_TRIGGERS),
            _on_postgresql(CHECKPOINT_TRIGGERS_REMOVE),
            elidable=False,
        ),
    ]
