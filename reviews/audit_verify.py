"""Walk the sealed audit chain and report the first event that does not verify.

The walk reads the sealed events in chain position order through a server-side cursor, a chunk at
a time, beside the database's checkpoints and the signed checkpoint files, and keeps only the
previous hash and the current batch's hashes: memory stays bounded however long the trail is.

- altered: an event no longer matches its hash.
- broken link: an event's prev_hash is not the hash of the event before it (one was deleted or
  inserted), or positions are out of sequence.
- checkpoint: a batch's head, previous head or Merkle root no longer matches the database's
  checkpoint for it.
- rewritten: the chain is internally consistent, but the event at a signed checkpoint's position
  does not have the head hash that was signed (history was changed and re-hashed).
- truncated: a signed checkpoint (or a database checkpoint) covers more events than the chain
  still has (events at its end were deleted, or the table was emptied).

Events committed but not sealed yet are counted as the backlog, with the age of the oldest; the
chain says nothing about them until the sealer has run (see the README on the window between
commit and seal). Gaps in ids are normal (a rolled-back transaction consumes an id).

audit_chain_verify() is the single entry point: manage.py verify_audit and the auditor's web page
both call it.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.db.models import Min
from django.utils import timezone

from reviews.audit import CONTENT_COLUMNS, GENESIS_HASH, event_hash
from reviews.audit_merkle import inclusion_path, inclusion_verify, merkle_root
from reviews.audit_sign import CheckpointFileError, SignedCheckpoint, signed_checkpoints, verify_key
from reviews.models import AuditCheckpoint, AuditEvent

# Exactly what event_hash() reads (with the id), plus the seal.
CHAIN_COLUMNS = (*CONTENT_COLUMNS, "position", "prev_hash", "hash")


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    count: int  # sealed events verified before the first problem (all of them when ok)
    head_hash: str  # the hash of the last verified event (GENESIS_HASH for an empty trail)
    event_id: int | None = None  # the first event that failed (the first broken link)
    problem: str = ""
    kind: str = ""  # altered, broken link, checkpoint, rewritten, truncated, missing, signature
    checkpoints: int = 0  # database checkpoints verified
    signed: int = 0  # signed checkpoint files verified against the chain
    unsealed: int = 0  # committed events not sealed yet
    unsealed_oldest: datetime | None = None

    @property
    def unsealed_age_seconds(self) -> float | None:
        if self.unsealed_oldest is None:
            return None
        return (timezone.now() - self.unsealed_oldest).total_seconds()


def _events(chunk_size: int) -> Iterator[AuditEvent]:
    rows = (
        AuditEvent.objects.filter(position__isnull=False)
        .order_by("position")
        .values_list(*CHAIN_COLUMNS)
        .iterator(chunk_size=chunk_size)
    )
    for row in rows:
        yield AuditEvent(**dict(zip(CHAIN_COLUMNS, row, strict=True)))


def audit_chain_verify(
    *,
    chunk_size: int = 2000,
    anchor: str | None = None,
    progress: Callable[[int], None] | None = None,
    checkpoint_dir: str | Path | None = None,
) -> ChainReport:
    """Verify every sealed event's hash and link, every database checkpoint and every signed
    checkpoint file; stop at the first failure.

    `anchor`, when given, is a head hash recorded earlier: it must still be in the chain.
    `progress(count)` is called after each chunk of events. Signed checkpoints are read from
    `checkpoint_dir` (default AUDIT_CHECKPOINT_DIR) and checked with AUDIT_VERIFY_KEY.
    """
    backlog = AuditEvent.objects.filter(position__isnull=True).aggregate(oldest=Min("occurred_at"))
    unsealed = AuditEvent.objects.filter(position__isnull=True).count()
    extra = {"unsealed": unsealed, "unsealed_oldest": backlog["oldest"]}

    try:
        signed = signed_checkpoints(checkpoint_dir, verify_key())
    except CheckpointFileError as exc:
        return ChainReport(
            ok=False, count=0, head_hash=GENESIS_HASH, problem=str(exc), kind="signature", **extra
        )
    signed_by_size: dict[int, list[SignedCheckpoint]] = {}
    for checkpoint in signed:
        signed_by_size.setdefault(checkpoint.tree_size, []).append(checkpoint)
    checkpoints = AuditCheckpoint.objects.order_by("tree_size").iterator(chunk_size=chunk_size)
    next_checkpoint = next(checkpoints, None)

    previous_hash = GENESIS_HASH
    previous_id: int | None = None
    count = checked = signed_seen = 0
    batch: list[str] = []
    anchor_seen = anchor is None

    def failed(kind: str, problem: str, event_id: int | None = None) -> ChainReport:
        return ChainReport(
            ok=False,
            count=count,
            head_hash=previous_hash,
            event_id=event_id,
            problem=f"{kind}: {problem}",
            kind=kind,
            checkpoints=checked,
            signed=signed_seen,
            **extra,
        )

    for event in _events(chunk_size):
        where = f"event {previous_id}" if previous_id is not None else "the start of the chain"
        if event.prev_hash != previous_hash or event.position != count + 1:
            return failed(
                "broken link",
                f"audit event {event.pk} does not follow {where} "
                "(an event between them was deleted or inserted)",
                event.pk,
            )
        if event_hash(event) != event.hash:
            return failed("altered", f"audit event {event.pk} no longer matches its hash", event.pk)
        for mark in signed_by_size.get(event.position, ()):
            if mark.head_hash != event.hash:
                return failed(
                    "rewritten",
                    f"the chain's event {event.position} (audit event {event.pk}) is not the "
                    f"head signed at {mark.signed_at} in {mark.path.name}: history up to it was "
                    "changed and re-hashed",
                    event.pk,
                )
            signed_seen += 1
        batch.append(event.hash)
        if next_checkpoint is not None and next_checkpoint.tree_size == event.position:
            if (
                next_checkpoint.head_hash != event.hash
                or next_checkpoint.first_position != event.position - len(batch) + 1
                or next_checkpoint.merkle_root != merkle_root(batch)
            ):
                return failed(
                    "checkpoint",
                    f"the batch ending at audit event {event.pk} (position {event.position}) "
                    f"does not match checkpoint {next_checkpoint.pk}",
                    event.pk,
                )
            checked += 1
            batch = []
            next_checkpoint = next(checkpoints, None)
        if not anchor_seen and event.hash == anchor:
            anchor_seen = True
        previous_hash, previous_id = event.hash, event.pk
        count += 1
        if progress is not None and count % chunk_size == 0:
            progress(count)

    beyond = [c for c in signed if c.tree_size > count]
    if beyond:
        mark = beyond[-1]
        return failed(
            "truncated",
            f"{mark.path.name}, signed at {mark.signed_at}, covers {mark.tree_size} event(s) "
            f"but the sealed chain has only {count}: events at its end were deleted",
        )
    if next_checkpoint is not None:
        return failed(
            "truncated",
            f"checkpoint {next_checkpoint.pk} covers {next_checkpoint.tree_size} event(s) but the "
            f"sealed chain has only {count}",
        )
    if batch:
        return failed(
            "checkpoint",
            f"the last {len(batch)} sealed event(s) belong to no checkpoint (it was deleted)",
        )
    if not anchor_seen:
        return failed(
            "missing",
            f"the anchor {anchor} is not in the chain (events at its end were deleted)",
        )
    if progress is not None:
        progress(count)
    return ChainReport(
        ok=True,
        count=count,
        head_hash=previous_hash,
        checkpoints=checked,
        signed=signed_seen,
        **extra,
    )


@dataclass(frozen=True)
class InclusionProof:
    event_id: int
    position: int
    event_hash: str
    checkpoint_id: int
    tree_size: int
    index: int  # the event's leaf index in its batch
    batch_size: int
    path: list[str]
    merkle_root: str

    def verifies(self) -> bool:
        return inclusion_verify(
            self.index, self.batch_size, self.event_hash, self.path, self.merkle_root
        )


def audit_inclusion_proof(event_id: int) -> InclusionProof | None:
    """The RFC 6962 audit path proving one sealed event is in its batch's checkpoint (None while
    the event is unsealed)."""
    event = AuditEvent.objects.filter(pk=event_id, position__isnull=False).first()
    if event is None:
        return None
    checkpoint = (
        AuditCheckpoint.objects.filter(tree_size__gte=event.position).order_by("tree_size").first()
    )
    if checkpoint is None or checkpoint.first_position > event.position:
        return None
    hashes = list(
        AuditEvent.objects.filter(
            position__gte=checkpoint.first_position, position__lte=checkpoint.tree_size
        )
        .order_by("position")
        .values_list("hash", flat=True)
    )
    index = event.position - checkpoint.first_position
    return InclusionProof(
        event_id=event.pk,
        position=event.position,
        event_hash=event.hash,
        checkpoint_id=checkpoint.pk,
        tree_size=checkpoint.tree_size,
        index=index,
        batch_size=len(hashes),
        path=inclusion_path(index, hashes),
        merkle_root=checkpoint.merkle_root,
    )
