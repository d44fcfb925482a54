"""The OpenAPI schema generates, validates, and describes every field a provider sends."""

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

OPERATIONS = [
    ("/api/v1/requests/", "post"),
    ("/api/v1/requests/", "get"),
    ("/api/v1/requests/{request_id}/", "get"),
    ("/api/v1/requests/{request_id}/information/", "post"),
    ("/api/v1/requests/{request_id}/withdraw/", "post"),
]
POSTS = [op for op in OPERATIONS if op[1] == "post"]


@pytest.fixture(scope="module")
def schema():
    generated = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(generated)
    return generated


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def undescribed(schema: dict, node: dict, path: str, seen: set) -> list[str]:
    """Field paths under `node` whose property has no description."""
    node = resolve(schema, node)
    missing = []
    for part in node.get("allOf", []) + node.get("oneOf", []) + node.get("anyOf", []):
        missing += undescribed(schema, part, path, seen)
    if "items" in node:
        missing += undescribed(schema, node["items"], f"{path}[]", seen)
    for name, prop in node.get("properties", {}).items():
        field = f"{path}.{name}" if path else name
        if not prop.get("description"):
            missing.append(field)
        key = (id(node), name)
        if key not in seen:
            seen.add(key)
            missing += undescribed(schema, prop, field, seen)
    return missing


def request_body(schema: dict, path: str, method: str) -> dict:
    return schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_each_provider_operation_is_in_the_schema(schema, path, method):
    operation = schema["paths"][path][method]
    assert operation["summary"]
    assert "200" in operation["responses"] or "201" in operation["responses"]
    assert "401" in operation["responses"]


@pytest.mark.parametrize(("path", "method"), POSTS)
def test_every_request_body_field_has_a_description(schema, path, method):
    body = request_body(schema, path, method)

    assert undescribed(schema, body, "", set()) == []


def test_the_whole_contract_is_in_the_create_body(schema):
    body = resolve(schema, request_body(schema, "/api/v1/requests/", "post"))
    clinical = resolve(schema, body["properties"]["clinical"]["allOf"][0])

    assert set(body["required"]) == {
        "urgency",
        "member",
        "requesting_provider",
        "service",
        "diagnosis_codes",
        "clinical",
    }
    assert {"red_flags", "neurological", "conservative_care", "imaging", "oncology"} <= set(
        clinical["properties"]
    )


@pytest.mark.parametrize(("path", "method"), POSTS)
def test_posts_document_the_idempotency_key_and_the_error_shape(schema, path, method):
    operation = schema["paths"][path][method]
    header = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]

    assert header and header[0]["in"] == "header" and header[0]["required"] is True
    assert header[0]["description"]
    for status in ("400", "409", "413", "415"):
        content = operation["responses"][status]["content"]["application/json"]["schema"]
        error = resolve(schema, content)
        assert set(error["properties"]) == {"code", "message", "fields"}


def test_the_list_documents_its_filters(schema):
    names = {p["name"] for p in schema["paths"]["/api/v1/requests/"]["get"]["parameters"]}

    assert {"status", "procedure_family", "urgency", "received_after", "received_before"} <= names


def test_the_schema_and_docs_are_served(client, db):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
