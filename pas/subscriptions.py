"""Subscriptions as the R4 backport defines them: create (with a handshake), read, update,
end, and their status; the endpoint checks, and the POST both handshakes and notifications use."""

import ipaddress
import json
import logging
import socket
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from pas.fhir import (
    BACKPORT,
    BACKPORT_FILTER,
    BACKPORT_PAYLOAD,
    FHIR_JSON,
    NPI,
    PAS,
    PAS_TOPIC,
    FhirError,
    issue,
)
from pas.mapping import nul_paths
from pas.models import Subscription
from pas.services import DELIVERY_TIMEOUT, _require_provider
from reviews.audit import audit_record

logger = logging.getLogger(__name__)


FILTER_NAMES = frozenset({"org-identifier", "orgIdentifier"})  # the guide's spelling, then the old
MAX_HEADERS = 10


def _extension_value(element: dict | None, url: str, key: str):
    for ext in (element or {}).get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == url:
            return ext.get(key)
    return None


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _host_addresses(host: str) -> list[str]:
    """The addresses a host name stands for now; none when it does not resolve."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, None)})
    except (OSError, UnicodeError):
        return []


def endpoint_check(endpoint: str) -> str | None:
    """Why an endpoint is refused, or None: http(s) with a host, no credentials in the URL, and
    (unless settings.FHIR_SUBSCRIPTION_PRIVATE_ENDPOINTS) no loopback, private, link-local or
    otherwise non-public address. Checked when the subscription is made and again before every
    POST, since a name may resolve elsewhere later. A name that does not resolve is not refused
    here: the handshake (or the delivery) to it fails and says so."""
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        return "Not a URL."
    if parts.scheme not in {"http", "https"}:
        return "Lamina notifies http(s) endpoints only."
    if not parts.hostname:
        return "The endpoint has no host."
    if parts.username or parts.password:
        return "Put credentials in channel.header, not in the URL."
    if not settings.FHIR_SUBSCRIPTION_PRIVATE_ENDPOINTS:
        private = [a for a in _host_addresses(parts.hostname) if _private(a)]
        if private:
            return (
                f"The endpoint's host {parts.hostname} is a loopback, private or otherwise "
                f"non-public address ({private[0]}): Lamina notifies public endpoints only."
            )
    return None


def _end_of(resource: dict, issues: list) -> datetime | None:
    """Subscription.end as an aware instant within the years PostgreSQL and Python share."""
    value = resource.get("end")
    if value is None:
        return None
    try:
        end = datetime.fromisoformat(str(value))
        if end.tzinfo is None:
            raise ValueError("no time zone")
        # 9999-12-31T23:00:00-14:00 is in year 10000 in UTC: no datetime can hold it.
        end = end.astimezone(UTC)
    except (ValueError, OverflowError):
        issues.append(
            issue(
                "Subscription.end must be an instant with a time zone, no later than "
                "9999-12-31T23:59:59Z.",
                expression="Subscription.end",
            )
        )
        return None
    return end


def _filter_value(resource: dict, org, issues: list) -> str:
    """The org-identifier filter (the old orgIdentifier spelling is accepted), stored in the
    guide's spelling: it must name the subscriber's own organization (its NPI)."""
    text = _extension_value(resource.get("_criteria"), BACKPORT_FILTER, "valueString")
    if text is None:
        return f"org-identifier={org.npi}" if org.npi else ""
    key, _, value = str(text).partition("=")
    value = value.strip()
    if "|" in value:
        system, _, value = value.partition("|")
        if system not in {"", NPI}:
            value = ""
    if key.strip() not in FILTER_NAMES or not value:
        issues.append(
            issue(
                "Lamina filters by org-identifier=<your organization's NPI>.",
                expression="Subscription.criteria",
                code="not-supported",
            )
        )
        return ""
    if org.npi and value != org.npi:
        issues.append(
            issue(
                "A subscription covers your own organization only: org-identifier must be "
                "your organization's NPI.",
                expression="Subscription.criteria",
                code="forbidden",
            )
        )
        return ""
    return f"org-identifier={value}"


def subscription_read(*, actor, resource: dict) -> dict:
    """Check a Subscription resource and return the fields Lamina stores; FhirError (4xx) with
    every problem otherwise."""
    nul = list(nul_paths(resource, "Subscription"))
    if nul:
        raise FhirError(
            400,
            [issue("Text may not contain NUL (U+0000) characters.", expression=nul[:10])],
        )
    issues: list[dict] = []
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
    if len(endpoint) > 500:
        problem = "The endpoint is longer than 500 characters."
    else:
        problem = endpoint_check(endpoint) if endpoint else "A rest-hook needs channel.endpoint."
    if problem:
        issues.append(issue(problem, expression="Subscription.channel.endpoint"))
    if channel.get("payload") not in {FHIR_JSON, "application/json"}:
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
    if len(headers) > MAX_HEADERS or any(
        ":" not in h or "\n" in h or "\r" in h or len(h) > 1000 for h in headers
    ):
        issues.append(
            issue(
                f"Each header is 'Name: value' on one line; at most {MAX_HEADERS} headers.",
                expression="Subscription.channel.header",
            )
        )
    filter_criteria = _filter_value(resource, actor.organization, issues)
    end = _end_of(resource, issues)
    if issues:
        raise FhirError(422, issues)
    return {
        "endpoint": endpoint,
        "headers": headers,
        "payload_content": content,
        "filter_criteria": filter_criteria[:300],
        "reason": str(resource.get("reason") or "")[:300],
        "end": end,
    }


def subscription_create(*, actor, resource: dict, base: str) -> Subscription:
    """Store an organization's rest-hook subscription to the PAS topic (R4 backport) as
    `requested`, then shake hands with its endpoint: `active` if it answers 2xx, else `error`."""
    _require_provider(actor)
    fields = subscription_read(actor=actor, resource=resource)
    with transaction.atomic():
        subscription = Subscription.objects.create(
            organization=actor.organization,
            created_by=actor,
            topic=PAS_TOPIC,
            status=Subscription.Status.REQUESTED,
            server_base=base[:300],
            **fields,
        )
        audit_record(
            action="fhir_subscription_created",
            subject=subscription,
            actor=actor,
            data={
                "endpoint_host": urlsplit(fields["endpoint"]).hostname,
                "organization_id": actor.organization_id,
            },
        )
    return subscription_handshake(subscription)


def subscription_update(
    *, actor, subscription: Subscription, resource: dict, base: str
) -> Subscription:
    """PUT: replace what the subscriber may change (endpoint, headers, filter, end, reason);
    `status: off` ends it. A changed endpoint, or one not active, shakes hands again."""
    _require_provider(actor)
    if str(resource.get("id") or "") != str(subscription.pk):
        raise FhirError(
            400,
            [
                issue(
                    "The Subscription's id must be the id in the URL.",
                    expression="Subscription.id",
                )
            ],
        )
    fields = subscription_read(actor=actor, resource=resource)
    if subscription.status == Subscription.Status.OFF:
        raise FhirError(
            409,
            [issue("This Subscription was ended; create a new one.", code="conflict")],
        )
    turning_off = resource.get("status") == "off"
    rehandshake = (
        fields["endpoint"] != subscription.endpoint
        or subscription.status != Subscription.Status.ACTIVE
    )
    with transaction.atomic():
        locked = Subscription.objects.select_for_update().get(pk=subscription.pk)
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.server_base = base[:300]
        if turning_off:
            locked.status = Subscription.Status.OFF
        elif rehandshake:
            locked.status = Subscription.Status.REQUESTED
        locked.save()
        audit_record(
            action="fhir_subscription_updated",
            subject=locked,
            actor=actor,
            data={
                "endpoint_host": urlsplit(fields["endpoint"]).hostname,
                "status": locked.status,
            },
        )
    if locked.status == Subscription.Status.REQUESTED:
        return subscription_handshake(locked)
    return locked


def subscription_off(*, actor, subscription: Subscription) -> Subscription:
    _require_provider(actor)
    with transaction.atomic():
        subscription.status = Subscription.Status.OFF
        subscription.save(update_fields=["status", "updated_at"])
        audit_record(action="fhir_subscription_ended", subject=subscription, actor=actor)
    return subscription


def _status_code(subscription: Subscription) -> str:
    return subscription.status


def subscription_resource(subscription: Subscription) -> dict:
    resource = {
        "resourceType": "Subscription",
        "id": str(subscription.pk),
        "meta": {"profile": [f"{PAS}/StructureDefinition/profile-subscription"]},
        "status": _status_code(subscription),
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
    if subscription.error:
        resource["error"] = subscription.error
    # The subscriber's own headers (often credentials) are never echoed back.
    return resource


def status_parameters(
    subscription: Subscription, *, kind: str, base: str, events: list[dict] | None = None
) -> dict:
    """The backport's SubscriptionStatus (as Parameters) for a handshake, a notification or a
    $status query. `events-since-subscription-start` counts the events so far (0 before any)."""
    base = base.rstrip("/")
    count = subscription.events_count
    if events:
        count = max(int(e["event-number"]) for e in events)
    parameter: list[dict] = [
        {
            "name": "subscription",
            "valueReference": {"reference": f"{base}/Subscription/{subscription.pk}"},
        },
        {"name": "topic", "valueCanonical": PAS_TOPIC},
        {"name": "status", "valueCode": _status_code(subscription)},
        {"name": "type", "valueCode": kind},
        {"name": "events-since-subscription-start", "valueString": str(count)},
    ]
    for event in events or []:
        part = [
            {"name": "event-number", "valueString": str(event["event-number"])},
            {"name": "timestamp", "valueInstant": event["timestamp"]},
        ]
        if event.get("focus"):
            part.append({"name": "focus", "valueReference": {"reference": event["focus"]}})
        parameter.append({"name": "notification-event", "part": part})
    if subscription.error and kind == "query-status":
        parameter.append(
            {"name": "error", "valueCodeableConcept": {"text": subscription.error[:500]}}
        )
    return {
        "resourceType": "Parameters",
        "id": f"status-{subscription.pk}-{kind}",
        "meta": {"profile": [f"{BACKPORT}/StructureDefinition/backport-subscription-status-r4"]},
        "parameter": parameter,
    }


def subscription_status_bundle(subscription: Subscription, *, base: str) -> dict:
    """Subscription/$status: a searchset Bundle with the subscription's status Parameters."""
    parameters = status_parameters(subscription, kind="query-status", base=base)
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 1,
        "entry": [
            {
                "fullUrl": f"{base.rstrip('/')}/Parameters/{parameters['id']}",
                "resource": parameters,
                "search": {"mode": "match"},
            }
        ],
    }


