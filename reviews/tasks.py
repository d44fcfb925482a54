"""Celery tasks: ids in, re-fetch, guard, call a service; safe to run twice."""

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from reviews.models import PriorAuthRequest, Status

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,  # a worker killed mid-task: the message goes back to the queue
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=90,
    time_limit=120,
)
def run_evidence_checks(request_id: int) -> str:
    """The checks of a request whose notes are read; unread notes go to read_notes first."""
    from notes.services import notes_unread
    from reviews.services import evidence_checks_run

    pa_request = PriorAuthRequest.objects.filter(pk=request_id).first()
    if pa_request is None or pa_request.status != Status.EVALUATING:
        return "skipped"  # gone, or already checked by an earlier delivery
    if notes_unread(pa_request=pa_request):
        # Reading is the costly step: a task of its own (on a queue of its own when
        # CELERY_NOTES_QUEUE is set), so one long note never holds up other requests' checks.
        read_notes.apply_async(args=[request_id], queue=settings.CELERY_NOTES_QUEUE or None)
        return "notes queued"
    evaluation = evidence_checks_run(pa_request=pa_request)
    return evaluation.recommendation if evaluation else "skipped"


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=90,
    time_limit=120,
)
def read_notes(request_id: int) -> str:
    """Read a request's unread notes, without locking it, then queue its evidence checks."""
    from notes.services import notes_read_pending
    from reviews.services.enqueue import publish_evidence_checks

    pa_request = PriorAuthRequest.objects.filter(pk=request_id).first()
    if pa_request is None or pa_request.status != Status.EVALUATING:
        return "skipped"
    read = notes_read_pending(pa_request=pa_request)
    publish_evidence_checks(request_id)
    return f"read {read}"


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def sweep_unchecked_requests() -> int:
    """Re-enqueue requests whose checks never ran (e.g. submitted while the broker was down)."""
    from reviews.services.sweep import unchecked_requests_sweep

    return len(unchecked_requests_sweep())


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def mark_clocks() -> dict:
    from reviews.services import clocks_mark

    return clocks_mark()


@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1900)
def run_policy_simulation(simulation_id: int) -> str:
    """Replay a simulation queued from the policy page; a finished one is not run again."""
    from reviews.models import PolicySimulation
    from reviews.services.simulation import simulation_run

    simulation = PolicySimulation.objects.filter(pk=simulation_id).first()
    if simulation is None or simulation.state == PolicySimulation.State.DONE:
        return "skipped"
    simulation_run(simulation=simulation)
    return "done"


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def run_due_rechecks() -> dict:
    """The rechecks due today go back to the evidence checks (reviews.services.rechecks)."""
    from reviews.services.rechecks import rechecks_run_due

    return rechecks_run_due()
