"""Claim/$inquire (scoped to the organization), the Questionnaires and the CapabilityStatement."""

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.questionnaire import Questionnaire
from rest_framework.test import APIClient

from pas.questionnaires import FAMILIES, FIELDS, questionnaire_id
from reviews.contract import ClinicalInput, ServiceInput
from reviews.models import AuditEvent, Member, PriorAuthRequest
from tests.pas.conftest import (
    INQUIRE,
    SUBMIT,
    claim,
    claim_response,
    entry_of,
    fhir_example,
    inquiry_results,
    post_fhir,
    review_actions,
    surgical_bundle,
)

pytestmark = pytest.mark.django_db


def _inquiry(identifier: str = "16139462398", member_id: str = "1122334455") -> dict:
    """The shared inquiry example, naming the surgical request."""
    bundle = fhir_example("Bundle-PASClaimInquiryBundleExample")
    c = claim(bundle)
    c["identifier"][0]["value"] = identifier
    c["identifier"][0]["system"] = "http://example.org/PATIENT_EVENT_TRACE_NUMBER"
    entry_of(bundle, "Coverage")["subscriberId"] = member_id
    # Query by example: the item asks about the service that was requested.
    c["item"] = c["item"][:1]
    c["item"][0]["productOrService"]["coding"][0]["code"] = "33510"
    return bundle


def test_inquire_returns_the_current_claim_response(api_a):
    submitted = post_fhir(api_a, SUBMIT, surgical_bundle())
    assert submitted.status_code == 200
    pa_request = PriorAuthRequest.objects.get()

    response = post_fhir(api_a, INQUIRE, _inquiry())

    # then a Parameters with one `return`: the inquiry response Bundle, with the inquiry profiles
    assert response.status_code == 200, response.content
    body = response.json()
    Parameters.model_validate(body)
    [bundle] = inquiry_results(body)
    Bundle.model_validate(bundle)
    assert bundle["meta"]["profile"][0].endswith("profile-pas-inquiry-response-bundle")
    assert review_actions(body) == ["A4"]
    cr = claim_response(body)
    assert cr["meta"]["profile"][0].endswith("profile-claiminquiryresponse")
    assert {"system": "urn:lamina:request", "value": pa_request.reference} in cr["identifier"]
    # the submitted Claim's identifier is kept with its system, as are the item trace numbers
    sent = claim(surgical_bundle())
    assert {
        "system": sent["identifier"][0]["system"],
        "value": sent["identifier"][0]["value"],
    } in cr["identifier"]
    assert cr["request"] == {"reference": f"Claim/{sent['id']}"}
    assert cr["insurer"] == {"reference": "Organization/InsurerExample"}
    assert AuditEvent.objects.filter(
        action="request_viewed", request_id_ref=pa_request.pk, data__via="fhir"
    ).exists()


def test_the_inquiry_identifier_is_its_own_trace_number_not_a_key(api_a):
    # PAS 2.2.1: Claim.identifier of the inquiry is the inquiry's trace number
    post_fhir(api_a, SUBMIT, surgical_bundle())
    body = post_fhir(api_a, INQUIRE, _inquiry(identifier="inquiry-trace-77")).json()
    assert len(inquiry_results(body)) == 1


def test_inquire_answers_every_match_and_none(api_a):
    first = surgical_bundle()
    post_fhir(api_a, SUBMIT, first)
    second = surgical_bundle()
    claim(second)["identifier"][0]["value"] = "another-trace"
    second["identifier"] = {**second["identifier"], "value": "another-bundle"}
    post_fhir(api_a, SUBMIT, second)
    assert PriorAuthRequest.objects.count() == 2

    body = post_fhir(api_a, INQUIRE, _inquiry()).json()
    Parameters.model_validate(body)
    references = [
        claim_response({"resourceType": "Bundle", **b})["id"] for b in inquiry_results(body)
    ]
    assert references == [r.reference for r in PriorAuthRequest.objects.order_by("-pk")]

    none = post_fhir(api_a, INQUIRE, _inquiry(member_id="9999999999"))
    assert none.status_code == 200
    assert none.json() == {"resourceType": "Parameters"}


