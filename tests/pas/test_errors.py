"""Bad input on the FHIR endpoints: a 4xx OperationOutcome naming the element, nothing stored."""

import copy

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from rest_framework.test import APIClient

from pas.models import ClaimRecord, Subscription
from reviews.models import AuditEvent, Member, PriorAuthRequest
from tests.conftest import example, token_client
from tests.pas.conftest import (
    SUBMIT,
    bundle_from_request,
    claim,
    entry_of,
    post_fhir,
    surgical_bundle,
)

pytestmark = pytest.mark.django_db


def _outcome(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    OperationOutcome.model_validate(body)
    assert body["issue"], body
    return body


def _nothing_stored():
    assert PriorAuthRequest.objects.count() == 0
    assert ClaimRecord.objects.count() == 0
    assert Member.objects.count() == 0
    assert not AuditEvent.objects.filter(action="request_submitted").exists()


def _fusion_bundle() -> dict:
    return bundle_from_request(
        example("fusion-spondylolisthesis-short-therapy"), family="spinal_fusion"
    )


def _without(bundle: dict, rtype: str) -> dict:
    bundle = copy.deepcopy(bundle)
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != rtype]
    return bundle


def test_malformed_json(api_a):
    body = _outcome(post_fhir(api_a, SUBMIT, '{"resourceType": "Bundle",'), 400)
    assert "Malformed JSON" in body["issue"][0]["diagnostics"]
    _nothing_stored()


def test_not_a_json_object(api_a):
    _outcome(post_fhir(api_a, SUBMIT, "[1, 2]"), 400)
    _nothing_stored()


def test_wrong_resource_type(api_a):
    body = _outcome(post_fhir(api_a, SUBMIT, entry_of(surgical_bundle(), "Patient")), 400)
    assert body["issue"][0]["expression"] == ["resourceType"]
    _nothing_stored()


def test_unknown_resource_type_inside_the_bundle(api_a):
    bundle = surgical_bundle()
    bundle["entry"][3]["resource"]["resourceType"] = "Insurance"
    body = _outcome(post_fhir(api_a, SUBMIT, bundle), 400)
    assert body["issue"][0]["expression"] == ["Bundle.entry[3].resource.resourceType"]
    _nothing_stored()


def test_a_non_conforming_element_is_named(api_a):
    bundle = surgical_bundle()
    claim(bundle)["item"][0]["sequence"] = "first"
    body = _outcome(post_fhir(api_a, SUBMIT, bundle), 400)
    assert body["issue"][0]["expression"] == ["Bundle.entry[0].resource.item[0].sequence"]
    _nothing_stored()


def test_a_claim_that_is_not_a_preauthorization(api_a):
    bundle = surgical_bundle()
    claim(bundle)["use"] = "claim"
    body = _outcome(post_fhir(api_a, SUBMIT, bundle), 422)
    assert body["issue"][0]["expression"] == ["Bundle.entry[0].resource.use"]
    _nothing_stored()


def test_a_bundle_without_a_claim(api_a):
    body = _outcome(post_fhir(api_a, SUBMIT, _without(surgical_bundle(), "Claim")), 422)
    assert body["issue"][0]["expression"] == ["Bundle.entry"]
    _nothing_stored()


def test_missing_patient(api_a):
    body = _outcome(post_fhir(api_a, SUBMIT, _without(surgical_bundle(), "Patient")), 422)
    assert ["Bundle.entry[0].resource.patient"] in [i.get("expression") for i in body["issue"]]
    _nothing_stored()


def test_missing_coverage(api_a):
    body = _outcome(post_fhir(api_a, SUBMIT, _without(surgical_bundle(), "Coverage")), 422)
    assert body["issue"][0]["expression"] == ["Bundle.entry[0].resource.insurance[0].coverage"]
    _nothing_stored()


