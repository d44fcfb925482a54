"""Shared fixtures: the personas, API clients, shipped policies and a real Celery worker.

The suite runs against PostgreSQL and Redis (DATABASE_URL / REDIS_URL); it refuses to run on the
embedded SQLite default, which is only the newcomer's first-run convenience.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from reviews.models import Organization, Role
from reviews.roles import user_create

REPO = Path(__file__).resolve().parent.parent
# The intake contract's example requests (copied from the contract, see docs/README.md).
EXAMPLES = REPO / "docs" / "api" / "examples"
PASSWORD = "correct-horse-battery-staple"


def pytest_configure(config):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise pytest.UsageError("Lamina's tests run against PostgreSQL: set DATABASE_URL.")
    if not settings.REDIS_URL:
        raise pytest.UsageError("Lamina's tests run against Redis: set REDIS_URL.")
    # Signed audit checkpoints: none unless a test generates its own key and directory.
    settings.AUDIT_SIGNING_KEY = settings.AUDIT_VERIFY_KEY = ""
    settings.AUDIT_CHECKPOINT_DIR = tempfile.mkdtemp(prefix="lamina-checkpoints-")


# The audit tables refuse TRUNCATE for every session (reviews migration 0005); pytest-django flushes
# the test database with TRUNCATE between transactional tests. The test runner, as the owner of
# the database it just created, switches those two triggers off there and nowhere else.
AUDIT_TRUNCATE_TRIGGERS = (
    ("reviews_auditevent", "reviews_auditevent_no_truncate"),
    ("reviews_auditcheckpoint", "reviews_auditcheckpoint_no_truncate"),
)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Each test starts with no rate-limit or sign-in counts (the cache holds nothing else):
    counts left by an earlier test, or an earlier run on the same Redis, would refuse its calls.
    Only the cache's own keys go; the broker's queues on the same Redis stay."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
    keys = list(client.scan_iter(match=":1:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
    yield


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        for table, trigger in AUDIT_TRUNCATE_TRIGGERS:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")


def example(name: str) -> dict:
    """One of the provider's example requests, as written."""
    return json.loads((EXAMPLES / f"{name}.json").read_text())


@pytest.fixture
def org_a(db):
    return Organization.objects.create(name="Northside Spine Clinic", npi="1679576722")


@pytest.fixture
def org_b(db):
    return Organization.objects.create(name="Lakeview Pain Center", npi="1497758544")


@pytest.fixture
def provider_a(org_a):
    return user_create(
        username="provider_a", password=PASSWORD, role=Role.PROVIDER, organization=org_a
    )


@pytest.fixture
def provider_b(org_b):
    return user_create(
        username="provider_b", password=PASSWORD, role=Role.PROVIDER, organization=org_b
    )


@pytest.fixture
def nurse(db):
    return user_create(username="nurse", password=PASSWORD, role=Role.NURSE)


@pytest.fixture
def physician(db):
    return user_create(username="physician", password=PASSWORD, role=Role.PHYSICIAN)


@pytest.fixture
def physician2(db):
    return user_create(username="physician2", password=PASSWORD, role=Role.PHYSICIAN)


@pytest.fixture
def auditor(db):
    return user_create(username="auditor", password=PASSWORD, role=Role.AUDITOR)


@pytest.fixture
def admin_user(db):
    return user_create(username="admin", password=PASSWORD, role=Role.ADMIN)


def token_client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api_a(provider_a):
    return token_client(provider_a)


@pytest.fixture
def api_b(provider_b):
    return token_client(provider_b)


@pytest.fixture
def policies(db):
    """The shipped policy versions, loaded as the run command loads them."""
    from criteria.services import policies_load

    return policies_load()


def post_json(client: APIClient, url: str, body, key: str | None = None, **extra):
    return client.post(
        url,
        data=json.dumps(body) if not isinstance(body, str | bytes) else body,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex,
        **extra,
    )


# --- A real Celery worker -----------------------------------------------------------------------


class Worker:
    """A `celery worker` process on the test database and a queue of its own."""

    def __init__(
        self, queue: str, database_name: str, concurrency: int = 2, broker_url: str | None = None
    ):
        self.queue = queue
        env = dict(os.environ)
        db = settings.DATABASES["default"]
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{database_name}"
        )
        env["REDIS_URL"] = broker_url or settings.REDIS_URL
        env["CELERY_QUEUE"] = queue
        env["PYTHONUNBUFFERED"] = "1"
        self.log = Path(tempfile.gettempdir()) / f"lamina-worker-{queue}-{time.time_ns()}.log"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                queue,
                "--concurrency",
                str(concurrency),
                "--pool",
                "prefork",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=REPO,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("celery worker exited:\n" + self.log.read_text()[-4000:])
            if "ready." in self.log.read_text():
                return
            time.sleep(0.2)
        raise RuntimeError("celery worker not ready:\n" + self.log.read_text()[-4000:])

    def kill(self) -> None:
        """SIGKILL the whole process group: the main process and its pool children, mid-task."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker_queue(settings):
    """A queue name of this test's own, so no other worker or stale message interferes."""
    from config.celery_app import app

    queue = f"lamina-test-{uuid.uuid4().hex[:10]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    app.conf.task_default_queue = queue
    # A worker test publishes for real: nothing may run in-process behind the worker's back.
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield queue
    app.conf.task_always_eager = eager
    app.conf.task_default_queue = os.environ.get("CELERY_QUEUE", "lamina")


@pytest.fixture
def start_worker(transactional_db, worker_queue):
    """Start real worker processes on the test database; all are stopped at the end."""
    from django.db import connection

    workers: list[Worker] = []

    def start(concurrency: int = 2, broker_url: str | None = None) -> Worker:
        worker = Worker(worker_queue, connection.settings_dict["NAME"], concurrency, broker_url)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def wait_for(predicate, timeout: float = 60, interval: float = 0.2):
    """Poll until predicate() is truthy (a real worker runs at its own pace)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
