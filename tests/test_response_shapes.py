"""The audit and letter endpoints' shapes are written once: each JSON response is the component of
the serializer the view renders through, and what the views really return validates against it.

The data is real: requests submitted and evaluated by the engine, pended and answered, asked for
information by a reviewer, talked over peer to peer, denied, appealed, overturned and withdrawn.
"""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft202012Validator, FormatChecker
from rest_framework import serializers

import reviews.api.schema
from reviews.api.audit_serializers import (
    AuditDeterminationPageOutput,
    AuditHistoryOutput,
    MetricsOutput,
)
from reviews.api.letter_serializers import LetterListOutput, LetterOutput
from reviews.models import PriorAuthRequest, Status
from reviews.services import (
    determination_record,
    evidence_checks_run,
    peer_to_peer_record,
    request_answer_information,
    request_claim,
    request_information_ask,
    request_withdraw,
)
from reviews.services.appeals import appeal_file
from tests.conftest import example, token_client
from tests.factories import submit
from tests.reviews.audit_cases import REASONS

HISTORY = "/api/v1/audit/requests/{request_id}/history/"
DETERMINATIONS = "/api/v1/audit/determinations/"
METRICS = "/api/v1/audit/metrics/"
LETTERS = "/api/v1/requests/{request_id}/letters/"
LETTER = "/api/v1/requests/{request_id}/letters/{determination_id}/"

# Each JSON response of the audit and letter endpoints, and the serializer its view renders with.
RENDERED_WITH = {
    HISTORY: AuditHistoryOutput,
    DETERMINATIONS: AuditDeterminationPageOutput,
    METRICS: MetricsOutput,
    LETTERS: LetterListOutput,
    LETTER: LetterOutput,
}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def ref_name(node: dict) -> str | None:
    """The component a property refers to: directly, or wrapped (allOf) to carry a description."""
    if "$ref" in node:
        return node["$ref"].rsplit("/", 1)[1]
    wrapped = node.get("allOf") or []
    return ref_name(wrapped[0]) if len(wrapped) == 1 else None


def serializer_mismatches(schema: dict, name: str, serializer) -> list[str]:
    """Where component `name` is not `serializer`: its properties, in order, which are required,
    and the component of every nested serializer, all the way down."""
    component = schema["components"]["schemas"][name]
    fields = serializer.fields
    problems = []
    if list(component["properties"]) != list(fields):
        problems.append(f"{name}: properties {list(component['properties'])} != {list(fields)}")
    # A key the view always writes is required; a read-only one (a method's) always is.
    required = {n for n, f in fields.items() if f.required or f.read_only}
    if set(component.get("required", [])) != required:
        problems.append(f"{name}: required {sorted(component.get('required', []))}")
    for field_name, field in fields.items():
        nested = field.child if isinstance(field, serializers.ListSerializer) else field
        if not isinstance(nested, serializers.Serializer):
            continue
        prop = component["properties"].get(field_name, {})
        nested_name = ref_name(prop.get("items", prop))
        if nested_name != type(nested).__name__:
            problems.append(f"{name}.{field_name}: refers to {nested_name}")
        else:
            problems += serializer_mismatches(schema, nested_name, nested)
    return problems


def json_response(schema: dict, path: str) -> dict:
    return schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]


def test_each_json_response_is_the_component_of_the_serializer_its_view_renders_with(schema):
    for path, serializer in RENDERED_WITH.items():
        assert json_response(schema, path) == {
            "$ref": f"#/components/schemas/{serializer.__name__}"
        }, path
        assert serializer_mismatches(schema, serializer.__name__, serializer()) == [], path


def test_the_schema_module_holds_no_second_copy_of_those_shapes(schema):
    copies = [
        name
        for name in schema["components"]["schemas"]
        if getattr(getattr(reviews.api.schema, name, None), "__module__", None)
        == "reviews.api.schema"
    ]

    assert copies == ["AppealOriginalDeterminationOutput"]


# --- What the views return validates against those components ----------------------------------


