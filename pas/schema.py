"""OpenAPI description of the FHIR endpoints (Da Vinci PAS), for an EHR developer.

The bodies are FHIR R4 resources in application/fhir+json; the schema names the resource and
its profile rather than repeating the FHIR specification, and points to an example where one
ships with Lamina (pas/examples/).
"""

import json
import re
from pathlib import Path

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from pas.fhir import FHIR_JSON, PAS

EXAMPLES = Path(__file__).resolve().parent / "examples"
TAG = "fhir"
JSON = "application/json"


def fhir_operation_paths(endpoints: list, **kwargs) -> list:
    """Keep the `$` of FHIR operation routes (`Claim/$submit`) in the documented paths.

    drf-spectacular reads `$` as a regular-expression anchor and drops it, which would document
    /fhir/Claim/submit, an address that does not exist. (A PREPROCESSING_HOOKS entry.)
    """
    fixed = []
    for path, route, method, callback in endpoints:
        for name in re.findall(r"\$(\w+)", route):
            path = re.sub(rf"/{name}(?=/|$)", f"/${name}", path, count=1)
        fixed.append((path, route, method, callback))
    return fixed


FORMAT = OpenApiParameter(
    "format",
    OpenApiTypes.STR,
    enum=["fhir+json", "json", "fhir+xml", "xml"],
    description="Optional, as FHIR's `_format`: `json` answers application/fhir+json, `xml` "
    "application/fhir+xml (FHIR XML; the Accept header chooses too). Bodies may be FHIR XML.",
)


def resource(resource_types: list[str], description: str) -> dict:
    """An object schema: a FHIR resource of one of `resource_types`."""
    return {
        "type": "object",
        "description": description,
        "properties": {
            "resourceType": {
                "type": "string",
                "enum": resource_types,
                "description": "The FHIR resource type.",
            },
        },
        "required": ["resourceType"],
        "additionalProperties": True,
    }


def fhir_body(resource_types: list[str], description: str) -> dict:
    """A request body: the resource in application/fhir+json (application/json is accepted)."""
    schema = resource(resource_types, description)
    return {FHIR_JSON: schema, JSON: schema}


def fhir_response(status: int, resource_type: str, description: str, schema_description: str):
    return {
        (status, FHIR_JSON): OpenApiResponse(
            resource([resource_type], schema_description), description=description
        )
    }


OPERATION_OUTCOME = (
    "An OperationOutcome: one issue per problem, each with severity, code, diagnostics and, "
    "for a problem in the body, the FHIRPath `expression` of the element."
)


def outcomes(**by_status: str) -> dict:
    """Refusals, each an OperationOutcome; keys are `s400`, `s401`, ... for readability."""
    responses = {}
    for key, description in by_status.items():
        responses.update(
            fhir_response(int(key[1:]), "OperationOutcome", description, OPERATION_OUTCOME)
        )
    return responses


BODY_ERRORS = outcomes(
    s400="Malformed JSON or XML, or a resource that does not conform to FHIR R4.",
    s401="No or an invalid token (`Authorization: Token <key>`).",
    s403="The token's user is not a provider of an organization.",
    s413="The body is larger than Lamina accepts.",
    s415="The body is neither FHIR JSON nor FHIR XML (application/fhir+json, application/json, "
    "application/fhir+xml, application/xml, text/xml).",
    s422="A valid resource Lamina cannot accept: the wrong use, no Patient, invalid codes, or "
    "fields the prior-authorization contract refuses (each issue names its element).",
)
READ_ERRORS = outcomes(
    s401="No or an invalid token (`Authorization: Token <key>`).",
    s403="The token's user is not a provider of an organization.",
)


def _example(name: str, filename: str, summary: str) -> OpenApiExample:
    return OpenApiExample(
        name,
        summary=summary,
        value=json.loads((EXAMPLES / filename).read_text()),
        request_only=True,
        media_type=FHIR_JSON,
    )


