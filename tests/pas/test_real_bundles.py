"""The PAS guide's request examples (tests/fixtures/fhir), taken exactly as written.

Each one is answered 200 with a PAS response Bundle that validates with fhir.resources and has
the elements the PAS response profiles require. What each gets is pinned here, for a member on
file (matched by the subscriber id, the examples give no birth date) and for an unknown one.
"""

import json

import pytest
from fhir.resources.R4B.bundle import Bundle

from pas.models import ClaimRecord, HeldClaim, Submission
from reviews.models import AuditEvent, Member, PriorAuthRequest, Status
from tests.pas.conftest import FHIR_DIR, SUBMIT, claim_response, post_fhir, review_actions

pytestmark = pytest.mark.django_db

MEMBER_ID = "1122334455"  # Coverage.subscriberId of every example (the patient is the subscriber)
PAS_EXT = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-"

# name -> (status for a member on file, CPT codes stored)
REQUESTS = {
    # CPT 33510 (cardiac surgery): no Lamina policy covers it; the checks send it to a nurse.
    "Bundle-SurgicalRequestBundleExample": (Status.EVALUATING, ["33510"]),
    # An X12 service type (consultation), no CPT: a reviewer decides.
    "Bundle-ReferralAuthorizationBundleExample": (Status.NURSE_REVIEW, []),
    # HCPCS Level II home-care codes and no diagnosis: pended for the diagnosis codes.
    "Bundle-HomecareAuthorizationBundleExample": (Status.PENDING_INFORMATION, []),
    # The update of the home-care request, sent alone: taken as a new request, likewise pended.
    "Bundle-HomecareAuthorizationUpdateBundleExample": (Status.PENDING_INFORMATION, []),
    # CPT 99212 (office visit), no diagnosis, a service date in 2005: pended for the diagnosis.
    "Bundle-MedicalServicesAuthorizationBundleExample": (Status.PENDING_INFORMATION, ["99212"]),
}


def example_bundle(name: str) -> dict:
    return json.loads((FHIR_DIR / f"{name}.json").read_text())


def test_every_request_example_is_listed():
    found = {
        p.stem
        for p in FHIR_DIR.glob("Bundle-*.json")
        if '"profile-pas-request-bundle"' in p.read_text()
        or "profile-pas-request-bundle" in p.read_text()
    }
    assert found == set(REQUESTS)


def assert_pas_response(body: dict, sent: dict) -> dict:
    """A valid FHIR Bundle with what the PAS response profiles require; returns the
    ClaimResponse."""
    Bundle.model_validate(body)
    assert body["type"] == "collection"
    assert body.get("timestamp")
    assert body["identifier"] == sent["identifier"]  # the submitter's transaction id, kept
    response = claim_response(body)
    assert body["entry"][0]["resource"] is response or body["entry"][0]["resource"] == response
    for element in ("identifier", "status", "type", "use", "patient", "created", "insurer"):
        assert response.get(element), element
    assert response["outcome"] == "complete"
    assert response["requestor"]["reference"].startswith("Organization/")
    assert response["insurer"]["reference"] == "Organization/InsurerExample"
    assert response["request"]["reference"].startswith("Claim/")
    # every referenced resource is in the Bundle
    included = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in body["entry"][1:]}
    for reference in (response["patient"], response["requestor"], response["insurer"]):
        assert reference["reference"] in included
    for wanted in response.get("communicationRequest", []):
        assert wanted["reference"] in included
    # one answer per item sent, each with its review action, its trace number echoed
    sent_claim = next(
        e["resource"]
        for e in sent["entry"]
        if e["resource"]["resourceType"] == "Claim"
        and "related" not in e["resource"]
        or e["resource"]["resourceType"] == "Claim"
    )
    assert [i["itemSequence"] for i in response["item"]] == [
        i["sequence"] for i in sent_claim["item"]
    ]
    for sent_item, item in zip(sent_claim["item"], response["item"], strict=True):
        trace = [e for e in sent_item.get("extension", []) if e["url"].endswith("itemTraceNumber")]
        echoed = [e for e in item.get("extension", []) if e["url"].endswith("itemTraceNumber")]
        assert trace == echoed
    return response


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_each_request_example_is_taken_as_written_for_a_member_on_file(api_a, name):
    Member.objects.create(
        member_id=MEMBER_ID, first_name="Joe", last_name="Smith", birth_date="1960-01-01"
    )
    sent = example_bundle(name)

    response = post_fhir(api_a, SUBMIT, sent)

    assert response.status_code == 200, response.content
    body = response.json()
    answer = assert_pas_response(body, sent)
    status, cpt_codes = REQUESTS[name]
    pa_request = PriorAuthRequest.objects.get()
    assert pa_request.status == status
    assert pa_request.cpt_codes == cpt_codes
    assert pa_request.member.member_id == MEMBER_ID
    assert set(review_actions(body)) <= {"A4", "C"}
    if status == Status.PENDING_INFORMATION:
        # the pend says what to send, as text and as a CommunicationRequest
        wanted = next(
            e["resource"]
            for e in body["entry"]
            if e["resource"]["resourceType"] == "CommunicationRequest"
        )
        assert "diagnosis" in wanted["payload"][0]["contentString"]
        assert answer["communicationRequest"]
    assert ClaimRecord.objects.get(request=pa_request).identifier_value


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_each_request_example_for_an_unknown_member_is_held_for_identification(api_a, name):
    sent = example_bundle(name)

    response = post_fhir(api_a, SUBMIT, sent)

    assert response.status_code == 200, response.content
    body = response.json()
    answer = assert_pas_response(body, sent)
    assert set(review_actions(body)) == {"A4"}
    assert "identified" in answer["disposition"]
    assert HeldClaim.objects.get().member_id == MEMBER_ID
    assert not PriorAuthRequest.objects.exists()
    assert AuditEvent.objects.filter(action="fhir_claim_held").count() == 1


