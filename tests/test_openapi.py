"""The OpenAPI schema: generated without a warning, valid, every operation and field described,
and what the views really return is what it documents."""

import json

import pytest
from django.core.management import call_command
from django.urls import reverse
from drf_spectacular.drainage import GENERATOR_STATS

from reviews.services.appeals import appeal_file
from tests.conftest import post_json, token_client
from tests.reviews.audit_cases import denied_request

METHODS = ("get", "post", "put", "patch", "delete")
ERROR_SHAPE = {"code", "message", "fields"}


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    # The command's counters are process-wide: count this generation's warnings only.
    GENERATOR_STATS.reset()
    path = tmp_path_factory.mktemp("openapi") / "schema.json"
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", path
    )
    return json.loads(path.read_text())


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def parts(schema: dict, node: dict) -> list[dict]:
    """The node and the schemas it combines (allOf / oneOf / anyOf), resolved."""
    node = resolve(schema, node)
    found = [node]
    for part in node.get("allOf", []) + node.get("oneOf", []) + node.get("anyOf", []):
        found += parts(schema, part)
    return found


def undescribed(schema: dict, node: dict, path: str, seen: set) -> list[str]:
    """Property paths under `node` with no description."""
    missing = []
    for part in parts(schema, node):
        if "items" in part:
            missing += undescribed(schema, part["items"], f"{path}[]", seen)
        for name, prop in part.get("properties", {}).items():
            field = f"{path}.{name}" if path else name
            if not prop.get("description"):
                missing.append(field)
            if (id(part), name) not in seen:
                seen.add((id(part), name))
                missing += undescribed(schema, prop, field, seen)
    return missing


def bodies(operation: dict):
    """(where, media type, schema) of the request body and of every response."""
    for media, content in operation.get("requestBody", {}).get("content", {}).items():
        yield "request", media, content["schema"]
    for status, response in operation["responses"].items():
        for media, content in response.get("content", {}).items():
            yield status, media, content["schema"]


def mismatches(schema: dict, node: dict, value, path: str = "") -> list[str]:
    """Where a real response differs from its documented schema: keys not documented,
    documented keys missing, or null where the schema does not allow it."""
    found = parts(schema, node)
    if value is None:
        return [] if any(p.get("nullable") for p in found) else [f"{path}: null"]
    problems = []
    properties = {k: v for p in found for k, v in p.get("properties", {}).items()}
    items = next((p["items"] for p in found if "items" in p), None)
    if isinstance(value, dict) and properties:
        problems += [f"{path}.{k}: not documented" for k in sorted(set(value) - set(properties))]
        problems += [f"{path}.{k}: missing" for k in sorted(set(properties) - set(value))]
        for key in set(value) & set(properties):
            problems += mismatches(schema, properties[key], value[key], f"{path}.{key}")
    elif isinstance(value, list) and items is not None:
        for index, item in enumerate(value):
            problems += mismatches(schema, items, item, f"{path}[{index}]")
    return problems


def response_schema(schema: dict, path: str, method: str, status: int, media="application/json"):
    return schema["paths"][path][method]["responses"][str(status)]["content"][media]["schema"]


def test_the_schema_generates_valid_and_without_a_warning(schema):
    assert schema["openapi"].startswith("3.")
    assert not GENERATOR_STATS


def test_every_view_is_documented(schema):
    paths = set(schema["paths"])

    assert {
        "/api/v1/requests/{request_id}/letters/",
        "/api/v1/requests/{request_id}/letters/{determination_id}/",
        "/api/v1/requests/{request_id}/letters/{determination_id}.pdf",
        "/api/v1/requests/{request_id}/appeal/",
        "/api/v1/audit/requests/{request_id}/history/",
        "/api/v1/audit/determinations/",
        "/api/v1/audit/determinations.csv",
        "/api/v1/audit/metrics/",
        "/api/v1/audit/metrics.csv",
        "/fhir/metadata",
        "/fhir/Claim/$submit",
        "/fhir/Claim/$inquire",
        "/fhir/Questionnaire",
        "/fhir/Questionnaire/{questionnaire_id}",
        "/fhir/Subscription",
        "/fhir/Subscription/{subscription_id}",
    } <= paths


def test_every_operation_has_a_summary_or_description(schema):
    bare = [
        f"{method} {path}"
        for path, method, op in operations(schema)
        if not (op.get("summary") or op.get("description"))
    ]

    assert bare == []


def test_every_body_property_has_a_description(schema):
    missing = [
        f"{method} {path} {where} {media}: {field}"
        for path, method, op in operations(schema)
        for where, media, body in bodies(op)
        for field in undescribed(schema, body, "", set())
    ]

    assert missing == []


def test_every_api_error_has_the_error_shape(schema):
    wrong = []
    for path, method, op in operations(schema):
        if not path.startswith("/api/v1/"):
            continue
        for status, response in op["responses"].items():
            if not status.startswith("4"):
                continue
            content = response.get("content", {})
            body = content.get("application/json", {}).get("schema")
            if body is None or set(resolve(schema, body).get("properties", {})) != ERROR_SHAPE:
                wrong.append(f"{method} {path} {status}")

    assert wrong == []


