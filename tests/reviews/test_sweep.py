"""The sweep claims stale requests with a compare-and-set: two sweeps never re-enqueue one twice.

The messages are read back from the Redis queue itself (a queue of the test's own, no worker on
it), so what is counted is what a worker would receive.
"""

import json
import threading
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from reviews.models import PriorAuthRequest, Status
from reviews.services.sweep import stale_requests, unchecked_requests_sweep
from reviews.tasks import sweep_unchecked_requests
from tests.factories import submit


def queued_ids(queue: str) -> list[int]:
    """The request ids of the run_evidence_checks messages waiting in the queue."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    ids = []
    for raw in client.lrange(queue, 0, -1):
        headers = json.loads(raw)["headers"]
        assert headers["task"] == "reviews.tasks.run_evidence_checks"
        ids.append(int(headers["argsrepr"].strip("(),")))
    return ids


def make_stale(ids: list[int], minutes: int = 10) -> None:
    PriorAuthRequest.objects.filter(pk__in=ids).update(
        status=Status.EVALUATING, enqueued_at=timezone.now() - timedelta(minutes=minutes)
    )


@pytest.fixture
def stale_ids(transactional_db, worker_queue, provider_a):
    """Twelve requests whose checks were published once and never ran; the queue emptied."""
    ids = [submit(provider_a).pk for _ in range(12)]
    make_stale(ids)
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(worker_queue)
    return ids


def test_two_concurrent_sweeps_enqueue_each_request_once(stale_ids, worker_queue):
    # given twelve stale requests and two sweeps started at the same instant
    start = threading.Barrier(2)
    claimed: list[list[int]] = []

    def sweep():
        try:
            start.wait()
            claimed.append(unchecked_requests_sweep())
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # then between them they claimed every request exactly once
    assert len(claimed) == 2
    assert sorted(claimed[0] + claimed[1]) == sorted(stale_ids)
    # and the queue holds one message per request
    assert sorted(queued_ids(worker_queue)) == sorted(stale_ids)
    # and nothing is stale any more
    assert stale_requests() == []


def test_a_claim_fails_when_another_sweep_moved_enqueued_at_first(stale_ids, worker_queue):
    # given a sweep that read the candidates, then lost the race for three of them
    taken = stale_ids[:3]
    PriorAuthRequest.objects.filter(pk__in=taken).update(enqueued_at=timezone.now())
    make_stale(taken, minutes=9)  # another sweep's claim: a different value, still stale

    # when this sweep claims with the values it read before
    from reviews.services import sweep as service

    read = list(service._stale(timezone.now()).values_list("pk", "enqueued_at"))
    PriorAuthRequest.objects.filter(pk__in=taken).update(
        enqueued_at=timezone.now() - timedelta(minutes=8)
    )
    original = service._stale
    service._stale = lambda now: type(
        "Read", (), {"order_by": lambda self, *a: self, "values_list": lambda self, *a: read}
    )()
    try:
        claimed = unchecked_requests_sweep()
    finally:
        service._stale = original

    # then the three it lost are neither claimed nor enqueued by it
    assert sorted(claimed) == sorted(stale_ids[3:])
    assert sorted(queued_ids(worker_queue)) == sorted(stale_ids[3:])


def test_the_task_is_the_service(stale_ids, worker_queue):
    # a request already checked is not re-enqueued, the others are, once
    PriorAuthRequest.objects.filter(pk=stale_ids[0]).update(status=Status.APPROVED)
    assert sweep_unchecked_requests.apply().get() == len(stale_ids) - 1
    assert sorted(queued_ids(worker_queue)) == sorted(stale_ids[1:])
    assert sweep_unchecked_requests.apply().get() == 0  # nothing stale any more