def test_inquire_matches_item_trace_numbers_when_given(api_a):
    sent = surgical_bundle()
    post_fhir(api_a, SUBMIT, sent)
    traced = [
        e
        for e in claim(sent)["item"][0].get("extension", [])
        if e["url"].endswith("itemTraceNumber")
    ]
    inquiry = _inquiry()
    item = claim(inquiry)["item"][0]
    item["extension"] = [
        e for e in item.get("extension", []) if not e["url"].endswith("itemTraceNumber")
    ]
    if traced:
        item["extension"].append(traced[0])
        assert len(inquiry_results(post_fhir(api_a, INQUIRE, inquiry).json())) == 1
    other = {
        "url": "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-itemTraceNumber",
        "valueIdentifier": {"system": "http://example.org/ITEM_TRACE", "value": "no-such-item"},
    }
    item["extension"] = [e for e in item["extension"] if not e["url"].endswith("itemTraceNumber")]
    item["extension"].append(other)
    assert inquiry_results(post_fhir(api_a, INQUIRE, inquiry).json()) == []


def test_inquire_by_lamina_reference(api_a):
    post_fhir(api_a, SUBMIT, surgical_bundle())
    pa_request = PriorAuthRequest.objects.get()
    inquiry = _inquiry()
    claim(inquiry)["identifier"] = [{"system": "urn:lamina:request", "value": pa_request.reference}]
    response = post_fhir(api_a, INQUIRE, inquiry)
    assert response.status_code == 200, response.content
    assert len(inquiry_results(response.json())) == 1
    claim(inquiry)["identifier"] = [{"system": "urn:lamina:request", "value": "PA-99999999"}]
    assert inquiry_results(post_fhir(api_a, INQUIRE, inquiry).json()) == []


def test_inquire_about_another_service_finds_nothing(api_a):
    post_fhir(api_a, SUBMIT, surgical_bundle())
    inquiry = _inquiry()
    claim(inquiry)["item"][0]["productOrService"]["coding"][0]["code"] = "22633"
    assert inquiry_results(post_fhir(api_a, INQUIRE, inquiry).json()) == []


def test_inquire_about_a_service_not_coded_in_cpt(api_a):
    from tests.pas.test_real_bundles import MEMBER_ID, example_bundle

    Member.objects.create(
        member_id=MEMBER_ID, first_name="Joe", last_name="Smith", birth_date="1960-01-01"
    )
    sent = example_bundle("Bundle-ReferralAuthorizationBundleExample")
    post_fhir(api_a, SUBMIT, sent)
    inquiry = _inquiry(member_id=MEMBER_ID)
    claim(inquiry)["item"][0]["productOrService"] = claim(sent)["item"][0]["productOrService"]
    entry_of(inquiry, "Organization")["identifier"] = []
    assert len(inquiry_results(post_fhir(api_a, INQUIRE, inquiry).json())) == 1


def test_inquire_with_another_providers_npi_finds_nothing(api_a):
    post_fhir(api_a, SUBMIT, surgical_bundle())
    inquiry = _inquiry()
    entry_of(inquiry, "Organization")["identifier"][0]["value"] = "1497758544"
    assert inquiry_results(post_fhir(api_a, INQUIRE, inquiry).json()) == []


def test_another_organizations_request_is_not_found(api_a, api_b):
    post_fhir(api_a, SUBMIT, surgical_bundle())

    response = post_fhir(api_b, INQUIRE, _inquiry())

    assert response.status_code == 200
    assert inquiry_results(response.json()) == []
    assert not AuditEvent.objects.filter(action="request_viewed").exists()


