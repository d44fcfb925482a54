"""Prior-authorization requests, their reviews, determinations and the audit trail.

Models hold data and invariants only. Every write goes through a service in reviews/services/;
only reviews.transitions.request_transition() writes PriorAuthRequest.status.
"""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.functional import cached_property


class Role(models.TextChoices):
    PROVIDER = "provider", "Provider"
    NURSE = "nurse", "Nurse reviewer"
    PHYSICIAN = "physician", "Physician reviewer"
    AUDITOR = "auditor", "Auditor"
    ADMIN = "admin", "Plan administrator"
    ENGINE = "engine", "Lamina engine"  # the actor of automated steps; never a user's group


class Organization(models.Model):
    """A provider organization (a clinic or practice) that submits requests."""

    name = models.CharField(max_length=200)
    npi = models.CharField(max_length=10, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person who signs in. Providers belong to exactly one organization; reviewers to none.

    The role is the user's group (provider, nurse, physician, auditor, admin).
    """

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )

    @cached_property
    def role(self) -> str:
        # Read once per user object (one HTTP request, one task): every service and the audit
        # trail ask for it, and a role change takes effect from the user's next request.
        names = {g.name for g in self.groups.all()}
        for role in (Role.ADMIN, Role.PHYSICIAN, Role.NURSE, Role.AUDITOR, Role.PROVIDER):
            if role.value in names:
                return role.value
        return Role.ADMIN.value if self.is_superuser else ""

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


class Member(models.Model):
    """A health-plan member. Matched on member_id; history checks read across a member's requests."""

    member_id = models.CharField(max_length=64, unique=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    birth_date = models.DateField()
    sex = models.CharField(max_length=10)

    def __str__(self) -> str:
        return self.member_id


class Status(models.TextChoices):
    RECEIVED = "received", "Received"  # stored, checks not yet started
    EVALUATING = "evaluating", "Evaluating"  # evidence checks queued or running
    PENDING_INFORMATION = "pending_information", "Pending information"  # waiting on the provider
    NURSE_REVIEW = "nurse_review", "Nurse review"
    PHYSICIAN_REVIEW = "physician_review", "Physician review"
    APPROVED = "approved", "Approved"
    PARTIALLY_APPROVED = "partially_approved", "Partially approved"
    DENIED = "denied", "Denied"
    APPEAL = "appeal", "Appeal"  # a denial or partial approval under appeal
    WITHDRAWN = "withdrawn", "Withdrawn"


OPEN_STATUSES = frozenset(
    {
        Status.RECEIVED,
        Status.EVALUATING,
        Status.PENDING_INFORMATION,
        Status.NURSE_REVIEW,
        Status.PHYSICIAN_REVIEW,
        Status.APPEAL,
    }
)
REVIEW_STATUSES = frozenset({Status.NURSE_REVIEW, Status.PHYSICIAN_REVIEW, Status.APPEAL})


class Urgency(models.TextChoices):
    STANDARD = "standard", "Standard"
    EXPEDITED = "expedited", "Expedited"


class LineOfBusiness(models.TextChoices):
    COMMERCIAL = "commercial", "Commercial"
    MEDICARE_ADVANTAGE = "medicare_advantage", "Medicare Advantage"
    MEDICAID = "medicaid", "Medicaid"


class Recommendation(models.TextChoices):
    APPROVE = "approve", "Approve"
    PEND_MISSING_INFORMATION = "pend_missing_information", "Pend for missing information"
    NURSE_REVIEW = "nurse_review", "Nurse review"
    PHYSICIAN_REVIEW = "physician_review", "Physician review"


class ClockState(models.TextChoices):
    ON_TIME = "on_time", "On time"
    AT_RISK = "at_risk", "At risk"  # less than a quarter of the window left
    OVERDUE = "overdue", "Overdue"


class PriorAuthRequest(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="requests"
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="submitted_requests"
    )
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="requests")
    external_id = models.CharField(max_length=100, blank=True)
    urgency = models.CharField(max_length=10, choices=Urgency.choices)
    line_of_business = models.CharField(max_length=20, choices=LineOfBusiness.choices)
    # How the request reached Lamina: the REST API or FHIR Claim/$submit.
    channel = models.CharField(max_length=10, default="rest")

    requesting_provider_npi = models.CharField(max_length=10)
    requesting_provider_name = models.CharField(max_length=200)
    requesting_provider_specialty = models.CharField(max_length=200, blank=True)

    # The procedure family all CPT lines belong to, or "" when no Lamina policy covers them.
    procedure_family = models.CharField(max_length=40, blank=True)
    # The `service` object as accepted (cpt_codes, spinal_region, levels, laterality, units, ...).
    service = models.JSONField()
    diagnosis_codes = models.JSONField()
    # The `clinical` object as accepted and merged with answers to requests for information.
    clinical = models.JSONField()

    status = models.CharField(max_length=24, choices=Status.choices, default=Status.RECEIVED)
    # Bumped each time the request enters `evaluating`: one evaluation per round, exactly once.
    evaluation_round = models.PositiveIntegerField(default=0)
    recommendation = models.CharField(max_length=30, choices=Recommendation.choices, blank=True)
    # What the provider must send: [{"field", "why", "criterion"}], from the latest evaluation or
    # from a reviewer's request for information.
    missing_information = models.JSONField(default=list, blank=True)

    received_at = models.DateTimeField()
    due_at = models.DateTimeField()
    clock_state = models.CharField(
        max_length=10, choices=ClockState.choices, default=ClockState.ON_TIME
    )
    # When the evidence checks were last enqueued (the sweep re-enqueues stale ones).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_requests",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "due_at"], name="req_status_due"),
            models.Index(fields=["organization", "-received_at"], name="req_org_received"),
            models.Index(fields=["member", "procedure_family"], name="req_member_family"),
            models.Index(fields=["status", "enqueued_at"], name="req_status_enqueued"),
            # The reviewers' queue: cases in review, earliest due first. A queue of two or three
            # statuses cannot take its order from (status, due_at); this index holds only the
            # review cases, already in queue order.
            models.Index(
                fields=["due_at", "id"],
                name="req_review_queue",
                condition=models.Q(status__in=["nurse_review", "physician_review", "appeal"]),
            ),
        ]

    def __str__(self) -> str:
        return f"PA-{self.pk}"

    @property
    def reference(self) -> str:
        return f"PA-{self.pk:08d}" if self.pk else "PA-new"

    @property
    def cpt_codes(self) -> list[str]:
        return list(self.service.get("cpt_codes", []))


