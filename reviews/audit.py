"""The append-only, hash-chained audit trail.

Every event stores the hash of the previous event and its own hash over a canonical JSON of its
content. Appends are serialized with a transaction-scoped PostgreSQL advisory lock, so concurrent
writers can never fork the chain; the lock is released when the writer's transaction ends, which
is also when its event becomes visible.
"""

import hashlib
import ipaddress
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from reviews.context import source_ip
from reviews.models import AuditEvent, PriorAuthRequest

GENESIS_HASH = "0" * 64
# An arbitrary 64-bit key that identifies "the audit chain" among advisory locks.
AUDIT_CHAIN_LOCK = 0x4C414D494E41  # "LAMINA"


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


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_CHAIN_LOCK])
    # SQLite (the embedded default) serializes writers on its own.


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


@transaction.atomic
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
    """Append one event to the chain, inside the caller's transaction.

    `actor` is a user, None / "engine" for automated steps, or "system". `subject` is any model
    instance; `request` (defaulting to the subject when it is a request) files the event on that
    request's timeline.
    """
    user, label, actor_role = _actor_fields(actor)
    if request is None and isinstance(subject, PriorAuthRequest):
        request = subject
    _lock_chain()
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
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
        prev_hash=last or GENESIS_HASH,
    )
    event.hash = event_hash(event)
    event.save(force_insert=True)
    return event
