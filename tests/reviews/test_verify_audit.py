"""The append-only trigger, the sealer and verify_audit: a clean chain passes, any tampering is
named, and forged history is caught by signed checkpoints without a manually kept anchor."""

import json
import os
import signal
import subprocess
import sys
import time
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from reviews.audit import GENESIS_HASH, audit_record, audit_seal, event_hash
from reviews.audit_merkle import merkle_root
from reviews.audit_sign import checkpoint_publish, signing_key_generate
from reviews.audit_verify import audit_chain_verify, audit_inclusion_proof
from reviews.models import AuditCheckpoint, AuditEvent
from tests.conftest import REPO

TRIGGER = "reviews_auditevent_no_update_delete"
CHECKPOINT_TRIGGER = "reviews_auditcheckpoint_no_update_delete"


def write_events(n: int) -> list[AuditEvent]:
    """n events, sealed, as stored (in chain order)."""
    for i in range(n):
        audit_record(action="test_event", actor="system", data={"n": i, "note": "é ü"})
    audit_seal()
    return list(AuditEvent.objects.order_by("position"))


def tamper(sql: str, params: list, trigger: str = TRIGGER) -> None:
    """Run `sql` with an append-only trigger switched off, as the tables' owner could."""
    with connection.cursor() as cursor:
        # ALTER TABLE waits for no queued foreign-key checks: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {trigger.rsplit('_no_', 1)[0]} DISABLE TRIGGER {trigger}")
        cursor.execute(sql, params)
        cursor.execute(f"ALTER TABLE {trigger.rsplit('_no_', 1)[0]} ENABLE TRIGGER {trigger}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def verify(*args) -> str:
    out = StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def signing(settings, tmp_path):
    """A signing key made for this test and a directory for its signed checkpoints."""
    settings.AUDIT_SIGNING_KEY = str(tmp_path / "keys" / "audit.pem")
    settings.AUDIT_CHECKPOINT_DIR = str(tmp_path / "checkpoints")
    signing_key_generate(settings.AUDIT_SIGNING_KEY)
    return tmp_path


def forge_history(events: list[AuditEvent], index: int, **changes) -> None:
    """Change one old event, re-hash everything after it and rebuild the checkpoints, as an owner
    who disables the triggers could: the chain in the database is then internally consistent."""
    forged = []
    head = events[index - 1].hash if index else GENESIS_HASH
    for n, event in enumerate(events[index:]):
        copy = AuditEvent.objects.get(pk=event.pk)
        if n == 0:
            for field, value in changes.items():
                setattr(copy, field, value)
        copy.prev_hash = head
        copy.hash = head = event_hash(copy)
        forged.append(copy)
    for copy in reversed(forged):  # from the end: the unique hashes never collide on the way
        tamper(
            "UPDATE reviews_auditevent SET actor_label = %s, data = %s, prev_hash = %s, hash = %s "
            "WHERE id = %s",
            [copy.actor_label, json.dumps(copy.data), copy.prev_hash, copy.hash, copy.pk],
        )
    tamper("DELETE FROM reviews_auditcheckpoint", [], CHECKPOINT_TRIGGER)
    hashes = list(AuditEvent.objects.order_by("position").values_list("hash", flat=True))
    AuditCheckpoint.objects.create(
        tree_size=len(hashes),
        first_position=1,
        previous_head=GENESIS_HASH,
        head_hash=hashes[-1],
        merkle_root=merkle_root(hashes),
        sealed_at=events[-1].occurred_at,
    )


# --- sealing ---------------------------------------------------------------------------------


def test_events_are_written_unsealed_and_sealed_in_one_batch_with_a_checkpoint(db):
    written = [audit_record(action="test_event", actor="system", data={"n": i}) for i in range(3)]
    assert all(e.hash is None and e.position is None for e in written)
    assert audit_chain_verify().unsealed == 3

    result = audit_seal()

    assert (result.sealed, result.checkpoints) == (3, 1)
    events = list(AuditEvent.objects.order_by("position"))
    assert [e.position for e in events] == [1, 2, 3]
    assert events[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    (checkpoint,) = AuditCheckpoint.objects.all()
    assert (checkpoint.tree_size, checkpoint.first_position, checkpoint.head_hash) == (
        3,
        1,
        events[-1].hash,
    )
    assert checkpoint.merkle_root == merkle_root([e.hash for e in events])
    assert audit_seal().sealed == 0  # nothing left: no empty checkpoint


def test_each_batch_continues_the_chain_from_the_last_checkpoint(db):
    write_events(3)
    audit_record(action="test_event", actor="system", data={"n": 3})
    audit_record(action="test_event", actor="system", data={"n": 4})

    assert audit_seal(batch_size=1).checkpoints == 2

    assert AuditCheckpoint.objects.count() == 3
    report = audit_chain_verify()
    assert (report.ok, report.count, report.checkpoints, report.unsealed) == (True, 5, 3, 0)


def test_a_sealed_event_proves_its_inclusion_in_its_checkpoint(db):
    events = write_events(7)

    proof = audit_inclusion_proof(events[4].pk)

    assert (proof.index, proof.batch_size, proof.tree_size) == (4, 7, 7)
    assert proof.verifies()
    assert "proof verifies" in verify("--prove", str(events[4].pk))
    forged = type(proof)(**{**proof.__dict__, "event_hash": events[3].hash})
    assert not forged.verifies()


def test_the_trigger_allows_the_seal_once_and_nothing_else(db):
    event = audit_record(action="test_event", actor="system", data={})

    # Sealing must not change the content.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(
            position=1, prev_hash=GENESIS_HASH, hash="a" * 64, action="other"
        )
    audit_seal()
    # A sealed event's seal cannot be set again.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(hash="b" * 64)

    assert audit_chain_verify().ok


def test_the_trigger_refuses_update(db):
    (event,) = write_events(1)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="rewritten")

    assert AuditEvent.objects.get(pk=event.pk).action == "test_event"