def test_another_provider_the_request_names_may_inquire(api_a, api_b, org_b):
    # given organization A's request naming organization B's NPI as the requesting provider
    sent = surgical_bundle()
    for entry in sent["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] in {"Practitioner", "PractitionerRole", "Organization"}:
            for ident in resource.get("identifier", []):
                if ident.get("system") == "http://hl7.org/fhir/sid/us-npi":
                    ident["value"] = org_b.npi
    assert post_fhir(api_a, SUBMIT, sent).status_code == 200
    pa_request = PriorAuthRequest.objects.get()
    assert pa_request.requesting_provider_npi == org_b.npi

    # when B inquires, it finds the request
    inquiry = _inquiry()
    entry_of(inquiry, "Organization")["identifier"][0]["value"] = org_b.npi
    results = inquiry_results(post_fhir(api_b, INQUIRE, inquiry).json())
    assert len(results) == 1
    assert AuditEvent.objects.filter(action="request_viewed", request_id_ref=pa_request.pk).exists()


def test_a_rest_request_answers_with_request_insurer_and_requestor(api_a, org_a):
    from tests.conftest import example, post_json

    created = post_json(api_a, "/api/v1/requests/", example("esi-lumbar-radiculopathy"))
    assert created.status_code == 201, created.content
    pa_request = PriorAuthRequest.objects.get()
    from pas.responses import response_bundle

    bundle = response_bundle(pa_request, base="http://testserver/fhir", inquiry=True)
    Bundle.model_validate(bundle)
    cr = claim_response(bundle)
    assert cr["request"]["identifier"] == {
        "system": "urn:lamina:request",
        "value": pa_request.reference,
    }
    included = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    assert cr["insurer"]["reference"] in included
    assert cr["requestor"]["reference"] in included
    requestor = next(
        e["resource"]
        for e in bundle["entry"]
        if f"{e['resource']['resourceType']}/{e['resource']['id']}" == cr["requestor"]["reference"]
    )
    assert requestor["identifier"][0]["value"] == org_a.npi


def test_inquire_needs_a_preauthorization_claim(api_a):
    inquiry = _inquiry()
    claim(inquiry)["use"] = "claim"
    assert post_fhir(api_a, INQUIRE, inquiry).status_code == 422


def test_inquire_needs_a_token():
    assert post_fhir(APIClient(), INQUIRE, _inquiry()).status_code == 401


# --- Questionnaires ------------------------------------------------------------------------------


def _serializer_paths(serializer, prefix: str) -> set[str]:
    paths = set()
    for name, field in serializer.fields.items():
        path = f"{prefix}.{name}"
        paths.add(path)
        child = getattr(field, "child", None)
        nested = child if hasattr(child, "fields") else field if hasattr(field, "fields") else None
        if nested is not None:
            paths |= _serializer_paths(nested, path)
    return paths


def test_the_catalogue_is_the_rest_contracts_vocabulary():
    expected = _serializer_paths(ClinicalInput(), "clinical") | (
        _serializer_paths(ServiceInput(), "service") - {"service.cpt_codes"}
    )
    assert set(FIELDS) == expected


@pytest.mark.parametrize("family", FAMILIES)
def test_questionnaire_per_family(client, family):
    response = client.get(f"/fhir/Questionnaire/{questionnaire_id(family)}")

    assert response.status_code == 200
    body = response.json()
    Questionnaire.model_validate(body)
    links = set()

    def walk(items):
        for item in items:
            links.add(item["linkId"])
            walk(item.get("item", []))

    walk(body["item"])
    assert links <= set(FIELDS)
    assert {"clinical.symptom_onset_date", "clinical.conservative_care.start_date"} <= links


def test_the_fusion_questionnaire_asks_about_nicotine_and_the_esi_one_does_not(client):
    def links(family):
        body = client.get(f"/fhir/Questionnaire/{questionnaire_id(family)}").json()
        return {i["linkId"] for i in body["item"]}

    assert "clinical.smoking_status" in links("spinal_fusion")
    assert "clinical.smoking_status" not in links("epidural_steroid_injection")
    assert "service.contrast" in links("epidural_steroid_injection")


def test_unknown_questionnaire(client):
    response = client.get("/fhir/Questionnaire/lamina-hip-replacement")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_questionnaire_search(client):
    body = client.get("/fhir/Questionnaire").json()
    Bundle.model_validate(body)
    assert body["total"] == len(FAMILIES)


def test_questionnaire_canonicals_are_http_urls_that_resolve(client):
    body = client.get("/fhir/Questionnaire").json()
    for entry in body["entry"]:
        url = entry["resource"]["url"]
        assert url.startswith("http://testserver/fhir/Questionnaire/")
        assert url == entry["fullUrl"]
        read = client.get(url.removeprefix("http://testserver"))
        assert read.status_code == 200
        assert read.json()["url"] == url


def test_questionnaire_canonical_base_from_settings(client, settings):
    settings.FHIR_CANONICAL_BASE = "https://pa.example-plan.org/fhir"
    body = client.get("/fhir/Questionnaire/lamina-spinal-fusion").json()
    assert body["url"] == "https://pa.example-plan.org/fhir/Questionnaire/lamina-spinal-fusion"
    found = client.get("/fhir/Questionnaire", {"url": body["url"]}).json()
    assert [e["resource"]["id"] for e in found["entry"]] == ["lamina-spinal-fusion"]


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        (
            {"url": "http://testserver/fhir/Questionnaire/lamina-spinal-fusion"},
            ["lamina-spinal-fusion"],
        ),
        (
            {"url": "http://testserver/fhir/Questionnaire/lamina-spinal-fusion|1"},
            ["lamina-spinal-fusion"],
        ),
        # the earlier urn: names still find their Questionnaire
        ({"url": "urn:lamina:questionnaire:lamina-facet-injection"}, ["lamina-facet-injection"]),
        ({"_id": "lamina-epidural-steroid-injection"}, ["lamina-epidural-steroid-injection"]),
        (
            {"_id": "lamina-spinal-fusion,lamina-facet-injection"},
            ["lamina-facet-injection", "lamina-spinal-fusion"],
        ),
        ({"_id": "no-such-questionnaire"}, []),
        ({"url": "http://elsewhere.example/Questionnaire/lamina-spinal-fusion"}, []),
    ],
)
def test_questionnaire_search_by_url_and_id(client, query, ids):
    response = client.get("/fhir/Questionnaire", query)
    assert response.status_code == 200
    body = response.json()
    Bundle.model_validate(body)
    assert sorted(e["resource"]["id"] for e in body.get("entry", [])) == sorted(ids)
    assert body["total"] == len(ids)


