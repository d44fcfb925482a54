"""Celery beat tasks of the audit trail: the sealer (about every second) and the signed
checkpoint publisher (AUDIT_PUBLISH_SECONDS). Both are safe to run concurrently and twice."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


# No retries and a short expiry: the next beat tick (a second later) is the retry.
@shared_task(ignore_result=True, expires=10)
def seal_audit() -> int:
    from reviews.audit import audit_seal

    result = audit_seal()
    if result.sealed:
        logger.debug("sealed %d audit event(s) in %d batch(es)", result.sealed, result.checkpoints)
    return result.sealed


@shared_task(ignore_result=True, expires=300)
def publish_audit_checkpoint() -> int | None:
    from reviews.audit_sign import checkpoint_publish

    body = checkpoint_publish()
    return body["tree_size"] if body else None
