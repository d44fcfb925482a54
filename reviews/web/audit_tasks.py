"""The auditor's "verify the chain" from the web: a Celery task with progress.

The task does what `manage.py verify_audit` does (seal the committed backlog, then
reviews.audit_verify.audit_chain_verify) and keeps its progress and result in the cache under a
job id the page polls. Nothing is written to the database beyond the sealing the sealer would do
within a second anyway.
"""

import uuid
from dataclasses import asdict

from celery import shared_task
from django.core.cache import cache

JOB_TTL_SECONDS = 24 * 3600
_KEY = "lamina:audit-verify:{}"


def verify_job_get(job_id: str) -> dict | None:
    try:
        uuid.UUID(job_id)
    except ValueError:
        return None
    return cache.get(_KEY.format(job_id))


def _job_set(job_id: str, state: dict) -> None:
    cache.set(_KEY.format(job_id), state, JOB_TTL_SECONDS)


def verify_job_create(*, actor) -> str:
    """A queued job; the caller sends the task on commit."""
    job_id = str(uuid.uuid4())
    _job_set(job_id, {"state": "queued", "count": 0, "total": None, "by": actor.get_username()})
    return job_id


@shared_task(ignore_result=True, acks_late=True)
def verify_audit_chain(job_id: str, chunk_size: int = 2000) -> None:
    from reviews.audit import audit_seal
    from reviews.audit_verify import audit_chain_verify
    from reviews.models import AuditEvent

    job = verify_job_get(job_id)
    if job is None or job["state"] == "done":
        return  # expired, or a redelivery after the result was stored
    audit_seal()
    total = AuditEvent.objects.filter(position__isnull=False).count()
    job.update(state="running", count=0, total=total)
    _job_set(job_id, job)

    def progress(count: int) -> None:
        job["count"] = count
        _job_set(job_id, job)

    report = audit_chain_verify(chunk_size=chunk_size, progress=progress)
    result = asdict(report)
    result["unsealed_oldest"] = (
        report.unsealed_oldest.isoformat() if report.unsealed_oldest else None
    )
    result["unsealed_age_seconds"] = report.unsealed_age_seconds
    job.update(state="done", count=report.count, result=result)
    _job_set(job_id, job)
