"""Reads for the reviewers' queue and the case page.

The queue page runs a fixed number of queries whatever the queue length: one count, one page of
rows with their member, organization and assignee joined in. Clock badges are computed from
due_at at render time, not only read from the stored mark (which the beat task refreshes each
minute).
"""

import re
from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from reviews.clocks import clock_state_at
from reviews.models import (
    REVIEW_STATUSES,
    Appeal,
    AuditEvent,
    Determination,
    Evaluation,
    InformationRequest,
    PriorAuthRequest,
    ReviewNote,
    Role,
    Status,
)
from reviews.selectors import request_list_for
from reviews.services.appeals import PARTICIPATION_ACTIONS
from reviews.services.assignments import QUEUE_OF_ROLE

QUEUE_PAGE_SIZE = 25
# Auditors and plan administrators read every case under review; they act on none.
READ_ONLY_ROLES = frozenset({Role.AUDITOR, Role.ADMIN})
WEB_ROLES = frozenset({Role.NURSE, Role.PHYSICIAN}) | READ_ONLY_ROLES
ACTING_ROLES = frozenset({Role.NURSE, Role.PHYSICIAN})

_REFERENCE = re.compile(r"^\s*(?:PA-?)?0*(\d{1,18})\s*$", re.IGNORECASE)


def queue_statuses_for(*, user) -> list[str]:
    """The statuses whose cases await this user's role, in the order a reviewer works them."""
    role = user.role
    if role in READ_ONLY_ROLES:
        statuses = set(REVIEW_STATUSES)
    else:
        statuses = set(QUEUE_OF_ROLE.get(role, set()))
    order = [Status.PHYSICIAN_REVIEW, Status.APPEAL, Status.NURSE_REVIEW]
    return [s.value for s in order if s in statuses]


@dataclass
class QueueFilters:
    status: str = ""
    family: str = ""
    urgency: str = ""
    assigned: str = ""  # "" | "me" | "unassigned"
    q: str = ""
    page: str = "1"

    @classmethod
    def from_query(cls, query) -> "QueueFilters":
        def text(name: str, default: str = "") -> str:
            # PostgreSQL refuses NUL in text parameters: drop it rather than fail the page.
            return query.get(name, default).replace("\x00", "").strip()[:100]

        return cls(
            status=text("status"),
            family=text("family"),
            urgency=text("urgency"),
            assigned=text("assigned"),
            q=text("q"),
            page=text("page", "1") or "1",
        )

    def as_query(self) -> dict[str, str]:
        """The filters (without the page) for pagination links."""
        values = {
            "status": self.status,
            "family": self.family,
            "urgency": self.urgency,
            "assigned": self.assigned,
            "q": self.q,
        }
        return {k: v for k, v in values.items() if v}


def _search(queryset: QuerySet, text: str) -> QuerySet:
    """A request id (PA-00000012 or 12) or a member id (exact, any case)."""
    condition = Q(member__member_id__iexact=text)
    match = _REFERENCE.match(text)
    if match:
        number = int(match.group(1))
        if number < 2**63:
            condition |= Q(pk=number)
    return queryset.filter(condition)


def with_queue_facts(queryset: QuerySet, *, user) -> QuerySet[PriorAuthRequest]:
    """Annotate each request with what the queue orders and badges by, in the same query:

    - appeal_due_at / appeal_filed_at: the open appeal's own clock (null without one);
    - queue_due_at: the due time that counts now, the appeal's while under appeal;
    - answered: the provider answered a request for information on it;
    - took_part: for a physician, whether they worked on the case before its open appeal was
      filed (reviews.services.appeals.took_part_in_review, the same rule as one query).
    """
    appeal = Appeal.objects.filter(
        request=OuterRef("pk"), status=Appeal.AppealStatus.OPEN
    ).order_by("-filed_at")
    queryset = queryset.annotate(
        appeal_due_at=Subquery(appeal.values("due_at")[:1]),
        appeal_filed_at=Subquery(appeal.values("filed_at")[:1]),
    ).annotate(
        queue_due_at=Coalesce("appeal_due_at", "due_at"),
        answered=Exists(
            InformationRequest.objects.filter(request=OuterRef("pk"), answered_at__isnull=False)
        ),
    )
    if getattr(user, "role", "") == Role.PHYSICIAN:
        before = OuterRef("appeal_filed_at")
        queryset = queryset.annotate(
            took_part=Exists(Determination.objects.filter(request=OuterRef("pk"), decided_by=user))
            | Exists(
                ReviewNote.objects.filter(
                    request=OuterRef("pk"), author=user, created_at__lt=before
                )
            )
            | Exists(
                AuditEvent.objects.filter(
                    request_id_ref=OuterRef("pk"),
                    actor=user,
                    action__in=PARTICIPATION_ACTIONS,
                    occurred_at__lt=before,
                )
            )
        )
    return queryset


