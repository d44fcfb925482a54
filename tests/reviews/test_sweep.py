"""The sweep claims stale requests with a compare-and-set: two sweeps never re-enqueue one twice.

The messages are read back from the Redis queue itself (a queue of the test's own, no worker on
it), so what is counted is what a worker would receive.
"""

import base64
import json
import threading
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from reviews.models import PriorAuthRequest, Status
from reviews.services.sweep import (
    claim_and_publish,
    stale_candidates,
    stale_requests,
    unchecked_requests_sweep,
)
from reviews.tasks import sweep_unchecked_requests
from tests.factories import submit


def queued_ids(queue: str) -> list[int]:
    """The request ids of the run_evidence_checks messages waiting in the queue."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    ids = []
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        assert message["headers"]["task"] == "reviews.tasks.run_evidence_checks"
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        ids.append(int(args[0]))
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
    # given a sweep that read the candidates
    read = stale_candidates()
    assert sorted(pk for pk, _ in read) == sorted(stale_ids)
    # and another sweep that then claimed three of them (their enqueued_at moved, still stale)
    taken = stale_ids[:3]
    make_stale(taken, minutes=8)

    # when the first sweep claims with the values it read before
    claimed = claim_and_publish(read)

    # then the three it lost are neither claimed nor enqueued by it
    assert sorted(claimed) == sorted(stale_ids[3:])
    assert sorted(queued_ids(worker_queue)) == sorted(stale_ids[3:])
    # and the three are still there for the sweep that holds them
    assert sorted(stale_requests()) == sorted(taken)


def test_the_task_is_the_service(stale_ids, worker_queue):
    # a request already checked is not re-enqueued, the others are, once
    PriorAuthRequest.objects.filter(pk=stale_ids[0]).update(status=Status.APPROVED)
    assert sweep_unchecked_requests.apply().get() == len(stale_ids) - 1
    assert sorted(queued_ids(worker_queue)) == sorted(stale_ids[1:])
    assert sweep_unchecked_requests.apply().get() == 0  # nothing stale any more
