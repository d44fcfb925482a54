"""Reads for auditors: a request's complete history, determination search and export.

Who may read: auditors and plan administrators. A request outside the reader's scope is a 404
before the role is even considered (DESIGN rule 7), so a provider learns nothing about another
organization's requests from these endpoints.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from reviews.errors import NotPermitted
from reviews.models import (
    Appeal,
    AuditEvent,
    Determination,
    Evaluation,
    InformationRequest,
    PriorAuthRequest,
    ReviewNote,
    Role,
)
from reviews.selectors import request_get_for

NO_FAMILY = "unclassified"  # the filter value for requests no Lamina policy covers
AUDIT_ROLES = frozenset({Role.AUDITOR, Role.ADMIN})
_REFERENCE = re.compile(r"^\s*(?:PA-?)?0*(\d{1,18})\s*$", re.IGNORECASE)


def auditor_require(user) -> None:
    if not getattr(user, "is_authenticated", False) or user.role not in AUDIT_ROLES:
        raise NotPermitted("Only auditors and plan administrators read the audit views.")


def audit_request_get_for(*, user, request_id) -> PriorAuthRequest:
    """The request, scoped like every read (404 outside the reader's scope), auditors only."""
    pa_request = request_get_for(user=user, request_id=request_id)
    auditor_require(user)
    return pa_request


@dataclass
class RequestHistory:
    request: PriorAuthRequest
    events: QuerySet[AuditEvent]
    evaluations: QuerySet[Evaluation]
    determinations: QuerySet[Determination]
    appeals: QuerySet[Appeal]
    information_requests: QuerySet[InformationRequest]
    notes: QuerySet[ReviewNote]


def request_history(*, pa_request: PriorAuthRequest) -> RequestHistory:
    """Everything recorded about one request, each part in the order it happened."""
    return RequestHistory(
        request=pa_request,
        events=AuditEvent.objects.filter(request_id_ref=pa_request.pk).order_by("id"),
        evaluations=Evaluation.objects.filter(request=pa_request)
        .select_related("policy_version__policy")
        .order_by("round"),
        determinations=Determination.objects.filter(request=pa_request)
        .select_related("decided_by", "policy_version__policy", "appeal")
        .order_by("decided_at", "pk"),
        appeals=Appeal.objects.filter(request=pa_request)
        .select_related("filed_by", "original_determination")
        .order_by("filed_at", "pk"),
        information_requests=InformationRequest.objects.filter(request=pa_request)
        .select_related("requested_by")
        .order_by("requested_at", "pk"),
        notes=ReviewNote.objects.filter(request=pa_request)
        .select_related("author")
        .order_by("created_at", "pk"),
    )


def day_start(day: date) -> datetime:
    """Midnight at the start of `day` in Lamina's time zone: periods are whole local days."""
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass(frozen=True)
class DeterminationFilters:
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    outcome: str = ""
    kind: str = ""
    procedure_family: str = ""
    reviewer: str = ""  # a username
    organization: int | None = None
    provider_npi: str = ""
    request_id: int | None = None  # from a reference such as PA-00000012
    member_id: str = ""  # the plan's member id, any case


def request_id_from_reference(text: str) -> int | None:
    """12 from "PA-00000012", "pa00000012" or "12"; None when the text is not a reference."""
    match = _REFERENCE.match(text or "")
    if not match:
        return None
    number = int(match.group(1))
    return number if number < 2**63 else None


def audit_requests_matching(*, request_id: int | None, member_id: str) -> QuerySet:
    """The requests a reference or member id names, decided or not, newest first."""
    if request_id is None and not member_id:
        return PriorAuthRequest.objects.none()
    qs = PriorAuthRequest.objects.select_related("member", "organization")
    if request_id is not None:
        qs = qs.filter(pk=request_id)
    if member_id:
        qs = qs.filter(member__member_id__iexact=member_id)
    return qs.order_by("-received_at", "-pk")


def determination_search(*, filters: DeterminationFilters) -> QuerySet[Determination]:
    """Determinations matching the filters, newest first."""
    qs = Determination.objects.select_related(
        "request__organization", "request__member", "decided_by", "policy_version__policy"
    )
    if filters.date_from:
        qs = qs.filter(decided_at__gte=day_start(filters.date_from))
    if filters.date_to:
        qs = qs.filter(decided_at__lt=day_start(filters.date_to + timedelta(days=1)))
    if filters.outcome:
        qs = qs.filter(outcome=filters.outcome)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.procedure_family:
        # "unclassified": the requests no Lamina policy covers, stored with family "".
        family = "" if filters.procedure_family == NO_FAMILY else filters.procedure_family
        qs = qs.filter(request__procedure_family=family)
    if filters.reviewer:
        qs = qs.filter(decided_by__username=filters.reviewer)
    if filters.organization:
        qs = qs.filter(request__organization_id=filters.organization)
    if filters.provider_npi:
        qs = qs.filter(request__requesting_provider_npi=filters.provider_npi)
    if filters.request_id is not None:
        qs = qs.filter(request_id=filters.request_id)
    if filters.member_id:
        qs = qs.filter(request__member__member_id__iexact=filters.member_id)
    return qs.order_by("-decided_at", "-pk")


EXPORT_HEADER = (
    "determination_id",
    "request_reference",
    "kind",
    "outcome",
    "decided_at",
    "decided_by",
    "decided_by_role",
    "procedure_family",
    "urgency",
    "line_of_business",
    "organization",
    "received_at",
    "policy_version",
    "authorization_number",
    "reasons",
    "appeal_result",
    "review_extended",
)
_EXPORT_COLUMNS = (
    "pk",
    "request_id",
    "kind",
    "outcome",
    "decided_at",
    "decided_by__username",
    "decided_by_role",
    "request__procedure_family",
    "request__urgency",
    "request__line_of_business",
    "request__organization__name",
    "request__received_at",
    "policy_version__policy__family",
    "policy_version__profile",
    "policy_version__version",
    "authorization_number",
    "reasons",
    "appeal_result",
    "review_extended",
)


def determination_export_rows(
    queryset: QuerySet[Determination], *, chunk_size: int = 2000
) -> Iterator[tuple]:
    """One flat tuple per determination, read through a server-side cursor a chunk at a time:
    an export of any size holds one chunk in memory, never the whole result."""
    rows = queryset.values_list(*_EXPORT_COLUMNS).iterator(chunk_size=chunk_size)
    for (
        pk,
        request_id,
        kind,
        outcome,
        decided_at,
        username,
        role,
        family,
        urgency,
        line_of_business,
        organization,
        received_at,
        policy_family,
        profile,
        version,
        authorization_number,
        reasons,
        appeal_result,
        review_extended,
    ) in rows:
        yield (
            pk,
            f"PA-{request_id:08d}",
            kind,
            outcome,
            decided_at.isoformat(),
            username or "engine",
            role,
            family,
            urgency,
            line_of_business,
            organization,
            received_at.isoformat(),
            f"{policy_family}/{profile}/v{version}" if policy_family else "",
            authorization_number or "",
            " ".join(r.get("criterion") or "" for r in reasons or []).strip(),
            appeal_result,
            "yes" if review_extended else "no",
        )


def letter_path(request_id: int, determination_id: int) -> str:
    """Where a determination's letter is read: the reviewers' `letter` route."""
    from django.urls import NoReverseMatch, reverse

    for args in ([request_id, determination_id], [request_id]):
        try:
            return reverse("letter", args=args)
        except NoReverseMatch:
            continue
    return f"/requests/{request_id}/letters/{determination_id}/"