def test_the_member_number_on_the_patient_typed_mb_is_read(api_a):
    Member.objects.create(
        member_id="MB-777", first_name="Joe", last_name="Smith", birth_date="1960-01-01"
    )
    sent = example_bundle("Bundle-ReferralAuthorizationBundleExample")
    for entry in sent["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Coverage":
            del resource["subscriberId"]
        if resource["resourceType"] == "Patient":
            resource["identifier"] = [
                {
                    "type": {"coding": [{"system": "urn:test-kit", "code": "MIN"}]},
                    "system": "http://example.org/MIN",
                    "value": "MB-777",
                }
            ]
    assert post_fhir(api_a, SUBMIT, sent).status_code == 200
    assert PriorAuthRequest.objects.get().member.member_id == "MB-777"


def test_without_a_member_id_the_member_is_matched_by_name_and_birth_date(api_a):
    Member.objects.create(
        member_id="M-1", first_name="Joe", last_name="Smith", birth_date="1960-01-01"
    )
    sent = example_bundle("Bundle-ReferralAuthorizationBundleExample")
    for entry in sent["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Coverage":
            del resource["subscriberId"]
            resource["identifier"] = []
        if resource["resourceType"] == "Patient":
            resource["identifier"] = []
            resource["birthDate"] = "1960-01-01"
    assert post_fhir(api_a, SUBMIT, sent).status_code == 200
    assert PriorAuthRequest.objects.get().member.member_id == "M-1"


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_a_resubmission_answers_the_first_response_and_stores_nothing(api_a, name):
    Member.objects.create(
        member_id=MEMBER_ID, first_name="Joe", last_name="Smith", birth_date="1960-01-01"
    )
    sent = example_bundle(name)
    first = post_fhir(api_a, SUBMIT, sent)
    events = AuditEvent.objects.count()

    again = post_fhir(api_a, SUBMIT, {**sent, "timestamp": "2026-01-01T00:00:00Z"})

    assert again.status_code == 200, again.content
    assert claim_response(again.json())["id"] == claim_response(first.json())["id"]
    assert PriorAuthRequest.objects.count() == 1
    assert Submission.objects.count() == 1
    assert AuditEvent.objects.count() == events


def test_the_same_identifiers_with_other_content_are_a_conflict(api_a):
    Member.objects.create(
        member_id=MEMBER_ID, first_name="Joe", last_name="Smith", birth_date="1960-01-01"
    )
    sent = example_bundle("Bundle-SurgicalRequestBundleExample")
    assert post_fhir(api_a, SUBMIT, sent).status_code == 200
    changed = json.loads(json.dumps(sent))
    changed["entry"][0]["resource"]["item"][0]["quantity"] = {"value": 3}

    response = post_fhir(api_a, SUBMIT, changed)

    assert response.status_code == 409
    assert response.json()["issue"][0]["code"] == "duplicate"
    assert PriorAuthRequest.objects.count() == 1


def test_an_unknown_modifier_extension_is_refused(api_a):
    sent = example_bundle("Bundle-SurgicalRequestBundleExample")
    sent["entry"][0]["resource"]["modifierExtension"] = [
        {"url": "http://example.org/do-the-opposite", "valueBoolean": True}
    ]

    response = post_fhir(api_a, SUBMIT, sent)

    assert response.status_code == 422
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["expression"] == ["Bundle.entry[0].resource.modifierExtension[0]"]
    assert not PriorAuthRequest.objects.exists()
    assert not HeldClaim.objects.exists()


def test_the_inquiry_example_is_taken_as_written(api_a):
    from fhir.resources.R4B.parameters import Parameters

    from tests.pas.conftest import INQUIRE

    response = post_fhir(api_a, INQUIRE, example_bundle("Bundle-PASClaimInquiryBundleExample"))

    assert response.status_code == 200, response.content
    Parameters.model_validate(response.json())
    assert response.json() == {"resourceType": "Parameters"}  # nothing on file matches
