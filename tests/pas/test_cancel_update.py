"""Cancel and update as PAS defines them: Claim.status = cancelled withdraws an open request (a
decided one keeps its decision), an update (a new Claim naming the earlier one in Claim.related)
answers the pend with the new facts and the request is evaluated again, items marked cancelled
are answered C."""

import copy

import pytest
from fhir.resources.R4B.bundle import Bundle

from pas.models import HeldClaim, Submission
from reviews.models import AuditEvent, Determination, Evaluation, Member, PriorAuthRequest, Status
from reviews.services import determination_record, evidence_checks_run
from reviews.services.assignments import request_claim
from tests.conftest import example
from tests.pas.conftest import (
    SUBMIT,
    bundle_from_request,
    claim,
    claim_response,
    post_fhir,
    review_actions,
    surgical_bundle,
)
from tests.pas.test_real_bundles import MEMBER_ID, assert_pas_response, example_bundle

pytestmark = pytest.mark.django_db

INFO_CANCELLED = (
    "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/modifierextension-infoCancelled"
)


def cancellation_of(bundle: dict, transaction_id: str = "cancel-1") -> dict:
    """The same Claim, status cancelled, in a new Bundle (a new submitter transaction id)."""
    cancel = copy.deepcopy(bundle)
    cancel["identifier"] = {**cancel["identifier"], "value": transaction_id}
    claim(cancel)["status"] = "cancelled"
    return cancel


def update_of(bundle: dict, changed: dict, trace: str = "UPDATE-1") -> dict:
    """An update: the new Claim (from `changed`) naming the earlier Claim, both in the Bundle."""
    update = copy.deepcopy(changed)
    new = claim(update)
    earlier = copy.deepcopy(claim(bundle))
    earlier["id"] = "EarlierClaim"
    new["id"] = "UpdatedClaim"
    new["identifier"] = [{**new["identifier"][0], "value": trace}]
    new["related"] = [
        {
            "claim": {"reference": "Claim/EarlierClaim"},
            "relationship": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/ex-relatedclaimrelationship",
                        "code": "prior",
                    }
                ]
            },
        }
    ]
    update["identifier"] = {**update["identifier"], "value": f"bundle-{trace}"}
    update["entry"].append(
        {"fullUrl": "http://example.org/fhir/Claim/EarlierClaim", "resource": earlier}
    )
    return update


def test_a_cancellation_withdraws_the_open_request(api_a):
    sent = surgical_bundle()
    assert post_fhir(api_a, SUBMIT, sent).status_code == 200
    pa_request = PriorAuthRequest.objects.get()
    assert pa_request.status in {Status.EVALUATING, Status.RECEIVED}

    response = post_fhir(api_a, SUBMIT, cancellation_of(sent))

    assert response.status_code == 200, response.content
    body = response.json()
    Bundle.model_validate(body)
    assert set(review_actions(body)) == {"C"}
    pa_request.refresh_from_db()
    assert pa_request.status == Status.WITHDRAWN
    assert PriorAuthRequest.objects.count() == 1
    assert AuditEvent.objects.filter(
        action="determination_recorded", request_id_ref=pa_request.pk
    ).exists()
    assert claim_response(body)["disposition"].startswith("Withdrawn")


def test_a_cancellation_of_a_decided_request_changes_nothing(api_a, nurse):
    sent = surgical_bundle()
    post_fhir(api_a, SUBMIT, sent)
    pa_request = PriorAuthRequest.objects.get()
    evidence_checks_run(pa_request=pa_request)
    request_claim(pa_request=pa_request, actor=nurse)
    determination = determination_record(pa_request=pa_request, outcome="approved", actor=nurse)

    response = post_fhir(api_a, SUBMIT, cancellation_of(sent))

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(review_actions(body)) == {"A1"}
    assert claim_response(body)["preAuthRef"] == determination.authorization_number
    notes = [n["text"] for n in claim_response(body)["processNote"]]
    assert any("decision stands unchanged" in n for n in notes)
    pa_request.refresh_from_db()
    assert pa_request.status == Status.APPROVED
    assert Determination.objects.count() == 1


def test_a_cancellation_naming_no_request_is_not_found(api_a):
    response = post_fhir(api_a, SUBMIT, cancellation_of(surgical_bundle()))
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    assert not PriorAuthRequest.objects.exists()
    assert not Submission.objects.exists()


def test_a_cancellation_of_a_held_claim_answers_cancelled(api_a):
    sent = example_bundle("Bundle-SurgicalRequestBundleExample")  # unknown member, no birth date
    post_fhir(api_a, SUBMIT, sent)
    assert HeldClaim.objects.count() == 1

    response = post_fhir(api_a, SUBMIT, cancellation_of(sent))

    assert response.status_code == 200, response.content
    assert set(review_actions(response.json())) == {"C"}
    assert claim_response(response.json())["disposition"].startswith("Cancelled")
    assert not PriorAuthRequest.objects.exists()


