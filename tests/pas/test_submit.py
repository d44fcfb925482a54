"""Claim/$submit: the shared examples, the non-spine route, and the same decision as the REST API."""

import json

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.parameters import Parameters

from pas.mapping import claim_bundle_map, resource_validate
from pas.models import ClaimRecord, HeldClaim
from reviews.models import Determination, Evaluation, PriorAuthRequest, Status
from reviews.services import determination_record, evidence_checks_run
from reviews.services.assignments import request_claim
from reviews.services.decide import NO_POLICY_REASON
from tests.conftest import example, post_json
from tests.pas.conftest import (
    FHIR_DIR,
    SUBMIT,
    bundle_from_request,
    claim,
    claim_response,
    post_fhir,
    request_bundle_examples,
    review_actions,
    surgical_bundle,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", sorted(FHIR_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_every_shared_example_parses_with_the_r4b_models(path):
    data = json.loads(path.read_text())
    model = get_fhir_model_class(data["resourceType"]).model_validate(data)
    assert model.get_resource_type() == data["resourceType"]


@pytest.mark.parametrize("path", request_bundle_examples(), ids=lambda p: p.stem)
def test_every_shared_request_example_passes_lamina_structure_checks(path):
    data = json.loads(path.read_text())
    resource_validate(data, data["resourceType"])


def test_the_surgical_example_maps_onto_the_rest_request():
    mapped = claim_bundle_map(surgical_bundle())
    data = mapped.data
    assert data["service"]["cpt_codes"] == ["33510"]
    assert data["service"]["setting"] == "inpatient"  # place of service 21
    assert data["diagnosis_codes"] == ["C18.9"]
    assert data["member"]["member_id"] == "1122334455"  # Coverage.subscriberId, patient is self
    assert data["member"]["last_name"] == "SMITH"
    # The role's practitioner is not in the bundle: the Claim's provider organization's NPI.
    assert data["requesting_provider"]["npi"] == "8189991234"
    assert data["urgency"] == "standard"  # level of service E (elective), priority normal
    assert data["external_id"] == "16139462398"
    assert mapped.expression_for("member.birth_date") == "Bundle.entry[4].resource.birthDate"
    assert mapped.expression_for("service.cpt_codes[0]") == (
        "Bundle.entry[0].resource.item[0].productOrService.coding[0].code"
    )


def test_surgical_example_is_accepted_and_routed_to_a_human(api_a, provider_a):
    # given the shared surgical request (CPT 33510, not spine)
    response = post_fhir(api_a, SUBMIT, surgical_bundle())

    # then it is accepted and, while the checks have not run, pended
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    Bundle.model_validate(body)
    assert review_actions(body) == ["A4"]
    pa_request = PriorAuthRequest.objects.get()
    assert pa_request.channel == "fhir"
    assert pa_request.procedure_family == ""
    assert pa_request.organization == provider_a.organization
    record = ClaimRecord.objects.get(request=pa_request)
    assert record.identifier_value == "16139462398"
    item = claim_response(body)["item"][0]
    assert {
        "url": "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-administrationReferenceNumber",
        "valueString": pa_request.reference,
    } in item["extension"]

    # when the evidence checks run, no policy covers it: a human decides
    evidence_checks_run(pa_request=pa_request)
    pa_request.refresh_from_db()
    assert pa_request.status == Status.NURSE_REVIEW
    evaluation = Evaluation.objects.get(request=pa_request)
    assert evaluation.reasons[0]["statement"] == NO_POLICY_REASON


MEMBER_ID = "1122334455"  # Coverage.subscriberId of the shared example


def test_the_surgical_example_as_written_is_accepted_for_a_member_on_file(api_a):
    # given the plan's member (the example gives the member id but "DoB Unknown")
    from reviews.models import Member

    Member.objects.create(
        member_id=MEMBER_ID,
        first_name="Joe",
        last_name="Smith",
        birth_date="1958-04-02",
        sex="male",
    )

    # when the example is submitted exactly as the guide publishes it
    response = post_fhir(api_a, SUBMIT, surgical_bundle(birth_date=None))

    # then it is accepted, matched to the member on file, and routed to a human
    assert response.status_code == 200, response.content
    pa_request = PriorAuthRequest.objects.get()
    assert pa_request.member.member_id == MEMBER_ID
    assert pa_request.procedure_family == ""
    evidence_checks_run(pa_request=pa_request)
    pa_request.refresh_from_db()
    assert pa_request.status == Status.NURSE_REVIEW
    assert Evaluation.objects.get(request=pa_request).reasons[0]["statement"] == NO_POLICY_REASON


def test_the_surgical_example_for_an_unknown_member_without_birth_date_is_held(api_a):
    response = post_fhir(api_a, SUBMIT, surgical_bundle(birth_date=None))

    assert response.status_code == 200, response.content
    body = response.json()
    assert review_actions(body) == ["A4"]
    wanted = [e["resource"] for e in body["entry"][1:]]
    request = next(r for r in wanted if r["resourceType"] == "CommunicationRequest")
    assert "birthDate" in request["payload"][0]["contentString"]
    assert PriorAuthRequest.objects.count() == 0
    assert HeldClaim.objects.get().member_id == MEMBER_ID


def _normalized(value):
    """Stored JSON with unknowns (null, empty list) dropped: the two channels say them differently."""
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def test_spine_bundle_gets_the_decision_the_rest_api_gives(api_a, policies):
    # given the fusion example through the REST API, and the same facts as a PAS bundle
    # (another member id: the history checks would otherwise flag a duplicate request)
    data = example("fusion-spondylolisthesis-short-therapy")
    rest = post_json(api_a, "/api/v1/requests/", data)
    assert rest.status_code == 201, rest.content
    bundle = bundle_from_request(data, family="spinal_fusion", member_id="C778899002")
    fhir = post_fhir(api_a, SUBMIT, bundle)
    assert fhir.status_code == 200, fhir.content

    rest_request = PriorAuthRequest.objects.get(channel="rest")
    fhir_request = PriorAuthRequest.objects.get(channel="fhir")
    assert fhir_request.procedure_family == rest_request.procedure_family == "spinal_fusion"
    assert _normalized(fhir_request.clinical) == _normalized(rest_request.clinical)
    assert _normalized(fhir_request.service) == _normalized(rest_request.service)
    assert fhir_request.diagnosis_codes == rest_request.diagnosis_codes

    # when the evidence checks run for both
    rest_eval = evidence_checks_run(pa_request=rest_request)
    fhir_eval = evidence_checks_run(pa_request=fhir_request)

    # then both reach the same recommendation through the same criteria
    assert fhir_eval.recommendation == rest_eval.recommendation == "physician_review"
    assert [(r["id"], r["answer"]) for r in fhir_eval.trace] == [
        (r["id"], r["answer"]) for r in rest_eval.trace
    ]
    assert fhir_eval.policy_version_id == rest_eval.policy_version_id


def test_observations_and_conditions_fill_what_the_answers_leave_unknown(api_a):
    data = example("fusion-spondylolisthesis-short-therapy")
    clinical = dict(data["clinical"])
    pain, bmi = clinical.pop("pain_score_nrs"), clinical.pop("bmi")
    clinical.pop("smoking_status")
    bundle = bundle_from_request({**data, "clinical": clinical}, family="spinal_fusion")
    patient_ref = {"reference": "Patient/SubscriberExample"}
    loinc = "http://loinc.org"
    bundle["entry"] += [
        {
            "fullUrl": "urn:uuid:6f1c1c52-4f0b-4b4e-9d39-3f1d2f0a0001",
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": loinc, "code": "72514-3"}]},
                "subject": patient_ref,
                "effectiveDateTime": when,
                "valueInteger": value,
            },
        }
        for when, value in (("2026-09-01", 6), ("2026-11-10", pain))
    ] + [
        {
            "fullUrl": "urn:uuid:6f1c1c52-4f0b-4b4e-9d39-3f1d2f0a0003",
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": loinc, "code": "39156-5"}]},
                "subject": patient_ref,
                "effectiveDateTime": "2026-11-10",
                "valueQuantity": {"value": bmi, "unit": "kg/m2"},
            },
        },
        {
            "fullUrl": "urn:uuid:6f1c1c52-4f0b-4b4e-9d39-3f1d2f0a0004",
            "resource": {
                "resourceType": "Condition",
                "clinicalStatus": {"coding": [{"code": "active"}]},
                "code": {
                    "coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "F17.210"}]
                },
                "subject": patient_ref,
            },
        },
        {
            "fullUrl": "urn:uuid:6f1c1c52-4f0b-4b4e-9d39-3f1d2f0a0005",
            "resource": {
                "resourceType": "DocumentReference",
                "status": "current",
                "type": {"coding": [{"system": loinc, "code": "11506-3"}]},
                "date": "2026-11-18T10:00:00Z",
                "subject": patient_ref,
                "content": [
                    {
                        "attachment": {
                            "contentType": "text/plain",
                            "title": "Spine clinic note",
                            "data": "UGFpbiA4LzEwLCBmYWlsZWQgUFQu",  # "Pain 8/10, failed PT."
                        }
                    }
                ],
            },
        },
    ]

    response = post_fhir(api_a, SUBMIT, bundle)

    assert response.status_code == 200, response.content
    pa_request = PriorAuthRequest.objects.get()
    assert pa_request.clinical["pain_score_nrs"] == pain  # the latest score
    assert pa_request.clinical["pain_scores"] == [{"date": "2026-09-01", "nrs": 6}]
    assert pa_request.clinical["bmi"] == bmi
    assert pa_request.clinical["smoking_status"] == "current"  # F17.210, nicotine dependence
    attachment = pa_request.attachments.get()
    assert (attachment.kind, attachment.title, attachment.text) == (
        "clinical_note",
        "Spine clinic note",
        "Pain 8/10, failed PT.",
    )
    assert str(attachment.date) == "2026-11-18"


