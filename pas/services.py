"""FHIR-side services: wait for the checks ($submit answers within the guide's 15 seconds).

Claim/$submit itself is pas/intake.py; subscriptions are pas/subscriptions.py and the delivery
of notifications pas/notifications.py."""

import logging
import time

from pas.fhir import (
    FhirError,
    issue,
)
from reviews.models import PriorAuthRequest, Role, Status

logger = logging.getLogger(__name__)

# Still inside the evidence checks: the $submit answer waits for these to end.
CHECKING = frozenset({Status.RECEIVED, Status.EVALUATING})
DELIVERY_TIMEOUT = (5, 10)  # connect, read (seconds)


def _require_provider(actor) -> None:
    if not actor.has_role(Role.PROVIDER) or actor.organization_id is None:
        raise FhirError(
            403,
            [issue("Only a provider user of an organization may do this.", code="forbidden")],
        )


def checks_wait(pa_request: PriorAuthRequest, *, seconds: float) -> PriorAuthRequest:
    """Wait (up to `seconds`) for the evidence checks to move the request on, polling the row.

    The PAS guide expects an answer within 15 seconds: when the checks finish in time the answer
    carries the decision (or the pend), otherwise the request is reported pended.
    """
    deadline = time.monotonic() + max(seconds, 0)
    while True:
        status = (
            PriorAuthRequest.objects.filter(pk=pa_request.pk)
            .values_list("status", flat=True)
            .first()
        )
        if status not in CHECKING or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    return PriorAuthRequest.objects.select_related("member").get(pk=pa_request.pk)


# --- Subscriptions ----------------------------------------------------------------------------
