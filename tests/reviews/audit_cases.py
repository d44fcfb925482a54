"""Builders shared by the audit, appeal, metrics and auditor-view tests."""

from criteria.services import policies_load
from reviews.models import AuditEvent, PriorAuthRequest, Status
from reviews.services import determination_record, request_claim
from tests.factories import PriorAuthRequestFactory

REASONS = [{"criterion": "FU-03", "statement": "At least 6 weeks of formal physical therapy."}]


def fusion_request(*, organization, submitted_by, status=Status.PHYSICIAN_REVIEW, **fields):
    """A two-level fusion request of organization A sitting in `status`."""
    fields = {
        "procedure_family": "spinal_fusion",
        "service": {
            "cpt_codes": ["22633", "22840"],
            "spinal_region": "lumbar",
            "levels": ["L4-L5", "L5-S1"],
            "units": 2,
        },
        **fields,
    }
    return PriorAuthRequestFactory(
        organization=organization, submitted_by=submitted_by, status=status, **fields
    )


def denied_request(*, organization, submitted_by, physician, **fields) -> PriorAuthRequest:
    """A request a physician has denied (through the determination service), for a criterion
    of the shipped fusion policy in force (the service checks the reasons against it)."""
    policies_load()
    pa_request = fusion_request(organization=organization, submitted_by=submitted_by, **fields)
    request_claim(pa_request=pa_request, actor=physician)  # a reviewer acts on a case they hold
    determination_record(
        pa_request=pa_request,
        outcome="denied",
        actor=physician,
        reasons=REASONS,
        rationale="Only four weeks of physical therapy are documented.",
    )
    return PriorAuthRequest.objects.get(pk=pa_request.pk)


def actions_since(event_id: int, **filters) -> list[str]:
    """The actions of the audit events written after `event_id`, in order."""
    return list(
        AuditEvent.objects.filter(pk__gt=event_id, **filters)
        .order_by("id")
        .values_list("action", flat=True)
    )


def last_event_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