def test_an_update_answers_the_pend_and_the_request_is_evaluated_again(api_a, policies):
    # given an injection request pended for its imaging and conservative care
    full = example("esi-lumbar-radiculopathy")
    partial = copy.deepcopy(full)
    partial["clinical"] = {
        k: v for k, v in full["clinical"].items() if k not in {"imaging", "conservative_care"}
    }
    first = bundle_from_request(partial, family="epidural_steroid_injection")
    post_fhir(api_a, SUBMIT, first)
    pa_request = PriorAuthRequest.objects.get()
    evidence_checks_run(pa_request=pa_request)
    pa_request.refresh_from_db()
    assert pa_request.status == Status.PENDING_INFORMATION

    # when the EHR sends an update with the facts
    changed = bundle_from_request(full, family="epidural_steroid_injection")
    response = post_fhir(api_a, SUBMIT, update_of(first, changed))

    # then the same request is evaluated again with them, and no new request is made
    assert response.status_code == 200, response.content
    assert PriorAuthRequest.objects.count() == 1
    pa_request.refresh_from_db()
    assert pa_request.status == Status.EVALUATING
    assert pa_request.clinical["imaging"]
    evidence_checks_run(pa_request=pa_request)
    pa_request.refresh_from_db()
    assert Evaluation.objects.filter(request=pa_request).count() == 2
    assert pa_request.status != Status.PENDING_INFORMATION
    assert AuditEvent.objects.filter(action="request_updated").count() == 1
    assert claim_response(response.json())["request"] == {"reference": "Claim/UpdatedClaim"}


def test_an_update_of_a_decided_request_changes_nothing(api_a, nurse):
    sent = surgical_bundle()
    post_fhir(api_a, SUBMIT, sent)
    pa_request = PriorAuthRequest.objects.get()
    evidence_checks_run(pa_request=pa_request)
    request_claim(pa_request=pa_request, actor=nurse)
    determination_record(pa_request=pa_request, outcome="approved", actor=nurse)

    response = post_fhir(api_a, SUBMIT, update_of(sent, surgical_bundle()))

    assert response.status_code == 200, response.content
    assert set(review_actions(response.json())) == {"A1"}
    notes = [n["text"] for n in claim_response(response.json())["processNote"]]
    assert any("already decided" in n for n in notes)
    assert PriorAuthRequest.objects.count() == 1
    assert Determination.objects.count() == 1


def test_the_guides_update_example_after_its_original(api_a):
    # given the home-care request, pended (no diagnosis), for a member on file
    Member.objects.create(
        member_id=MEMBER_ID, first_name="Joe", last_name="Smith", birth_date="1960-01-01"
    )
    original = example_bundle("Bundle-HomecareAuthorizationBundleExample")
    post_fhir(api_a, SUBMIT, original)
    pa_request = PriorAuthRequest.objects.get()
    assert pa_request.status == Status.PENDING_INFORMATION

    # when the guide's update is sent as written (item 2 cancelled, item 3 added)
    update = example_bundle("Bundle-HomecareAuthorizationUpdateBundleExample")
    response = post_fhir(api_a, SUBMIT, update)

    # then it is taken as the update of that request: no new request, each item answered
    assert response.status_code == 200, response.content
    body = response.json()
    assert_pas_response(body, update)
    assert PriorAuthRequest.objects.count() == 1
    items = claim_response(body)["item"]
    assert [i["itemSequence"] for i in items] == [1, 2, 3]
    assert review_actions(body) == ["A4", "C", "A4"]
    assert AuditEvent.objects.filter(
        action="fhir_update_received", data__cancelled_items=[2]
    ).exists()


def test_an_item_marked_cancelled_is_answered_cancelled(api_a):
    sent = surgical_bundle()
    item = copy.deepcopy(claim(sent)["item"][0])
    item["sequence"] = 2
    item["modifierExtension"] = [{"url": INFO_CANCELLED, "valueBoolean": True}]
    claim(sent)["item"].append(item)

    response = post_fhir(api_a, SUBMIT, sent)

    assert response.status_code == 200, response.content
    assert review_actions(response.json()) == ["A4", "C"]


def test_an_update_with_the_birth_date_files_a_held_claim(api_a):
    # given a claim held because the member is unknown and the Patient has no birth date
    sent = example_bundle("Bundle-SurgicalRequestBundleExample")
    post_fhir(api_a, SUBMIT, sent)
    held = HeldClaim.objects.get()
    assert not PriorAuthRequest.objects.exists()

    # when the EHR updates it with the birth date
    changed = surgical_bundle(birth_date="1958-04-02")
    response = post_fhir(api_a, SUBMIT, update_of(sent, changed))

    # then the request is filed and the held claim points at it
    assert response.status_code == 200, response.content
    pa_request = PriorAuthRequest.objects.get()
    held.refresh_from_db()
    assert held.filed_request == pa_request
    assert str(pa_request.member.birth_date) == "1958-04-02"
    assert claim_response(response.json())["id"] == pa_request.reference
