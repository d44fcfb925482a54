"""FHIR-side services: wait for the checks, manage subscriptions, deliver notifications.

Claim/$submit itself is pas/intake.py."""

import logging
import time
from datetime import datetime
from urllib.parse import urlsplit

import requests
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from pas.fhir import (
    BACKPORT_FILTER,
    BACKPORT_PAYLOAD,
    FHIR_JSON,
    PAS_TOPIC,
    FhirError,
    issue,
)
from pas.models import DeliveryAttempt, Notification, Subscription
from reviews.audit import audit_record
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


def _extension_value(element: dict | None, url: str, key: str):
    for ext in (element or {}).get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == url:
            return ext.get(key)
    return None


def endpoint_check(endpoint: str) -> str | None:
    """Why an endpoint is refused, or None. Only http(s) URLs with a host (SSRF hygiene).

    Production deployments should also restrict targets to an allow-list of subscriber hosts
    (or an egress proxy): this check cannot know which internal addresses must stay unreachable.
    """
    try:
        parts = urlsplit(endpoint)
    except ValueError:
        return "Not a URL."
    if parts.scheme not in {"http", "https"}:
        return "Lamina notifies http(s) endpoints only."
    if not parts.hostname:
        return "The endpoint has no host."
    if parts.username or parts.password:
        return "Put credentials in channel.header, not in the URL."
    return None


def subscription_create(*, actor, resource: dict, base: str) -> Subscription:
    """Store an organization's rest-hook subscription to the PAS topic (R4 backport)."""
    _require_provider(actor)
    issues = []
    if resource.get("criteria") != PAS_TOPIC:
        issues.append(
            issue(
                f"Lamina offers one topic: criteria must be {PAS_TOPIC}.",
                expression="Subscription.criteria",
                code="not-supported",
            )
        )
    channel = resource.get("channel") or {}
    if channel.get("type") != "rest-hook":
        issues.append(
            issue(
                "Lamina notifies by rest-hook only.",
                expression="Subscription.channel.type",
                code="not-supported",
            )
        )
    endpoint = str(channel.get("endpoint") or "")
    problem = endpoint_check(endpoint) if endpoint else "A rest-hook needs channel.endpoint."
    if problem:
        issues.append(issue(problem, expression="Subscription.channel.endpoint"))
    if len(endpoint) > 500:
        issues.append(
            issue(
                "The endpoint is longer than 500 characters.",
                expression="Subscription.channel.endpoint",
            )
        )
    payload = channel.get("payload")
    if payload not in {FHIR_JSON, "application/json"}:
        issues.append(
            issue(
                "Lamina sends application/fhir+json payloads.",
                expression="Subscription.channel.payload",
                code="not-supported",
            )
        )
    content = (
        _extension_value(channel.get("_payload"), BACKPORT_PAYLOAD, "valueCode") or "full-resource"
    )
    if content != "full-resource":
        issues.append(
            issue(
                "Lamina sends full-resource notifications (the PAS response Bundle).",
                expression="Subscription.channel.payload",
                code="not-supported",
            )
        )
    headers = [str(h) for h in channel.get("header") or []]
    if any(":" not in h or "\n" in h or "\r" in h or len(h) > 1000 for h in headers):
        issues.append(
            issue(
                "Each header is 'Name: value' on one line.",
                expression="Subscription.channel.header",
            )
        )
    filter_criteria = str(
        _extension_value(resource.get("_criteria"), BACKPORT_FILTER, "valueString") or ""
    )
    org = actor.organization
    if filter_criteria:
        key, _, value = filter_criteria.partition("=")
        if key.strip() != "orgIdentifier" or not value.strip():
            issues.append(
                issue(
                    "Lamina filters by orgIdentifier=<your organization's NPI>.",
                    expression="Subscription.criteria",
                    code="not-supported",
                )
            )
        elif org.npi and value.strip() != org.npi:
            issues.append(
                issue(
                    "A subscription covers your own organization only: orgIdentifier must be "
                    "your organization's NPI.",
                    expression="Subscription.criteria",
                    code="forbidden",
                )
            )
    end = None
    if isinstance(resource.get("end"), str):
        try:
            end = datetime.fromisoformat(resource["end"])
        except ValueError:
            issues.append(
                issue("Subscription.end is not an instant.", expression="Subscription.end")
            )
    if issues:
        raise FhirError(422, issues)
    with transaction.atomic():
        subscription = Subscription.objects.create(
            organization=org,
            created_by=actor,
            topic=PAS_TOPIC,
            filter_criteria=filter_criteria[:300]
            or (f"orgIdentifier={org.npi}" if org.npi else ""),
            endpoint=endpoint,
            headers=headers,
            payload_content=content,
            reason=str(resource.get("reason") or "")[:300],
            end=end,
            server_base=base[:300],
        )
        audit_record(
            action="fhir_subscription_created",
            subject=subscription,
            actor=actor,
            data={"endpoint_host": urlsplit(endpoint).hostname, "organization_id": org.pk},
        )
    return subscription


