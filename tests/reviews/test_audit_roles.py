"""The app role of a deployment writes and seals the audit trail but can neither rewrite it nor
switch its guards off: it owns nothing (reviews/audit_roles.py, manage.py grant_app_role)."""

import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from reviews.audit import audit_record, audit_seal
from reviews.audit_verify import audit_chain_verify
from reviews.models import AuditCheckpoint, AuditEvent, PriorAuthRequest


@pytest.fixture
def app_role(db):
    """A login-less role made inside the test's transaction (roles are transactional in
    PostgreSQL: it is gone when the test rolls back), granted as a deployment grants it."""
    role = f"lamina_app_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role}" NOLOGIN NOSUPERUSER')
    out = StringIO()
    call_command("grant_app_role", role, stdout=out)
    assert f"granted {role}" in out.getvalue()
    return role


class acting_as:  # noqa: N801 - reads as a phrase: `with acting_as(role):`
    def __init__(self, role: str):
        self.role = role

    def __enter__(self):
        with connection.cursor() as cursor:
            cursor.execute(f'SET ROLE "{self.role}"')

    def __exit__(self, *exc):
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def refused(sql: str, params=None) -> str:
    """Run sql in a savepoint; return PostgreSQL's refusal (fails the test if it is allowed)."""
    with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as c:
        c.execute(sql, params)
    return str(caught.value)


def test_the_app_role_writes_and_seals_events_and_the_chain_verifies(app_role):
    with acting_as(app_role):
        for n in range(3):
            audit_record(action="test_event", actor="system", data={"n": n})
        result = audit_seal()
        assert (result.sealed, result.checkpoints) == (3, 1)
        assert PriorAuthRequest.objects.count() == 0  # reads the application's tables
    assert audit_chain_verify().ok


def test_the_app_role_cannot_rewrite_delete_or_empty_the_trail(app_role):
    audit_record(action="test_event", actor="system", data={})
    audit_seal()
    event = AuditEvent.objects.get()
    with acting_as(app_role):
        denied = "permission denied"
        assert denied in refused(
            "UPDATE reviews_auditevent SET actor_label = 'x' WHERE id = %s", [event.pk]
        )
        assert denied in refused("DELETE FROM reviews_auditevent WHERE id = %s", [event.pk])
        assert denied in refused("TRUNCATE reviews_auditevent")
        assert denied in refused("UPDATE reviews_auditcheckpoint SET sealed_at = now()")
        assert denied in refused("DELETE FROM reviews_auditcheckpoint")
        assert denied in refused("DELETE FROM django_migrations")
        # Only an owner may switch a trigger off, or drop one.
        owner = "must be owner"
        assert owner in refused(
            "ALTER TABLE reviews_auditevent DISABLE TRIGGER reviews_auditevent_no_update_delete"
        )
        assert owner in refused("DROP TRIGGER reviews_auditevent_no_truncate ON reviews_auditevent")
        # The seal columns are writable, but the trigger refuses a second seal.
        assert "append-only" in refused(
            "UPDATE reviews_auditevent SET hash = repeat('a', 64) WHERE id = %s", [event.pk]
        )
    assert AuditEvent.objects.count() == AuditCheckpoint.objects.get().tree_size == 1
    assert audit_chain_verify().ok


def test_a_role_that_owns_the_audit_tables_is_refused(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
    with pytest.raises(CommandError, match="owns the audit tables"):
        call_command("grant_app_role", owner)


def test_an_unknown_role_is_refused(db):
    with pytest.raises(CommandError, match="no database role"):
        call_command("grant_app_role", f"nobody_{uuid.uuid4().hex[:6]}")