def test_csv_and_pdf_responses_name_their_media_type(schema):
    for path in ("/api/v1/audit/determinations.csv", "/api/v1/audit/metrics.csv"):
        content = schema["paths"][path]["get"]["responses"]["200"]["content"]
        assert set(content) == {"text/csv"}
        assert content["text/csv"]["schema"]["type"] == "string"
    detail = schema["paths"]["/api/v1/requests/{request_id}/letters/{determination_id}/"]["get"]
    pdf = schema["paths"]["/api/v1/requests/{request_id}/letters/{determination_id}.pdf"]["get"]

    assert set(detail["responses"]["200"]["content"]) == {"application/json", "application/pdf"}
    assert set(pdf["responses"]["200"]["content"]) == {"application/pdf"}
    assert detail["operationId"] != pdf["operationId"]


def test_fhir_operations_speak_fhir_json_and_name_their_resources(schema):
    fhir = [(path, method, op) for path, method, op in operations(schema) if path[:6] == "/fhir/"]
    expected = {
        ("/fhir/metadata", "get"): "CapabilityStatement",
        ("/fhir/Claim/$submit", "post"): "ClaimResponse",
        ("/fhir/Claim/$inquire", "post"): "ClaimResponse",
        ("/fhir/Questionnaire", "get"): "Questionnaire",
        ("/fhir/Questionnaire/{questionnaire_id}", "get"): "Questionnaire",
        ("/fhir/Subscription", "post"): "Subscription",
        ("/fhir/Subscription/{subscription_id}", "get"): "Subscription",
        ("/fhir/Subscription/{subscription_id}", "put"): "Subscription",
        ("/fhir/Subscription/{subscription_id}", "delete"): "Subscription",
        ("/fhir/Subscription/{subscription_id}/$status", "get"): "Bundle",
    }

    assert {(path, method) for path, method, _ in fhir} == set(expected)
    for path, method, op in fhir:
        for where, media, body in bodies(op):
            assert media in {"application/fhir+json", "application/json"}, (path, where)
            assert body["type"] == "object" and body["description"], (path, where)
            if where.startswith("4"):
                assert body["properties"]["resourceType"]["enum"] == ["OperationOutcome"]
        success = op["responses"].get("200") or op["responses"]["201"]
        assert (
            expected[path, method]
            in success["content"]["application/fhir+json"]["schema"]["description"]
        )


# --- What the views return is what the schema says ---------------------------------------------


@pytest.fixture
def appealed(org_a, provider_a, physician):
    pa_request = denied_request(organization=org_a, submitted_by=provider_a, physician=physician)
    appeal_file(pa_request=pa_request, actor=provider_a, reason="Eight weeks of PT documented.")
    return pa_request


def test_the_letters_return_what_the_schema_documents(schema, api_a, appealed):
    determination = appealed.determinations.get()
    listed = api_a.get(reverse("api-letters", args=[appealed.pk]))
    letter = api_a.get(reverse("api-letter", args=[appealed.pk, determination.pk]))
    list_path = "/api/v1/requests/{request_id}/letters/"
    detail_path = "/api/v1/requests/{request_id}/letters/{determination_id}/"

    assert listed.status_code == letter.status_code == 200
    assert mismatches(schema, response_schema(schema, list_path, "get", 200), listed.json()) == []
    assert mismatches(schema, response_schema(schema, detail_path, "get", 200), letter.json()) == []


def test_an_appeal_returns_what_the_schema_documents(schema, api_a, org_a, provider_a, physician):
    pa_request = denied_request(organization=org_a, submitted_by=provider_a, physician=physician)
    path = "/api/v1/requests/{request_id}/appeal/"

    response = post_json(
        api_a,
        reverse("api-request-appeal", args=[pa_request.pk]),
        {"reason": "Eight weeks of PT are documented.", "attachments": [{"kind": "other"}]},
        key="appeal-schema",
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"attachments[0].text": ["This field is required."]}
    assert mismatches(schema, response_schema(schema, path, "post", 400), response.json()) == []

    response = post_json(
        api_a,
        reverse("api-request-appeal", args=[pa_request.pk]),
        {"reason": "Eight weeks of PT are documented."},
        key="appeal-schema-2",
    )
    assert response.status_code == 201
    assert mismatches(schema, response_schema(schema, path, "post", 201), response.json()) == []


def test_the_audit_api_returns_what_the_schema_documents(schema, auditor, appealed):
    client = token_client(auditor)
    decided = appealed.determinations.get().decided_at.date().isoformat()
    reads = {
        "/api/v1/audit/requests/{request_id}/history/": reverse(
            "api-audit-history", args=[appealed.pk]
        ),
        "/api/v1/audit/determinations/": reverse("api-audit-determinations"),
        "/api/v1/audit/metrics/": f"{reverse('api-audit-metrics')}?start={decided}&end={decided}",
    }

    for path, url in reads.items():
        response = client.get(url)
        assert response.status_code == 200, path
        body = response.json()
        assert mismatches(schema, response_schema(schema, path, "get", 200), body) == [], path