def subscription_off(*, actor, subscription: Subscription) -> Subscription:
    _require_provider(actor)
    with transaction.atomic():
        subscription.status = Subscription.Status.OFF
        subscription.save(update_fields=["status", "updated_at"])
        audit_record(action="fhir_subscription_ended", subject=subscription, actor=actor)
    return subscription


def subscription_resource(subscription: Subscription) -> dict:
    resource = {
        "resourceType": "Subscription",
        "id": str(subscription.pk),
        "status": "active"
        if subscription.status == Subscription.Status.ACTIVE
        else subscription.status,
        "reason": subscription.reason or "Claim responses for my organization.",
        "criteria": subscription.topic,
        "channel": {
            "type": "rest-hook",
            "endpoint": subscription.endpoint,
            "payload": FHIR_JSON,
            "_payload": {
                "extension": [{"url": BACKPORT_PAYLOAD, "valueCode": subscription.payload_content}]
            },
        },
    }
    if subscription.filter_criteria:
        resource["_criteria"] = {
            "extension": [{"url": BACKPORT_FILTER, "valueString": subscription.filter_criteria}]
        }
    if subscription.end:
        resource["end"] = subscription.end.isoformat()
    # The subscriber's own headers (often credentials) are never echoed back.
    return resource


# --- Notifications ----------------------------------------------------------------------------


def notifications_enqueue(*, request_id: int, determination_id: int) -> list[int]:
    """After a decision: one delivery task per active subscription of the request's organization."""
    from pas.tasks import deliver_notification

    pa_request = PriorAuthRequest.objects.filter(pk=request_id).only("organization_id").first()
    if pa_request is None:
        return []
    now = timezone.now()
    ids = list(
        Subscription.objects.filter(
            organization_id=pa_request.organization_id, status=Subscription.Status.ACTIVE
        )
        .exclude(end__lt=now)
        .values_list("pk", flat=True)
    )
    for subscription_id in ids:
        try:
            deliver_notification.apply_async(args=[subscription_id, request_id, determination_id])
        except Exception:  # noqa: BLE001 - a broker outage must not fail the decision's commit hooks
            logger.warning(
                "could not enqueue notification for subscription %s, request %s",
                subscription_id,
                request_id,
                exc_info=True,
            )
    return ids


def notification_for(
    *, subscription: Subscription, request_id: int, determination_id: int
) -> Notification:
    """The notification of this decision to this subscriber, numbered once (retries reuse it)."""
    existing = Notification.objects.filter(
        subscription=subscription, determination_id=determination_id
    ).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            Subscription.objects.filter(pk=subscription.pk).update(
                events_count=F("events_count") + 1
            )
            number = Subscription.objects.values_list("events_count", flat=True).get(
                pk=subscription.pk
            )
            return Notification.objects.create(
                subscription=subscription,
                request_id=request_id,
                determination_id=determination_id,
                event_number=number,
            )
    except IntegrityError:
        return Notification.objects.get(
            subscription=subscription, determination_id=determination_id
        )