def queue_list_for(*, user, filters: QueueFilters) -> QuerySet[PriorAuthRequest]:
    """The cases awaiting the user's role, filtered, most urgent first: by the due time that
    counts now (an appeal's own, not the original request's)."""
    statuses = queue_statuses_for(user=user)
    queryset = request_list_for(user=user).filter(status__in=statuses)
    if filters.status in statuses:
        queryset = queryset.filter(status=filters.status)
    if filters.family:
        # "none" selects the requests no Lamina policy covers (procedure_family == "").
        queryset = queryset.filter(
            procedure_family="" if filters.family == "none" else filters.family
        )
    if filters.urgency:
        queryset = queryset.filter(urgency=filters.urgency)
    if filters.assigned == "me":
        queryset = queryset.filter(assigned_to=user)
    elif filters.assigned == "unassigned":
        queryset = queryset.filter(assigned_to__isnull=True)
    if filters.q:
        queryset = _search(queryset, filters.q)
    return with_queue_facts(queryset, user=user).order_by("queue_due_at", "pk")


@dataclass
class QueueRow:
    pa_request: PriorAuthRequest
    clock: str
    age: str
    can_claim: bool
    can_release: bool
    family_label: str
    error: str = ""
    # The due time that counts now: the open appeal's own, else the request's.
    due_at: datetime | None = None
    # The open appeal's due time, when the case is under appeal.
    appeal_due_at: datetime | None = None
    # The provider answered a request for information on this case (the "answered" badge).
    answered: bool = False
    # False on an appeal this user may not work (they took part in the case): no claim, no act.
    appeal_eligible: bool = True