class ServiceLine(models.Model):
    """One CPT code of a request, with Lamina's own short description and its family."""

    request = models.ForeignKey(PriorAuthRequest, on_delete=models.CASCADE, related_name="lines")
    sequence = models.PositiveSmallIntegerField()
    cpt_code = models.CharField(max_length=5)
    family = models.CharField(max_length=40, blank=True)
    description = models.CharField(max_length=200, blank=True)
    is_add_on = models.BooleanField(default=False)

    class Meta:
        ordering = ["sequence"]
        constraints = [
            models.UniqueConstraint(fields=["request", "sequence"], name="line_seq_unique")
        ]


class Attachment(models.Model):
    class Kind(models.TextChoices):
        CLINICAL_NOTE = "clinical_note", "Clinical note"
        IMAGING_REPORT = "imaging_report", "Imaging report"
        OPERATIVE_NOTE = "operative_note", "Operative note"
        OTHER = "other", "Other"

    request = models.ForeignKey(
        PriorAuthRequest, on_delete=models.CASCADE, related_name="attachments"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    date = models.DateField(null=True, blank=True)
    title = models.CharField(max_length=200, blank=True)
    text = models.TextField()
    # Where it came from: the submission, an answer to a request for information, an appeal.
    source = models.CharField(max_length=20, default="submission")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "pk"]


