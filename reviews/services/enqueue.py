"""Publishing evidence checks to Celery after commit, without ever failing intake."""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def publish_evidence_checks(request_id: int) -> None:
    from reviews.tasks import run_evidence_checks

    try:
        run_evidence_checks.apply_async(args=[request_id])
    except Exception:  # noqa: BLE001 - any broker failure; the sweep re-enqueues it later
        # Ids only in logs: no patient data.
        logger.warning(
            "could not enqueue evidence checks for request %s; the sweep will retry",
            request_id,
            exc_info=True,
        )


def enqueue_evidence_checks(request_id: int) -> None:
    """Enqueue once the surrounding transaction commits: a task never sees a row that may roll back."""
    transaction.on_commit(lambda: publish_evidence_checks(request_id))
