"""The Celery app. Configuration lives in Django settings under the CELERY_ namespace."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("lamina")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The audit sealer and checkpoint publisher (reviews/audit_tasks.py).
app.autodiscover_tasks(related_name="audit_tasks")
# The auditors' web verification of the chain (reviews/web/audit_tasks.py).
app.autodiscover_tasks(["reviews.web"], related_name="audit_tasks")


@app.task(name="lamina.ping")
def ping() -> str:
    """A no-op round trip: the queue floor the benchmarks compare against."""
    return "pong"


@worker_process_init.connect
def _warm_start(**kwargs) -> None:
    """Build the clinical-note reader when a worker process starts, not on its first task."""
    from reviews.warm import worker_warm_start

    worker_warm_start()
