"""The append-only, hash-chained audit trail: written without a lock, sealed in batches.

audit_record() inserts an unsealed event inside the caller's transaction and takes no lock, so
writers never wait for one another. audit_seal(), run by one sealer at a time (a Celery beat task
about every second, `manage.py seal_audit`, and verify_audit before it walks), takes the committed
unsealed events in the order it finds them committed, gives each its position, the hash of the
event before it and its own hash over a canonical JSON of its content, and records an
AuditCheckpoint per batch (head hash and RFC 6962 Merkle root), all of a batch in one transaction:
a sealer killed mid-batch leaves nothing half-sealed. Concurrent sealers do not wait: the one that
holds the advisory lock proceeds, the others return at once.
"""

import hashlib
import ipaddress
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from reviews.audit_merkle import merkle_root
from reviews.context import source_ip
from reviews.models import AuditCheckpoint, AuditEvent, PriorAuthRequest

GENESIS_HASH = "0" * 64
# An arbitrary 64-bit key that identifies "the audit sealer" among advisory locks.
AUDIT_SEALER_LOCK = 0x4C414D494E41  # "LAMINA"
SEAL_BATCH_SIZE = 5000
# Exactly what event_hash() reads.
CONTENT_COLUMNS = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_label",
    "role",
    "source_ip",
    "action",
    "subject_type",
    "subject_id",
    "request_id_ref",
    "data",
)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def canonical(value: Any) -> str:
    """A stable encoding: sorted keys, no spaces, UTF-8, dates as ISO strings."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def event_content(event: AuditEvent) -> dict[str, Any]:
    """What an event's hash covers: everything but its own id and hash."""
    return {
        "occurred_at": event.occurred_at.isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "role": event.role,
        "source_ip": event.source_ip,
        "action": event.action,
        "subject_type": event.subject_type,
        "subject_id": str(event.subject_id),
        "request_id": event.request_id_ref,
        "data": event.data,
        "prev_hash": event.prev_hash,
    }


def event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(canonical(event_content(event)).encode()).hexdigest()


def _normalized_ip(ip: str | None) -> str | None:
    """The address as PostgreSQL stores it (inet normalizes '0:0::1' to '::1'), so the hash
    computed now still verifies against the stored row."""
    if not ip:
        return None
    try:
        return ipaddress.ip_address(ip).compressed
    except ValueError:
        return None


def _actor_fields(actor) -> tuple[Any, str, str]:
    if actor is None or actor == "engine":
        return None, "engine", "engine"
    if actor == "system":
        return None, "system", "system"
    if getattr(actor, "is_authenticated", False):
        return actor, actor.get_username(), actor.role
    return None, "anonymous", ""


def audit_record(
    *,
    action: str,
    subject: Any = None,
    actor: Any = None,
    data: dict | None = None,
    request: PriorAuthRequest | None = None,
    subject_type: str | None = None,
    subject_id: Any = None,
    role: str | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append one unsealed event to the trail, inside the caller's transaction, without a lock.

    One INSERT and no savepoint of its own: the event commits or rolls back with the caller's
    work. The sealer chains it once that transaction has committed. `actor` is a user, None /
    "engine" for automated steps, or "system". `subject` is any model instance; `request`
    (defaulting to the subject when it is a request) files the event on that request's timeline.
    """
    user, label, actor_role = _actor_fields(actor)
    if request is None and isinstance(subject, PriorAuthRequest):
        request = subject
    event = AuditEvent(
        # Truncated to microseconds as stored, so the hash verifies after a round trip.
        occurred_at=timezone.now(),
        actor=user,
        actor_label=label,
        role=role if role is not None else actor_role,
        source_ip=_normalized_ip(ip if ip is not None else source_ip.get()),
        action=action,
        subject_type=subject_type or (subject._meta.model_name if subject is not None else ""),
        subject_id=str(subject_id if subject_id is not None else getattr(subject, "pk", "") or ""),
        request_id_ref=request.pk if request is not None else None,
        data=json.loads(canonical(data or {})),
    )
    event.save(force_insert=True)
    if connection.vendor != "postgresql":
        # The embedded default (SQLite, one writer at a time, no beat) seals as each commit lands.
        transaction.on_commit(audit_seal)
    return event


@dataclass(frozen=True)
class SealResult:
    sealed: int  # events sealed by this call
    checkpoints: int  # batches (one checkpoint each)
    busy: bool = False  # another sealer held the lock: this one did nothing


def _try_lock() -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [AUDIT_SEALER_LOCK])
        return cursor.fetchone()[0]


def _write_seals(sealed: list[AuditEvent]) -> None:
    if connection.vendor != "postgresql":
        AuditEvent.objects.bulk_update(sealed, ["position", "prev_hash", "hash"])
        return
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS e SET position = v.position, prev_hash = v.prev_hash, "  # noqa: S608
            "hash = v.hash FROM unnest(%s::bigint[], %s::bigint[], %s::varchar[], %s::varchar[]) "
            "AS v(id, position, prev_hash, hash) WHERE e.id = v.id AND e.position IS NULL",
            [
                [e.pk for e in sealed],
                [e.position for e in sealed],
                [e.prev_hash for e in sealed],
                [e.hash for e in sealed],
            ],
        )
        if cursor.rowcount != len(sealed):
            # Another sealer got there first (it cannot, holding the lock): seal nothing.
            raise RuntimeError("audit events were sealed concurrently; batch abandoned")


def _seal_batch(batch_size: int, before_commit=None) -> int | None:
    """Seal up to `batch_size` committed events in one transaction; None when the lock is busy."""
    with transaction.atomic():
        if not _try_lock():
            return None
        last = AuditCheckpoint.objects.order_by("-tree_size").first()
        head = last.head_hash if last else GENESIS_HASH
        position = last.tree_size if last else 0
        rows = (
            AuditEvent.objects.filter(position__isnull=True)
            .order_by("id")
            .values_list(*CONTENT_COLUMNS)[:batch_size]
        )
        batch = [AuditEvent(**dict(zip(CONTENT_COLUMNS, row, strict=True))) for row in rows]
        if not batch:
            return 0
        previous_head = head
        for event in batch:
            position += 1
            event.position, event.prev_hash = position, head
            event.hash = head = event_hash(event)
        _write_seals(batch)
        AuditCheckpoint.objects.create(
            tree_size=position,
            first_position=batch[0].position,
            previous_head=previous_head,
            head_hash=head,
            merkle_root=merkle_root([e.hash for e in batch]),
            sealed_at=timezone.now(),
        )
        if before_commit is not None:
            before_commit(batch)
        return len(batch)


def audit_seal(*, batch_size: int = SEAL_BATCH_SIZE, before_commit=None) -> SealResult:
    """Seal every committed unsealed event, a batch (one transaction, one checkpoint) at a time.

    Safe to call from anywhere at any time: when another sealer holds the lock this returns at
    once with busy=True. `before_commit(batch)` runs inside each batch's transaction (tests use
    it to kill a sealer mid-batch).
    """
    sealed = checkpoints = 0
    while True:
        count = _seal_batch(batch_size, before_commit)
        if count is None:
            return SealResult(sealed, checkpoints, busy=True)
        if count == 0:
            return SealResult(sealed, checkpoints)
        sealed += count
        checkpoints += 1