def test_answers_win_over_observations(api_a):
    data = example("fusion-spondylolisthesis-short-therapy")
    bundle = bundle_from_request(data, family="spinal_fusion")
    bundle["entry"].append(
        {
            "fullUrl": "urn:uuid:6f1c1c52-4f0b-4b4e-9d39-3f1d2f0a0009",
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
                "effectiveDateTime": "2026-11-10",
                "valueInteger": 3,
            },
        }
    )
    assert post_fhir(api_a, SUBMIT, bundle).status_code == 200
    assert PriorAuthRequest.objects.get().clinical["pain_score_nrs"] == 8


def test_expedited_when_the_level_of_service_is_urgent(api_a):
    data = {**example("fusion-spondylolisthesis-short-therapy"), "urgency": "expedited"}
    response = post_fhir(api_a, SUBMIT, bundle_from_request(data, family="spinal_fusion"))
    assert response.status_code == 200, response.content
    assert PriorAuthRequest.objects.get().urgency == "expedited"


def test_plain_application_json_is_accepted(api_a):
    response = post_fhir(api_a, SUBMIT, surgical_bundle(), content_type="application/json")
    assert response.status_code == 200, response.content


def test_an_operation_parameters_body_is_accepted(api_a):
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": surgical_bundle()}],
    }
    response = post_fhir(api_a, SUBMIT, body)
    assert response.status_code == 200, response.content
    assert claim(surgical_bundle())["use"] == "preauthorization"


