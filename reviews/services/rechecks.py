"""Rechecks: a provider asks Lamina to evaluate an open request again on a date.

The date is usually the request's `eligible_on` (reviews/eligibility.py): the day the request
would qualify if its facts stay as they are. Celery beat runs `rechecks_run_due` (hourly); on the
day, the request goes back to evaluating and the usual evidence checks run with the facts it has
by then (the provider may have sent more meanwhile), with the usual audit trail. A recheck of a
request decided or withdrawn meanwhile, or of a case a reviewer holds, is skipped and says why.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from reviews.audit import audit_record
from reviews.authority import Act, statuses_for
from reviews.errors import InvalidTransition, NotPermitted, ValidationFailed
from reviews.models import PriorAuthRequest, Recheck, Role, Status
from reviews.services.enqueue import enqueue_evidence_checks
from reviews.transitions import request_transition

# The statuses a recheck may send back to the evidence checks (reviews.authority): open, waiting
# on the provider or on a reviewer. A request still being evaluated needs no recheck; a decided
# one is final (an appeal or a new request is the way on).
RECHECKABLE = statuses_for(Role.PROVIDER, Act.RECHECK)
# How far ahead a recheck may be asked: the eligibility search's own horizon.
MAX_DAYS_AHEAD = 400


def recheck_schedule(*, pa_request: PriorAuthRequest, actor, on_date: date) -> tuple[Recheck, bool]:
    """The provider's recheck of their request on `on_date` -> (recheck, created).

    Refuses another organization's request (403), a request no longer open (409), a date in the
    past or beyond MAX_DAYS_AHEAD (400). The same date again answers the same recheck.
    """
    if not actor.has_role(Role.PROVIDER) or pa_request.organization_id != actor.organization_id:
        raise NotPermitted("Only the requesting organization's provider may ask for a recheck.")
    today = timezone.localdate()
    if on_date < today:
        raise ValidationFailed(
            "A recheck date cannot be in the past.", fields={"date": ["Give today or later."]}
        )
    if on_date > today + timedelta(days=MAX_DAYS_AHEAD):
        raise ValidationFailed(
            f"A recheck can be asked at most {MAX_DAYS_AHEAD} days ahead.",
            fields={"date": [f"Give a date within {MAX_DAYS_AHEAD} days."]},
        )
    with transaction.atomic():
        locked = PriorAuthRequest.objects.select_for_update().get(pk=pa_request.pk)
        if locked.status not in RECHECKABLE:
            raise InvalidTransition(
                from_status=locked.status,
                to_status=Status.EVALUATING,
                message="Only an open request waiting for information or review can be rechecked.",
            )
        existing = Recheck.objects.filter(request=locked, on_date=on_date).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                recheck = Recheck.objects.create(
                    request=locked, on_date=on_date, requested_by=actor
                )
        except IntegrityError:  # the same date asked concurrently: one recheck
            return Recheck.objects.get(request=locked, on_date=on_date), False
        audit_record(
            action="recheck_scheduled",
            subject=recheck,
            actor=actor,
            request=locked,
            data={"on_date": on_date.isoformat()},
        )
    return recheck, True


def _run_one(recheck_id: int, now) -> str:
    with transaction.atomic():
        recheck = (
            Recheck.objects.select_for_update(skip_locked=True)
            .filter(pk=recheck_id, state=Recheck.State.SCHEDULED)
            .first()
        )
        if recheck is None:
            return "taken"  # another sweep has it, or it ran
        locked = PriorAuthRequest.objects.select_for_update().get(pk=recheck.request_id)
        skip = ""
        if locked.status not in RECHECKABLE:
            skip = f"The request is {locked.get_status_display().lower()}: nothing to recheck."
        elif locked.assigned_to_id:
            skip = "A reviewer holds the case: the reviewer decides it."
        if skip:
            Recheck.objects.filter(pk=recheck.pk).update(
                state=Recheck.State.SKIPPED, outcome=skip, ran_at=now
            )
            audit_record(
                action="recheck_skipped",
                subject=recheck,
                actor="system",
                request=locked,
                data={"on_date": recheck.on_date.isoformat(), "reason": skip},
            )
            return "skipped"
        locked = request_transition(
            pa_request=locked,
            to=Status.EVALUATING,
            actor="system",
            reason=f"recheck asked for {recheck.on_date.isoformat()}",
            extra_updates={"recommendation": ""},
        )
        Recheck.objects.filter(pk=recheck.pk).update(
            state=Recheck.State.DONE, ran_at=now, evaluation_round=locked.evaluation_round
        )
        audit_record(
            action="recheck_run",
            subject=recheck,
            actor="system",
            request=locked,
            data={"on_date": recheck.on_date.isoformat(), "round": locked.evaluation_round},
        )
        enqueue_evidence_checks(locked.pk)
    return "run"


def rechecks_run_due(*, today: date | None = None) -> dict[str, int]:
    """Send every recheck due by `today` to the evidence checks; counts by what happened."""
    today = today or timezone.localdate()
    now = timezone.now()
    counts = {"run": 0, "skipped": 0, "taken": 0}
    due = Recheck.objects.filter(state=Recheck.State.SCHEDULED, on_date__lte=today).values_list(
        "pk", flat=True
    )
    for recheck_id in list(due[:1000]):
        counts[_run_one(recheck_id, now)] += 1
    return counts