def json_schema(node):
    """An OpenAPI 3.0 schema as JSON Schema: `nullable` as a null alternative, references into
    $defs, and an object with named properties closed to any key it does not name."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = value.replace("#/components/schemas/", "#/$defs/")
        elif key == "properties":
            out[key] = {name: json_schema(prop) for name, prop in value.items()}
        elif key != "nullable":
            out[key] = json_schema(value)
    if "properties" in node:
        out.setdefault("additionalProperties", False)
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") else out


FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _aware_datetime(value) -> bool:
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


def violations(schema: dict, path: str, body) -> list[str]:
    root = {
        "$defs": {name: json_schema(c) for name, c in schema["components"]["schemas"].items()},
        **json_schema(json_response(schema, path)),
    }
    validator = Draft202012Validator(root, format_checker=FORMATS)
    return sorted(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)
    )


def checked(pa_request) -> PriorAuthRequest:
    evidence_checks_run(pa_request=pa_request)
    return PriorAuthRequest.objects.get(pk=pa_request.pk)


@pytest.fixture
def on_record(policies, provider_a, physician, physician2):
    """Three requests with every kind of record the history and the letters show."""
    # The engine pends for the imaging, the provider sends it, the engine approves.
    imaging = example("esi-lumbar-radiculopathy")["clinical"]["imaging"]
    pended = checked(submit(provider_a, clinical__imaging=None))
    assert pended.status == Status.PENDING_INFORMATION
    request_answer_information(pa_request=pended, actor=provider_a, clinical={"imaging": imaging})
    approved = checked(pended)
    assert approved.status == Status.APPROVED

    # A physician asks for a report, talks to the requester, denies; the appeal overturns it.
    fusion = checked(submit(provider_a, "fusion-spondylolisthesis-short-therapy"))
    request_claim(pa_request=fusion, actor=physician)
    request_information_ask(
        pa_request=fusion,
        actor=physician,
        items=[{"field": "clinical.imaging", "why": "The MRI report.", "criterion": "FU-05"}],
    )
    request_answer_information(
        pa_request=fusion,
        actor=provider_a,
        attachments=[{"kind": "imaging_report", "text": "MRI: grade 1 spondylolisthesis L4-L5."}],
        message="The MRI report.",
    )
    fusion = checked(fusion)
    request_claim(pa_request=fusion, actor=physician)
    peer_to_peer_record(
        pa_request=fusion,
        actor=physician,
        counterpart="Dr. Requester",
        occurred_at=timezone.now() - timedelta(hours=1),
        text="Therapy was four weeks.",
    )
    written = {"criterion": "", "statement": "No relief documented.", "source": "records"}
    determination_record(
        pa_request=fusion,
        outcome="denied",
        actor=physician,
        reasons=[*REASONS, written],
        rationale="Only four weeks of physical therapy are documented.",
    )
    appeal_file(pa_request=fusion, actor=provider_a, reason="Eight weeks of PT documented.")
    request_claim(pa_request=fusion, actor=physician2)
    determination_record(
        pa_request=fusion, outcome="approved", actor=physician2, rationale="PT documented."
    )

    withdrawn = submit(provider_a)
    request_withdraw(pa_request=withdrawn, actor=provider_a, reason="The pain resolved.")
    return [approved, PriorAuthRequest.objects.get(pk=fusion.pk), withdrawn]


def test_the_audit_responses_validate_against_their_components(schema, auditor, on_record):
    client = token_client(auditor)
    today = timezone.localdate().isoformat()
    reads = [(HISTORY, f"/api/v1/audit/requests/{r.pk}/history/") for r in on_record]
    reads += [
        (DETERMINATIONS, "/api/v1/audit/determinations/?page_size=2"),
        (DETERMINATIONS, "/api/v1/audit/determinations/?page_size=2&page=2"),
        (METRICS, f"/api/v1/audit/metrics/?start={today}&end={today}"),
    ]
    bodies = []

    for path, url in reads:
        response = client.get(url)
        assert response.status_code == 200, url
        assert violations(schema, path, response.json()) == [], url
        bodies.append(response.json())

    # The data reached every optional and nullable part: the checks' items and a reviewer's,
    # an answered request for information, a note, an appeal, a withdrawal without a letter.
    histories = bodies[:3]
    items = [i for h in histories for ir in h["information_requests"] for i in ir["items"]]
    assert {"criteria" in i for i in items} == {True, False}
    assert any(ir["answer"] for h in histories for ir in h["information_requests"])
    assert [len(h["notes"]) for h in histories] == [0, 1, 0]
    assert [len(h["appeals"]) for h in histories] == [0, 1, 0]
    letters = [d["letter"] for h in histories for d in h["determinations"]]
    assert None in letters and len(letters) == 4
    assert bodies[3]["next"] and bodies[4]["previous"] and bodies[3]["count"] == 4


def test_the_letters_validate_against_their_components(schema, api_a, on_record):
    read = []
    for pa_request in on_record:
        listed = api_a.get(f"/api/v1/requests/{pa_request.pk}/letters/")
        assert listed.status_code == 200
        assert violations(schema, LETTERS, listed.json()) == []
        for letter in listed.json()["results"]:
            response = api_a.get(letter["links"]["self"])
            assert response.status_code == 200
            assert violations(schema, LETTER, response.json()) == [], letter["links"]["self"]
            read.append(response.json())

    # An approval, a denial with its reasons and appeal rights, an appeal decision, a withdrawal.
    assert [(r["kind"], r["outcome"]) for r in read] == [
        ("initial", "approved"),
        ("initial", "denied"),
        ("appeal", "approved"),
        ("initial", "withdrawn"),
    ]
    assert read[1]["appeal"] and len(read[1]["reasons"]) == 2 and read[2]["authorization"]