def test_a_diagnosis_category_is_not_a_code(api_a):
    bundle = _fusion_bundle()
    claim(bundle)["diagnosis"][1]["diagnosisCodeableConcept"]["coding"][0]["code"] = "M54.5"
    body = _outcome(post_fhir(api_a, SUBMIT, bundle), 422)
    issue = body["issue"][0]
    assert issue["code"] == "code-invalid"
    assert issue["expression"] == ["Bundle.entry[0].resource.diagnosis[1].diagnosisCodeableConcept"]
    assert "M54.5" in issue["diagnostics"]
    _nothing_stored()


def test_a_malformed_cpt_code(api_a):
    bundle = _fusion_bundle()
    claim(bundle)["item"][2]["productOrService"]["coding"][0]["code"] = "2285X"
    body = _outcome(post_fhir(api_a, SUBMIT, bundle), 422)
    assert body["issue"][0]["expression"] == [
        "Bundle.entry[0].resource.item[2].productOrService.coding[0].code"
    ]
    _nothing_stored()


def test_an_item_without_a_cpt_code_is_taken_and_goes_to_a_reviewer(api_a):
    Member.objects.create(
        member_id="1122334455", first_name="Joe", last_name="Smith", birth_date="1958-04-02"
    )
    bundle = surgical_bundle()
    claim(bundle)["item"][0]["productOrService"]["coding"][0]["system"] = (
        "https://codesystem.x12.org/005010/1365"
    )
    response = post_fhir(api_a, SUBMIT, bundle)
    assert response.status_code == 200, response.content
    pa_request = PriorAuthRequest.objects.get()
    assert pa_request.status == "nurse_review"
    assert pa_request.cpt_codes == []


def test_an_invalid_answer_names_the_questionnaire_item(api_a):
    data = example("fusion-spondylolisthesis-short-therapy")
    data["clinical"] = {**data["clinical"], "pain_score_nrs": 15}
    bundle = bundle_from_request(data, family="spinal_fusion")
    body = _outcome(post_fhir(api_a, SUBMIT, bundle), 422)
    qr = claim(bundle)["contained"][0]
    index = next(i for i, it in enumerate(qr["item"]) if it["linkId"] == "clinical.pain_score_nrs")
    assert body["issue"][0]["expression"] == [
        f"Bundle.entry[0].resource.contained[0].item[{index}]"
    ]
    _nothing_stored()


def test_a_date_out_of_order_inside_a_repeating_group(api_a):
    data = example("fusion-spondylolisthesis-short-therapy")
    care = [dict(c) for c in data["clinical"]["conservative_care"]]
    care[0]["end_date"] = "2026-10-01"  # before its start
    data["clinical"] = {**data["clinical"], "conservative_care": care}
    bundle = bundle_from_request(data, family="spinal_fusion")
    body = _outcome(post_fhir(api_a, SUBMIT, bundle), 422)
    expression = body["issue"][0]["expression"][0]
    assert expression.startswith("Bundle.entry[0].resource.contained[0].item[")
    assert expression.endswith("].item[2]")  # the end_date answer of the first episode
    _nothing_stored()


def test_a_wrongly_typed_answer(api_a):
    bundle = _fusion_bundle()
    qr = claim(bundle)["contained"][0]
    index = next(i for i, it in enumerate(qr["item"]) if it["linkId"] == "clinical.pain_type")
    qr["item"][index]["answer"] = [{"valueInteger": 3}]
    body = _outcome(post_fhir(api_a, SUBMIT, bundle), 422)
    assert body["issue"][0]["expression"] == [
        f"Bundle.entry[0].resource.contained[0].item[{index}].answer[0]"
    ]
    _nothing_stored()


def test_a_supporting_reference_that_is_not_in_the_bundle(api_a):
    bundle = _fusion_bundle()
    claim(bundle)["supportingInfo"][0]["valueReference"] = {"reference": "#elsewhere"}
    body = _outcome(post_fhir(api_a, SUBMIT, bundle), 422)
    assert body["issue"][0]["expression"] == [
        "Bundle.entry[0].resource.supportingInfo[0].valueReference"
    ]
    _nothing_stored()


