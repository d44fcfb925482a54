"""Reads for the dashboard: a handful of aggregate queries, each independent of table size in
the rows it returns (grouped in the database, never iterated in Python)."""

from datetime import date, datetime, timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from criteria.models import Family
from reviews.models import Determination, Outcome, PriorAuthRequest, Status

# How the dashboard groups statuses into the four shares a plan watches.
SHARE_OF_STATUS = {
    Status.APPROVED: "approved",
    Status.PENDING_INFORMATION: "pended",
    Status.NURSE_REVIEW: "in_review",
    Status.PHYSICIAN_REVIEW: "in_review",
    Status.APPEAL: "in_review",
    Status.DENIED: "denied",
    Status.PARTIALLY_APPROVED: "denied",
}
SHARES = (
    ("approved", "Approved"),
    ("pended", "Pended for information"),
    ("in_review", "In human review"),
    ("denied", "Denied or partly denied"),
)
DECISION_BUCKETS = (
    ("under 1 hour", timedelta(0), timedelta(hours=1)),
    ("1-24 hours", timedelta(hours=1), timedelta(hours=24)),
    ("1-3 days", timedelta(hours=24), timedelta(hours=72)),
    ("3-7 days", timedelta(hours=72), timedelta(days=7)),
    ("over 7 days", timedelta(days=7), None),
)


def received_per_day(*, days: int = 30, today: date | None = None) -> list[dict]:
    """[{"day", "count"}] for the last `days` days, zero-filled."""
    today = today or timezone.localdate()
    start = today - timedelta(days=days - 1)
    rows = (
        PriorAuthRequest.objects.filter(received_at__date__gte=start)
        .annotate(day=TruncDate("received_at"))
        .values("day")
        .annotate(count=Count("id"))
    )
    counts = {row["day"]: row["count"] for row in rows}
    return [
        {"day": start + timedelta(days=i), "count": counts.get(start + timedelta(days=i), 0)}
        for i in range(days)
    ]


def shares_by_family() -> list[dict]:
    """Per procedure family: counts of approved / pended / in review / denied requests."""
    rows = (
        PriorAuthRequest.objects.filter(status__in=list(SHARE_OF_STATUS))
        .values("procedure_family", "status")
        .annotate(count=Count("id"))
    )
    by_family: dict[str, dict[str, int]] = {}
    for row in rows:
        counts = by_family.setdefault(row["procedure_family"], {key: 0 for key, _ in SHARES})
        counts[SHARE_OF_STATUS[row["status"]]] += row["count"]
    labels = dict(Family.choices)
    result = []
    for family in sorted(by_family, key=lambda f: (f == "", f)):
        counts = by_family[family]
        result.append(
            {
                "family": family,
                "label": labels.get(family, "No Lamina policy") if family else "No Lamina policy",
                "counts": counts,
                "total": sum(counts.values()),
            }
        )
    return result


def _initial_decisions():
    return Determination.objects.filter(kind=Determination.Kind.INITIAL).exclude(
        outcome=Outcome.WITHDRAWN
    )


def time_to_decision() -> list[dict]:
    """[{"label", "count"}]: initial determinations by time from receipt to decision."""
    elapsed = ExpressionWrapper(
        F("decided_at") - F("request__received_at"), output_field=DurationField()
    )
    aggregates = {}
    for i, (_, low, high) in enumerate(DECISION_BUCKETS):
        condition = Q(elapsed__gte=low)
        if high is not None:
            condition &= Q(elapsed__lt=high)
        aggregates[f"b{i}"] = Count("id", filter=condition)
    counts = _initial_decisions().annotate(elapsed=elapsed).aggregate(**aggregates)
    return [
        {"label": label, "count": counts[f"b{i}"]}
        for i, (label, _, _) in enumerate(DECISION_BUCKETS)
    ]


def due_compliance(*, now: datetime | None = None) -> list[dict]:
    """Per urgency: decisions on time and late, and open requests already overdue."""
    now = now or timezone.now()
    decided = (
        _initial_decisions()
        .values("request__urgency")
        .annotate(
            on_time=Count("id", filter=Q(decided_at__lte=F("request__due_at"))),
            late=Count("id", filter=Q(decided_at__gt=F("request__due_at"))),
        )
    )
    overdue = (
        PriorAuthRequest.objects.filter(
            status__in=[
                Status.RECEIVED,
                Status.EVALUATING,
                Status.NURSE_REVIEW,
                Status.PHYSICIAN_REVIEW,
            ],
            due_at__lte=now,
        )
        .values("urgency")
        .annotate(count=Count("id"))
    )
    result = {
        urgency: {"urgency": urgency, "on_time": 0, "late": 0, "open_overdue": 0}
        for urgency in ("expedited", "standard")
    }
    for row in decided:
        entry = result.setdefault(
            row["request__urgency"],
            {"urgency": row["request__urgency"], "on_time": 0, "late": 0, "open_overdue": 0},
        )
        entry["on_time"] = row["on_time"]
        entry["late"] = row["late"]
    for row in overdue:
        result[row["urgency"]]["open_overdue"] = row["count"]
    for entry in result.values():
        total = entry["on_time"] + entry["late"]
        entry["decided"] = total
        entry["percent_on_time"] = round(100 * entry["on_time"] / total) if total else None
    return list(result.values())


def queue_by_status() -> list[dict]:
    """[{"status", "label", "count"}] for every open status, zero-filled."""
    open_statuses = [
        Status.RECEIVED,
        Status.EVALUATING,
        Status.PENDING_INFORMATION,
        Status.NURSE_REVIEW,
        Status.PHYSICIAN_REVIEW,
        Status.APPEAL,
    ]
    counts = dict(
        PriorAuthRequest.objects.filter(status__in=open_statuses)
        .values_list("status")
        .annotate(count=Count("id"))
        .values_list("status", "count")
    )
    return [{"status": s.value, "label": s.label, "count": counts.get(s, 0)} for s in open_statuses]


def dashboard_data(*, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    return {
        "received": received_per_day(today=timezone.localdate(now)),
        "shares": shares_by_family(),
        "decision_times": time_to_decision(),
        "compliance": due_compliance(now=now),
        "by_status": queue_by_status(),
    }
