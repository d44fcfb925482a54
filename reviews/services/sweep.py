"""The sweep: re-enqueue the evidence checks of requests whose checks never ran.

A request waits in received/evaluating while its checks are queued. If the publish failed (broker
down at intake) or a worker died holding the message, nothing will ever evaluate it: Celery beat
runs this sweep every minute and re-enqueues the ones left longer than SWEEP_AFTER_SECONDS.

Each stale request is claimed with a compare-and-set update (enqueued_at moves from the value the
sweep read to now, only if it still holds that value and the request is still open), and only a
claimed request is published. Two sweeps running at once therefore never both re-enqueue one
request, and a slow worker is not handed the same id every minute.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from reviews.models import PriorAuthRequest, Status
from reviews.services.enqueue import publish_evidence_checks

logger = logging.getLogger(__name__)

OPEN = (Status.RECEIVED, Status.EVALUATING)
BATCH = 1000


def _stale(now):
    cutoff = now - timedelta(seconds=settings.SWEEP_AFTER_SECONDS)
    return PriorAuthRequest.objects.filter(status__in=OPEN).filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=cutoff)
    )


def stale_requests(*, now=None) -> list[int]:
    """Requests left in received/evaluating longer than SWEEP_AFTER_SECONDS."""
    now = now or timezone.now()
    return list(_stale(now).order_by("pk").values_list("pk", flat=True)[:BATCH])


def stale_candidates(*, now=None) -> list[tuple[int, object]]:
    """The stale requests as read: (id, enqueued_at) pairs, the values a claim compares against."""
    now = now or timezone.now()
    return list(_stale(now).order_by("pk").values_list("pk", "enqueued_at")[:BATCH])


def claim_and_publish(candidates, *, now=None) -> list[int]:
    """Claim each (id, enqueued_at) read earlier with a compare-and-set, then publish those claimed.

    A request whose enqueued_at moved since it was read (another sweep claimed it) or that left
    received/evaluating is not claimed, so it is not published by this sweep.
    """
    now = now or timezone.now()
    claimed = []
    for request_id, seen in candidates:
        # Autocommit: each claim is its own statement, committed before the publish. Under
        # PostgreSQL's read committed, a concurrent claim of the same row waits for this one and
        # then finds enqueued_at changed: it updates nothing.
        still = PriorAuthRequest.objects.filter(pk=request_id, status__in=OPEN)
        still = (
            still.filter(enqueued_at__isnull=True)
            if seen is None
            else still.filter(enqueued_at=seen)
        )
        if still.update(enqueued_at=now):
            claimed.append(request_id)
    for request_id in claimed:
        publish_evidence_checks(request_id)
    if claimed:
        logger.info("sweep re-enqueued %d request(s)", len(claimed))
    return claimed


def unchecked_requests_sweep(*, now=None) -> list[int]:
    """Claim the stale requests (compare-and-set on enqueued_at) and re-enqueue those claimed.

    Returns the ids this sweep claimed and published. A request another sweep claimed first
    (its enqueued_at moved since it was read) is left to that sweep. A publish that fails is
    logged by publish_evidence_checks; the request becomes stale again and a later sweep retries.
    """
    now = now or timezone.now()
    return claim_and_publish(stale_candidates(now=now), now=now)
