"""The request state machine on one screen, and the only code that writes a request's status."""

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from reviews.audit import audit_record
from reviews.authority import Act, authority_problems, roles_for
from reviews.errors import Conflict, InvalidTransition
from reviews.models import PriorAuthRequest, Status

S = Status
TRANSITIONS: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.EVALUATING, S.WITHDRAWN}),
    S.EVALUATING: frozenset(
        {S.APPROVED, S.PENDING_INFORMATION, S.NURSE_REVIEW, S.PHYSICIAN_REVIEW, S.WITHDRAWN}
    ),
    S.PENDING_INFORMATION: frozenset({S.EVALUATING, S.WITHDRAWN}),
    # A case in review goes back to evaluating only for a provider's recheck on its date.
    S.NURSE_REVIEW: frozenset(
        {S.APPROVED, S.PENDING_INFORMATION, S.PHYSICIAN_REVIEW, S.EVALUATING, S.WITHDRAWN}
    ),
    S.PHYSICIAN_REVIEW: frozenset(
        {
            S.APPROVED,
            S.PARTIALLY_APPROVED,
            S.DENIED,
            S.PENDING_INFORMATION,
            S.EVALUATING,
            S.WITHDRAWN,
        }
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

# Who may act from which status is reviews.authority; every act it allows must be a move here.
_problems = authority_problems(TRANSITIONS)
if _problems:
    raise ImproperlyConfigured(
        "The authority table disagrees with TRANSITIONS: " + " ".join(_problems)
    )

# The roles that claim cases: a reviewer acts only on a case they hold.
REVIEWER_ROLES = roles_for(Act.CLAIM)


def ensure_holder(pa_request: PriorAuthRequest, actor) -> None:
    """A reviewer acts only on a case they hold (claimed, one owner at a time): a case held by
    another reviewer, or held by nobody, is refused with a Conflict (409) that says which.

    Providers (withdrawing, answering, appealing) and the engine are not reviewers and hold
    nothing. Call it on the locked row.
    """
    if getattr(actor, "role", "") not in REVIEWER_ROLES:
        return
    if pa_request.assigned_to_id == actor.pk:
        return
    if pa_request.assigned_to_id:
        holder = (
            pa_request.assigned_to.get_username() if pa_request.assigned_to else "another reviewer"
        )
        raise Conflict(f"{holder} holds this case; only they may act on it.", code="held_by_other")
    raise Conflict(
        "Claim the case first: a reviewer acts only on a case they hold.", code="not_claimed"
    )


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

    A reviewer must hold the case (ensure_holder). `expect` narrows the statuses the caller is
    prepared to act from (a nurse action expects nurse_review); `extra_updates` are fields
    written in the same UPDATE.
    Returns the fresh, locked row.
    """
    # Lock the row: two reviewers, or a reviewer and a worker, must not both move it.
    locked = PriorAuthRequest.objects.select_for_update().get(pk=pa_request.pk)
    ensure_holder(locked, actor)
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
