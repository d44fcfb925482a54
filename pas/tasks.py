"""Celery tasks of the FHIR interface: ids in, re-fetch, guard, call a service; safe to run twice."""

from celery import Task, shared_task
from django.db import OperationalError

from pas.models import Notification, Subscription
from pas.services import (
    DeliveryFailed,
    notification_deliver,
    notification_for,
    notification_give_up,
)


class _Delivery(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        # Out of retries: the subscriber learns the decision through $inquire, and the
        # subscription shows `error` until the organization subscribes again.
        subscription_id, _, determination_id = args
        notification = Notification.objects.filter(
            subscription_id=subscription_id, determination_id=determination_id
        ).first()
        if notification is not None:
            notification_give_up(notification=notification)


@shared_task(
    bind=True,
    base=_Delivery,
    acks_late=True,
    autoretry_for=(DeliveryFailed, OperationalError),
    retry_backoff=True,  # 1 s, 2 s, 4 s ... with jitter
    retry_backoff_max=600,
    max_retries=8,
    soft_time_limit=60,
    time_limit=90,
)
def deliver_notification(self, subscription_id: int, request_id: int, determination_id: int) -> str:
    subscription = Subscription.objects.filter(
        pk=subscription_id, status=Subscription.Status.ACTIVE
    ).first()
    if subscription is None:
        return "skipped"  # ended since the decision, or gone
    notification = notification_for(
        subscription=subscription, request_id=request_id, determination_id=determination_id
    )
    if notification.delivered_at is not None:
        return "already delivered"  # a redelivered task
    notification_deliver(notification=notification, attempt=self.request.retries + 1)
    return "delivered"