class IdempotencyRecord(models.Model):
    """The first answer to a POST under an Idempotency-Key, replayed for a retry with the same body."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    # The endpoint the key was used on: a key is scoped to (user, endpoint).
    scope = models.CharField(max_length=200)
    body_sha256 = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "scope", "key"], name="idempotency_unique")
        ]


class Evaluation(models.Model):
    """One run of the evidence checks for one evaluation round of a request. Immutable."""

    request = models.ForeignKey(
        PriorAuthRequest, on_delete=models.PROTECT, related_name="evaluations"
    )
    round = models.PositiveIntegerField()
    policy_version = models.ForeignKey(
        "criteria.PolicyVersion", null=True, blank=True, on_delete=models.PROTECT
    )
    profile = models.CharField(max_length=30, blank=True)
    review_date = models.DateField()
    facts = models.JSONField()
    # Per criterion: id, answer, decisive, facts read with values, threshold, explanation,
    # statement, citation.
    trace = models.JSONField()
    history_checks = models.JSONField(default=list)
    documentation = models.JSONField(default=list)
    # Findings from attached notes that disagree with the attestation (blocks auto-approval).
    note_conflicts = models.JSONField(default=list)
    # The consistency stage's findings (reviews/consistency.py): each {check, statement, compared,
    # severity, route}. Any finding blocks auto-approval; the case page and the API show them.
    consistency = models.JSONField(default=list)
    recommendation = models.CharField(max_length=30, choices=Recommendation.choices)
    # The earliest date the request would qualify if its facts stay as they are, when only
    # time stands in the way (reviews/eligibility.py), and the criteria time cures.
    eligible_on = models.DateField(null=True, blank=True)
    eligible_on_reasons = models.JSONField(default=list, blank=True)
    reasons = models.JSONField(default=list)
    missing_information = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["round"]
        constraints = [
            # The guard that makes a redelivered task a no-op: one evaluation per round.
            models.UniqueConstraint(fields=["request", "round"], name="evaluation_round_unique")
        ]


class Outcome(models.TextChoices):
    APPROVED = "approved", "Approved"
    PARTIALLY_APPROVED = "partially_approved", "Partially approved"
    DENIED = "denied", "Denied"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Determination(models.Model):
    """The decision that ends a review. Created only by reviews.services.determination_record()."""

    class Kind(models.TextChoices):
        INITIAL = "initial", "Initial determination"
        APPEAL = "appeal", "Appeal decision"

    request = models.ForeignKey(
        PriorAuthRequest, on_delete=models.PROTECT, related_name="determinations"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.INITIAL)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    decided_by_role = models.CharField(max_length=12, choices=Role.choices)
    # [{"criterion": "FU-03", "statement": "..."}] for adverse determinations.
    reasons = models.JSONField(default=list)
    rationale = models.TextField(blank=True)
    policy_version = models.ForeignKey(
        "criteria.PolicyVersion", null=True, blank=True, on_delete=models.PROTECT
    )
    evaluation = models.ForeignKey(Evaluation, null=True, blank=True, on_delete=models.PROTECT)
    # The evaluation as it stood when decided (recommendation, trace): the record never moves.
    evaluation_snapshot = models.JSONField(default=dict)
    authorization_number = models.CharField(max_length=32, null=True, blank=True, unique=True)
    approved_cpt_codes = models.JSONField(default=list)
    approved_units = models.PositiveIntegerField(null=True, blank=True)
    approved_levels = models.JSONField(default=list)
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    # For an appeal decision: the determination it reviews, and whether it was upheld.
    appeal = models.ForeignKey(
        "Appeal", null=True, blank=True, on_delete=models.PROTECT, related_name="decisions"
    )
    appeal_result = models.CharField(max_length=12, blank=True)  # upheld | overturned
    # True when the review time was extended before this decision (CMS-0057-F metric).
    review_extended = models.BooleanField(default=False)
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["decided_at", "pk"]
        indexes = [models.Index(fields=["decided_at"], name="det_decided_at")]


class InformationRequest(models.Model):
    """What Lamina or a reviewer asked the provider for, and when it was answered."""

    request = models.ForeignKey(
        PriorAuthRequest, on_delete=models.PROTECT, related_name="information_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    requested_by_role = models.CharField(max_length=12, choices=Role.choices)
    items = models.JSONField()  # [{"field", "why", "criterion"}]
    message = models.TextField(blank=True)
    requested_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    answer = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at", "pk"]


class ReviewNote(models.Model):
    """A reviewer's note on a case: an escalation note or a peer-to-peer conversation."""

    class Kind(models.TextChoices):
        ESCALATION = "escalation", "Escalation to physician"
        PEER_TO_PEER = "peer_to_peer", "Peer-to-peer conversation"
        NOTE = "note", "Note"

    request = models.ForeignKey(PriorAuthRequest, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    author_role = models.CharField(max_length=12, choices=Role.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    text = models.TextField()
    # For a peer-to-peer talk: whom the physician spoke with and when.
    counterpart = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]


class Appeal(models.Model):
    class AppealStatus(models.TextChoices):
        OPEN = "open", "Open"
        DECIDED = "decided", "Decided"

    request = models.ForeignKey(PriorAuthRequest, on_delete=models.PROTECT, related_name="appeals")
    original_determination = models.ForeignKey(
        Determination, on_delete=models.PROTECT, related_name="appeals"
    )
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    reason = models.TextField()
    urgency = models.CharField(max_length=10, choices=Urgency.choices)
    status = models.CharField(
        max_length=10, choices=AppealStatus.choices, default=AppealStatus.OPEN
    )
    filed_at = models.DateTimeField()
    due_at = models.DateTimeField()

    class Meta:
        ordering = ["filed_at", "pk"]


class AuditEvent(models.Model):
    """Append-only, hash-chained record of everything that matters (DESIGN rule 5).

    Written only by reviews.audit.audit_record(), without any lock: an event is born unsealed.
    The sealer (reviews.audit.audit_seal()) later gives it its position in the chain, the hash of
    the event before it and its own hash over a canonical JSON of its content, once. A PostgreSQL
    trigger allows exactly that update of an unsealed row and refuses every other UPDATE, DELETE
    and TRUNCATE.
    """

    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    actor_label = models.CharField(max_length=150)  # username, or "engine"/"system"
    role = models.CharField(max_length=12, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=40)
    subject_type = models.CharField(max_length=40)
    subject_id = models.CharField(max_length=64)
    # The request the event belongs to, when it belongs to one: the case timeline reads by it.
    request_id_ref = models.BigIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict)
    # The seal, set once by the sealer; all three are null until then.
    position = models.BigIntegerField(null=True, blank=True, unique=True)
    prev_hash = models.CharField(max_length=64, null=True, blank=True)
    hash = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["request_id_ref", "id"], name="audit_request"),
            models.Index(fields=["action", "occurred_at"], name="audit_action_time"),
            # The sealer's backlog.
            models.Index(
                fields=["id"], condition=models.Q(position__isnull=True), name="audit_unsealed"
            ),
        ]


