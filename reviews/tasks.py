"""Celery tasks: ids in, re-fetch, guard, call a service; safe to run twice."""

import logging

from celery import shared_task
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
    from reviews.services import evidence_checks_run

    pa_request = PriorAuthRequest.objects.filter(pk=request_id).first()
    if pa_request is None or pa_request.status != Status.EVALUATING:
        return "skipped"  # gone, or already checked by an earlier delivery
    evaluation = evidence_checks_run(pa_request=pa_request)
    return evaluation.recommendation if evaluation else "skipped"


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