def test_a_denial_carries_reasons_and_the_human_review_flag(api_a, physician, policies):
    # given a fusion request the engine sends to a physician
    data = example("fusion-spondylolisthesis-short-therapy")
    post_fhir(api_a, SUBMIT, bundle_from_request(data, family="spinal_fusion"))
    pa_request = PriorAuthRequest.objects.get()
    evidence_checks_run(pa_request=pa_request)
    pa_request.refresh_from_db()
    assert pa_request.status == Status.PHYSICIAN_REVIEW

    # when the physician claims and denies it
    request_claim(pa_request=pa_request, actor=physician)
    determination_record(
        pa_request=pa_request,
        outcome="denied",
        actor=physician,
        reasons=[
            {"criterion": "FU-03", "statement": "At least 6 weeks of formal physical therapy."}
        ],
        rationale="Three weeks of therapy; the policy asks for six.",
    )

    # then the inquiry answers A3 with the reason, the rationale and the human-review flag
    from tests.pas.conftest import INQUIRE

    inquiry = post_fhir(api_a, INQUIRE, bundle_from_request(data, family="spinal_fusion"))
    assert inquiry.status_code == 200, inquiry.content
    body = inquiry.json()
    Parameters.model_validate(body)
    assert review_actions(body) == ["A3", "A3", "A3"]
    response = claim_response(body)
    reviewer = response["extension"][0]
    assert reviewer["url"].endswith("extension-claimResponseReviewer")
    assert reviewer["extension"] == [{"url": "wasHumanReviewedFlag", "valueBoolean": True}]
    notes = [n["text"] for n in response["processNote"]]
    assert any("FU-03" in n for n in notes)
    assert any("Three weeks of therapy" in n for n in notes)
    assert any("appeal" in n for n in notes)
    assert "preAuthRef" not in response