class AuditCheckpoint(models.Model):
    """One sealed batch of the audit chain: its head and the Merkle root over its events.

    Events first_position .. tree_size were sealed together; head_hash is the hash of event
    tree_size, previous_head the head before the batch, merkle_root the RFC 6962 tree hash over the
    batch's event hashes. Append-only like the events. The signed copies the auditor trusts live
    outside the database (reviews.audit_sign).
    """

    tree_size = models.BigIntegerField(unique=True)
    first_position = models.BigIntegerField()
    previous_head = models.CharField(max_length=64)
    head_hash = models.CharField(max_length=64, unique=True)
    merkle_root = models.CharField(max_length=64)
    sealed_at = models.DateTimeField()

    class Meta:
        ordering = ["tree_size"]

    @property
    def size(self) -> int:
        return self.tree_size - self.first_position + 1


class PolicySimulation(models.Model):
    """One replay of past requests against a policy version before it goes live.

    Nothing of the live data changes: the replay reads each request's last evaluation and stores
    only its own summary here. Activating the simulated version names its simulations in the
    audit event.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    # The version simulated, when it is stored (a draft); a file's content is kept in `content`.
    version = models.ForeignKey(
        "criteria.PolicyVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="simulations",
    )
    source = models.CharField(max_length=300)  # the version's label, or the file simulated
    family = models.CharField(max_length=40)
    profile = models.CharField(max_length=30)
    content = models.JSONField()
    content_checksum = models.CharField(max_length=64)
    since = models.DateField()
    until = models.DateField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"simulation {self.pk} of {self.source}"


class Recheck(models.Model):
    """A provider's request to evaluate an open request again on a date (its eligible_on).

    Celery beat runs the due ones (reviews.services.rechecks): the request is evaluated again
    with the facts it has by then, through the usual checks and audit trail. One per request and
    date: asking again for the same date answers the same recheck.
    """

    class State(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"

    request = models.ForeignKey(PriorAuthRequest, on_delete=models.PROTECT, related_name="rechecks")
    on_date = models.DateField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.SCHEDULED)
    # Why a due recheck did not evaluate (the request was decided or withdrawn meanwhile).
    outcome = models.CharField(max_length=300, blank=True)
    evaluation_round = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ran_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["on_date", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["request", "on_date"], name="recheck_once_per_date")
        ]
        indexes = [
            models.Index(
                fields=["on_date"], condition=models.Q(state="scheduled"), name="recheck_due"
            )
        ]
