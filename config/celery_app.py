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


@app.task(name="lamina.ping")
def ping() -> str:
    """A no-op round trip: the queue floor the benchmarks compare against."""
    return "pong"


@worker_process_init.connect
def _warm_note_reader(**kwargs) -> None:
    """Build the clinical-note pipeline when a worker process starts, not on its first request."""
    from notes.reader import pipeline

    pipeline()