def test_a_partial_approval_is_modified_and_not_certified_per_item(api_a, physician, policies):
    data = example("fusion-spondylolisthesis-short-therapy")
    data["service"] = {**data["service"], "levels": ["L4-L5", "L5-S1"]}
    post_fhir(api_a, SUBMIT, bundle_from_request(data, family="spinal_fusion"))
    pa_request = PriorAuthRequest.objects.get()
    evidence_checks_run(pa_request=pa_request)
    pa_request.refresh_from_db()
    request_claim(pa_request=pa_request, actor=physician)
    determination = determination_record(
        pa_request=pa_request,
        outcome="partially_approved",
        actor=physician,
        reasons=[{"criterion": "FU-01", "note": "Instability at L4-L5 only."}],
        rationale="Fusion of L4-L5 only; no interbody device.",
        approved_levels=["L4-L5"],
        approved_cpt_codes=["22633", "22840"],
    )

    from tests.pas.conftest import INQUIRE

    body = post_fhir(api_a, INQUIRE, bundle_from_request(data, family="spinal_fusion")).json()
    Parameters.model_validate(body)
    assert review_actions(body) == ["A6", "A6", "A3"]
    response = claim_response(body)
    assert response["preAuthRef"] == determination.authorization_number
    modified = response["item"][0]
    urls = [e["url"].rsplit("-", 1)[-1] for e in modified["extension"]]
    assert "itemPreAuthPeriod" in urls and "itemAuthorizedDetail" in urls
    assert Determination.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_decision_is_in_the_submit_answer_when_the_checks_finish(
    api_a, policies, eager_celery, settings
):
    # given checks that run in-process (the embedded default) and the guide's wait
    settings.FHIR_SUBMIT_WAIT_SECONDS = 12
    data = example("esi-lumbar-radiculopathy")

    response = post_fhir(
        api_a, SUBMIT, bundle_from_request(data, family="epidural_steroid_injection")
    )

    # then the answer is the engine's approval: A1, authorization number and period
    assert response.status_code == 200, response.content
    body = response.json()
    Bundle.model_validate(body)
    pa_request = PriorAuthRequest.objects.get()
    assert pa_request.status == Status.APPROVED
    determination = pa_request.determinations.get()
    assert set(review_actions(body)) == {"A1"}
    item = claim_response(body)["item"][0]
    action = item["adjudication"][0]["extension"][0]["extension"]
    assert action[0] == {"url": "number", "valueString": determination.authorization_number}
    period = next(e for e in item["extension"] if e["url"].endswith("itemPreAuthPeriod"))
    assert period["valuePeriod"] == {
        "start": determination.valid_from.isoformat(),
        "end": determination.valid_to.isoformat(),
    }
    reviewer = claim_response(body)["extension"][0]["extension"][0]
    assert reviewer == {"url": "wasHumanReviewedFlag", "valueBoolean": False}


def test_a_pend_for_information_lists_what_is_missing(api_a, policies):
    data = example("esi-lumbar-radiculopathy")
    data["clinical"] = {
        k: v for k, v in data["clinical"].items() if k not in {"imaging", "conservative_care"}
    }
    post_fhir(api_a, SUBMIT, bundle_from_request(data, family="epidural_steroid_injection"))
    pa_request = PriorAuthRequest.objects.get()
    evidence_checks_run(pa_request=pa_request)
    pa_request.refresh_from_db()
    assert pa_request.status == Status.PENDING_INFORMATION

    from tests.pas.conftest import INQUIRE

    body = post_fhir(
        api_a, INQUIRE, bundle_from_request(data, family="epidural_steroid_injection")
    ).json()
    assert set(review_actions(body)) == {"A4"}
    notes = [n["text"] for n in claim_response(body)["processNote"]]
    missing_fields = {m["field"] for m in pa_request.missing_information}
    assert missing_fields
    for field in missing_fields:
        assert any(field in n for n in notes), (field, notes)
