"""Claiming and releasing a case: one owner at a time, by compare-and-set."""

from django.db import transaction

from reviews.audit import audit_record
from reviews.authority import Act, roles_for, statuses_for
from reviews.errors import Conflict, NotPermitted
from reviews.models import PriorAuthRequest, Status
from reviews.services.appeals import NOT_ELIGIBLE, appeal_eligible

# The statuses each reviewer role claims, read from reviews.authority (the queue pages use it).
QUEUE_OF_ROLE: dict[str, frozenset[str]] = {
    role: statuses_for(role, Act.CLAIM) for role in roles_for(Act.CLAIM)
}


@transaction.atomic
def request_claim(*, pa_request: PriorAuthRequest, actor) -> PriorAuthRequest:
    """The actor holds the case: one owner at a time, by compare-and-set.

    An appeal is claimed only by a physician who took no part in the case (appeal_eligible):
    a former reviewer is refused here, so their claim never locks out one who may decide it.
    """
    statuses = statuses_for(actor.role, Act.CLAIM)
    if not statuses:
        raise NotPermitted("Only nurse and physician reviewers claim cases.")
    current = PriorAuthRequest.objects.only("status").get(pk=pa_request.pk)
    # Only physician review can lead to an appeal, and never straight: the status read here is
    # the one the compare-and-set below requires, or the claim fails anyway.
    if current.status == Status.APPEAL and not appeal_eligible(current, actor):
        raise NotPermitted(NOT_ELIGIBLE, code="not_eligible")
    # UPDATE ... WHERE assigned_to IS NULL: of two reviewers claiming at once, one wins.
    claimed = PriorAuthRequest.objects.filter(
        pk=pa_request.pk, assigned_to__isnull=True, status__in=statuses
    ).update(assigned_to=actor)
    if not claimed:
        current = PriorAuthRequest.objects.select_related("assigned_to").get(pk=pa_request.pk)
        if current.assigned_to_id == actor.pk:
            return current
        if current.assigned_to_id:
            raise Conflict(
                f"Already claimed by {current.assigned_to.get_username()}.", code="already_claimed"
            )
        raise Conflict("This case is no longer in your queue.", code="not_in_queue")
    pa_request = PriorAuthRequest.objects.get(pk=pa_request.pk)
    audit_record(
        action="assigned",
        subject=pa_request,
        actor=actor,
        data={"assigned_to": actor.get_username()},
    )
    return pa_request


@transaction.atomic
def request_release(*, pa_request: PriorAuthRequest, actor) -> PriorAuthRequest:
    released = PriorAuthRequest.objects.filter(pk=pa_request.pk, assigned_to=actor).update(
        assigned_to=None
    )
    if not released:
        raise Conflict("You do not hold this case.", code="not_assigned")
    pa_request = PriorAuthRequest.objects.get(pk=pa_request.pk)
    audit_record(
        action="unassigned",
        subject=pa_request,
        actor=actor,
        data={"released_by": actor.get_username()},
    )
    return pa_request
