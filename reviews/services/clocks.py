"""The clock sweep: marks open requests at risk or overdue, once each, audited."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from reviews.audit import audit_record
from reviews.clocks import clock_state_at
from reviews.models import OPEN_STATUSES, ClockState, PriorAuthRequest, Status

# The provider's clock: a request waiting on the provider is still counted (CMS counts from
# receipt), so every open status is swept.
CLOCKED = OPEN_STATUSES - {Status.APPEAL}


def clocks_mark(*, now: datetime | None = None) -> dict[str, int]:
    """Move each open request's clock_state forward; returns counts of the marks made."""
    now = now or timezone.now()
    counts = {ClockState.AT_RISK: 0, ClockState.OVERDUE: 0}
    candidates = (
        PriorAuthRequest.objects.filter(status__in=CLOCKED)
        .exclude(clock_state=ClockState.OVERDUE)
        .values_list("pk", "received_at", "due_at", "clock_state")
    )
    for pk, received_at, due_at, state in candidates.iterator():
        new_state = clock_state_at(received_at=received_at, due_at=due_at, now=now)
        if new_state == state or new_state == ClockState.ON_TIME:
            continue
        with transaction.atomic():
            # Compare-and-set: a concurrent sweep marks each request once.
            changed = PriorAuthRequest.objects.filter(pk=pk, clock_state=state).update(
                clock_state=new_state
            )
            if changed:
                audit_record(
                    action=f"clock_{new_state}",
                    subject_type="priorauthrequest",
                    subject_id=pk,
                    request=PriorAuthRequest(pk=pk),
                    actor="system",
                    data={"due_at": due_at.isoformat(), "marked_at": now.isoformat()},
                )
                counts[new_state] += 1
    return {str(k): v for k, v in counts.items()}
