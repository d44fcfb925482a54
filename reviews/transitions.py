"""The request state machine on one screen, and the only code that writes a request's status."""

from django.db import transaction
from django.utils import timezone

from reviews.audit import audit_record
from reviews.errors import Conflict, InvalidTransition
from reviews.models import PriorAuthRequest, Role, Status

S = Status
TRANSITIONS: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.EVALUATING, S.WITHDRAWN}),
    S.EVALUATING: frozenset(
        {S.APPROVED, S.PENDING_INFORMATION, S.NURSE_REVIEW, S.PHYSICIAN_REVIEW, S.WITHDRAWN}
    ),
    S.PENDING_INFORMATION: frozenset({S.EVALUATING, S.WITHDRAWN}),
    S.NURSE_REVIEW: frozenset({S.APPROVED, S.PENDING_INFORMATION, S.PHYSICIAN_REVIEW, S.WITHDRAWN}),
    S.PHYSICIAN_REVIEW: frozenset(
        {S.APPROVED, S.PARTIALLY_APPROVED, S.DENIED, S.PENDING_INFORMATION, S.WITHDRAWN}
    ),
    S.DENIED: frozenset({S.APPEAL}),
    S.PARTIALLY_APPROVED: frozenset({S.APPEAL}),
    # An appeal is overturned (approved) or upheld (denied, or the partial approval stands).
    S.APPEAL: frozenset({S.APPROVED, S.DENIED, S.PARTIALLY_APPROVED, S.WITHDRAWN}),
    S.APPROVED: frozenset(),
    S.WITHDRAWN: frozenset(),
}
# Statuses that end a review with a determination.
DECIDED = frozenset({S.APPROVED, S.PARTIALLY_APPROVED, S.DENIED, S.WITHDRAWN})


def ensure_not_held_by_another(pa_request: PriorAuthRequest, actor) -> None:
    """A case claimed by one reviewer is acted on by that reviewer only (one owner at a time).

    Providers (withdrawing, answering) and the engine are not reviewers and are not held back.
    """
    role = getattr(actor, "role", "")
    if role not in (Role.NURSE, Role.PHYSICIAN):
        return
    if pa_request.assigned_to_id and pa_request.assigned_to_id != actor.pk:
        holder = (
            pa_request.assigned_to.get_username() if pa_request.assigned_to else "another reviewer"
        )
        raise Conflict(f"{holder} holds this case; only they may act on it.", code="held_by_other")


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


@transaction.atomic
def request_transition(
    *,
    pa_request: PriorAuthRequest,
    to: str,
    actor,
    reason: str = "",
    data: dict | None = None,
    expect: frozenset[str] | set[str] | None = None,
    extra_updates: dict | None = None,
) -> PriorAuthRequest:
    """Move a request to `to`, locked, checked and audited. The only writer of `status`.

    `expect` narrows the statuses the caller is prepared to act from (a nurse action expects
    nurse_review); `extra_updates` are fields written in the same UPDATE.
    Returns the fresh, locked row.
    """
    # Lock the row: two reviewers, or a reviewer and a worker, must not both move it.
    locked = PriorAuthRequest.objects.select_for_update().get(pk=pa_request.pk)
    ensure_not_held_by_another(locked, actor)
    if (expect is not None and locked.status not in expect) or not can_transition(
        locked.status, to
    ):
        raise InvalidTransition(from_status=locked.status, to_status=to)
    now = timezone.now()
    update_fields = ["status", "updated_at"]
    if to == S.EVALUATING:
        locked.evaluation_round += 1
        locked.enqueued_at = now
        update_fields += ["evaluation_round", "enqueued_at"]
    if to in DECIDED:
        locked.decided_at = now
        locked.assigned_to = None
        update_fields += ["decided_at", "assigned_to"]
    for field, value in (extra_updates or {}).items():
        setattr(locked, field, value)
        if field not in update_fields:
            update_fields.append(field)
    audit_record(
        action="status_changed",
        subject=locked,
        actor=actor,
        data={"from": locked.status, "to": to, "reason": reason, **(data or {})},
    )
    locked.status = to
    locked.save(update_fields=update_fields)
    return locked
