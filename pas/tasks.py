"""Celery tasks of the FHIR interface: ids in, re-fetch, guard, call a service; safe to run twice."""

from celery import shared_task

from pas.models import Notification
from pas.notifications import notification_deliver, notifications_sweep


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def deliver_notification(notification_id: int) -> str:
    """One POST of one notification (the outbox row); a failure is retried by the sweep."""
    notification = (
        Notification.objects.select_related("subscription").filter(pk=notification_id).first()
    )
    if notification is None:
        return "gone"
    return notification_deliver(notification=notification)


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def sweep_notifications() -> int:
    """Beat: hand every due, undelivered notification to deliver_notification."""
    return notifications_sweep()
