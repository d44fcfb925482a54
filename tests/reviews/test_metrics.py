"""CMS-0057-F metrics for a hand-built set of requests whose right figures are known."""

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from reviews.models import Determination, Status
from reviews.selectors.metrics import CSV_HEADER, metrics_for_period
from tests.factories import PriorAuthRequestFactory

MARCH = {"start": date(2026, 3, 1), "end": date(2026, 3, 31)}


def at(day: str, hour: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def case(
    *,
    received: datetime,
    hours: float,
    outcome: str,
    urgency: str = "standard",
    family: str = "epidural_steroid_injection",
    extended: bool = False,
    appeal: tuple[str, datetime] | None = None,
):
    """A request received at `received` and decided `hours` later; optionally appealed."""
    decided = received + timedelta(hours=hours)
    pa_request = PriorAuthRequestFactory(
        status=outcome,
        urgency=urgency,
        procedure_family=family,
        received_at=received,
        due_at=received + timedelta(days=7),
        decided_at=decided,
    )
    Determination.objects.create(
        request=pa_request,
        outcome=outcome,
        decided_by_role="physician",
        decided_at=decided,
        review_extended=extended,
    )
    if appeal:
        appeal_outcome, appeal_decided = appeal
        Determination.objects.create(
            request=pa_request,
            kind=Determination.Kind.APPEAL,
            outcome=appeal_outcome,
            decided_by_role="physician",
            decided_at=appeal_decided,
            appeal_result="overturned" if appeal_outcome == "approved" else "upheld",
        )
    return pa_request


@pytest.fixture
def march(db):
    # Standard, epidural steroid injections: 10 h, 24 h (extended), 48 h (denied, overturned on
    # appeal in March), 96 h (partial).
    case(received=at("2026-03-01"), hours=10, outcome="approved")
    case(received=at("2026-03-02"), hours=24, outcome="approved", extended=True)
    case(
        received=at("2026-03-03"),
        hours=48,
        outcome="denied",
        appeal=("approved", at("2026-03-20")),
    )
    case(received=at("2026-03-04"), hours=96, outcome="partially_approved")
    # Standard, fusion: denied and upheld; denied and overturned only in April (after the period).
    case(
        received=at("2026-03-10"),
        hours=72,
        outcome="denied",
        family="spinal_fusion",
        appeal=("denied", at("2026-03-25")),
    )
    case(
        received=at("2026-03-10"),
        hours=24,
        outcome="denied",
        family="spinal_fusion",
        appeal=("approved", at("2026-04-05")),
    )
    # Standard, no Lamina policy: 5 h.
    case(received=at("2026-03-15"), hours=5, outcome="approved", family="")
    # Expedited, epidural steroid injections: 2 h, 6 h (denied), 4 h.
    case(received=at("2026-03-05"), hours=2, outcome="approved", urgency="expedited")
    case(received=at("2026-03-05"), hours=6, outcome="denied", urgency="expedited")
    case(received=at("2026-03-06"), hours=4, outcome="approved", urgency="expedited")
    # Outside the period on both sides, and a withdrawal (not a decision) inside it.
    case(received=at("2026-02-27"), hours=47, outcome="approved")
    case(received=at("2026-03-31", 20), hours=4, outcome="approved")
    withdrawn = PriorAuthRequestFactory(status=Status.WITHDRAWN, received_at=at("2026-03-08"))
    Determination.objects.create(
        request=withdrawn,
        outcome="withdrawn",
        decided_by_role="provider",
        decided_at=at("2026-03-09"),
    )


def test_standard_requests_overall(march):
    row = metrics_for_period(**MARCH).row("all", "standard").as_dict()

    assert row == {
        "procedure_family": "all",
        "urgency": "standard",
        "decided": 7,
        "approved": 3,
        "approved_pct": 42.9,
        "partially_approved": 1,
        "partially_approved_pct": 14.3,
        "denied": 3,
        "denied_pct": 42.9,
        "approved_after_appeal": 1,
        "approved_after_appeal_pct": 14.3,
        "approved_after_extension": 1,
        "approved_after_extension_pct": 14.3,
        # 10, 24, 48, 96, 72, 24, 5 hours.
        "average_hours_to_decision": 39.86,
        "median_hours_to_decision": 24.0,
    }


def test_expedited_requests_overall(march):
    row = metrics_for_period(**MARCH).row("all", "expedited")

    assert (row.decided, row.approved, row.denied) == (3, 2, 1)
    assert (row.percent("approved"), row.percent("denied")) == (66.7, 33.3)
    assert (row.hours(row.average), row.hours(row.median)) == (4.0, 4.0)


def test_broken_down_by_procedure_family(march):
    report = metrics_for_period(**MARCH)

    esi = report.row("epidural_steroid_injection", "standard").as_dict()
    fusion = report.row("spinal_fusion", "standard").as_dict()
    unclassified = report.row("unclassified", "standard").as_dict()

    assert (esi["decided"], esi["approved_pct"], esi["partially_approved_pct"]) == (4, 50.0, 25.0)
    assert (esi["denied_pct"], esi["approved_after_appeal_pct"]) == (25.0, 25.0)
    assert esi["approved_after_extension_pct"] == 25.0
    # 10, 24, 48, 96 hours: the median is the mean of the middle two.
    assert (esi["average_hours_to_decision"], esi["median_hours_to_decision"]) == (44.5, 36.0)
    # The April overturn is after the period: it does not count for March.
    assert (fusion["decided"], fusion["denied_pct"], fusion["approved_after_appeal"]) == (
        2,
        100.0,
        0,
    )
    assert (fusion["average_hours_to_decision"], fusion["median_hours_to_decision"]) == (48.0, 48.0)
    assert (unclassified["decided"], unclassified["approved_pct"]) == (1, 100.0)
    assert report.row("epidural_steroid_injection", "expedited").decided == 3
    assert report.row("spinal_fusion", "expedited") is None
    assert [(r.procedure_family, r.urgency) for r in report.rows][:2] == [
        ("all", "standard"),
        ("all", "expedited"),
    ]


def test_a_period_ending_later_counts_the_later_overturn(march):
    row = metrics_for_period(start=date(2026, 3, 1), end=date(2026, 4, 30)).row(
        "spinal_fusion", "standard"
    )

    assert row.approved_after_appeal == 1


def test_an_empty_period_shows_empty_overall_rows(db):
    report = metrics_for_period(start=date(2020, 1, 1), end=date(2020, 12, 31))

    assert [r.as_dict()["decided"] for r in report.rows] == [0, 0]
    assert report.row("all", "standard").as_dict()["approved_pct"] is None


def test_the_command_prints_the_figures(march, capsys):
    call_command("metrics_report", "--start", "2026-03-01", "--end", "2026-03-31")

    out = capsys.readouterr().out
    assert "2026-03-01 to 2026-03-31" in out
    assert "42.9" in out and "39.86" in out and "spinal_fusion" in out


def test_the_command_writes_csv(march, capsys):
    call_command("metrics_report", "--start", "2026-03-01", "--end", "2026-03-31", "--csv")

    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert tuple(rows[0]) == CSV_HEADER
    overall = dict(zip(rows[0], rows[1], strict=True))
    assert (overall["procedure_family"], overall["urgency"], overall["decided"]) == (
        "all",
        "standard",
        "7",
    )
    assert overall["median_hours_to_decision"] == "24.0"


def test_the_command_refuses_a_reversed_period(db):
    with pytest.raises(CommandError, match="before"):
        call_command("metrics_report", "--start", "2026-03-31", "--end", "2026-03-01")


def test_auditors_read_the_metrics_as_json_and_csv(march, client, auditor):
    client.force_login(auditor)

    data = client.get("/api/v1/audit/metrics/?start=2026-03-01&end=2026-03-31").json()
    response = client.get("/api/v1/audit/metrics.csv?start=2026-03-01&end=2026-03-31")
    page = client.get("/audit/metrics/?start=2026-03-01&end=2026-03-31")

    assert data["rows"][0]["approved_pct"] == 42.9
    assert response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].split(",") == list(CSV_HEADER)
    assert len(lines) == 1 + len(data["rows"])
    assert page.status_code == 200
    assert b"42.9 %" in page.content and b"39.86" in page.content


def test_a_bad_period_is_a_400(db, client, auditor):
    client.force_login(auditor)

    response = client.get("/api/v1/audit/metrics/?start=2026-03-31&end=nonsense")

    assert response.status_code == 400
    assert "end" in response.json()["fields"]
