"""FHIR XML on /fhir/: bodies read through fhir.resources into the dict a JSON body gives, answers
and refusals written as FHIR XML when Accept or `_format` asks, and hostile XML refused (400,
nothing stored)."""

import json

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.subscription import Subscription as SubscriptionModel
from lxml import etree
from rest_framework.test import APIClient

from pas.models import ClaimRecord, HeldClaim, Subscription
from pas.renderers import FhirXMLRenderer
from pas.xml import MAX_XML_ELEMENTS, xml_load, xml_parser
from reviews.models import AuditEvent, Member, PriorAuthRequest
from tests.conftest import token_client
from tests.pas.conftest import (
    FHIR_DIR,
    INQUIRE,
    SUBMIT,
    claim,
    claim_response,
    entry_of,
    fhir_example,
    review_actions,
    surgical_bundle,
)
from tests.pas.test_real_bundles import MEMBER_ID, REQUESTS, assert_pas_response, example_bundle
from tests.pas.test_subscriptions import subscription_body

pytestmark = pytest.mark.django_db

FHIR_XML = "application/fhir+xml"
FHIR_JSON = "application/fhir+json"


def to_xml(resource: dict) -> bytes:
    """The resource in FHIR XML, as fhir.resources writes it."""
    return get_fhir_model_class(resource["resourceType"]).model_validate(resource).model_dump_xml()


def post_xml(client, url: str, body: bytes | str, accept: str = FHIR_XML, content_type=FHIR_XML):
    return client.generic("POST", url, body, content_type=content_type, HTTP_ACCEPT=accept)


