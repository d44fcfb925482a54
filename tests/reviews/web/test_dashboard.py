"""The dashboard: aggregate reads and their server-rendered SVG charts."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviews.models import PriorAuthRequest, Status
from reviews.selectors import dashboard
from reviews.services import determination_record, request_claim, request_escalate
from tests.reviews.web.builders import review_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(provider_a, nurse, physician):
    """Two approvals (one late), one denial, one pended and two open cases."""
    approved = review_case(provider_a)
    request_claim(pa_request=approved, actor=nurse)
    determination_record(pa_request=approved, outcome="approved", actor=nurse)
    late = review_case(provider_a, urgency="expedited")
    PriorAuthRequest.objects.filter(pk=late.pk).update(
        received_at=timezone.now() - timedelta(days=5), due_at=timezone.now() - timedelta(days=2)
    )
    request_claim(pa_request=late, actor=nurse)
    determination_record(pa_request=late, outcome="approved", actor=nurse)
    denied = review_case(provider_a)
    request_claim(pa_request=denied, actor=nurse)
    request_escalate(pa_request=denied, actor=nurse, note="x")
    request_claim(pa_request=denied, actor=physician)
    determination_record(
        pa_request=denied,
        outcome="denied",
        actor=physician,
        reasons=[{"criterion": "ESI-05", "statement": "s"}],
        rationale="r",
    )
    review_case(provider_a, status=Status.PENDING_INFORMATION)
    review_case(provider_a)
    review_case(provider_a, status=Status.PHYSICIAN_REVIEW)


def test_shares_by_family(history):
    [esi] = dashboard.shares_by_family()
    assert esi["label"] == "Epidural steroid injection"
    assert esi["counts"] == {"approved": 2, "pended": 1, "in_review": 2, "denied": 1}


def test_time_to_decision(history):
    buckets = {b["label"]: b["count"] for b in dashboard.time_to_decision()}
    assert buckets["under 1 hour"] == 2
    assert buckets["3-7 days"] == 1
    assert sum(buckets.values()) == 3


def test_due_compliance(history):
    rows = {r["urgency"]: r for r in dashboard.due_compliance()}
    assert (rows["standard"]["on_time"], rows["standard"]["late"]) == (2, 0)
    assert (rows["expedited"]["on_time"], rows["expedited"]["late"]) == (0, 1)
    assert rows["expedited"]["percent_on_time"] == 0


def test_queue_by_status(history):
    counts = {r["status"]: r["count"] for r in dashboard.queue_by_status()}
    assert counts[Status.NURSE_REVIEW] == 1
    assert counts[Status.PHYSICIAN_REVIEW] == 1
    assert counts[Status.PENDING_INFORMATION] == 1
    assert counts[Status.APPEAL] == 0


def test_received_per_day(history):
    days = dashboard.received_per_day()
    assert len(days) == 30
    assert days[-1]["count"] == 5
    assert days[-6]["count"] == 1


def test_dashboard_page_draws_svg_charts_without_a_cdn(nurse_client, history):
    response = nurse_client.get("/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<svg class="chart"') == 5
    assert "Epidural steroid injection" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html


def test_dashboard_query_count_is_fixed(nurse_client, history, provider_a):
    with CaptureQueriesContext(connection) as small:
        nurse_client.get("/dashboard/")
    for _ in range(5):
        review_case(provider_a)
    with CaptureQueriesContext(connection) as large:
        nurse_client.get("/dashboard/")
    assert len(large.captured_queries) == len(small.captured_queries)


def test_empty_dashboard_renders(auditor_client):
    assert auditor_client.get("/dashboard/").status_code == 200