SUBMIT_EXAMPLE = _example(
    "spinal-fusion",
    "spinal-fusion-request-bundle.json",
    "A PAS request Bundle for a lumbar fusion, clinical facts in a QuestionnaireResponse.",
)
INQUIRE_EXAMPLE = _example(
    "inquiry", "inquiry-bundle.json", "A PAS inquiry Bundle for an earlier request."
)

RESPONSE_BUNDLE = (
    f"A PAS response Bundle ({PAS}/StructureDefinition/profile-pas-response-bundle): the "
    "ClaimResponse first, with a review action per item (A1 certified, A3 not certified, A4 "
    "pending, A6 modified, C cancelled), the authorization number and the criteria not met, "
    "then the resources it references."
)
SUBSCRIPTION = (
    "A Subscription (R4 subscriptions backport, rest-hook channel) to the PAS subscription topic, "
    "filtered to the organization's NPI: Lamina posts a notification Bundle to the endpoint "
    "when a pended request is decided."
)
QUESTIONNAIRE = (
    "A Questionnaire for one procedure family: the clinical facts Lamina's criteria read, to "
    "answer in a QuestionnaireResponse inside the request Bundle."
)

METADATA = {
    "parameters": [FORMAT],
    "operation_id": "fhir_metadata",
    "tags": [TAG],
    "summary": "What the FHIR endpoint supports",
    "description": "The CapabilityStatement: FHIR version, formats, the Claim operations, the "
    "Questionnaires and Subscriptions. No token needed.",
    "responses": fhir_response(
        200,
        "CapabilityStatement",
        "The CapabilityStatement.",
        "A CapabilityStatement (FHIR R4) of Lamina's server.",
    ),
}
QUESTIONNAIRE_SEARCH = {
    "parameters": [FORMAT],
    "operation_id": "fhir_questionnaire_search",
    "tags": [TAG],
    "summary": "List the Questionnaires",
    "description": "One Questionnaire per procedure family. They carry no patient data: no "
    "token needed.",
    "responses": fhir_response(
        200,
        "Bundle",
        "The Questionnaires.",
        f"A Bundle of type searchset, one entry per Questionnaire. {QUESTIONNAIRE}",
    ),
}
QUESTIONNAIRE_READ = {
    "parameters": [FORMAT],
    "operation_id": "fhir_questionnaire_read",
    "tags": [TAG],
    "summary": "Read a Questionnaire",
    "description": "No token needed.",
    "responses": {
        **fhir_response(200, "Questionnaire", "The Questionnaire.", QUESTIONNAIRE),
        **outcomes(s404="No Questionnaire with this id."),
    },
}
CLAIM_SUBMIT = {
    "parameters": [FORMAT],
    "operation_id": "fhir_claim_submit",
    "tags": [TAG],
    "summary": "Submit a prior-authorization request (Claim/$submit)",
    "description": "Takes a PAS request Bundle (the Claim with use `preauthorization` first, "
    "then the Patient, practitioners, coverage and a QuestionnaireResponse with the clinical "
    "facts), or Parameters whose `resource` parameter is that Bundle. Answers within the "
    "guide's 15 seconds: the decision when the checks finish in time, otherwise pended (A4) "
    "and the decision follows through Claim/$inquire or a Subscription.",
    "request": fhir_body(
        ["Bundle", "Parameters"],
        f"A PAS request Bundle ({PAS}/StructureDefinition/profile-pas-request-bundle), or "
        "Parameters carrying it as `resource`.",
    ),
    "examples": [SUBMIT_EXAMPLE],
    "responses": {
        **fhir_response(200, "Bundle", "The ClaimResponse, decided or pended.", RESPONSE_BUNDLE),
        **BODY_ERRORS,
    },
}
CLAIM_INQUIRE = {
    "parameters": [FORMAT],
    "operation_id": "fhir_claim_inquire",
    "tags": [TAG],
    "summary": "Ask where requests stand (Claim/$inquire)",
    "description": "Takes a PAS inquiry Bundle (query by example, PAS 2.2.1: the member, the "
    "provider, the services and the item trace numbers; the inquiry's Claim.identifier is its "
    "own trace number) and answers with a Parameters holding one `return` inquiry response "
    "Bundle per matching request (0..*): the organization's own requests, and another "
    "organization's that names it as the requesting provider. Each read is an audit event.",
    "request": fhir_body(
        ["Bundle", "Parameters"],
        f"A PAS inquiry Bundle ({PAS}/StructureDefinition/profile-pas-inquiry-request-bundle), "
        "or Parameters carrying it as `resource`.",
    ),
    "examples": [INQUIRE_EXAMPLE],
    "responses": {
        **fhir_response(
            200,
            "Parameters",
            "The matching requests (none is an empty Parameters).",
            "A Parameters with 0..* `return` parameters, each a PAS inquiry response Bundle "
            f"({PAS}/StructureDefinition/profile-pas-inquiry-response-bundle): the "
            "ClaimResponse first, with a review action per item, then what it references.",
        ),
        **BODY_ERRORS,
    },
}
SUBSCRIPTION_CREATE = {
    "parameters": [FORMAT],
    "operation_id": "fhir_subscription_create",
    "tags": [TAG],
    "summary": "Subscribe to decisions on pended requests",
    "description": "Creates a rest-hook Subscription; the Location header names it.",
    "request": fhir_body(["Subscription"], SUBSCRIPTION),
    "responses": {
        **fhir_response(
            201,
            "Subscription",
            "Created; active when the endpoint answered the handshake, else error.",
            SUBSCRIPTION,
        ),
        **BODY_ERRORS,
    },
}
SUBSCRIPTION_READ = {
    "parameters": [FORMAT],
    "operation_id": "fhir_subscription_read",
    "tags": [TAG],
    "summary": "Read a Subscription",
    "description": "One of the organization's Subscriptions.",
    "responses": {
        **fhir_response(200, "Subscription", "The Subscription.", SUBSCRIPTION),
        **READ_ERRORS,
        **outcomes(s404="No such Subscription in your organization."),
    },
}
SUBSCRIPTION_DELETE = {
    "parameters": [FORMAT],
    "operation_id": "fhir_subscription_delete",
    "tags": [TAG],
    "summary": "Turn a Subscription off",
    "description": "Stops the notifications; answers with the Subscription, now off.",
    "responses": {
        **fhir_response(200, "Subscription", "The Subscription, status off.", SUBSCRIPTION),
        **READ_ERRORS,
        **outcomes(s404="No such Subscription in your organization."),
    },
}
SUBSCRIPTION_UPDATE = {
    "parameters": [FORMAT],
    "operation_id": "fhir_subscription_update",
    "tags": [TAG],
    "summary": "Update a Subscription",
    "description": "Replaces the endpoint, headers, filter, end and reason (status off ends it); "
    "a new endpoint, or a subscription not active, shakes hands again.",
    "request": fhir_body(["Subscription"], SUBSCRIPTION),
    "responses": {
        **fhir_response(200, "Subscription", "The Subscription as updated.", SUBSCRIPTION),
        **BODY_ERRORS,
        **outcomes(s404="No such Subscription in your organization."),
    },
}
SUBSCRIPTION_STATUS = {
    "parameters": [FORMAT],
    "operation_id": "fhir_subscription_status",
    "tags": [TAG],
    "summary": "Subscription $status",
    "description": "The subscriptions backport's status: a searchset Bundle with one Parameters "
    "(status, type query-status, events-since-subscription-start).",
    "responses": {
        **fhir_response(200, "Bundle", "The status Bundle.", "A searchset Bundle."),
        **READ_ERRORS,
        **outcomes(s404="No such Subscription in your organization."),
    },
}