def xml_answer(response, model, status: int = 200):
    """The answer, checked to be FHIR XML of the model's resource type, as a dict."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == f"{FHIR_XML}; charset=utf-8"
    assert response.content.startswith(b"<?xml")
    return json.loads(model.model_validate_xml(response.content).model_dump_json())


def xml_outcome(response, status: int) -> dict:
    outcome = xml_answer(response, OperationOutcome, status)
    assert outcome["issue"], outcome
    return outcome


def json_outcome(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(FHIR_JSON)
    body = response.json()
    OperationOutcome.model_validate(body)
    return body


def nothing_stored():
    assert not PriorAuthRequest.objects.exists()
    assert not ClaimRecord.objects.exists()
    assert not HeldClaim.objects.exists()
    assert not AuditEvent.objects.filter(action="request_submitted").exists()


@pytest.fixture
def member_on_file(db):
    return Member.objects.create(
        member_id=MEMBER_ID, first_name="Joe", last_name="Smith", birth_date="1960-01-01"
    )


# --- Bodies ----------------------------------------------------------------------------------------


CLIENT_EXAMPLES = sorted(
    [*REQUESTS, "Bundle-PASClaimInquiryBundleExample", "Subscription-PASSubscriptionExample"]
)


@pytest.mark.parametrize("name", CLIENT_EXAMPLES)
def test_an_xml_body_reads_as_the_json_of_the_same_resource(name):
    """Every example of the guide a client sends, written in XML by fhir.resources, reads back as
    the JSON it was written from (numbers compare equal: fhir.resources writes decimal 100 as
    100.0)."""
    sent = json.loads((FHIR_DIR / f"{name}.json").read_text())
    assert xml_load(to_xml(sent)) == sent


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_each_request_example_sent_as_xml_is_taken_as_written(api_a, member_on_file, name):
    sent = example_bundle(name)

    response = post_xml(api_a, SUBMIT, to_xml(sent), accept=FHIR_JSON)

    assert response.status_code == 200, response.content
    body = response.json()
    assert_pas_response(body, sent)
    status, cpt_codes = REQUESTS[name]
    pa_request = PriorAuthRequest.objects.get()
    assert pa_request.status == status
    assert pa_request.cpt_codes == cpt_codes
    assert pa_request.member.member_id == MEMBER_ID
    assert set(review_actions(body)) <= {"A4", "C"}


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_each_request_example_sent_as_xml_is_answered_in_xml(api_a, member_on_file, name):
    sent = example_bundle(name)

    response = post_xml(api_a, SUBMIT, to_xml(sent))

    body = xml_answer(response, Bundle)
    answer = assert_pas_response(body, sent)
    assert answer["resourceType"] == "ClaimResponse"
    assert body["entry"][0]["resource"]["resourceType"] == "ClaimResponse"
    assert set(review_actions(body)) <= {"A4", "C"}
    assert PriorAuthRequest.objects.get().status == REQUESTS[name][0]


@pytest.mark.parametrize(
    "content_type", ["application/xml", "text/xml", f"{FHIR_XML}; charset=utf-8"]
)
def test_the_xml_aliases_are_taken(api_a, member_on_file, content_type):
    sent = example_bundle("Bundle-SurgicalRequestBundleExample")

    response = post_xml(api_a, SUBMIT, to_xml(sent), content_type=content_type)

    xml_answer(response, Bundle)
    assert PriorAuthRequest.objects.count() == 1


def test_the_same_bundle_in_json_then_in_xml_is_a_retry(api_a, member_on_file):
    sent = example_bundle("Bundle-SurgicalRequestBundleExample")
    first = api_a.generic(
        "POST", SUBMIT, json.dumps(sent), content_type=FHIR_JSON, HTTP_ACCEPT=FHIR_JSON
    )
    events = AuditEvent.objects.count()

    again = post_xml(api_a, SUBMIT, to_xml(sent), accept=FHIR_JSON)

    assert again.status_code == 200, again.content
    assert claim_response(again.json())["id"] == claim_response(first.json())["id"]
    assert PriorAuthRequest.objects.count() == 1
    assert AuditEvent.objects.count() == events


def test_a_bundle_in_xml_parameters_is_taken(api_a, member_on_file):
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": example_bundle("Bundle-SurgicalRequestBundleExample")}
        ],
    }

    xml_answer(post_xml(api_a, SUBMIT, to_xml(parameters)), Bundle)

    assert PriorAuthRequest.objects.count() == 1


def test_inquire_in_xml(api_a):
    submitted = post_xml(api_a, SUBMIT, to_xml(surgical_bundle()))
    xml_answer(submitted, Bundle)
    pa_request = PriorAuthRequest.objects.get()
    inquiry = fhir_example("Bundle-PASClaimInquiryBundleExample")
    entry_of(inquiry, "Coverage")["subscriberId"] = MEMBER_ID
    claim(inquiry)["item"] = claim(inquiry)["item"][:1]
    claim(inquiry)["item"][0]["productOrService"]["coding"][0]["code"] = "33510"

    response = post_xml(api_a, INQUIRE, to_xml(inquiry))

    body = xml_answer(response, Parameters)
    [result] = [p["resource"] for p in body["parameter"] if p["name"] == "return"]
    assert result["resourceType"] == "Bundle"
    assert review_actions(result) == ["A4"]
    assert {"system": "urn:lamina:request", "value": pa_request.reference} in claim_response(
        result
    )["identifier"]


def test_an_inquiry_matching_nothing_is_an_empty_parameters_in_xml(api_a):
    response = post_xml(
        api_a, INQUIRE, to_xml(example_bundle("Bundle-PASClaimInquiryBundleExample"))
    )

    assert xml_answer(response, Parameters) == {"resourceType": "Parameters"}


def test_a_subscription_in_xml(api_a, org_a, receiver):
    endpoint = receiver()

    response = post_xml(api_a, "/fhir/Subscription", to_xml(subscription_body(org_a, endpoint.url)))

    body = xml_answer(response, SubscriptionModel, 201)
    stored = Subscription.objects.get()
    assert response["Location"].endswith(f"/fhir/Subscription/{stored.pk}")
    assert body["status"] == "active"
    assert stored.filter_criteria == f"org-identifier={org_a.npi}"
    read = api_a.get(f"/fhir/Subscription/{stored.pk}", HTTP_ACCEPT=FHIR_XML)
    assert xml_answer(read, SubscriptionModel)["id"] == str(stored.pk)
    status = api_a.get(f"/fhir/Subscription/{stored.pk}/$status", HTTP_ACCEPT=FHIR_XML)
    assert xml_answer(status, Bundle)["type"] == "searchset"


# --- Answers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "accept"),
    [
        ("", FHIR_XML),
        ("", "application/xml"),
        ("", "text/xml"),
        ("", f"text/html, {FHIR_XML};q=0.9, */*;q=0.8"),
        ("?_format=xml", FHIR_JSON),
        ("?_format=application/fhir%2Bxml", FHIR_JSON),
        ("?_format=application/fhir+xml", ""),
        ("?_format=text/xml", ""),
    ],
)
def test_metadata_in_xml(client, query, accept):
    response = client.get(f"/fhir/metadata{query}", HTTP_ACCEPT=accept)

    statement = xml_answer(response, CapabilityStatement)
    assert {"application/fhir+xml", "xml"} <= set(statement["format"])
    assert statement["rest"][0]["resource"][0]["type"] == "Claim"


@pytest.mark.parametrize(
    ("query", "accept"),
    [
        ("", ""),
        ("", "*/*"),
        ("", "application/json"),
        ("", f"{FHIR_XML};q=0.5, {FHIR_JSON}"),
        ("?_format=json", FHIR_XML),
    ],
)
def test_json_stays_the_default_and_the_preference_is_honoured(client, query, accept):
    response = client.get(f"/fhir/metadata{query}", HTTP_ACCEPT=accept)

    assert response.status_code == 200
    assert response["Content-Type"] == f"{FHIR_JSON}; charset=utf-8"
    CapabilityStatement.model_validate(response.json())


@pytest.mark.parametrize("query", ["?_format=ttl", "?_format=html"])
def test_a_format_lamina_does_not_write_is_406(client, query):
    outcome = json_outcome(client.get(f"/fhir/metadata{query}"), 406)
    assert outcome["issue"][0]["code"] == "not-supported"
    json_outcome(client.get("/fhir/metadata", HTTP_ACCEPT="text/html"), 406)


def test_questionnaires_in_xml(client):
    listed = client.get("/fhir/Questionnaire", HTTP_ACCEPT=FHIR_XML)
    bundle = xml_answer(listed, Bundle)
    assert bundle["total"] == len(bundle["entry"]) > 0
    first = bundle["entry"][0]["resource"]

    read = client.get(f"/fhir/Questionnaire/{first['id']}?_format=xml")

    assert xml_answer(read, Questionnaire) == first


def test_options_answers_drfs_description_in_json(api_a):
    response = api_a.options(SUBMIT, HTTP_ACCEPT=FHIR_XML)

    assert response.status_code == 200
    assert response["Content-Type"].startswith(FHIR_JSON)
    assert FHIR_XML in response.json()["parses"]


# --- Refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/fhir/Patient/1", "/fhir/Claim", "/fhir/Questionnaire/x/y"])
def test_an_unknown_fhir_path_is_a_404_operation_outcome_in_xml(client, path):
    outcome = xml_outcome(client.get(path, HTTP_ACCEPT=FHIR_XML), 404)
    assert outcome["issue"][0]["code"] == "not-found"
    xml_outcome(client.post(f"{path}?_format=xml"), 404)
    assert json_outcome(client.get(path), 404)["issue"][0]["code"] == "not-found"


def test_an_unknown_questionnaire_is_a_404_in_xml(client):
    xml_outcome(client.get("/fhir/Questionnaire/nope", HTTP_ACCEPT=FHIR_XML), 404)


def test_unauthenticated_is_a_401_in_xml():
    response = post_xml(APIClient(), SUBMIT, to_xml(surgical_bundle()))

    outcome = xml_outcome(response, 401)
    assert outcome["issue"][0]["code"] == "login"
    assert response["WWW-Authenticate"].startswith("Bearer")
    nothing_stored()


def test_a_reviewer_is_a_403_and_a_wrong_method_a_405_in_xml(api_a, nurse):
    refused = post_xml(token_client(nurse), SUBMIT, to_xml(surgical_bundle()))
    assert xml_outcome(refused, 403)["issue"][0]["code"] == "forbidden"
    assert xml_outcome(api_a.get(f"{SUBMIT}?_format=xml"), 405)["issue"][0]["code"] == (
        "not-supported"
    )
    nothing_stored()


def test_a_valid_bundle_lamina_cannot_accept_is_a_422_naming_the_element_in_xml(api_a):
    bundle = surgical_bundle()
    claim(bundle)["use"] = "claim"

    outcome = xml_outcome(post_xml(api_a, SUBMIT, to_xml(bundle)), 422)

    assert outcome["issue"][0]["expression"] == ["Bundle.entry[0].resource.use"]
    nothing_stored()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<Bundle xmlns='http://hl7.org/fhir'><type value='collection'></Bundle>",
        b"not xml at all",
        b"<Bundle xmlns='http://hl7.org/fhir'><type value='collection'/>",
        b"\xff\xfe<\x00B\x00",
        b"<?xml version='1.0' encoding='UTF-16'?><Bundle xmlns='http://hl7.org/fhir'/>",
        b"<Bundle xmlns='http://hl7.org/fhir'><id value='&undefined;'/></Bundle>",
    ],
    ids=["empty", "mismatched-tag", "text", "truncated", "utf-16", "lying-declaration", "entity"],
)
def test_malformed_xml_is_a_400(api_a, body):
    json_outcome(post_xml(api_a, SUBMIT, body, accept=FHIR_JSON), 400)
    xml_outcome(post_xml(api_a, SUBMIT, body), 400)
    nothing_stored()


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"<Bundle><type value='collection'/></Bundle>", "namespace"),
        (
            b"<f:Bundle xmlns:f='http://hl7.org/fhir'><f:type value='collection'/></f:Bundle>",
            "namespace",
        ),
        (b"<Insurance xmlns='http://hl7.org/fhir'/>", "Unknown resource type 'Insurance'"),
        (b"<Bundle xmlns='http://hl7.org/fhir'><flavour value='x'/></Bundle>", "'flavour'"),
        (
            b"<Patient xmlns='http://hl7.org/fhir'><id value='p'/></Patient>",
            "Expected resourceType Bundle",
        ),
        (
            b"<Bundle xmlns='http://hl7.org/fhir'><type value='collection'/>"
            b"<entry><resource><Insurance><id value='x'/></Insurance></resource></entry></Bundle>",
            "Insurance",
        ),
        (
            b"<Bundle xmlns='http://hl7.org/fhir'><type value='collection'/>"
            b"<timestamp value='yesterday'/></Bundle>",
            "timestamp",
        ),
    ],
    ids=[
        "no-namespace",
        "prefixed",
        "unknown-type",
        "unknown-element",
        "wrong-type",
        "unknown-entry",
        "bad-value",
    ],
)
def test_xml_that_is_not_a_fhir_bundle_is_a_400_saying_why(api_a, body, said):
    outcome = xml_outcome(post_xml(api_a, SUBMIT, body), 400)

    assert said in " ".join(i["diagnostics"] for i in outcome["issue"])
    nothing_stored()


def test_xml_nested_too_deep_is_a_400(api_a):
    body = b"<Bundle xmlns='http://hl7.org/fhir'>" + b"<extension>" * 60 + b"</extension>" * 60
    body += b"</Bundle>"

    outcome = xml_outcome(post_xml(api_a, SUBMIT, body), 400)

    assert outcome["issue"][0]["code"] == "too-costly"
    assert "deeper" in outcome["issue"][0]["diagnostics"]
    nothing_stored()


def test_xml_with_too_many_elements_is_a_400(api_a):
    """Well under the body size limit, but more elements than fhir.resources reads quickly."""
    link = b"<link><relation value='next'/><url value='http://example.org/b'/></link>"
    body = b"<Bundle xmlns='http://hl7.org/fhir'><type value='collection'/>"
    body += link * (MAX_XML_ELEMENTS // 3 + 1) + b"</Bundle>"

    outcome = xml_outcome(post_xml(api_a, SUBMIT, body), 400)

    assert outcome["issue"][0]["code"] == "too-costly"
    assert str(MAX_XML_ELEMENTS) in outcome["issue"][0]["diagnostics"]
    nothing_stored()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE Bundle [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Bundle xmlns="http://hl7.org/fhir"><type value="collection"/>
 <entry><resource><Patient><id value="p"/><gender value="&lol9;"/></Patient></resource></entry>
</Bundle>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Bundle [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Bundle xmlns="http://hl7.org/fhir"><type value="collection"/>
 <entry><resource><Patient><id value="p"/><text><status value="generated"/>
 <div xmlns="http://www.w3.org/1999/xhtml">&secret;</div></text></Patient></resource></entry>
</Bundle>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Bundle SYSTEM "http://127.0.0.1:9/fhir.dtd">
<Bundle xmlns="http://hl7.org/fhir"><type value="collection"/></Bundle>"""


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        EXTERNAL_DTD,
        b'<?xml version="1.0"?>\n<!doctype Bundle>\n<Bundle xmlns="http://hl7.org/fhir"/>',
    ],
    ids=["billion-laughs", "external-entity", "external-dtd", "lowercase-doctype"],
)
def test_entity_and_dtd_payloads_are_a_400_and_store_nothing(api_a, body):
    response = post_xml(api_a, SUBMIT, body)

    outcome = xml_outcome(response, 400)
    assert outcome["issue"][0]["code"] == "security"
    assert b"lollol" not in response.content and b"root:" not in response.content
    nothing_stored()