def test_questionnaire_search_by_an_unsupported_parameter_is_refused(client):
    response = client.get("/fhir/Questionnaire", {"title": "fusion"})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_metadata(client):
    response = client.get("/fhir/metadata")

    assert response.status_code == 200
    body = response.json()
    CapabilityStatement.model_validate(body)
    resources = {r["type"]: r for r in body["rest"][0]["resource"]}
    assert {op["name"] for op in resources["Claim"]["operation"]} == {"submit", "inquire"}
    assert {"Questionnaire", "Subscription"} <= set(resources)
    # the security an EHR uses is declared
    security = body["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "OAuth"
    assert "Bearer" in security["description"]
    assert {i["code"] for i in resources["Subscription"]["interaction"]} >= {"create", "update"}
    assert resources["Subscription"]["operation"][0]["name"] == "status"
    assert {p["name"] for p in resources["Questionnaire"]["searchParam"]} == {"url", "_id"}
    # and the formats Lamina speaks
    assert body["format"] == ["application/fhir+json", "json", "application/fhir+xml", "xml"]


# --- Authentication, formats and unknown paths --------------------------------------------------


def test_a_bearer_token_authenticates_and_the_token_scheme_still_does(provider_a):
    from rest_framework.authtoken.models import Token

    key = Token.objects.create(user=provider_a).key
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert post_fhir(bearer, SUBMIT, surgical_bundle()).status_code == 200
    token = APIClient()
    token.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert post_fhir(token, INQUIRE, _inquiry()).status_code == 200
    # the REST API keeps its Token scheme
    assert token.get("/api/v1/requests/").status_code == 200


def test_a_wrong_bearer_token_is_401_with_the_challenge():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = post_fhir(client, SUBMIT, surgical_bundle())
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not PriorAuthRequest.objects.exists()


def test_the_formats_are_those_the_capability_statement_declares(api_a):
    declared = api_a.get("/fhir/metadata").json()["format"]
    assert {"application/fhir+json", "application/fhir+xml"} <= set(declared)
    asked = api_a.get("/fhir/metadata", HTTP_ACCEPT="application/fhir+xml")
    assert asked.status_code == 200
    assert asked["Content-Type"].startswith("application/fhir+xml")
    response = post_fhir(api_a, SUBMIT, "resourceType: Bundle", "application/fhir+yaml")
    assert response.status_code == 415
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    "path", ["/fhir/Patient/1", "/fhir/Claim", "/fhir/Questionnaire/x/y", "/fhir/nothing"]
)
def test_an_unknown_fhir_path_answers_an_operation_outcome(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/fhir+json")
    assert response.json()["resourceType"] == "OperationOutcome"


def test_the_readme_examples_submit_and_inquire(api_a):
    """pas/examples/ are what the README's curl commands send: they must keep working."""
    import json
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "pas" / "examples"
    request_bundle = json.loads((examples / "spinal-fusion-request-bundle.json").read_text())
    inquiry_bundle = json.loads((examples / "inquiry-bundle.json").read_text())

    submitted = post_fhir(api_a, SUBMIT, request_bundle)
    assert submitted.status_code == 200, submitted.content
    assert PriorAuthRequest.objects.get().procedure_family == "spinal_fusion"

    inquired = post_fhir(api_a, INQUIRE, inquiry_bundle)
    assert inquired.status_code == 200, inquired.content
    assert review_actions(inquired.json()) == ["A4", "A4", "A4"]
