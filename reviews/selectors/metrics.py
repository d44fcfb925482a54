"""CMS-0057-F prior-authorization metrics for a period, computed in the database.

The cohort is every request whose initial determination (approved, partially approved or
denied; withdrawals are not decisions) was made in the period, by local calendar day, inclusive.
For each urgency, overall and per procedure family:
- the share approved, partially approved and denied (they add up to 100 %);
- the share approved after appeal: the initial determination was overturned by an appeal decided
  by the end of the period (so a report for a closed period never changes);
- the share approved after the review time was extended (Determination.review_extended: the
  provider was asked for more information before the approval);
- the average and median time from receipt to the initial determination, in hours.

Counts and the average are one grouped query; the median is PERCENTILE_CONT on PostgreSQL. The
embedded SQLite default has no ordered-set aggregates, so there the median is taken in Python.
"""

import statistics
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
)

from reviews.models import Determination, Outcome, Urgency
from reviews.selectors.audit import NO_FAMILY, day_start

ALL_FAMILIES = "all"
COUNTS = ("approved", "partially_approved", "denied", "approved_after_appeal",
          "approved_after_extension")  # fmt: skip
CSV_HEADER = (
    "procedure_family",
    "urgency",
    "decided",
    *(name for count in COUNTS for name in (count, f"{count}_pct")),
    "average_hours_to_decision",
    "median_hours_to_decision",
)


class Median(Aggregate):
    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


@dataclass
class MetricsRow:
    procedure_family: str
    urgency: str
    decided: int = 0
    approved: int = 0
    partially_approved: int = 0
    denied: int = 0
    approved_after_appeal: int = 0
    approved_after_extension: int = 0
    average: timedelta | None = None
    median: timedelta | None = None

    def percent(self, count: str) -> float | None:
        if not self.decided:
            return None
        return round(100 * getattr(self, count) / self.decided, 1)

    @staticmethod
    def hours(value: timedelta | None) -> float | None:
        return None if value is None else round(value.total_seconds() / 3600, 2)

    def as_dict(self) -> dict:
        out = {"procedure_family": self.procedure_family, "urgency": self.urgency}
        out["decided"] = self.decided
        for count in COUNTS:
            out[count] = getattr(self, count)
            out[f"{count}_pct"] = self.percent(count)
        out["average_hours_to_decision"] = self.hours(self.average)
        out["median_hours_to_decision"] = self.hours(self.median)
        return out

    def as_csv_row(self) -> list:
        return ["" if v is None else v for v in self.as_dict().values()]


@dataclass
class MetricsReport:
    start: date
    end: date
    rows: list[MetricsRow] = field(default_factory=list)

    def row(self, procedure_family: str, urgency: str) -> MetricsRow | None:
        for row in self.rows:
            if row.procedure_family == procedure_family and row.urgency == urgency:
                return row
        return None

    def as_dict(self) -> dict:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "cohort": "requests with an initial determination in the period",
            "rows": [row.as_dict() for row in self.rows],
        }


def _cohort(start: date, end: date):
    end_bound = day_start(end + timedelta(days=1))
    overturned = Determination.objects.filter(
        request=OuterRef("request"),
        kind=Determination.Kind.APPEAL,
        outcome=Outcome.APPROVED,
        decided_at__lt=end_bound,
    )
    return Determination.objects.filter(
        kind=Determination.Kind.INITIAL,
        outcome__in=[Outcome.APPROVED, Outcome.PARTIALLY_APPROVED, Outcome.DENIED],
        decided_at__gte=day_start(start),
        decided_at__lt=end_bound,
    ).annotate(
        overturned=Exists(overturned),
        elapsed=ExpressionWrapper(F("decided_at") - F("request__received_at"), DurationField()),
    )


def _aggregates(with_median: bool) -> dict:
    figures = {
        "decided": Count("pk"),
        "approved": Count("pk", filter=Q(outcome=Outcome.APPROVED)),
        "partially_approved": Count("pk", filter=Q(outcome=Outcome.PARTIALLY_APPROVED)),
        "denied": Count("pk", filter=Q(outcome=Outcome.DENIED)),
        "approved_after_appeal": Count("pk", filter=Q(overturned=True)),
        "approved_after_extension": Count(
            "pk", filter=Q(outcome=Outcome.APPROVED, review_extended=True)
        ),
        "average": Avg("elapsed"),
    }
    if with_median:
        figures["median"] = Median("elapsed")
    return figures


def _python_medians(cohort, by_family: bool) -> dict[tuple[str, str], timedelta]:
    """The median per group on a database without PERCENTILE_CONT (the embedded SQLite)."""
    groups: dict[tuple[str, str], list[timedelta]] = {}
    rows = cohort.values_list("request__urgency", "request__procedure_family", "elapsed")
    for urgency, family, elapsed in rows.iterator():
        key = (urgency, (family or NO_FAMILY) if by_family else ALL_FAMILIES)
        groups.setdefault(key, []).append(elapsed)
    return {key: statistics.median(values) for key, values in groups.items()}


def metrics_for_period(*, start: date, end: date) -> MetricsReport:
    """The figures for [start, end], inclusive: all families first, then each family."""
    cohort = _cohort(start, end)
    in_database = connection.vendor == "postgresql"
    report = MetricsReport(start=start, end=end)
    for by_family in (False, True):
        keys = (
            ["request__urgency", "request__procedure_family"] if by_family else ["request__urgency"]
        )
        grouped = cohort.values(*keys).annotate(**_aggregates(in_database)).order_by(*keys)
        medians = {} if in_database else _python_medians(cohort, by_family)
        found = {}
        for values in grouped:
            family = (
                (values.get("request__procedure_family") or NO_FAMILY)
                if by_family
                else ALL_FAMILIES
            )
            urgency = values["request__urgency"]
            row = MetricsRow(
                procedure_family=family,
                urgency=urgency,
                **{name: values[name] for name in ("decided", *COUNTS, "average")},
                median=values["median"] if in_database else medians.get((urgency, family)),
            )
            found[(family, urgency)] = row
        if not by_family:
            # The overall rows are always shown, even for an empty period.
            for urgency in (Urgency.STANDARD, Urgency.EXPEDITED):
                report.rows.append(
                    found.get((ALL_FAMILIES, urgency)) or MetricsRow(ALL_FAMILIES, urgency)
                )
        else:
            # Each family's standard row first, as in the overall rows.
            order = sorted(found, key=lambda key: (key[0], key[1] != Urgency.STANDARD))
            report.rows.extend(found[key] for key in order)
    return report