def test_the_trigger_refuses_to_change_an_unsealed_event(db):
    event = audit_record(action="test_event", actor="system", data={})

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="rewritten")


def test_the_trigger_refuses_delete(db):
    (event,) = write_events(1)

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM reviews_auditevent WHERE id = %s", [event.pk])

    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_checkpoints_are_append_only(db):
    write_events(1)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditCheckpoint.objects.update(head_hash="c" * 64)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditCheckpoint.objects.all().delete()


@pytest.mark.parametrize("table", ["reviews_auditevent", "reviews_auditcheckpoint"])
def test_truncate_is_refused_and_no_session_setting_allows_it(db, table):
    write_events(2)

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # The test runner switched the TRUNCATE trigger off in its own test database (to flush
        # between tests); a deployment's triggers are on, as here. The old switch does nothing.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_no_truncate")
        cursor.execute("SET LOCAL lamina.audit_truncate = 'allow'")
        cursor.execute(f"TRUNCATE {table} CASCADE")

    assert AuditEvent.objects.count() == 2


# --- verification ------------------------------------------------------------------------------


def test_a_clean_chain_verifies_and_prints_its_count(db):
    events = write_events(7)

    output = verify()

    assert "audit chain OK: 7 event(s) verified" in output
    assert events[-1].hash in output
    assert "0 unsealed event(s)" in output


def test_verify_seals_the_backlog_first_and_reports_what_it_leaves(db):
    write_events(2)
    audit_record(action="test_event", actor="system", data={})

    assert "1 unsealed event(s), the oldest" in verify("--no-seal")
    assert "OK: 3 event(s)" in verify()


def test_an_empty_trail_verifies(db):
    assert "OK: 0 event(s)" in verify()


def test_the_walk_crosses_chunk_boundaries_and_reports_progress(db):
    write_events(10)
    seen = []

    report = audit_chain_verify(chunk_size=3, progress=seen.append)

    assert (report.ok, report.count) == (True, 10)
    assert seen == [3, 6, 9, 10]


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
    assert (report.ok, report.event_id, report.count, report.kind) == (
        False,
        target.pk,
        2,
        "altered",
    )


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


def test_deleting_the_newest_events_is_caught_by_the_checkpoint(db):
    events = write_events(4)
    tamper("DELETE FROM reviews_auditevent WHERE id >= %s", [events[2].pk])

    report = audit_chain_verify()

    assert (report.ok, report.kind) == (False, "truncated")


def test_deleting_the_newest_events_and_their_checkpoint_is_caught_by_a_recorded_anchor(db):
    events = write_events(4)
    anchor = events[-1].hash
    tamper("DELETE FROM reviews_auditevent WHERE id >= %s", [events[2].pk])
    tamper("DELETE FROM reviews_auditcheckpoint", [], CHECKPOINT_TRIGGER)
    AuditCheckpoint.objects.create(
        tree_size=2,
        first_position=1,
        previous_head=GENESIS_HASH,
        head_hash=events[1].hash,
        merkle_root=merkle_root([events[0].hash, events[1].hash]),
        sealed_at=events[1].occurred_at,
    )

    # The remaining chain and its rebuilt checkpoint are internally sound...
    assert audit_chain_verify().ok
    # ...but the head recorded earlier is gone.
    with pytest.raises(CommandError, match="anchor"):
        verify("--anchor", anchor)


