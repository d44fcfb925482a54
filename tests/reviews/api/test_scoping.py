"""A provider sees only its own organization's requests; another's is a 404, never a 403."""

import pytest

from reviews.models import AuditEvent, PriorAuthRequest, Status
from reviews.services import request_information_ask
from tests.conftest import example, post_json

URL = "/api/v1/requests/"


@pytest.fixture
def request_of_a(api_a):
    response = post_json(api_a, URL, example("esi-lumbar-radiculopathy"))
    assert response.status_code == 201
    return PriorAuthRequest.objects.get(pk=response.json()["id"])


def test_b_does_not_see_a_in_its_list(api_a, api_b, request_of_a):
    own = post_json(api_b, URL, example("rfa-lumbar-after-two-blocks")).json()

    listed_b = api_b.get(URL).json()
    listed_a = api_a.get(URL).json()

    assert [r["id"] for r in listed_b["results"]] == [own["id"]]
    assert listed_b["count"] == 1
    assert [r["id"] for r in listed_a["results"]] == [request_of_a.pk]


def test_b_reading_a_request_of_a_is_a_404_and_records_no_view(api_b, request_of_a):
    response = api_b.get(f"{URL}{request_of_a.pk}/")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found.", "fields": {}}
    assert not AuditEvent.objects.filter(action="request_viewed").exists()


def test_b_answering_for_a_is_a_404_and_changes_nothing(api_b, request_of_a):
    request_information_ask(
        pa_request=request_of_a,
        actor="engine",
        items=[{"field": "clinical.imaging", "why": "MRI needed", "criterion": "ESI-02"}],
    )
    before = AuditEvent.objects.count()

    response = post_json(
        api_b, f"{URL}{request_of_a.pk}/information/", {"clinical": {"pain_score_nrs": 3}}
    )

    assert response.status_code == 404
    request_of_a.refresh_from_db()
    assert request_of_a.status == Status.PENDING_INFORMATION
    assert request_of_a.clinical["pain_score_nrs"] == 7
    assert AuditEvent.objects.count() == before


def test_b_withdrawing_a_request_of_a_is_a_404_and_changes_nothing(api_b, request_of_a):
    before = AuditEvent.objects.count()

    response = post_json(api_b, f"{URL}{request_of_a.pk}/withdraw/", {"reason": "mine"})

    assert response.status_code == 404
    request_of_a.refresh_from_db()
    assert request_of_a.status == Status.EVALUATING
    assert AuditEvent.objects.count() == before


def test_a_request_that_does_not_exist_looks_the_same_as_another_organizations(api_b, request_of_a):
    missing = api_b.get(f"{URL}{request_of_a.pk + 1000}/")
    foreign = api_b.get(f"{URL}{request_of_a.pk}/")

    assert missing.status_code == foreign.status_code == 404
    assert missing.json() == foreign.json()


def test_the_owner_reads_its_request_and_the_view_is_audited(api_a, provider_a, request_of_a):
    response = api_a.get(f"{URL}{request_of_a.pk}/")

    assert response.status_code == 200
    event = AuditEvent.objects.get(action="request_viewed")
    assert event.actor == provider_a
    assert event.request_id_ref == request_of_a.pk
    assert event.role == "provider"
    assert event.source_ip == "127.0.0.1"


def test_an_id_beyond_any_row_is_a_404_not_a_500(api_a):
    huge = "9" * 30

    assert api_a.get(f"{URL}{huge}/").status_code == 404
    assert post_json(api_a, f"{URL}{huge}/withdraw/", {}).status_code == 404