def notification_bundle(notification: Notification, *, now=None) -> dict:
    """The rest-hook payload: a history Bundle with the status Parameters and the PAS response."""
    from pas.responses import response_bundle

    now = now or timezone.now()
    subscription = notification.subscription
    pa_request = PriorAuthRequest.objects.select_related("member").get(pk=notification.request_id)
    base = (subscription.server_base or "").rstrip("/")
    response = response_bundle(pa_request, base=base, now=now)
    response_url = f"{base}/Bundle/{response['id']}"
    parameters = {
        "resourceType": "Parameters",
        "id": f"notification-{notification.pk}",
        "parameter": [
            {
                "name": "subscription",
                "valueReference": {"reference": f"{base}/Subscription/{subscription.pk}"},
            },
            {"name": "topic", "valueCanonical": PAS_TOPIC},
            {"name": "status", "valueCode": "active"},
            {"name": "type", "valueCode": "event-notification"},
            {
                "name": "events-since-subscription-start",
                "valueString": str(subscription.events_count),
            },
            {
                "name": "notification-event",
                "part": [
                    {"name": "event-number", "valueString": str(notification.event_number)},
                    {"name": "timestamp", "valueInstant": now.isoformat()},
                    {"name": "focus", "valueReference": {"reference": response_url}},
                ],
            },
        ],
    }
    return {
        "resourceType": "Bundle",
        "id": f"notification-{notification.pk}-{int(now.timestamp())}",
        "type": "history",
        "timestamp": now.isoformat(),
        "entry": [
            {
                "fullUrl": f"{base}/Parameters/{parameters['id']}",
                "resource": parameters,
                "request": {
                    "method": "GET",
                    "url": f"{base}/Subscription/{subscription.pk}/$status",
                },
                "response": {"status": "200"},
            },
            {
                "fullUrl": response_url,
                "resource": response,
                "request": {"method": "GET", "url": response_url},
                "response": {"status": "200"},
            },
        ],
    }


class DeliveryFailed(Exception):
    """The endpoint did not accept the notification; the task retries with backoff."""


def notification_deliver(*, notification: Notification, attempt: int) -> bool:
    """POST the notification once, record the attempt, and raise DeliveryFailed on failure."""
    import json

    subscription = notification.subscription
    if notification.delivered_at is not None:
        return True
    body = json.dumps(notification_bundle(notification))
    headers = {"Content-Type": f"{FHIR_JSON}; charset=utf-8"}
    for header in subscription.headers or []:
        name, _, value = header.partition(":")
        headers[name.strip()] = value.strip()
    problem = endpoint_check(subscription.endpoint)
    status_code, error = None, ""
    if problem:
        error = problem
    else:
        try:
            # No redirects: a subscriber's endpoint must not bounce Lamina to another host.
            response = requests.post(
                subscription.endpoint,
                data=body.encode("utf-8"),
                headers=headers,
                timeout=DELIVERY_TIMEOUT,
                allow_redirects=False,
            )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
    succeeded = not error
    now = timezone.now()
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            notification=notification,
            attempt=attempt,
            attempted_at=now,
            status_code=status_code,
            error=error,
            succeeded=succeeded,
        )
        if succeeded:
            Notification.objects.filter(pk=notification.pk).update(delivered_at=now)
            notification.delivered_at = now
    if not succeeded:
        raise DeliveryFailed(error)
    return True


def notification_give_up(*, notification: Notification) -> None:
    Notification.objects.filter(pk=notification.pk, delivered_at__isnull=True).update(
        failed_at=timezone.now()
    )
    Subscription.objects.filter(pk=notification.subscription_id).update(
        status=Subscription.Status.ERROR
    )
