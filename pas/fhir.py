"""FHIR vocabulary Lamina speaks, and the OperationOutcome every refusal is rendered as."""

import json
from typing import Any

from django.http import HttpResponse

PAS = "http://hl7.org/fhir/us/davinci-pas"
PAS_EXT = f"{PAS}/StructureDefinition/extension-"
PAS_TOPIC = f"{PAS}/SubscriptionTopic/PASSubscriptionTopic"
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport"
BACKPORT_FILTER = f"{BACKPORT}/StructureDefinition/backport-filter-criteria"
BACKPORT_PAYLOAD = f"{BACKPORT}/StructureDefinition/backport-payload-content"

X12_REVIEW_ACTION = "https://codesystem.x12.org/005010/306"
X12_LEVEL_OF_SERVICE = "https://codesystem.x12.org/005010/1338"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
PROCESS_PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
NPI = "http://hl7.org/fhir/sid/us-npi"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
SOPT = "https://nahdo.org/sopt"
# CPT arrives under either system: the AMA's, or CMS's HCPCS (Level I HCPCS are CPT codes).
CPT_SYSTEMS = frozenset(
    {
        "http://www.ama-assn.org/go/cpt",
        "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
        "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    }
)
# Lamina's own code systems and canonicals.
LAMINA = "urn:lamina"
LAMINA_CRITERION = f"{LAMINA}:criterion"
LAMINA_VOCABULARY = f"{LAMINA}:vocabulary"
LAMINA_REQUEST = f"{LAMINA}:request"

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"

REVIEW_ACTIONS = {
    "A1": "Certified in total",
    "A3": "Not Certified",
    "A4": "Pending",
    "A6": "Modified",
    "C": "Cancelled",
}


class FhirError(Exception):
    """A refusal rendered as an OperationOutcome: status plus issues naming FHIR elements."""

    def __init__(self, status: int, issues: list[dict], headers: dict | None = None):
        super().__init__(issues[0].get("diagnostics", "") if issues else "")
        self.status = status
        self.issues = issues
        self.headers = headers or {}


def issue(
    diagnostics: str, *, expression: str | list[str] | None = None, code: str = "invalid"
) -> dict:
    """One OperationOutcome.issue (severity error)."""
    out: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if expression:
        out["expression"] = [expression] if isinstance(expression, str) else list(expression)
    return out


def operation_outcome(issues: list[dict]) -> dict:
    return {"resourceType": "OperationOutcome", "issue": issues}


def fhir_response(resource: dict, status: int = 200, headers: dict | None = None) -> HttpResponse:
    """A FHIR resource in JSON, for answers made outside the FHIR views (the project's 404
    handler); the views answer in the format DRF negotiates (pas/renderers.py)."""
    response = HttpResponse(
        json.dumps(resource, ensure_ascii=False),
        status=status,
        content_type=f"{FHIR_JSON}; charset=utf-8",
    )
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def coding(system: str, code: str, display: str | None = None) -> dict:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(system: str, code: str, display: str | None = None) -> dict:
    return {"coding": [coding(system, code, display)]}


def codes_of(value: Any, systems: frozenset[str] | set[str] | str | None = None) -> list[str]:
    """The codes of a CodeableConcept dict, optionally only those from the given systems."""
    if not isinstance(value, dict):
        return []
    if isinstance(systems, str):
        systems = {systems}
    return [
        str(c["code"])
        for c in value.get("coding") or []
        if isinstance(c, dict)
        and c.get("code") is not None
        and (systems is None or c.get("system") in systems)
    ]
