"""What the FHIR interface keeps beside the request itself.

A ClaimRecord remembers how a request arrived through Claim/$submit (identifiers, item sequences)
so the ClaimResponse can echo them and $inquire can find the request again. A Subscription is an
organization's R4 backport rest-hook; each decision it is told about is a Notification, and every
POST to the endpoint is a DeliveryAttempt.

A SmartClient is an EHR registered for SMART Backend Services: it signs its token requests with a
key of its JWKS and acts as one provider user. Each assertion it sends is spent once (SmartJti), and
each access token it gets is kept as a hash with its expiry and scopes (SmartAccessToken).
"""

import uuid

from django.conf import settings
from django.db import models


class ClaimRecord(models.Model):
    request = models.OneToOneField(
        "reviews.PriorAuthRequest", on_delete=models.PROTECT, related_name="claim_record"
    )
    # Claim.identifier[0] (the PAS "patient event trace number"): the key $inquire matches on.
    identifier_system = models.CharField(max_length=300, blank=True)
    identifier_value = models.CharField(max_length=100, blank=True)
    bundle_identifier = models.JSONField(null=True, blank=True)
    claim_id = models.CharField(max_length=64, blank=True)
    claim_type = models.CharField(max_length=20, blank=True)
    patient_id = models.CharField(max_length=64, blank=True)
    # The member id and the NPIs as read from the bundle: $inquire matches on them too.
    member_id = models.CharField(max_length=64)
    provider_npi = models.CharField(max_length=10, blank=True)
    requestor_npi = models.CharField(max_length=10, blank=True)  # the Claim.provider's NPI
    # [{"sequence": 1, "cpt_code": "22633", "trace_number": {...} | null, "quantity": 1}]
    items = models.JSONField(default=list)
    # The insurer and requestor resources as sent, echoed in every response bundle.
    insurer = models.JSONField(null=True, blank=True)
    requestor = models.JSONField(null=True, blank=True)
    # The base URL the client used to reach Lamina's FHIR endpoints (for fullUrls in responses).
    server_base = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["identifier_value"], name="pas_claim_identifier")]


class Subscription(models.Model):
    """An organization's rest-hook subscription to the PAS topic (R4 Subscriptions backport)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"  # stored, the handshake not yet answered
        ACTIVE = "active", "Active"
        ERROR = "error", "Error"
        OFF = "off", "Off"  # deleted by the organization: never notified again

    organization = models.ForeignKey(
        "reviews.Organization", on_delete=models.PROTECT, related_name="fhir_subscriptions"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    topic = models.CharField(max_length=300)
    filter_criteria = models.CharField(max_length=300, blank=True)
    endpoint = models.URLField(max_length=500)
    # channel.header values sent with each notification (e.g. the subscriber's bearer token).
    headers = models.JSONField(default=list, blank=True)
    payload_content = models.CharField(max_length=20, default="full-resource")
    reason = models.CharField(max_length=300, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    # Why the subscription is in `error` (a failed handshake, a notification never delivered).
    error = models.CharField(max_length=1000, blank=True)
    # The backport's events-since-subscription-start: each notification takes the next number.
    events_count = models.PositiveIntegerField(default=0)
    server_base = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "status"], name="pas_sub_org_status")]


class Notification(models.Model):
    """One decision to tell one subscriber about; delivered once, however many attempts it takes."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="notifications"
    )
    request = models.ForeignKey("reviews.PriorAuthRequest", on_delete=models.PROTECT)
    determination = models.ForeignKey("reviews.Determination", on_delete=models.PROTECT)
    event_number = models.PositiveIntegerField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Set when the retries ran out: the subscriber learns the decision through $inquire.
    failed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Outbox: written in the transaction that records the decision; a task delivers it and the
    # beat sweep hands undelivered ones to the task again (a broker outage loses none).
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "determination"], name="pas_notification_once"
            )
        ]


class DeliveryAttempt(models.Model):
    notification = models.ForeignKey(
        Notification, on_delete=models.PROTECT, related_name="attempts"
    )
    attempt = models.PositiveIntegerField()  # 1 for the first POST, 2 for the first retry, ...
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["attempted_at", "pk"]


class HeldClaim(models.Model):
    """A PAS request taken but not yet filed: the member could not be identified (an unknown
    member id with no birth date, or no member id and no match by name and birth date). It is
    answered pended (A4) and filed as a request when an update brings what identifies the member.
    """

    organization = models.ForeignKey("reviews.Organization", on_delete=models.PROTECT)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    reason = models.CharField(max_length=300)
    member_id = models.CharField(max_length=64, blank=True)
    # The mapped identifiers and items (as a ClaimRecord stores them), echoed in the answer.
    record = models.JSONField(default=dict)
    identifier_system = models.CharField(max_length=300, blank=True)
    identifier_value = models.CharField(max_length=100, blank=True)
    server_base = models.CharField(max_length=300, blank=True)
    # Set when an update identified the member and the request was filed.
    filed_request = models.ForeignKey(
        "reviews.PriorAuthRequest", null=True, blank=True, on_delete=models.PROTECT
    )
    created_at = models.DateTimeField(auto_now_add=True)

    @property
    def reference(self) -> str:
        return f"PAS-HELD-{self.pk:08d}"


class Submission(models.Model):
    """One accepted Claim/$submit, so that a retry of the same Bundle answers the first response
    and stores nothing: keyed by the Bundle identifier, the Claim's trace number and submitter."""

    organization = models.ForeignKey("reviews.Organization", on_delete=models.PROTECT)
    key = models.CharField(max_length=64)
    content_hash = models.CharField(max_length=64)
    request = models.ForeignKey(
        "reviews.PriorAuthRequest", null=True, blank=True, on_delete=models.PROTECT
    )
    held = models.ForeignKey(HeldClaim, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="pas_submission_once")
        ]


def _client_id() -> str:
    return str(uuid.uuid4())


class SmartClient(models.Model):
    """An EHR registered by an administrator for SMART Backend Services."""

    client_id = models.CharField(max_length=100, unique=True, default=_client_id)
    name = models.CharField(max_length=200, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="smart_clients",
        help_text="The provider user the client acts as.",
    )
    jwks = models.JSONField(
        default=dict,
        blank=True,
        help_text='The client\'s public keys: {"keys": [...]} (RS384 or ES384), or none when '
        "they are published at jwks_url.",
    )
    jwks_url = models.URLField(
        max_length=500,
        blank=True,
        help_text="Where the client publishes its public keys (https; read when it asks a token).",
    )
    scopes = models.JSONField(default=list, blank=True, help_text="The system/ scopes it may ask.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name or self.client_id

    def clean(self):
        from pas.smart import smart_client_validate

        smart_client_validate(self)


class SmartJti(models.Model):
    """A spent client assertion, kept until it expires so that a replay is refused."""

    client = models.ForeignKey(SmartClient, on_delete=models.CASCADE, related_name="jtis")
    jti = models.CharField(max_length=255)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "jti"], name="pas_smart_jti_once")]


class SmartAccessToken(models.Model):
    """An access token issued to a client: its SHA-256, never the token itself."""

    client = models.ForeignKey(SmartClient, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    scope = models.TextField()
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
