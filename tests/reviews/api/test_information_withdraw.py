"""Answering a request for information, withdrawing, and what the detail shows after the checks."""

import pytest

from reviews.models import (
    Attachment,
    AuditEvent,
    Determination,
    InformationRequest,
    PriorAuthRequest,
    Status,
)
from reviews.services import evidence_checks_run, request_information_ask
from tests.conftest import example, post_json

URL = "/api/v1/requests/"
ITEMS = [
    {
        "field": "clinical.conservative_care",
        "why": "The criteria need the conservative care tried.",
        "criterion": "ESI-05",
    }
]


def submitted(client, name: str = "esi-lumbar-radiculopathy") -> PriorAuthRequest:
    response = post_json(client, URL, example(name))
    assert response.status_code == 201, response.json()
    return PriorAuthRequest.objects.get(pk=response.json()["id"])


@pytest.fixture
def pending(api_a):
    pa_request = submitted(api_a)
    request_information_ask(pa_request=pa_request, actor="engine", items=ITEMS)
    return pa_request


def test_the_detail_says_what_is_missing_and_where_to_answer(api_a, pending):
    data = api_a.get(f"{URL}{pending.pk}/").json()

    assert data["status"] == Status.PENDING_INFORMATION
    assert data["missing_information"] == ITEMS
    assert data["links"]["information"].endswith(f"/api/v1/requests/{pending.pk}/information/")


def test_an_answer_is_merged_recorded_and_sent_back_to_the_checks(api_a, provider_a, pending):
    answer = {
        "clinical": {
            "pain_score_nrs": 6,
            "red_flags": {"dialysis_or_diabetes": False},
            "conservative_care": [
                {
                    "modality": "physical_therapy",
                    "start_date": "2026-08-25",
                    "end_date": "2026-10-20",
                    "visits": 12,
                    "outcome": "failed",
                }
            ],
        },
        "attachments": [
            {"kind": "clinical_note", "date": "2026-11-10", "title": "PT discharge", "text": "..."}
        ],
        "message": "PT notes attached.",
    }

    response = post_json(api_a, f"{URL}{pending.pk}/information/", answer)

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == Status.EVALUATING
    assert response.json()["missing_information"] == []
    pending.refresh_from_db()
    assert pending.clinical["pain_score_nrs"] == 6
    assert pending.clinical["conservative_care"] == answer["clinical"]["conservative_care"]
    # Objects of facts merge key by key: the red flags sent before are still there.
    assert pending.clinical["red_flags"]["fever"] is False
    assert pending.clinical["red_flags"]["dialysis_or_diabetes"] is False
    assert pending.evaluation_round == 2
    assert Attachment.objects.filter(request=pending, source="information").count() == 1
    info = InformationRequest.objects.get(request=pending)
    assert info.answered_at is not None
    assert info.answer["message"] == "PT notes attached."
    assert AuditEvent.objects.filter(
        request_id_ref=pending.pk, action="information_answered", actor=provider_a
    ).exists()


def test_an_empty_answer_is_a_400(api_a, pending):
    response = post_json(api_a, f"{URL}{pending.pk}/information/", {})

    assert response.status_code == 400
    assert "clinical" in response.json()["fields"]
    pending.refresh_from_db()
    assert pending.status == Status.PENDING_INFORMATION


def test_an_answer_with_bad_facts_is_a_400_that_changes_nothing(api_a, pending):
    before = AuditEvent.objects.count()

    response = post_json(
        api_a,
        f"{URL}{pending.pk}/information/",
        {"clinical": {"pain_score_nrs": 14, "pain_scroe": 3}},
    )

    assert response.status_code == 400
    assert {"clinical.pain_score_nrs", "clinical.pain_scroe"} <= set(response.json()["fields"])
    pending.refresh_from_db()
    assert pending.status == Status.PENDING_INFORMATION
    assert pending.clinical["pain_score_nrs"] == 7
    assert AuditEvent.objects.count() == before


def test_answering_when_nothing_was_asked_is_a_409(api_a):
    pa_request = submitted(api_a)

    response = post_json(
        api_a, f"{URL}{pa_request.pk}/information/", {"clinical": {"pain_score_nrs": 6}}
    )

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


def test_withdrawing_records_a_withdrawn_determination(api_a, provider_a):
    pa_request = submitted(api_a)

    response = post_json(
        api_a, f"{URL}{pa_request.pk}/withdraw/", {"reason": "Patient chose surgery elsewhere."}
    )

    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["status"] == Status.WITHDRAWN
    assert data["determination"]["outcome"] == "withdrawn"
    assert data["determination"]["decided_by_role"] == "provider"
    assert data["determination"]["rationale"] == "Patient chose surgery elsewhere."
    assert data["links"]["withdraw"] is None
    assert Determination.objects.filter(request=pa_request, outcome="withdrawn").count() == 1
    assert AuditEvent.objects.filter(
        request_id_ref=pa_request.pk, action="status_changed", data__to="withdrawn"
    ).exists()


def test_withdrawing_without_a_body_works(api_a):
    pa_request = submitted(api_a)

    response = api_a.post(f"{URL}{pa_request.pk}/withdraw/", HTTP_IDEMPOTENCY_KEY="no-body")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == Status.WITHDRAWN


def test_a_pending_request_can_be_withdrawn(api_a, pending):
    response = post_json(api_a, f"{URL}{pending.pk}/withdraw/", {})

    assert response.status_code == 200
    assert response.json()["status"] == Status.WITHDRAWN


def test_an_unknown_withdraw_field_is_a_400(api_a):
    pa_request = submitted(api_a)

    response = post_json(api_a, f"{URL}{pa_request.pk}/withdraw/", {"reson": "typo"})

    assert response.status_code == 400
    assert "reson" in response.json()["fields"]
    pa_request.refresh_from_db()
    assert pa_request.status == Status.EVALUATING


def test_an_approved_request_shows_its_criteria_and_authorization(api_a, policies):
    pa_request = submitted(api_a, "esi-lumbar-radiculopathy")
    evidence_checks_run(pa_request=pa_request)

    data = api_a.get(f"{URL}{pa_request.pk}/").json()

    assert data["status"] == Status.APPROVED
    assert data["recommendation"] == "approve"
    by_id = {c["id"]: c for c in data["criteria"]}
    assert by_id["ESI-05"]["answer"] == "met"
    assert by_id["ESI-05"]["statement"] and by_id["ESI-05"]["citation"]["sources"]
    determination = data["determination"]
    assert determination["outcome"] == "approved"
    assert determination["decided_by_role"] == "engine"
    assert determination["authorization_number"]
    assert determination["approved_cpt_codes"] == ["64483"]
    assert determination["approved_levels"] == ["L5-S1"]
    assert determination["valid_from"] and determination["valid_to"]
    assert determination["policy_version"].startswith("epidural_steroid_injection/")
    assert data["links"]["withdraw"] is None


def test_a_would_be_denial_waits_for_a_physician_and_says_why(api_a, policies):
    pa_request = submitted(api_a, "fusion-spondylolisthesis-short-therapy")
    evidence_checks_run(pa_request=pa_request)

    data = api_a.get(f"{URL}{pa_request.pk}/").json()

    assert data["status"] == Status.PHYSICIAN_REVIEW
    assert data["determination"] is None
    answers = {c["id"]: c["answer"] for c in data["criteria"]}
    assert answers["FU-03"] == "not_met"
    assert answers["FU-06"] == "not_met"
    assert data["links"]["withdraw"]
