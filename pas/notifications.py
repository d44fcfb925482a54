"""Notifications through an outbox: the row is written in the transaction that records the
decision, a task delivers it, and a beat sweep hands undelivered rows to the task again."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from pas.models import DeliveryAttempt, Notification, Subscription
from pas.subscriptions import _history_bundle, _post, status_parameters
from reviews.models import PriorAuthRequest

logger = logging.getLogger(__name__)


def notifications_record(*, determination) -> list[int]:
    """In the transaction that records the decision: one Notification per active subscription of
    the request's organization, numbered (the subscription's next event). The row is the outbox:
    a task delivers it after commit, and the beat sweep hands it to the task again until it is
    delivered, so a broker outage loses no notification."""
    request = PriorAuthRequest.objects.filter(pk=determination.request_id).only("organization_id")
    organization_id = request.values_list("organization_id", flat=True).first()
    if organization_id is None:
        return []
    now = timezone.now()
    ids = []
    subscriptions = (
        Subscription.objects.select_for_update()
        .filter(organization_id=organization_id, status=Subscription.Status.ACTIVE)
        .exclude(end__lt=now)
        .order_by("pk")
    )
    for subscription in subscriptions:
        subscription.events_count = F("events_count") + 1
        subscription.save(update_fields=["events_count"])
        subscription.refresh_from_db(fields=["events_count"])
        notification = Notification.objects.create(
            subscription=subscription,
            request_id=determination.request_id,
            determination=determination,
            event_number=subscription.events_count,
            next_attempt_at=now + timedelta(seconds=settings.FHIR_NOTIFICATION_SWEEP_SECONDS),
        )
        ids.append(notification.pk)
    return ids


def notifications_enqueue(*, request_id: int, determination_id: int) -> list[int]:
    """After the decision commits: hand its notifications to the delivery task. A broker outage
    is logged, not raised; the sweep sends them later."""
    ids = list(
        Notification.objects.filter(
            determination_id=determination_id, delivered_at__isnull=True, failed_at__isnull=True
        ).values_list("pk", flat=True)
    )
    _enqueue(ids)
    return ids


def _enqueue(ids: list[int]) -> int:
    from pas.tasks import deliver_notification

    sent = 0
    for notification_id in ids:
        try:
            deliver_notification.apply_async(args=[notification_id])
            sent += 1
        except Exception:  # noqa: BLE001 - a broker outage must not fail the caller
            logger.warning(
                "could not enqueue notification %s; the sweep sends it later",
                notification_id,
                exc_info=True,
            )
    return sent


def notifications_sweep(*, now=None) -> int:
    """The beat sweep: every undelivered notification whose next attempt is due is claimed (its
    next attempt moved on, compare-and-set, so two sweeps never send one twice) and enqueued."""
    now = now or timezone.now()
    due = list(
        Notification.objects.filter(
            delivered_at__isnull=True,
            failed_at__isnull=True,
            next_attempt_at__lte=now,
            subscription__status=Subscription.Status.ACTIVE,
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", "next_attempt_at")[:500]
    )
    claimed = []
    later = now + timedelta(seconds=settings.FHIR_NOTIFICATION_SWEEP_SECONDS)
    for pk, next_attempt_at in due:
        if Notification.objects.filter(pk=pk, next_attempt_at=next_attempt_at).update(
            next_attempt_at=later
        ):
            claimed.append(pk)
    return _enqueue(claimed)


def notification_bundle(notification: Notification, *, now=None) -> dict:
    """The rest-hook payload: a history Bundle with the status Parameters and the PAS response."""
    from pas.responses import response_bundle

    now = now or timezone.now()
    subscription = notification.subscription
    pa_request = PriorAuthRequest.objects.select_related("member").get(pk=notification.request_id)
    base = (subscription.server_base or "").rstrip("/")
    response = response_bundle(pa_request, base=base, now=now)
    response_url = f"{base}/Bundle/{response['id']}"
    parameters = status_parameters(
        subscription,
        kind="event-notification",
        base=base,
        events=[
            {
                "event-number": notification.event_number,
                "timestamp": notification.created_at.isoformat(),
                "focus": response_url,
            }
        ],
    )
    parameters["id"] = f"notification-{notification.pk}"
    entry = {
        "fullUrl": response_url,
        "resource": response,
        "request": {"method": "GET", "url": response_url},
        "response": {"status": "200"},
    }
    return _history_bundle(subscription, parameters, [entry], now)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 3600))


def notification_deliver(*, notification: Notification) -> str:
    """POST the notification once and record the attempt. A failure sets the next attempt
    (backoff: 10 s, 20 s, 40 s ... up to an hour) for the sweep; after
    FHIR_NOTIFICATION_MAX_ATTEMPTS the notification fails and the subscription shows `error`
    (the subscriber learns the decision through $inquire)."""
    if notification.delivered_at is not None or notification.failed_at is not None:
        return "done"
    subscription = notification.subscription
    if subscription.status != Subscription.Status.ACTIVE:
        return "subscription not active"
    attempt = notification.attempts.count() + 1
    status_code, error = _post(subscription, notification_bundle(notification))
    now = timezone.now()
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            notification=notification,
            attempt=attempt,
            attempted_at=now,
            status_code=status_code,
            error=error,
            succeeded=not error,
        )
        if not error:
            Notification.objects.filter(pk=notification.pk).update(
                delivered_at=now, next_attempt_at=None
            )
            return "delivered"
        if attempt >= settings.FHIR_NOTIFICATION_MAX_ATTEMPTS:
            Notification.objects.filter(pk=notification.pk).update(
                failed_at=now, next_attempt_at=None
            )
            Subscription.objects.filter(pk=subscription.pk).update(
                status=Subscription.Status.ERROR,
                error=f"Notification {notification.event_number} undelivered: {error}"[:1000],
            )
            return "failed"
        Notification.objects.filter(pk=notification.pk).update(
            next_attempt_at=now + _backoff(attempt)
        )
    return "retry later"
