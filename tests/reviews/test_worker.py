"""The evidence checks through a real Celery worker process on Redis, with faults.

Each test starts its own worker on its own queue (tests/conftest.py: start_worker).
"""

import json
import shutil
import socket
import subprocess
from contextlib import contextmanager

import pytest
import redis
from kombu import pools as kombu_pools

from config.celery_app import app
from reviews.models import Determination, Evaluation, PriorAuthRequest, Status
from reviews.services import request_submit
from reviews.tasks import sweep_unchecked_requests
from tests.conftest import post_json, wait_for
from tests.factories import submission

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

EXPECTED = {
    "esi-lumbar-radiculopathy": Status.APPROVED,
    "rfa-lumbar-after-two-blocks": Status.APPROVED,
    "fusion-spondylolisthesis-short-therapy": Status.PHYSICIAN_REVIEW,
}
SETTLED = [
    Status.APPROVED,
    Status.PENDING_INFORMATION,
    Status.NURSE_REVIEW,
    Status.PHYSICIAN_REVIEW,
]


def settled(ids) -> bool:
    return not PriorAuthRequest.objects.filter(
        pk__in=ids, status__in=[Status.RECEIVED, Status.EVALUATING]
    ).exists()


def test_the_shared_examples_end_where_expected_through_the_worker(start_worker, policies, api_a):
    # given a real worker
    start_worker()

    # when the provider submits the three examples through the API
    ids = {}
    for name in EXPECTED:
        response = post_json(api_a, "/api/v1/requests/", submission(name))
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "evaluating"
        ids[name] = response.json()["id"]

    # then the worker checks each and they land where EXPECTED.md says
    wait_for(lambda: settled(ids.values()), timeout=90)
    for name, pk in ids.items():
        pa_request = PriorAuthRequest.objects.get(pk=pk)
        assert pa_request.status == EXPECTED[name], name
        assert pa_request.evaluations.count() == 1
    fusion = PriorAuthRequest.objects.get(pk=ids["fusion-spondylolisthesis-short-therapy"])
    not_met = {r["id"] for r in fusion.evaluations.get().trace if r["answer"] == "not_met"}
    assert {"FU-03", "FU-06"} <= not_met
    assert not fusion.determinations.exists()  # the engine never denies
    esi = PriorAuthRequest.objects.get(pk=ids["esi-lumbar-radiculopathy"])
    assert esi.determinations.get().decided_by_role == "engine"


def test_a_worker_killed_mid_way_loses_and_duplicates_nothing(start_worker, policies, provider_a):
    # given 200 requests queued, and then a worker to check them
    ids = [
        request_submit(actor=provider_a, data=submission(name)).pk
        for name in (list(EXPECTED) * 67)[:200]
    ]
    first = start_worker(concurrency=2)

    # when the worker is SIGKILLed part of the way through
    wait_for(
        lambda: Evaluation.objects.filter(request_id__in=ids).count() >= 20,
        timeout=120,
        interval=0.05,
    )
    first.kill()
    evaluated_at_kill = Evaluation.objects.filter(request_id__in=ids).count()
    assert evaluated_at_kill < 200, "the worker finished before it could be killed"

    # and a new worker starts, with the sweep (Celery beat's job) re-enqueueing stale requests
    start_worker(concurrency=2)
    with override_sweep_after(0):
        sweep_unchecked_requests.apply()

    # then every request is evaluated exactly once, with at most one determination
    wait_for(lambda: settled(ids), timeout=240)
    assert Evaluation.objects.filter(request_id__in=ids).count() == 200
    for pk in ids:
        assert Evaluation.objects.filter(request_id=pk).count() == 1
        assert Determination.objects.filter(request_id=pk).count() <= 1
    assert PriorAuthRequest.objects.filter(pk__in=ids, status__in=SETTLED).count() == 200


@contextmanager
def override_sweep_after(seconds: int):
    from django.conf import settings

    old = settings.SWEEP_AFTER_SECONDS
    settings.SWEEP_AFTER_SECONDS = seconds
    try:
        yield
    finally:
        settings.SWEEP_AFTER_SECONDS = old


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A Redis of the test's own, on its own port, that the test can stop and start."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: self._ping(), timeout=20, interval=0.1)

    def _ping(self) -> bool:
        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


def _reset_publisher() -> None:
    """Drop pooled broker connections so the next publish connects to the configured broker."""
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    kombu_pools.reset()