def test_the_parser_itself_resolves_no_external_entity():
    """Behind the refusal of any DTD: lxml as configured reads nothing from disk or network, in
    text or in an attribute."""
    root = etree.fromstring(EXTERNAL_ENTITY, parser=xml_parser())
    assert b"root:" not in etree.tostring(root)
    in_attribute = EXTERNAL_ENTITY.replace(b'<id value="p"/>', b'<id value="&secret;"/>')
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(in_attribute, parser=xml_parser())


def test_broken_xml_never_gets_a_server_error(api_a):
    whole = to_xml(surgical_bundle())
    cuts = range(1, len(whole), len(whole) // 40)
    for cut in cuts:
        truncated = whole[:cut]
        assert post_xml(api_a, SUBMIT, truncated).status_code == 400, cut
        garbled = whole[:cut] + b"<" + whole[cut:]
        assert post_xml(api_a, SUBMIT, garbled).status_code == 400, cut
    nothing_stored()


@pytest.mark.parametrize(
    "content_type", ["application/fhir+yaml", "text/plain", "application/xhtml+xml"]
)
def test_an_unsupported_media_type_is_still_a_415(api_a, content_type):
    response = post_xml(
        api_a, SUBMIT, to_xml(surgical_bundle()), accept=FHIR_JSON, content_type=content_type
    )

    outcome = json_outcome(response, 415)
    assert outcome["issue"][0]["code"] == "not-supported"
    assert "application/fhir+xml" in outcome["issue"][0]["diagnostics"]
    xml_outcome(post_xml(api_a, SUBMIT, b"x", content_type=content_type), 415)
    nothing_stored()


def test_a_body_too_large_is_a_413_in_xml(api_a, settings):
    settings.MAX_BODY_BYTES = 1000

    xml_outcome(post_xml(api_a, SUBMIT, to_xml(surgical_bundle())), 413)

    nothing_stored()


def test_control_characters_echoed_in_an_answer_are_replaced_in_xml(client):
    """XML 1.0 cannot carry them; the refusal naming a parameter still answers in XML."""
    response = client.get("/fhir/Questionnaire?b%01d=1&_format=xml")

    outcome = xml_outcome(response, 400)
    assert "b\ufffdd" in outcome["issue"][0]["diagnostics"]


def test_an_answer_that_cannot_be_written_as_xml_is_a_500_operation_outcome():
    """Lamina's own answers all validate; should one not, the client still gets FHIR XML."""

    class Answer:
        status_code = 200

    answer = Answer()
    body = FhirXMLRenderer().render(
        {"resourceType": "Bundle", "type": "collection", "total": "many"},
        renderer_context={"response": answer},
    )

    assert answer.status_code == 500
    assert OperationOutcome.model_validate_xml(body).issue[0].code == "exception"
