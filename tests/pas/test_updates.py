"""An update (a Claim naming the earlier one in Claim.related) replaces the diagnoses, the service
and the clinical facts of an undecided request, and the request is evaluated again: a pend for a
missing diagnosis is answered by the diagnosis, a case in review leaves its reviewer, a changed
level reaches the service lines. A different procedure is refused; a request being evaluated or
decided keeps what it has."""

import copy

import pytest

from reviews.models import AuditEvent, Evaluation, InformationRequest, PriorAuthRequest, Status
from reviews.services import evidence_checks_run
from reviews.services.assignments import request_claim
from tests.conftest import example
from tests.pas.conftest import SUBMIT, bundle_from_request, claim, claim_response, post_fhir
from tests.pas.test_cancel_update import update_of

pytestmark = pytest.mark.django_db

ESI = "epidural_steroid_injection"


def _submitted(api, data: dict) -> tuple[dict, PriorAuthRequest]:
    sent = bundle_from_request(data, family=ESI)
    response = post_fhir(api, SUBMIT, sent)
    assert response.status_code == 200, response.content
    return sent, PriorAuthRequest.objects.get()


def _updated(api, sent: dict, data: dict, trace: str = "UPDATE-1"):
    return post_fhir(api, SUBMIT, update_of(sent, bundle_from_request(data, family=ESI), trace))


def test_an_update_with_the_diagnosis_answers_the_pend_for_it(api_a, policies):
    # given an injection request sent without a diagnosis, pended for it
    full = example("esi-lumbar-radiculopathy")
    sent = bundle_from_request(full, family=ESI)
    claim(sent).pop("diagnosis")
    post_fhir(api_a, SUBMIT, sent)
    pa_request = PriorAuthRequest.objects.get()
    assert pa_request.status == Status.PENDING_INFORMATION
    assert pa_request.diagnosis_codes == []

    # when the EHR updates it with the diagnosis
    response = _updated(api_a, sent, full)

    # then the request holds the codes, the pend is answered and it is evaluated again
    assert response.status_code == 200, response.content
    pa_request.refresh_from_db()
    assert pa_request.diagnosis_codes == full["diagnosis_codes"]
    assert pa_request.status == Status.EVALUATING
    assert not InformationRequest.objects.filter(answered_at__isnull=True).exists()
    event = AuditEvent.objects.get(action="request_updated")
    assert event.data["changed"] == ["diagnosis_codes"]
    assert event.data["before"] == {"diagnosis_codes": []}
    evidence_checks_run(pa_request=pa_request)
    pa_request.refresh_from_db()
    assert "diagnosis_codes" not in {m.get("field") for m in pa_request.missing_information}
    assert claim_response(response.json())["request"] == {"reference": "Claim/UpdatedClaim"}


def test_an_update_of_a_case_in_review_takes_it_from_its_reviewer(api_a, policies, physician):
    # given a request a physician holds (a contradiction sent it to review)
    data = copy.deepcopy(example("esi-lumbar-radiculopathy"))
    data["service"]["levels"] = ["L3-L4"]
    sent, pa_request = _submitted(api_a, data)
    evidence_checks_run(pa_request=pa_request)
    pa_request.refresh_from_db()
    assert pa_request.status == Status.PHYSICIAN_REVIEW, pa_request.status
    request_claim(pa_request=pa_request, actor=physician)

    # when the EHR corrects the level
    response = _updated(api_a, sent, example("esi-lumbar-radiculopathy"))

    # then the case leaves the physician and is evaluated again with the corrected level
    assert response.status_code == 200, response.content
    pa_request.refresh_from_db()
    assert pa_request.status == Status.EVALUATING
    assert pa_request.assigned_to is None
    assert pa_request.service["levels"] == example("esi-lumbar-radiculopathy")["service"]["levels"]
    event = AuditEvent.objects.get(action="request_updated")
    assert event.data["released_from"] == physician.get_username()
    assert event.data["before"]["levels"] == ["L3-L4"]
    assert "service" in event.data["changed"]
    evidence_checks_run(pa_request=pa_request)
    assert Evaluation.objects.filter(request=pa_request).count() == 2


def test_an_update_changing_the_codes_rewrites_the_service_lines(api_a, policies):
    data = copy.deepcopy(example("esi-lumbar-radiculopathy"))
    data["clinical"].pop("imaging")
    sent, pa_request = _submitted(api_a, data)
    evidence_checks_run(pa_request=pa_request)
    pa_request.refresh_from_db()
    assert pa_request.status == Status.PENDING_INFORMATION
    assert list(pa_request.lines.values_list("cpt_code", flat=True)) == ["64483"]

    changed = copy.deepcopy(example("esi-lumbar-radiculopathy"))
    changed["service"]["cpt_codes"] = ["64483", "64484"]
    response = _updated(api_a, sent, changed)

    assert response.status_code == 200, response.content
    pa_request.refresh_from_db()
    assert list(pa_request.lines.values_list("cpt_code", flat=True)) == ["64483", "64484"]
    assert pa_request.service["cpt_codes"] == ["64483", "64484"]
    assert pa_request.clinical["imaging"]


def test_an_update_to_another_procedure_is_refused_and_changes_nothing(api_a, policies):
    data = copy.deepcopy(example("esi-lumbar-radiculopathy"))
    data["clinical"].pop("imaging")
    sent, pa_request = _submitted(api_a, data)
    evidence_checks_run(pa_request=pa_request)
    pa_request.refresh_from_db()
    before = (pa_request.status, pa_request.service, pa_request.evaluation_round)

    fusion = copy.deepcopy(example("esi-lumbar-radiculopathy"))
    fusion["service"]["cpt_codes"] = ["22630"]
    response = _updated(api_a, sent, fusion)

    assert response.status_code == 422, response.content
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert "cancel this request" in str(body)
    pa_request.refresh_from_db()
    assert (pa_request.status, pa_request.service, pa_request.evaluation_round) == before
    assert not AuditEvent.objects.filter(action="request_updated").exists()


def test_an_update_that_changes_nothing_starts_no_new_round(api_a, policies):
    data = copy.deepcopy(example("esi-lumbar-radiculopathy"))
    data["clinical"].pop("imaging")
    sent, pa_request = _submitted(api_a, data)
    evidence_checks_run(pa_request=pa_request)
    pa_request.refresh_from_db()
    assert pa_request.status == Status.PENDING_INFORMATION
    rounds = pa_request.evaluation_round

    response = _updated(api_a, sent, data)

    assert response.status_code == 200, response.content
    notes = [n["text"] for n in claim_response(response.json())["processNote"]]
    assert any("changes none" in n for n in notes)
    pa_request.refresh_from_db()
    assert pa_request.status == Status.PENDING_INFORMATION
    assert pa_request.evaluation_round == rounds


def test_an_update_while_the_engine_evaluates_changes_nothing_and_says_so(api_a, policies):
    data = copy.deepcopy(example("esi-lumbar-radiculopathy"))
    sent, pa_request = _submitted(api_a, data)
    assert pa_request.status == Status.EVALUATING
    changed = copy.deepcopy(data)
    changed["diagnosis_codes"] = ["M54.17"]

    response = _updated(api_a, sent, changed)

    assert response.status_code == 200, response.content
    notes = [n["text"] for n in claim_response(response.json())["processNote"]]
    assert any("being evaluated" in n for n in notes)
    pa_request.refresh_from_db()
    assert pa_request.diagnosis_codes == data["diagnosis_codes"]
    assert AuditEvent.objects.get(action="fhir_update_received").data["applied"] is False