def test_a_document_lamina_cannot_read(api_a):
    bundle = _fusion_bundle()
    bundle["entry"].append(
        {
            "fullUrl": "urn:uuid:0b0a3c4e-7f86-4b58-9a8d-2c8c3e5d0001",
            "resource": {
                "resourceType": "DocumentReference",
                "status": "current",
                "content": [{"attachment": {"contentType": "application/pdf", "data": "JVBERi0="}}],
            },
        }
    )
    body = _outcome(post_fhir(api_a, SUBMIT, bundle), 422)
    assert body["issue"][0]["code"] == "not-supported"
    assert body["issue"][0]["expression"] == [
        f"Bundle.entry[{len(bundle['entry']) - 1}].resource.content[0].attachment.contentType"
    ]
    _nothing_stored()


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_wrong_content_type(api_a, content_type):
    import json

    response = api_a.generic(
        "POST", SUBMIT, json.dumps(surgical_bundle()), content_type=content_type
    )
    _outcome(response, 415)
    _nothing_stored()


def test_a_body_too_large(api_a, settings):
    settings.MAX_BODY_BYTES = 1000
    _outcome(post_fhir(api_a, SUBMIT, surgical_bundle()), 413)
    _nothing_stored()


def test_nesting_too_deep(api_a):
    deep: dict = {}
    cursor = deep
    for _ in range(60):
        cursor["extension"] = [{"url": "x"}]
        cursor = cursor["extension"][0]
    _outcome(post_fhir(api_a, SUBMIT, {"resourceType": "Bundle", "meta": deep}), 400)
    _nothing_stored()


def test_unauthenticated():
    response = post_fhir(APIClient(), SUBMIT, surgical_bundle())
    _outcome(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="lamina-fhir", Token realm="lamina-fhir"'
    _nothing_stored()


def test_a_reviewer_cannot_submit(nurse):
    _outcome(post_fhir(token_client(nurse), SUBMIT, surgical_bundle()), 403)
    _nothing_stored()


def test_get_on_an_operation_is_not_allowed(api_a):
    _outcome(api_a.get(SUBMIT), 405)


def test_a_member_id_on_file_with_another_birth_date_is_held_for_identification(api_a):
    assert post_fhir(api_a, SUBMIT, surgical_bundle()).status_code == 200
    other = surgical_bundle(birth_date="1970-01-01")
    claim(other)["identifier"][0]["value"] = "another-trace"
    response = post_fhir(api_a, SUBMIT, other)
    assert response.status_code == 200, response.content
    answer = response.json()["entry"][0]["resource"]
    assert answer["disposition"] == "Pended: the member could not be identified."
    assert PriorAuthRequest.objects.count() == 1  # nothing filed under the other person's id


def test_subscription_refusals_store_nothing(api_a, org_a):
    from tests.pas.conftest import fhir_example

    base = fhir_example("Subscription-PASSubscriptionExample")
    base["_criteria"]["extension"][0]["valueString"] = f"orgIdentifier={org_a.npi}"

    cases = {
        "Subscription.channel.endpoint": {"channel": {**base["channel"], "endpoint": "ftp://x/y"}},
        "Subscription.criteria": {"criteria": "http://example.org/other-topic"},
        "Subscription.channel.type": {"channel": {**base["channel"], "type": "websocket"}},
    }
    for expression, change in cases.items():
        body = _outcome(post_fhir(api_a, "/fhir/Subscription", {**base, **change}), 422)
        assert [expression] in [i.get("expression") for i in body["issue"]], body
    other_org = copy.deepcopy(base)
    other_org["_criteria"]["extension"][0]["valueString"] = "orgIdentifier=1234567893"
    body = _outcome(post_fhir(api_a, "/fhir/Subscription", other_org), 422)
    assert body["issue"][0]["code"] == "forbidden"
    id_only = copy.deepcopy(base)
    id_only["channel"]["_payload"]["extension"][0]["valueCode"] = "id-only"
    _outcome(post_fhir(api_a, "/fhir/Subscription", id_only), 422)
    assert Subscription.objects.count() == 0