@contextmanager
def broker(url: str):
    old = app.conf.broker_url
    app.conf.broker_url = url
    _reset_publisher()
    try:
        yield
    finally:
        app.conf.broker_url = old
        _reset_publisher()


N_PER_INTERFACE = 12


@pytest.fixture
def own_redis():
    """A Redis of the test's own that it may stop; the cache and the broker both point at it."""
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()


def test_intake_survives_a_redis_outage_end_to_end_and_checks_everything_after(
    start_worker, policies, provider_a, own_redis, live_server, settings, caplog
):
    """Through a real HTTP server: authentication, throttling, idempotency, intake, response."""
    import logging
    import time
    import uuid

    import requests
    from rest_framework.authtoken.models import Token

    from tests.pas.conftest import surgical_bundle

    # given Lamina's cache (the rate limit) and broker on a Redis of the test's own, and a worker
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": own_redis.url},
    }
    settings.FHIR_SUBMIT_WAIT_SECONDS = 0.2  # $submit answers "pended" rather than wait
    token = Token.objects.create(user=provider_a).key
    http = requests.Session()
    http.headers["Authorization"] = f"Token {token}"
    with broker(own_redis.url):
        start_worker(broker_url=own_redis.url)

        # when that Redis stops, and the provider submits over REST and over FHIR
        own_redis.stop()
        caplog.set_level(logging.WARNING)
        ids, timings = [], []
        for i in range(N_PER_INTERFACE):
            key = uuid.uuid4().hex
            body = submission(list(EXPECTED)[i % 3])
            started = time.monotonic()
            # a hung call fails the test through the client timeout
            response = http.post(
                f"{live_server.url}/api/v1/requests/",
                json=body,
                headers={"Idempotency-Key": key},
                timeout=10,
            )
            timings.append(time.monotonic() - started)
            assert response.status_code == 201, response.content
            ids.append(response.json()["id"])
            # and a retry with the same key is replayed (the records live in PostgreSQL)
            retry = http.post(
                f"{live_server.url}/api/v1/requests/",
                json=body,
                headers={"Idempotency-Key": key},
                timeout=10,
            )
            assert retry.status_code == 201
            assert retry.headers["Idempotent-Replayed"] == "true"
            assert retry.json()["id"] == ids[-1]
        fhir_ids = []
        for i in range(N_PER_INTERFACE):
            bundle = surgical_bundle()
            for entry in bundle["entry"]:
                if entry["resource"]["resourceType"] == "Claim":
                    entry["resource"]["identifier"] = [
                        {"system": "urn:test:claim", "value": f"outage-{i}-{uuid.uuid4().hex}"}
                    ]
            started = time.monotonic()
            response = http.post(
                f"{live_server.url}/fhir/Claim/$submit",
                data=json.dumps(bundle),
                headers={"Content-Type": "application/fhir+json"},
                timeout=10,
            )
            timings.append(time.monotonic() - started)
            assert response.status_code == 200, response.content
            assert response.json()["resourceType"] == "Bundle"
            fhir_ids.append(
                PriorAuthRequest.objects.order_by("-pk").values_list("pk", flat=True)[0]
            )
        ids += fhir_ids
        assert len(set(ids)) == 2 * N_PER_INTERFACE
        assert PriorAuthRequest.objects.filter(pk__in=ids, status=Status.EVALUATING).count() == len(
            ids
        )
        # the rate limit counted locally and said so; no request waited on the dead Redis
        assert any("rate-limit cache unreachable" in r.getMessage() for r in caplog.records)
        print(
            f"\nRedis down: {len(ids)} of {len(ids)} accepted "
            f"({N_PER_INTERFACE} REST + {N_PER_INTERFACE} FHIR, plus {N_PER_INTERFACE} replays); "
            f"first call {timings[0]:.2f} s, slowest {max(timings):.2f} s"
        )

        # then once Redis is back (same address: the publisher reconnects by itself), the sweep
        # re-enqueues them and the worker evaluates each exactly once
        own_redis.start()
        with override_sweep_after(0):
            sweep_unchecked_requests.apply()
        wait_for(lambda: settled(ids), timeout=240)
        for pk in ids:
            assert Evaluation.objects.filter(request_id=pk).count() == 1, pk
        print(f"after Redis returned: {len(ids)} evaluated, each exactly once")