def _history_bundle(subscription: Subscription, parameters: dict, extra: list, now) -> dict:
    base = (subscription.server_base or "").rstrip("/")
    return {
        "resourceType": "Bundle",
        "id": f"{parameters['id']}-{int(now.timestamp())}",
        "meta": {
            "profile": [f"{BACKPORT}/StructureDefinition/backport-subscription-notification-r4"]
        },
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
            *extra,
        ],
    }


def _post(subscription: Subscription, body: dict) -> tuple[int | None, str]:
    """POST a notification Bundle to the subscriber: (status code, error or "")."""
    problem = endpoint_check(subscription.endpoint)
    if problem:
        return None, f"refused: {problem}"
    headers = {"Content-Type": f"{FHIR_JSON}; charset=utf-8"}
    for header in subscription.headers or []:
        name, _, value = header.partition(":")
        headers[name.strip()] = value.strip()
    try:
        # No redirects: a subscriber's endpoint must not bounce Lamina to another host.
        response = requests.post(
            subscription.endpoint,
            data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers=headers,
            timeout=DELIVERY_TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:2000]
    if not 200 <= response.status_code < 300:
        return response.status_code, f"HTTP {response.status_code}"
    return response.status_code, ""


def subscription_handshake(subscription: Subscription, *, now=None) -> Subscription:
    """The backport's handshake: POST a `handshake` notification; a 2xx makes the subscription
    active, anything else leaves it in `error` with the reason (PUT it to try again)."""
    now = now or timezone.now()
    parameters = status_parameters(
        subscription, kind="handshake", base=subscription.server_base or ""
    )
    status_code, error = _post(subscription, _history_bundle(subscription, parameters, [], now))
    status = Subscription.Status.ERROR if error else Subscription.Status.ACTIVE
    Subscription.objects.filter(pk=subscription.pk, status=Subscription.Status.REQUESTED).update(
        status=status, error=f"Handshake failed: {error}"[:1000] if error else ""
    )
    subscription.refresh_from_db()
    return subscription


# --- Notifications (an outbox) ----------------------------------------------------------------