def test_an_anchor_still_in_the_chain_passes(db):
    events = write_events(4)

    assert "OK: 4 event(s)" in verify("--anchor", events[1].hash)


# --- signed checkpoints: forged history without trusting the database ----------------------------


def test_a_checkpoint_is_signed_written_out_and_matched(db, signing):
    write_events(3)

    body = checkpoint_publish()

    files = list((signing / "checkpoints").glob("checkpoint-*.json"))
    assert len(files) == 1
    assert json.loads(files[0].read_text()) == body
    assert body["tree_size"] == 3
    assert checkpoint_publish() is None  # nothing new: no second file
    assert "1 signed checkpoint(s) matched" in verify()
    output = StringIO()
    call_command("seal_audit", "--publish", stdout=output)
    assert "already signed" in output.getvalue()


def test_rewritten_history_is_detected_by_the_signed_checkpoint(db, signing):
    events = write_events(6)
    checkpoint_publish()

    forge_history(events, 1, actor_label="somebody-else")

    # The database alone cannot tell: its chain and checkpoints are consistent.
    assert audit_chain_verify(checkpoint_dir=signing / "none").ok
    report = audit_chain_verify()
    assert (report.ok, report.kind, report.event_id) == (False, "rewritten", events[-1].pk)
    with pytest.raises(CommandError, match="rewritten: the chain's event 6"):
        verify()


def test_a_truncated_trail_is_detected_by_the_signed_checkpoint(db, signing):
    write_events(4)
    checkpoint_publish()

    with connection.cursor() as cursor:  # the TRUNCATE trigger is off in the test database
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE reviews_auditevent, reviews_auditcheckpoint")

    report = audit_chain_verify()
    assert (report.ok, report.kind, report.count) == (False, "truncated", 0)
    assert "covers 4 event(s) but the sealed chain has only 0" in report.problem


def test_deleting_the_newest_events_is_detected_by_the_signed_checkpoint(db, signing):
    events = write_events(5)
    checkpoint_publish()
    tamper("DELETE FROM reviews_auditevent WHERE id >= %s", [events[3].pk])
    tamper("DELETE FROM reviews_auditcheckpoint", [], CHECKPOINT_TRIGGER)
    hashes = [e.hash for e in events[:3]]
    AuditCheckpoint.objects.create(
        tree_size=3,
        first_position=1,
        previous_head=GENESIS_HASH,
        head_hash=hashes[-1],
        merkle_root=merkle_root(hashes),
        sealed_at=events[2].occurred_at,
    )

    with pytest.raises(CommandError, match="truncated: checkpoint-000000000005.json"):
        verify()


def test_a_checkpoint_file_not_signed_by_the_key_is_refused(db, signing, settings):
    write_events(2)
    checkpoint_publish()
    (path,) = (signing / "checkpoints").glob("checkpoint-*.json")
    body = json.loads(path.read_text())
    path.write_text(json.dumps({**body, "head_hash": "d" * 64}))

    report = audit_chain_verify()
    assert (report.ok, report.kind) == (False, "signature")

    path.write_text(json.dumps(body))
    other = signing_key_generate(signing / "other" / "key.pem")
    settings.AUDIT_VERIFY_KEY = str(other)
    assert audit_chain_verify().kind == "signature"


def _env(database_name: str, **extra) -> dict:
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{database_name}"
    )
    env.update(extra)
    return env


def _run_verify(database_name: str, checkpoint_dir) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "verify_audit"],
        cwd=REPO,
        env=_env(database_name, AUDIT_CHECKPOINT_DIR=str(checkpoint_dir)),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_non_zero_on_a_tampered_database(tmp_path):
    events = write_events(4)
    database_name = connection.settings_dict["NAME"]
    clean = _run_verify(database_name, tmp_path)
    assert clean.returncode == 0, clean.stderr
    assert "OK: 4 event(s)" in clean.stdout

    try:
        with transaction.atomic():
            tamper("UPDATE reviews_auditevent SET role = 'admin' WHERE id = %s", [events[1].pk])
        tampered = _run_verify(database_name, tmp_path)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE reviews_auditevent ENABLE TRIGGER {TRIGGER}")

    assert tampered.returncode != 0
    assert f"audit event {events[1].pk}" in tampered.stderr


# --- concurrency and crashes, across OS processes ------------------------------------------------

WRITER = """
import django, sys
django.setup()
from django.db import transaction
from reviews.audit import audit_record, audit_seal
writer, count = int(sys.argv[1]), int(sys.argv[2])
for n in range(count):
    with transaction.atomic():
        audit_record(action="concurrent_write", actor="system", data={"writer": writer, "n": n})
    if writer % 2 == 0:
        audit_seal(batch_size=3)  # half the writers also seal, racing each other and the rest
"""

