"""The queue: what each role sees, order, badges, filters, search, paging, claim and release."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reviews.models import AuditEvent, Member, Organization, PriorAuthRequest, Status
from reviews.roles import user_create
from tests.conftest import PASSWORD
from tests.reviews.web.builders import review_case

pytestmark = pytest.mark.django_db


def rows(response) -> list[int]:
    """The request ids in the queue table, in display order."""
    return [row.pa_request.pk for row in response.context["page"].object_list]


def test_nurse_sees_nurse_review_only(nurse_client, provider_a):
    mine = review_case(provider_a)
    physicians = review_case(provider_a, status=Status.PHYSICIAN_REVIEW)
    response = nurse_client.get("/")
    assert response.status_code == 200
    assert rows(response) == [mine.pk]
    assert physicians.reference.encode() not in response.content


def test_physician_sees_physician_review_first_class(physician_client, provider_a):
    escalated = review_case(provider_a, status=Status.PHYSICIAN_REVIEW)
    response = physician_client.get("/", {"status": Status.PHYSICIAN_REVIEW})
    assert rows(response) == [escalated.pk]


def test_queue_is_ordered_by_due_time(nurse_client, provider_a):
    later = review_case(provider_a)
    sooner = review_case(provider_a, urgency="expedited")
    PriorAuthRequest.objects.filter(pk=later.pk).update(due_at=timezone.now() + timedelta(days=6))
    PriorAuthRequest.objects.filter(pk=sooner.pk).update(due_at=timezone.now() + timedelta(days=2))
    assert rows(nurse_client.get("/")) == [sooner.pk, later.pk]


def test_badges_are_computed_from_due_time_not_the_stored_mark(nurse_client, provider_a):
    now = timezone.now()
    overdue = review_case(provider_a)
    at_risk = review_case(provider_a)
    on_time = review_case(provider_a)
    # The stored clock_state still says on_time for all three (the beat task has not run).
    PriorAuthRequest.objects.filter(pk=overdue.pk).update(
        received_at=now - timedelta(days=8), due_at=now - timedelta(days=1)
    )
    PriorAuthRequest.objects.filter(pk=at_risk.pk).update(
        received_at=now - timedelta(days=6, hours=12), due_at=now + timedelta(hours=12)
    )
    response = nurse_client.get("/")
    html = response.content.decode()
    clocks = {row.pa_request.pk: row.clock for row in response.context["page"].object_list}
    assert clocks == {overdue.pk: "overdue", at_risk.pk: "at_risk", on_time.pk: "on_time"}
    assert f'id="row-{overdue.pk}" class="clock-overdue"' in html
    assert "Overdue" in html and "At risk" in html
    assert "8d 0h" in html  # the age of the overdue request


def test_row_shows_urgency_family_member_and_provider(nurse_client, provider_a):
    case = review_case(provider_a, urgency="expedited")
    html = nurse_client.get("/").content.decode()
    assert "Expedited" in html
    assert "Epidural steroid injection" in html
    assert case.member.member_id in html
    assert "Northside Spine Clinic" in html


def test_filters(nurse_client, nurse, provider_a):
    standard = review_case(provider_a)
    expedited = review_case(provider_a, urgency="expedited")
    PriorAuthRequest.objects.filter(pk=standard.pk).update(assigned_to=nurse)
    assert rows(nurse_client.get("/", {"urgency": "expedited"})) == [expedited.pk]
    assert rows(nurse_client.get("/", {"assigned": "me"})) == [standard.pk]
    assert rows(nurse_client.get("/", {"assigned": "unassigned"})) == [expedited.pk]
    assert rows(nurse_client.get("/", {"family": "spinal_fusion"})) == []
    assert len(rows(nurse_client.get("/", {"family": "epidural_steroid_injection"}))) == 2
    assert rows(nurse_client.get("/", {"family": "none"})) == []
    # A status outside the nurse's queue does not widen it.
    assert len(rows(nurse_client.get("/", {"status": Status.APPROVED}))) == 2


@pytest.mark.parametrize("form", ["reference", "number", "padded", "member"])
def test_search_by_request_or_member_id(nurse_client, provider_a, form):
    case = review_case(provider_a)
    review_case(provider_a)
    text = {
        "reference": case.reference,
        "number": str(case.pk),
        "padded": f"pa-{case.pk:08d}",
        "member": case.member.member_id.lower(),
    }[form]
    assert rows(nurse_client.get("/", {"q": text})) == [case.pk]


@pytest.mark.parametrize(
    "query",
    [
        {"q": "99999999999999999999999999"},
        {"q": "PA-"},
        {"q": "' OR 1=1 --"},
        {"page": "abc"},
        {"page": "-3"},
        {"page": "999999"},
        {"assigned": "someone"},
        {"family": "<script>"},
        {"q": "W1\x002", "family": "\x00", "urgency": "\x00"},
    ],
)
def test_odd_queries_never_fail(nurse_client, provider_a, query):
    review_case(provider_a)
    response = nurse_client.get("/", query)
    assert response.status_code == 200


def test_pagination(nurse_client, provider_a):
    org = provider_a.organization
    _bulk_requests(organization=org, submitted_by=provider_a, count=30)
    first = nurse_client.get("/")
    second = nurse_client.get("/", {"page": 2})
    assert len(rows(first)) == 25
    assert len(rows(second)) == 5
    assert not set(rows(first)) & set(rows(second))
    assert b"Page 1 of 2" in first.content


def test_htmx_filter_returns_the_results_fragment(nurse_client, provider_a):
    review_case(provider_a)
    response = nurse_client.get(
        "/", {"urgency": "standard"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="queue-results"
    )
    assert response.status_code == 200
    assert b"<html" not in response.content
    assert b'<table class="queue">' in response.content


def test_claim_with_htmx_updates_the_row(nurse_client, nurse, provider_a):
    case = review_case(provider_a)
    response = nurse_client.post(reverse("claim", args=[case.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith(f'<tr id="row-{case.pk}"')
    assert "Release" in html and "<strong>you</strong>" in html
    case.refresh_from_db()
    assert case.assigned_to == nurse
    assert AuditEvent.objects.filter(request_id_ref=case.pk, action="assigned").count() == 1


def test_second_claim_shows_who_holds_it(nurse_client, nurse2, provider_a):
    from tests.reviews.web.conftest import signed_in

    case = review_case(provider_a)
    nurse_client.post(reverse("claim", args=[case.pk]), HTTP_HX_REQUEST="true")
    response = signed_in(nurse2).post(reverse("claim", args=[case.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b"Already claimed by nurse." in response.content
    case.refresh_from_db()
    assert case.assigned_to.username == "nurse"


def test_release_with_htmx(nurse_client, provider_a):
    case = review_case(provider_a)
    nurse_client.post(reverse("claim", args=[case.pk]), HTTP_HX_REQUEST="true")
    response = nurse_client.post(reverse("release", args=[case.pk]), HTTP_HX_REQUEST="true")
    assert b"Claim" in response.content
    case.refresh_from_db()
    assert case.assigned_to is None
    assert AuditEvent.objects.filter(request_id_ref=case.pk, action="unassigned").count() == 1


def test_claim_without_htmx_redirects_back_with_a_message(nurse_client, provider_a):
    case = review_case(provider_a)
    response = nurse_client.post(reverse("claim", args=[case.pk]), follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert f"You hold {case.reference}.".encode() in response.content


def test_release_of_a_case_you_do_not_hold_is_refused(nurse_client, provider_a):
    case = review_case(provider_a)
    response = nurse_client.post(reverse("release", args=[case.pk]), HTTP_HX_REQUEST="true")
    assert b"You do not hold this case." in response.content


def test_claim_of_a_case_outside_your_queue_is_refused(nurse_client, provider_a):
    case = review_case(provider_a, status=Status.PHYSICIAN_REVIEW)
    response = nurse_client.post(reverse("claim", args=[case.pk]), follow=True)
    assert b"no longer in your queue" in response.content
    case.refresh_from_db()
    assert case.assigned_to is None


def test_claim_of_an_unknown_request_is_404(nurse_client):
    assert nurse_client.post(reverse("claim", args=[987654321])).status_code == 404


# --- Constant query count ------------------------------------------------------------------------


def _bulk_requests(*, organization, submitted_by, count: int, start: int = 0) -> None:
    now = timezone.now()
    members = Member.objects.bulk_create(
        Member(
            member_id=f"B{start + i:09d}",
            first_name="Bulk",
            last_name=f"Member{i}",
            birth_date="1960-01-01",
            sex="female",
        )
        for i in range(count)
    )
    PriorAuthRequest.objects.bulk_create(
        PriorAuthRequest(
            organization=organization,
            submitted_by=submitted_by,
            member=member,
            urgency="expedited" if i % 3 == 0 else "standard",
            line_of_business="commercial",
            requesting_provider_npi="1679576722",
            requesting_provider_name="Priya Raman, MD",
            procedure_family="epidural_steroid_injection",
            service={"cpt_codes": ["64483"], "levels": ["L5-S1"]},
            diagnosis_codes=["M51.17"],
            clinical={},
            status=Status.NURSE_REVIEW,
            received_at=now - timedelta(hours=i % 200),
            due_at=now + timedelta(hours=(i * 7) % 300 - 40),
        )
        for i, member in enumerate(members)
    )


def _queries_for_page(client, **query) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/", query)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_queue_page_query_count_does_not_grow_with_the_queue(provider_a):
    from tests.reviews.web.conftest import signed_in

    org = Organization.objects.create(name="Bulk Clinic")
    reviewer = user_create(username="reviewer", password=PASSWORD, role="nurse")
    other = user_create(username="other", password=PASSWORD, role="nurse")
    client = signed_in(reviewer)
    _bulk_requests(organization=org, submitted_by=provider_a, count=10)
    # Some held by the reviewer, some by someone else: the assignee must not cost a query a row.
    ids = list(PriorAuthRequest.objects.order_by("due_at").values_list("pk", flat=True))
    PriorAuthRequest.objects.filter(pk__in=ids[:3]).update(assigned_to=reviewer)
    PriorAuthRequest.objects.filter(pk__in=ids[3:6]).update(assigned_to=other)
    ten = _queries_for_page(client)
    ten_filtered = _queries_for_page(client, urgency="standard", q="", assigned="")

    _bulk_requests(organization=org, submitted_by=provider_a, count=990, start=10_000)
    ids = list(PriorAuthRequest.objects.order_by("due_at").values_list("pk", flat=True))
    PriorAuthRequest.objects.filter(pk__in=ids[:300:3]).update(assigned_to=reviewer)
    PriorAuthRequest.objects.filter(pk__in=ids[1:300:3]).update(assigned_to=other)
    assert PriorAuthRequest.objects.count() == 1000
    thousand = _queries_for_page(client)
    thousand_page_3 = _queries_for_page(client, page=3)
    thousand_filtered = _queries_for_page(client, urgency="standard", q="", assigned="")

    assert thousand == ten
    assert thousand_page_3 == ten
    assert thousand_filtered == ten_filtered
