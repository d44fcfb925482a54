"""The append-only trigger and verify_audit: a clean chain passes, any tampering is named."""

import os
import subprocess
import sys
import threading
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from reviews.audit import GENESIS_HASH, audit_record, event_hash
from reviews.audit_verify import audit_chain_verify
from reviews.models import AuditEvent
from tests.conftest import REPO

TRIGGER = "reviews_auditevent_no_update_delete"


def write_events(n: int) -> list[AuditEvent]:
    return [
        audit_record(action="test_event", actor="system", data={"n": i, "note": "é ü"})
        for i in range(n)
    ]


def tamper(sql: str, params: list) -> None:
    """Run `sql` with the append-only trigger switched off, as a database owner could."""
    with connection.cursor() as cursor:
        # ALTER TABLE waits for no queued foreign-key checks: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE reviews_auditevent DISABLE TRIGGER {TRIGGER}")
        cursor.execute(sql, params)
        cursor.execute(f"ALTER TABLE reviews_auditevent ENABLE TRIGGER {TRIGGER}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def verify(*args) -> str:
    out = StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


def test_a_clean_chain_verifies_and_prints_its_count(db):
    events = write_events(7)

    output = verify()

    assert "audit chain OK: 7 event(s) verified" in output
    assert events[-1].hash in output


def test_an_empty_trail_verifies(db):
    assert "OK: 0 event(s)" in verify()


def test_the_walk_crosses_chunk_boundaries(db):
    write_events(10)

    report = audit_chain_verify(chunk_size=3)

    assert (report.ok, report.count) == (True, 10)


def test_the_trigger_refuses_update(db):
    (event,) = write_events(1)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="rewritten")

    assert AuditEvent.objects.get(pk=event.pk).action == "test_event"


def test_the_trigger_refuses_delete(db):
    (event,) = write_events(1)

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM reviews_auditevent WHERE id = %s", [event.pk])

    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_trigger_refuses_truncate_unless_the_session_allows_it(db):
    write_events(2)

    with (
        pytest.raises(DatabaseError, match="TRUNCATE"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # The test session allows it (for the flush between tests); an ordinary one does not.
        cursor.execute("SET LOCAL lamina.audit_truncate = ''")
        cursor.execute("TRUNCATE reviews_auditevent CASCADE")

    assert AuditEvent.objects.count() == 2


def test_an_altered_event_fails_at_that_event(db):
    events = write_events(5)
    target = events[2]
    tamper(
        "UPDATE reviews_auditevent SET data = %s WHERE id = %s",
        ['{"n": 99, "note": "x"}', target.pk],
    )

    with pytest.raises(CommandError, match=f"altered: audit event {target.pk} "):
        verify()
    report = audit_chain_verify()
    assert (report.ok, report.event_id, report.count) == (False, target.pk, 2)


def test_an_altered_event_with_a_recomputed_hash_breaks_the_next_link(db):
    events = write_events(5)
    target = events[1]
    forged = AuditEvent.objects.get(pk=target.pk)
    forged.actor_label = "somebody-else"
    tamper(
        "UPDATE reviews_auditevent SET actor_label = %s, hash = %s WHERE id = %s",
        [forged.actor_label, event_hash(forged), target.pk],
    )

    report = audit_chain_verify()

    assert (report.ok, report.event_id) == (False, events[2].pk)
    assert report.problem.startswith("broken link")


def test_a_deleted_event_breaks_the_link_of_the_next(db):
    events = write_events(5)
    tamper("DELETE FROM reviews_auditevent WHERE id = %s", [events[3].pk])

    with pytest.raises(CommandError, match=f"broken link: audit event {events[4].pk} "):
        verify()


def test_deleting_the_first_event_is_detected(db):
    events = write_events(3)
    tamper("DELETE FROM reviews_auditevent WHERE id = %s", [events[0].pk])

    report = audit_chain_verify()

    assert (report.ok, report.event_id) == (False, events[1].pk)
    assert "the start of the chain" in report.problem


def test_deleting_the_newest_events_is_caught_by_a_recorded_anchor(db):
    events = write_events(4)
    anchor = events[-1].hash
    tamper("DELETE FROM reviews_auditevent WHERE id >= %s", [events[2].pk])

    # The remaining chain is internally sound...
    assert audit_chain_verify().ok
    # ...but the head recorded earlier is gone.
    with pytest.raises(CommandError, match="anchor"):
        verify("--anchor", anchor)


def test_an_anchor_still_in_the_chain_passes(db):
    events = write_events(4)

    assert "OK: 4 event(s)" in verify("--anchor", events[1].hash)


def _run_verify(database_name: str) -> subprocess.CompletedProcess:
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{database_name}"
    )
    return subprocess.run(
        [sys.executable, "manage.py", "verify_audit"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_non_zero_on_a_tampered_database():
    events = write_events(4)
    database_name = connection.settings_dict["NAME"]
    clean = _run_verify(database_name)
    assert clean.returncode == 0, clean.stderr
    assert "OK: 4 event(s)" in clean.stdout

    try:
        with transaction.atomic():
            tamper("UPDATE reviews_auditevent SET role = 'admin' WHERE id = %s", [events[1].pk])
        tampered = _run_verify(database_name)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE reviews_auditevent ENABLE TRIGGER {TRIGGER}")

    assert tampered.returncode != 0
    assert f"audit event {events[1].pk}" in tampered.stderr


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_writers_leave_one_unbroken_chain():
    writers = 50
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        # Each thread has its own database connection: fifty transactions race for the head.
        try:
            barrier.wait(timeout=60)
            with transaction.atomic():
                audit_record(action="concurrent_write", actor="system", data={"writer": n})
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors
    events = list(AuditEvent.objects.order_by("id"))
    assert len(events) == writers
    assert sorted(e.data["writer"] for e in events) == list(range(writers))
    # One chain: every prev_hash is used exactly once, starting from the genesis.
    assert len({e.prev_hash for e in events}) == writers
    assert events[0].prev_hash == GENESIS_HASH
    report = audit_chain_verify()
    assert (report.ok, report.count) == (True, writers)