STALLED_SEALER = """
import django, os, sys, time
django.setup()
from reviews.audit import audit_seal

def stall(batch):
    print("sealing", len(batch), flush=True)
    time.sleep(120)

audit_seal(before_commit=stall)
"""


def _python(code: str, database_name: str, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        cwd=REPO,
        env=_env(database_name, DJANGO_SETTINGS_MODULE="config.settings"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_writer_and_sealer_processes_lose_nothing_and_seal_nothing_twice():
    database_name = connection.settings_dict["NAME"]
    writers, per_writer = 6, 15

    processes = [_python(WRITER, database_name, w, per_writer) for w in range(writers)]
    for process in processes:
        _, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
    audit_seal()

    events = list(AuditEvent.objects.order_by("position"))
    assert len(events) == writers * per_writer
    assert sorted((e.data["writer"], e.data["n"]) for e in events) == [
        (w, n) for w in range(writers) for n in range(per_writer)
    ]
    # Every event sealed exactly once: positions 1..N, each prev_hash used once.
    assert [e.position for e in events] == list(range(1, len(events) + 1))
    assert len({e.prev_hash for e in events}) == len(events)
    assert sum(c.size for c in AuditCheckpoint.objects.all()) == len(events)
    report = audit_chain_verify()
    assert (report.ok, report.count, report.unsealed) == (True, len(events), 0)


@pytest.mark.django_db(transaction=True)
def test_a_sealer_killed_mid_batch_leaves_nothing_half_sealed():
    database_name = connection.settings_dict["NAME"]
    write_events(2)
    for n in range(5):
        audit_record(action="test_event", actor="system", data={"after": n})

    sealer = _python(STALLED_SEALER, database_name)
    try:
        assert sealer.stdout.readline().strip() == "sealing 5"  # inside its batch transaction
        # It holds the sealer lock: a second sealer does not wait and does not seal.
        assert audit_seal().busy
        os.kill(sealer.pid, signal.SIGKILL)
        sealer.wait(timeout=30)
    finally:
        if sealer.poll() is None:
            sealer.kill()
        sealer.stdout.close()
        sealer.stderr.close()

    assert AuditEvent.objects.filter(position__isnull=True).count() == 5
    assert AuditCheckpoint.objects.count() == 1
    deadline = time.monotonic() + 30
    while (result := audit_seal()).busy and time.monotonic() < deadline:
        time.sleep(0.1)  # until PostgreSQL has ended the killed session
    assert (result.sealed, result.checkpoints) == (5, 1)
    report = audit_chain_verify()
    assert (report.ok, report.count, report.checkpoints) == (True, 7, 2)


LATE_WRITER = """
import django, sys
django.setup()
from django.db import transaction
from reviews.audit import audit_record
with transaction.atomic():
    event = audit_record(action="late_write", actor="system", data={})
    print(event.pk, flush=True)
    sys.stdin.readline()  # the transaction stays open until the test says so
"""


@pytest.mark.django_db(transaction=True)
def test_an_event_is_sealed_in_commit_order_not_id_order_and_waits_in_the_backlog():
    database_name = connection.settings_dict["NAME"]
    late = subprocess.Popen(
        [sys.executable, "-c", LATE_WRITER],
        cwd=REPO,
        env=_env(database_name, DJANGO_SETTINGS_MODULE="config.settings"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        late_id = int(late.stdout.readline())  # written, not committed
        early = audit_record(action="early_write", actor="system", data={})
        assert early.pk > late_id

        # The sealer sees only what has committed: the later id goes first.
        assert audit_seal().sealed == 1
        late.stdin.write("\n")
        late.stdin.flush()
        assert late.wait(timeout=60) == 0, late.stderr.read()
    finally:
        if late.poll() is None:
            late.kill()
        for pipe in (late.stdin, late.stdout, late.stderr):
            pipe.close()

    # Committed, not sealed yet: the backlog, with its age.
    report = audit_chain_verify()
    assert (report.ok, report.count, report.unsealed) == (True, 1, 1)
    assert report.unsealed_age_seconds is not None and report.unsealed_age_seconds >= 0
    assert "1 unsealed event(s), the oldest" in verify("--no-seal")

    assert audit_seal().sealed == 1
    positions = dict(AuditEvent.objects.values_list("id", "position"))
    assert (positions[early.pk], positions[late_id]) == (1, 2)
    report = audit_chain_verify()
    assert (report.ok, report.count, report.unsealed, report.checkpoints) == (True, 2, 0, 2)