def _age(received_at: datetime, now: datetime) -> str:
    seconds = max(0, int((now - received_at).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {rest // 60}m"
    return f"{rest // 60}m"


def family_label(family: str) -> str:
    from criteria.models import Family

    if not family:
        return "No Lamina policy"
    return dict(Family.choices).get(family, family.replace("_", " "))


QUEUE_FACTS = ("appeal_due_at", "appeal_filed_at", "queue_due_at", "answered", "took_part")


def _queue_facts(pa_request: PriorAuthRequest, user) -> dict:
    """with_queue_facts' annotations of the request for this user: from the row when it was read
    through queue_list_for for them, else read now in one query."""
    if hasattr(pa_request, "queue_due_at"):
        return {name: getattr(pa_request, name, None) for name in QUEUE_FACTS}
    names = [n for n in QUEUE_FACTS if n != "took_part" or user.role == Role.PHYSICIAN]
    queryset = PriorAuthRequest.objects.filter(pk=pa_request.pk)
    return with_queue_facts(queryset, user=user).values(*names).first() or {}


def queue_row(*, pa_request: PriorAuthRequest, user, now: datetime | None = None, error: str = ""):
    """One row as the queue shows it: live clock badge (the appeal's own clock while under
    appeal), age, the answered badge, and what the user may do with it."""
    now = now or timezone.now()
    facts = _queue_facts(pa_request, user)
    acting = user.role in ACTING_ROLES and pa_request.status in QUEUE_OF_ROLE.get(user.role, set())
    under_appeal = pa_request.status == Status.APPEAL and facts.get("appeal_due_at") is not None
    eligible = not under_appeal or (user.role == Role.PHYSICIAN and not facts.get("took_part"))
    if under_appeal:
        clock = clock_state_at(
            received_at=facts["appeal_filed_at"], due_at=facts["appeal_due_at"], now=now
        )
    else:
        clock = clock_state_at(
            received_at=pa_request.received_at, due_at=pa_request.due_at, now=now
        )
    return QueueRow(
        pa_request=pa_request,
        clock=clock,
        age=_age(pa_request.received_at, now),
        can_claim=acting and pa_request.assigned_to_id is None and eligible,
        can_release=acting and pa_request.assigned_to_id == user.pk,
        family_label=family_label(pa_request.procedure_family),
        error=error,
        due_at=facts.get("queue_due_at") or pa_request.due_at,
        appeal_due_at=facts["appeal_due_at"] if under_appeal else None,
        answered=bool(facts.get("answered")),
        appeal_eligible=eligible,
    )


def queue_page_for(*, user, filters: QueueFilters, page_size: int = QUEUE_PAGE_SIZE) -> Page:
    """One page of the queue; page.object_list holds QueueRow items."""
    paginator = Paginator(queue_list_for(user=user, filters=filters), page_size)
    page = paginator.get_page(filters.page)
    now = timezone.now()
    page.object_list = [queue_row(pa_request=r, user=user, now=now) for r in page.object_list]
    return page


# --- The case page ------------------------------------------------------------------------------

ANSWER_GROUPS = (
    ("not_met", "Not met"),
    ("insufficient_information", "Insufficient information"),
    ("met", "Met"),
    ("not_applicable", "Not applicable or waived"),
)


def case_get_for(*, user, request_id) -> PriorAuthRequest:
    """The case, read through the same scoping as every other read (404 when not visible)."""
    from reviews.selectors import request_get_for

    return request_get_for(user=user, request_id=request_id)


def latest_evaluation(*, pa_request: PriorAuthRequest) -> Evaluation | None:
    return (
        Evaluation.objects.filter(request=pa_request)
        .select_related("policy_version__policy")
        .order_by("-round")
        .first()
    )


def criteria_groups(evaluation: Evaluation | None) -> list[dict]:
    """The evaluation's criteria results grouped not met / insufficient / met, for display."""
    if evaluation is None:
        return []
    groups = []
    for answer, label in ANSWER_GROUPS:
        items = [r for r in evaluation.trace if r.get("answer") == answer]
        groups.append({"answer": answer, "label": label, "results": items})
    return groups


def criterion_choices(evaluation: Evaluation | None, *answers: str) -> list[dict]:
    """Criteria with the given answers, as {"id", "statement", "answer"} for a reviewer to pick."""
    if evaluation is None:
        return []
    return [
        {"id": r.get("id", ""), "statement": r.get("statement", ""), "answer": r.get("answer")}
        for r in evaluation.trace
        if r.get("answer") in answers and r.get("id")
    ]


def _first_fact(result: dict) -> str:
    facts = result.get("facts")
    if isinstance(facts, dict) and facts:
        return next(iter(facts))
    if isinstance(facts, list) and facts:
        first = facts[0]
        if isinstance(first, dict):
            return str(first.get("fact") or first.get("name") or "")
        return str(first)
    return ""


def information_choices(evaluation: Evaluation | None) -> list[dict]:
    """What a reviewer may ask the provider for: the evaluation's missing items, then the criteria
    not met or lacking information. Each: {"key", "label", "item"} where item is what
    request_information_ask stores ({"field", "why", "criterion"})."""
    if evaluation is None:
        return []
    choices = []
    seen = set()
    for index, missing in enumerate(evaluation.missing_information or []):
        item = {
            "field": str(missing.get("field") or missing.get("fact") or ""),
            "why": str(missing.get("why") or ""),
            "criterion": str(missing.get("criterion") or ""),
        }
        seen.add(item["criterion"])
        choices.append(
            {"key": f"m{index}", "label": f"{item['field']}: {item['why']}", "item": item}
        )
    for result in evaluation.trace:
        criterion = result.get("id") or ""
        if result.get("answer") not in {"not_met", "insufficient_information"} or not criterion:
            continue
        if criterion in seen:
            continue
        item = {
            "field": _first_fact(result) or criterion,
            "why": str(result.get("statement") or ""),
            "criterion": criterion,
        }
        choices.append(
            {"key": f"c:{criterion}", "label": f"{criterion}: {item['why']}", "item": item}
        )
    return choices


def case_timeline(*, pa_request: PriorAuthRequest) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(request_id_ref=pa_request.pk).order_by("id")


def case_related(*, pa_request: PriorAuthRequest) -> dict:
    """Everything else the case page shows next to the request itself."""
    return {
        "lines": list(pa_request.lines.all()),
        "review_notes": list(
            ReviewNote.objects.filter(request=pa_request).select_related("author")
        ),
        "information_requests": list(
            InformationRequest.objects.filter(request=pa_request).select_related("requested_by")
        ),
        "determinations": list(
            Determination.objects.filter(request=pa_request)
            .select_related("decided_by", "policy_version__policy")
            .order_by("decided_at", "pk")
        ),
        "timeline": list(case_timeline(pa_request=pa_request)),
    }
