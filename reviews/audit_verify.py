"""Walk the audit chain and report the first event that does not verify.

The walk reads the table in id order through a server-side cursor, a chunk at a time, and keeps
only the previous event's hash: memory stays constant however long the trail is.

Gaps in the id sequence are not evidence of anything: an event written inside a transaction that
rolled back consumed an id and left no row. A deleted row shows instead as a broken link: the
next event's prev_hash names a hash that is no longer in the chain. An altered row shows as a
hash that no longer matches its content. Deleting the newest events leaves no broken link; the
head hash printed on success is what an operator records elsewhere and passes back as an anchor.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from reviews.audit import GENESIS_HASH, event_hash
from reviews.models import AuditEvent

# Exactly what event_hash() reads, plus the stored hash and the id.
CHAIN_COLUMNS = (
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
    "prev_hash",
    "hash",
)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    count: int  # events verified before the first problem (all of them when ok)
    head_hash: str  # the hash of the last verified event (GENESIS_HASH for an empty trail)
    event_id: int | None = None  # the first event that failed
    problem: str = ""


def _events(chunk_size: int) -> Iterator[AuditEvent]:
    rows = (
        AuditEvent.objects.order_by("id")
        .values_list(*CHAIN_COLUMNS)
        .iterator(chunk_size=chunk_size)
    )
    for row in rows:
        yield AuditEvent(**dict(zip(CHAIN_COLUMNS, row, strict=True)))


def audit_chain_verify(*, chunk_size: int = 2000, anchor: str | None = None) -> ChainReport:
    """Verify every event's hash and its link to the one before; stop at the first failure.

    `anchor`, when given, is a head hash recorded earlier: it must still be in the chain, or
    events were removed from its end.
    """
    previous_hash = GENESIS_HASH
    previous_id: int | None = None
    count = 0
    anchor_seen = anchor is None
    for event in _events(chunk_size):
        if event.prev_hash != previous_hash:
            where = f"event {previous_id}" if previous_id is not None else "the start of the chain"
            return ChainReport(
                ok=False,
                count=count,
                head_hash=previous_hash,
                event_id=event.pk,
                problem=(
                    f"broken link: audit event {event.pk} does not follow {where} "
                    "(an event between them was deleted or inserted)"
                ),
            )
        if event_hash(event) != event.hash:
            return ChainReport(
                ok=False,
                count=count,
                head_hash=previous_hash,
                event_id=event.pk,
                problem=f"altered: audit event {event.pk} no longer matches its hash",
            )
        if not anchor_seen and event.hash == anchor:
            anchor_seen = True
        previous_hash, previous_id = event.hash, event.pk
        count += 1
    if not anchor_seen:
        return ChainReport(
            ok=False,
            count=count,
            head_hash=previous_hash,
            problem=(
                f"missing: the anchor {anchor} is not in the chain (events at its end were deleted)"
            ),
        )
    return ChainReport(ok=True, count=count, head_hash=previous_hash)
