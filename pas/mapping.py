"""A PAS request Bundle -> the REQUEST.md dict the REST API takes.

There is one intake path: the dict built here is validated by the REST input serializer and
stored by reviews.services.request_submit, so both channels refuse and accept the same things.
While mapping, every field remembers the FHIR element it came from, so a REST validation error
("clinical.conservative_care[0].end_date") is reported against that element (an OperationOutcome
issue whose expression is `Bundle.entry[0].resource.contained[0].item[3].item[2]`).

Precedence for clinical facts: the QuestionnaireResponse answers (what the provider attested for
Lamina's questions) win; Observations and Conditions fill only what the answers left unknown.
"""

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from pas.fhir import (
    CPT_SYSTEMS,
    ICD10CM,
    LAMINA_REQUEST,
    LOINC,
    NPI,
    PAS_EXT,
    POS,
    PROCESS_PRIORITY,
    SNOMED,
    SOPT,
    V2_0203,
    X12_LEVEL_OF_SERVICE,
    FhirError,
    codes_of,
    issue,
)
from pas.questionnaires import AnswerError, read_items
from reviews.http import LONE_SURROGATE, field_path, has_lone_surrogate
from reviews.models import Member

# Deeper than the REST limit: FHIR nests extensions in extensions in contained resources.
MAX_FHIR_DEPTH = 48

SOPT_SYSTEMS = frozenset({SOPT, "urn:oid:2.16.840.1.113883.3.221.5"})
# Place of service -> REQUEST.md `setting`.
POS_SETTINGS = {
    "11": "office",
    "24": "ambulatory_surgery_center",
    "19": "hospital_outpatient",
    "22": "hospital_outpatient",
    "21": "inpatient",
}
# SNOMED CT body structures -> spinal region.
BODY_SITE_REGIONS = {
    "122494005": "cervical",
    "122495006": "thoracic",
    "122496007": "lumbar",
}
CPT_FORMAT = re.compile(r"^[0-9]{4}[0-9T]$")  # as the REST contract reads CPT
AMA_CPT = "http://www.ama-assn.org/go/cpt"
INFO_CANCELLED = (
    "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/modifierextension-infoCancelled"
)
# Modifier extensions Lamina understands; any other changes the meaning of what carries it, so
# FHIR requires refusing the resource.
KNOWN_MODIFIERS = frozenset({INFO_CANCELLED})
LEVEL = re.compile(
    r"^(?:C[1-7]|T(?:1[0-2]|[1-9])|L[1-6]|S[1-5])(?:-(?:C[1-7]|T(?:1[0-2]|[1-9])|L[1-6]|S[1-5]))?$"
)

# LOINC observations that carry a Lamina fact.
PAIN_NRS = "72514-3"
BMI = "39156-5"
HBA1C = "4548-4"
SMOKING = "72166-2"
SMOKING_SNOMED = {
    "266919005": "never",
    "8517006": "former",
    "77176002": "current",
    "449868002": "current",
    "428041000124106": "current",
    "428061000124105": "current",
    "428071000124103": "current",
}
FINAL_OBSERVATION = frozenset({"final", "amended", "corrected"})

# LOINC document types -> attachment kind.
DOCUMENT_KINDS = {
    "11506-3": "clinical_note",
    "34117-2": "clinical_note",
    "11488-4": "clinical_note",
    "18842-5": "clinical_note",
    "18748-4": "imaging_report",
    "18747-6": "imaging_report",
    "24558-9": "imaging_report",
    "11504-8": "operative_note",
    "28570-0": "operative_note",
}


@dataclass
class MappedClaim:
    data: dict
    sources: dict[str, str] = field(default_factory=dict)
    record: dict = field(default_factory=dict)

    def expression_for(self, path: str) -> str:
        """The FHIR element a REST field path came from: the longest known prefix of the path."""
        candidate = path
        while candidate:
            if candidate in self.sources:
                return self.sources[candidate]
            cut = max(candidate.rfind("."), candidate.rfind("["))
            candidate = candidate[:cut] if cut > 0 else ""
        return self.sources.get("", "Bundle")


# --- Parsing ----------------------------------------------------------------------------------


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return False


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    # 1e999 parses as infinity: no FHIR decimal is infinite, and it would poison numeric facts.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def json_load(raw: bytes) -> Any:
    if not raw:
        raise FhirError(
            400, [issue("The request body is empty: send a FHIR resource.", code="structure")]
        )
    try:
        data = json.loads(
            raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FhirError(400, [issue(f"Malformed JSON: {exc}", code="structure")]) from exc
    if _depth_exceeds(data, MAX_FHIR_DEPTH):
        raise FhirError(
            400, [issue(f"JSON nested deeper than {MAX_FHIR_DEPTH} levels.", code="too-costly")]
        )
    if has_lone_surrogate(data):
        raise FhirError(400, [issue(LONE_SURROGATE, code="structure")])
    nul = list(
        nul_paths(data, str(data.get("resourceType") or "") if isinstance(data, dict) else "")
    )
    if nul:
        raise FhirError(
            400,
            [
                issue(
                    "Text may not contain NUL (U+0000) characters.",
                    expression=nul[:10],
                    code="structure",
                )
            ],
        )
    return data


def nul_paths(value: Any, where: str = ""):
    """The elements whose text (or key) holds U+0000, which FHIR strings may not and PostgreSQL
    cannot store."""
    stack = [(value, where)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str) and "\x00" in node:
            yield path or "$"
        elif isinstance(node, dict):
            for key, child in node.items():
                if isinstance(key, str) and "\x00" in key:
                    yield path or "$"
                stack.append((child, f"{path}.{key}" if path else str(key)))
        elif isinstance(node, list):
            stack.extend((child, f"{path}[{n}]") for n, child in enumerate(node))


def _loc_expression(root: str, loc: tuple) -> str:
    out = root
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def resource_validate(data: Any, expected: str | tuple[str, ...]) -> Any:
    """Check a parsed body is a valid FHIR R4 resource of the expected type (fhir.resources R4B).

    The R4B models read R4 PAS content (the shared PAS 2.2.1 examples all validate). Returns the
    model; every structural problem becomes an issue naming its element.
    """
    from fhir.resources.R4B import get_fhir_model_class

    expected = (expected,) if isinstance(expected, str) else expected
    if not isinstance(data, dict):
        raise FhirError(400, [issue("Send a FHIR resource: a JSON object.", code="structure")])
    rtype = data.get("resourceType")
    if rtype not in expected:
        raise FhirError(
            400,
            [
                issue(
                    f"Expected resourceType {' or '.join(expected)}, got {rtype!r}.",
                    expression="resourceType",
                    code="structure",
                )
            ],
        )
    problems = list(_unknown_resource_types(data, rtype))
    if problems:
        raise FhirError(400, problems)
    try:
        return get_fhir_model_class(rtype).model_validate(data)
    except ValidationError as exc:
        issues = [
            issue(
                f"{err.get('msg', 'Invalid')}.",
                expression=_loc_expression(rtype, tuple(err.get("loc") or ())),
                code="structure",
            )
            for err in exc.errors()[:50]
        ]
        raise FhirError(400, issues) from exc
    except (KeyError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        # fhir.resources lets a few wrongly typed primitives (a boolean as a url) escape as
        # AttributeError: still a structural problem of the body.
        raise FhirError(400, [issue(f"Not a valid {rtype}: {exc}", code="structure")]) from exc


def _known_type(name: Any) -> bool:
    from fhir.resources.R4B import get_fhir_model_class

    if not isinstance(name, str) or not name.isalpha():
        return False
    try:
        get_fhir_model_class(name)
    except (ValueError, KeyError, AttributeError):
        return False
    return True


def _unknown_resource_types(data: dict, rtype: str):
    """Entries and contained resources naming a resourceType FHIR R4 does not have."""
    for i, entry in enumerate(data.get("entry") or []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            expr = f"{rtype}.entry[{i}].resource"
            if not _known_type(resource.get("resourceType")):
                yield issue(
                    f"Unknown resourceType {resource.get('resourceType')!r}.",
                    expression=f"{expr}.resourceType",
                    code="structure",
                )
                continue
            for k, contained in enumerate(resource.get("contained") or []):
                if isinstance(contained, dict) and not _known_type(contained.get("resourceType")):
                    yield issue(
                        f"Unknown resourceType {contained.get('resourceType')!r}.",
                        expression=f"{expr}.contained[{k}].resourceType",
                        code="structure",
                    )


# --- Reading the bundle -----------------------------------------------------------------------


class _Index:
    """Resolves references within the bundle: fullUrl, Type/id, or #id for contained resources."""

    def __init__(self, bundle: dict):
        self.entries: list[tuple[str, dict]] = []
        self.by_url: dict[str, tuple[str, dict]] = {}
        self.by_type_id: dict[str, tuple[str, dict]] = {}
        for i, entry in enumerate(bundle.get("entry") or []):
            resource = entry.get("resource")
            if not isinstance(resource, dict):
                continue
            expr = f"Bundle.entry[{i}].resource"
            self.entries.append((expr, resource))
            if entry.get("fullUrl"):
                self.by_url[entry["fullUrl"]] = (expr, resource)
            if resource.get("id"):
                self.by_type_id[f"{resource.get('resourceType')}/{resource['id']}"] = (
                    expr,
                    resource,
                )

    def of_type(self, rtype: str) -> list[tuple[str, dict]]:
        return [(e, r) for e, r in self.entries if r.get("resourceType") == rtype]

    def resolve(
        self, reference: Any, container: tuple[str, dict] | None = None
    ) -> tuple[str, dict] | tuple[None, None]:
        ref = reference.get("reference") if isinstance(reference, dict) else None
        if not isinstance(ref, str) or not ref:
            return None, None
        if ref.startswith("#") and container is not None:
            cexpr, cres = container
            for k, contained in enumerate(cres.get("contained") or []):
                if isinstance(contained, dict) and contained.get("id") == ref[1:]:
                    return f"{cexpr}.contained[{k}]", contained
            return None, None
        if ref in self.by_url:
            return self.by_url[ref]
        match = re.search(r"([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$", ref)
        if match and f"{match.group(1)}/{match.group(2)}" in self.by_type_id:
            return self.by_type_id[f"{match.group(1)}/{match.group(2)}"]
        return None, None


def _identifier(identifiers: Any, *, system: str | None = None, type_code: str | None = None):
    for k, ident in enumerate(identifiers or []):
        if not isinstance(ident, dict) or not ident.get("value"):
            continue
        if system and ident.get("system") != system:
            continue
        if type_code and type_code not in codes_of(ident.get("type"), V2_0203):
            continue
        return k, str(ident["value"])
    return None, None


def _sorted_by_sequence(items: Any) -> list[tuple[int, dict]]:
    pairs = [(k, x) for k, x in enumerate(items or []) if isinstance(x, dict)]
    return sorted(pairs, key=lambda p: (p[1].get("sequence") or 0, p[0]))


def _extension(resource: dict, url: str) -> dict | None:
    for ext in resource.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == url:
            return ext
    return None


MEMBER_TYPES = frozenset({"MB", "MIN"})


def _typed_member_identifier(identifiers: Any):
    """The first identifier typed MB (member number) or MIN (member identification number),
    whatever code system the type comes from (v2-0203, or the test kit's own)."""
    for k, ident in enumerate(identifiers or []):
        if not isinstance(ident, dict) or not ident.get("value"):
            continue
        if set(codes_of(ident.get("type"))) & MEMBER_TYPES:
            return k, str(ident["value"])
    return None, None


def _member_id(coverage: dict, cov_expr: str, patient: dict, pat_expr: str):
    """The plan's member id as a payer reads it: the Coverage member number (typed MB/MIN), a
    Patient identifier typed MB/MIN, else the subscriber id when the patient is the subscriber."""
    k, value = _typed_member_identifier(coverage.get("identifier"))
    if value:
        return value, f"{cov_expr}.identifier[{k}].value"
    k, value = _typed_member_identifier(patient.get("identifier"))
    if value:
        return value, f"{pat_expr}.identifier[{k}].value"
    relationship = codes_of(coverage.get("relationship"))
    if coverage.get("subscriberId") and (not relationship or "self" in relationship):
        return str(coverage["subscriberId"]), f"{cov_expr}.subscriberId"
    return None, f"{cov_expr}.identifier"


def _item_cancelled(item: dict) -> bool:
    return any(
        isinstance(m, dict) and m.get("url") == INFO_CANCELLED and m.get("valueBoolean") is True
        for m in item.get("modifierExtension") or []
    )


def unknown_modifiers(value: Any, expr: str = "Bundle"):
    """Every modifierExtension Lamina does not understand, with the element that carries it."""
    stack = [(value, expr)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for k, m in enumerate(node.get("modifierExtension") or []):
                if not isinstance(m, dict) or m.get("url") not in KNOWN_MODIFIERS:
                    url = m.get("url") if isinstance(m, dict) else None
                    yield issue(
                        f"Lamina does not understand the modifier extension {url!r}; FHIR "
                        "requires refusing what it modifies.",
                        expression=f"{where}.modifierExtension[{k}]",
                        code="not-supported",
                    )
            for key, child in node.items():
                if key != "modifierExtension":
                    stack.append((child, f"{where}.{key}"))
        elif isinstance(node, list):
            stack.extend((child, f"{where}[{n}]") for n, child in enumerate(node))


def _human_name(names: Any) -> tuple[int, dict] | tuple[None, dict]:
    pairs = [(k, n) for k, n in enumerate(names or []) if isinstance(n, dict)]
    for k, n in pairs:
        if n.get("use") == "official":
            return k, n
    return pairs[0] if pairs else (None, {})


def _display_name(resource: dict) -> str:
    if resource.get("resourceType") == "Organization":
        return str(resource.get("name") or "")
    _, name = _human_name(resource.get("name"))
    if name.get("text"):
        return str(name["text"])
    parts = [*(name.get("prefix") or []), *(name.get("given") or []), name.get("family") or ""]
    return " ".join(str(p) for p in parts if p).strip()


def _text_of(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"])
    for c in concept.get("coding") or []:
        if isinstance(c, dict) and c.get("display"):
            return str(c["display"])
    return ""


class _Reader:
    def __init__(self, bundle: dict):
        self.bundle = bundle
        self.index = _Index(bundle)
        self.issues: list[dict] = []
        self.sources: dict[str, str] = {}

    def fail(self, message: str, expression: str, code: str = "invalid") -> None:
        self.issues.append(issue(message, expression=expression, code=code))

    # -- The claim --------------------------------------------------------------------------

    def claim(self) -> tuple[str, dict]:
        if self.bundle.get("type") != "collection":
            raise FhirError(
                422,
                [issue("A PAS request Bundle has type 'collection'.", expression="Bundle.type")],
            )
        claims = self.index.of_type("Claim")
        if not claims:
            raise FhirError(
                422,
                [
                    issue(
                        "The Bundle holds no Claim: a PAS request Bundle starts with the Claim.",
                        expression="Bundle.entry",
                        code="required",
                    )
                ],
            )
        if len(claims) > 1:
            # An update (PAS Claim Update): the new Claim names the earlier one, which the Bundle
            # carries too, through Claim.related.
            named = set()
            for _, c in claims:
                for related in c.get("related") or []:
                    _, target = self.index.resolve((related or {}).get("claim"))
                    if target is not None:
                        named.add(id(target))
            focal = [(e, c) for e, c in claims if id(c) not in named]
            if len(focal) != 1 or len(named) != len(claims) - 1:
                raise FhirError(
                    422,
                    [
                        issue(
                            "Send one Claim per Bundle, or an update: the new Claim and the "
                            "earlier one it names in Claim.related.",
                            expression=claims[1][0],
                            code="invalid",
                        )
                    ],
                )
            claims = focal
        cx, claim = claims[0]
        if claim.get("use") != "preauthorization":
            raise FhirError(
                422,
                [
                    issue(
                        "Claim/$submit takes a prior-authorization request: Claim.use must be "
                        f"'preauthorization', not {claim.get('use')!r}.",
                        expression=f"{cx}.use",
                        code="business-rule",
                    )
                ],
            )
        return cx, claim

    def required(self, reference: Any, expr: str, rtype: str, what: str):
        rexpr, resource = self.index.resolve(reference)
        if resource is None or resource.get("resourceType") != rtype:
            self.fail(
                f"The {what} the Claim names ({rtype}) is not in the Bundle.", expr, "required"
            )
            return None, None
        return rexpr, resource

    # -- Who ---------------------------------------------------------------------------------

    def member(self, claim: dict, cx: str) -> tuple[dict | None, dict]:
        px, patient = self.required(claim.get("patient"), f"{cx}.patient", "Patient", "patient")
        insurance = [i for _, i in _sorted_by_sequence(claim.get("insurance"))]
        focal = next((i for i in insurance if i.get("focal")), insurance[0] if insurance else None)
        record: dict = {}
        if focal is None:
            self.fail("The Claim names no insurance Coverage.", f"{cx}.insurance", "required")
            covx, coverage = None, None
        else:
            k = (claim.get("insurance") or []).index(focal)
            covx, coverage = self.required(
                focal.get("coverage"), f"{cx}.insurance[{k}].coverage", "Coverage", "coverage"
            )
        if patient is None or coverage is None:
            return None, record
        member_id, mexpr = _member_id(coverage, covx, patient, px)
        k, name = _human_name(patient.get("name"))
        nexpr = f"{px}.name[{k}]" if k is not None else f"{px}.name"
        given = name.get("given") or []
        member = {
            "member_id": member_id or "",
            "first_name": str(given[0]) if given else "",
            "last_name": str(name.get("family") or ""),
            "sex": patient.get("gender") or "unknown",
        }
        birth_date = str(patient["birthDate"]) if patient.get("birthDate") else None
        if birth_date:
            member["birth_date"] = birth_date
        on_file = None
        if member_id:
            on_file = Member.objects.filter(member_id=member_id).first()
        elif birth_date and member["last_name"] and re.fullmatch(r"\d{4}-\d{2}-\d{2}", birth_date):
            # No member id: a payer matches on name and birth date, when exactly one fits.
            candidates = list(
                Member.objects.filter(
                    last_name__iexact=member["last_name"],
                    first_name__iexact=member["first_name"],
                    birth_date=birth_date,
                )[:2]
            )
            if len(candidates) == 1:
                on_file = candidates[0]
                member["member_id"] = on_file.member_id
        if on_file is not None and birth_date and on_file.birth_date.isoformat() != birth_date:
            record["unidentified"] = (
                f"Member {member['member_id']} is on file with another birth date."
            )
        if on_file is not None and not birth_date:
            # PAS lets an EHR leave the birth date out ("DoB Unknown"); the plan knows its
            # members, so a member on file is matched by id and keeps the birth date on file.
            member["birth_date"] = on_file.birth_date.isoformat()
        if not member["member_id"]:
            record["unidentified"] = (
                "No member id (Coverage or Patient identifier typed MB/MIN, or the subscriber id) "
                "and no single member on file with this name and birth date."
            )
        elif "birth_date" not in member:
            record["unidentified"] = (
                f"Member {member['member_id']} is not on file and the Patient has no birth date."
            )
        self.sources.update(
            {
                "member": px,
                "member.member_id": mexpr,
                "member.first_name": f"{nexpr}.given",
                "member.last_name": f"{nexpr}.family",
                "member.birth_date": f"{px}.birthDate",
                "member.sex": f"{px}.gender",
            }
        )
        record.update(
            member_id=member["member_id"],
            patient_id=str(patient.get("id") or "")[:64],
            coverage=(covx, coverage),
        )
        return member, record

    def provider(self, claim: dict, cx: str) -> tuple[dict, dict | None]:
        """The requesting clinician: the care team's practitioner, else the Claim's provider."""
        candidates: list[tuple[str, dict, dict | None]] = []
        for _k, member in _sorted_by_sequence(claim.get("careTeam")):
            rexpr, resource = self.index.resolve(member.get("provider"))
            if resource is None:
                continue
            if resource.get("resourceType") == "PractitionerRole":
                pexpr, practitioner = self.index.resolve(resource.get("practitioner"))
                if practitioner is not None:
                    candidates.append((pexpr, practitioner, resource))
                candidates.append((rexpr, resource, resource))
            else:
                candidates.append((rexpr, resource, None))
        rexpr, resource = self.index.resolve(claim.get("provider"))
        if resource is not None:
            if resource.get("resourceType") == "PractitionerRole":
                pexpr, practitioner = self.index.resolve(resource.get("practitioner"))
                if practitioner is not None:
                    candidates.append((pexpr, practitioner, resource))
            candidates.append((rexpr, resource, None))
        requestor = resource
        for expr, resource, role in candidates:
            k, npi = _identifier(resource.get("identifier"), system=NPI)
            if not npi:
                continue
            specialty = ""
            if role is not None:
                specialties = [s for s in role.get("specialty") or [] if isinstance(s, dict)]
                specialty = _text_of(specialties[0]) if specialties else ""
            self.sources.update(
                {
                    "requesting_provider": expr,
                    "requesting_provider.npi": f"{expr}.identifier[{k}].value",
                    "requesting_provider.name": f"{expr}.name",
                    "requesting_provider.specialty": f"{expr}.specialty",
                }
            )
            return {
                "npi": npi,
                "name": _display_name(resource) or str(resource.get("name") or ""),
                "specialty": specialty[:200],
            }, requestor
        self.fail(
            "Lamina needs the requesting provider's NPI (an identifier with system "
            f"{NPI}) on the care team's Practitioner or the Claim's provider.",
            f"{cx}.provider",
            "required",
        )
        return {}, requestor

    # -- What --------------------------------------------------------------------------------

    def service(self, claim: dict, cx: str) -> tuple[dict, list[dict]]:
        codes: list[str] = []
        items: list[dict] = []
        service: dict = {}
        self.sources["service"] = f"{cx}.item"
        self.sources["service.cpt_codes"] = f"{cx}.item"
        if not claim.get("item"):
            self.fail("The Claim has no items: list the procedures.", f"{cx}.item", "required")
        for k, item in _sorted_by_sequence(claim.get("item")):
            ix = f"{cx}.item[{k}]"
            product = item.get("productOrService") or {}
            found = [
                (j, str(c.get("code")))
                for j, c in enumerate(product.get("coding") or [])
                if isinstance(c, dict) and c.get("system") in CPT_SYSTEMS and c.get("code")
            ]
            trace = _extension(item, PAS_EXT + "itemTraceNumber")
            quantity = (item.get("quantity") or {}).get("value")
            cancelled = _item_cancelled(item)
            coded = [
                c for c in product.get("coding") or [] if isinstance(c, dict) and c.get("code")
            ]
            line = {
                "sequence": item.get("sequence") or k + 1,
                "cpt_code": "",
                "trace_number": (trace or {}).get("valueIdentifier"),
                "quantity": quantity,
                "cancelled": cancelled,
            }
            ama = [
                (j, c.get("code"))
                for j, c in enumerate(product.get("coding") or [])
                if isinstance(c, dict) and c.get("system") == AMA_CPT
            ]
            # HCPCS Level II codes (a letter and four digits) share the HCPCS system with CPT.
            found = [(j, code) for j, code in found if CPT_FORMAT.match(code)]
            if ama and not found:
                found = [(ama[0][0], str(ama[0][1]))]
            if found and not CPT_FORMAT.match(found[0][1]):
                # Sent as CPT but not a CPT code: a wrong code, not a missing one.
                self.fail(
                    f"'{found[0][1]}' is not a CPT code: five digits, or four digits and T.",
                    f"{ix}.productOrService.coding[{found[0][0]}].code",
                    "code-invalid",
                )
                continue
            if found:
                j, code = found[0]
                line["cpt_code"] = code
            else:
                # Not a CPT code (an X12 service type, a HCPCS Level II code): taken, and a
                # reviewer decides, as for a service no Lamina policy covers.
                first = coded[0] if coded else {}
                line["code"] = str(first.get("code") or "")[:20]
                line["system"] = str(first.get("system") or "")[:300]
                line["display"] = str(first.get("display") or _text_of(product))[:200]
            items.append(line)
            if cancelled or not line["cpt_code"]:
                continue
            self.sources[f"service.cpt_codes[{len(codes)}]"] = (
                f"{ix}.productOrService.coding[{j}].code"
            )
            codes.append(code)
            if "units" not in service and isinstance(quantity, int | float) and quantity >= 1:
                service["units"] = int(quantity) if float(quantity).is_integer() else quantity
                self.sources["service.units"] = f"{ix}.quantity.value"
            setting = next(
                (
                    POS_SETTINGS[c]
                    for c in codes_of(item.get("locationCodeableConcept"), POS)
                    if c in POS_SETTINGS
                ),
                None,
            )
            if setting and "setting" not in service:
                service["setting"] = setting
                self.sources["service.setting"] = f"{ix}.locationCodeableConcept"
            planned = item.get("servicedDate") or (item.get("servicedPeriod") or {}).get("start")
            if planned and "planned_date" not in service:
                service["planned_date"] = str(planned)[:10]
                self.sources["service.planned_date"] = (
                    f"{ix}.servicedDate"
                    if item.get("servicedDate")
                    else f"{ix}.servicedPeriod.start"
                )
            region = next(
                (
                    BODY_SITE_REGIONS[c]
                    for c in codes_of(item.get("bodySite"), SNOMED)
                    if c in BODY_SITE_REGIONS
                ),
                None,
            )
            if region and "spinal_region" not in service:
                service["spinal_region"] = region
                self.sources["service.spinal_region"] = f"{ix}.bodySite"
            levels = [
                value
                for concept in item.get("subSite") or []
                for value in [_text_of(concept), *codes_of(concept)]
                if LEVEL.match(value or "")
            ]
            if levels and "levels" not in service:
                service["levels"] = list(dict.fromkeys(levels))
                self.sources["service.levels"] = f"{ix}.subSite"
        service["cpt_codes"] = codes
        return service, items

    def diagnoses(self, claim: dict, cx: str) -> list[str]:
        codes: list[str] = []
        self.sources["diagnosis_codes"] = f"{cx}.diagnosis"
        for k, dx in _sorted_by_sequence(claim.get("diagnosis")):
            dxx = f"{cx}.diagnosis[{k}]"
            found = codes_of(dx.get("diagnosisCodeableConcept"), ICD10CM)
            where = f"{dxx}.diagnosisCodeableConcept"
            if not found and dx.get("diagnosisReference"):
                rexpr, condition = self.index.resolve(dx["diagnosisReference"])
                if condition is not None:
                    found = codes_of(condition.get("code"), ICD10CM)
                    where = f"{rexpr}.code"
            if not found:
                continue  # not ICD-10-CM: the request is pended for its diagnosis codes
            self.sources[f"diagnosis_codes[{len(codes)}]"] = where
            codes.append(found[0])
        return codes

    def urgency(self, claim: dict, cx: str) -> str:
        self.sources["urgency"] = f"{cx}.priority"
        level = _extension(claim, PAS_EXT + "levelOfServiceCode")
        # X12 1338: U urgent, 03 emergency; FHIR process priority stat.
        if set(codes_of((level or {}).get("valueCodeableConcept"), X12_LEVEL_OF_SERVICE)) & {
            "U",
            "03",
        }:
            return "expedited"
        if "stat" in codes_of(claim.get("priority"), PROCESS_PRIORITY):
            return "expedited"
        return "standard"

    # -- The evidence ------------------------------------------------------------------------

    def supporting(
        self, claim: dict, cx: str
    ) -> tuple[list[tuple[str, dict]], list[tuple[str, dict]]]:
        """The QuestionnaireResponses and DocumentReferences the supporting information names."""
        responses, documents = [], []
        for k, info in enumerate(claim.get("supportingInfo") or []):
            if not isinstance(info, dict) or not isinstance(info.get("valueReference"), dict):
                continue
            ref = info["valueReference"]
            rexpr, resource = self.index.resolve(ref, container=(cx, claim))
            if resource is None:
                target = str(ref.get("reference") or "")
                if target.startswith(("#", "QuestionnaireResponse/", "DocumentReference/")):
                    self.fail(
                        f"The supporting information names {target}, which is not in the Bundle.",
                        f"{cx}.supportingInfo[{k}].valueReference",
                        "not-found",
                    )
                continue
            if resource.get("resourceType") == "QuestionnaireResponse":
                responses.append((rexpr, resource))
            elif resource.get("resourceType") == "DocumentReference":
                documents.append((rexpr, resource))
        return responses, documents

    def answers(self, responses: list[tuple[str, dict]]) -> dict:
        found: dict = {}
        for expr, qr in responses:
            if qr.get("status") == "entered-in-error":
                continue
            self.sources.setdefault("clinical", expr)
            try:
                read_items(qr.get("item") or [], expr=expr, target=found, sources=self.sources)
            except AnswerError as exc:
                self.fail(exc.message, exc.expression)
        return found

    def observations(self, clinical: dict) -> None:
        by_code: dict[str, list[tuple[str, str, dict]]] = {}
        for expr, obs in self.index.of_type("Observation"):
            if obs.get("status") not in FINAL_OBSERVATION:
                continue
            when = str(obs.get("effectiveDateTime") or obs.get("issued") or "")[:10]
            for code in codes_of(obs.get("code"), LOINC):
                by_code.setdefault(code, []).append((when, expr, obs))
        for entries in by_code.values():
            entries.sort(key=lambda e: e[0])

        def number(obs: dict):
            if isinstance(obs.get("valueQuantity"), dict):
                return obs["valueQuantity"].get("value")
            return obs.get("valueInteger")

        pains = [
            (w, e, number(o)) for w, e, o in by_code.get(PAIN_NRS, []) if number(o) is not None
        ]
        if pains and clinical.get("pain_score_nrs") is None:
            when, expr, value = pains[-1]
            clinical["pain_score_nrs"] = value
            self.sources["clinical.pain_score_nrs"] = f"{expr}.value"
            earlier = [(w, e, v) for w, e, v in pains[:-1] if w]
            if earlier and not clinical.get("pain_scores"):
                clinical["pain_scores"] = [{"date": w, "nrs": v} for w, _, v in earlier]
                for n, (_, e, _) in enumerate(earlier):
                    self.sources[f"clinical.pain_scores[{n}]"] = e
        for code, key in ((BMI, "bmi"), (HBA1C, "hba1c_percent")):
            values = [(e, number(o)) for _, e, o in by_code.get(code, []) if number(o) is not None]
            if values and clinical.get(key) is None:
                expr, value = values[-1]
                clinical[key] = value
                self.sources[f"clinical.{key}"] = f"{expr}.value"
        statuses = [
            (e, SMOKING_SNOMED[c])
            for _, e, o in by_code.get(SMOKING, [])
            for c in codes_of(o.get("valueCodeableConcept"), SNOMED)
            if c in SMOKING_SNOMED
        ]
        if statuses and clinical.get("smoking_status") is None:
            expr, value = statuses[-1]
            clinical["smoking_status"] = value
            self.sources["clinical.smoking_status"] = f"{expr}.valueCodeableConcept"

    def conditions(self, clinical: dict) -> None:
        """Recorded diagnoses that answer a fact the questionnaire left unknown."""

        def fill(path: str, value, expr: str) -> None:
            *parents, key = path.split(".")
            target = clinical
            for p in parents:
                if target.get(p) is None:
                    target[p] = {}
                target = target[p]
            if target.get(key) is None:
                target[key] = value
                self.sources[f"clinical.{path}"] = expr

        for expr, condition in self.index.of_type("Condition"):
            status = codes_of(condition.get("clinicalStatus"))
            verification = codes_of(condition.get("verificationStatus"))
            if status and not set(status) & {"active", "recurrence", "relapse"}:
                continue
            if set(verification) & {"refuted", "entered-in-error"}:
                continue
            for code in codes_of(condition.get("code"), ICD10CM):
                cx = f"{expr}.code"
                if code == "G83.4":
                    fill("red_flags.cauda_equina", True, cx)
                elif code.startswith(("E10", "E11", "E13")):
                    fill("diabetes", True, cx)
                elif code.startswith("Z33.1"):
                    fill("pregnant", True, cx)
                elif code.startswith("F17.2"):
                    fill("smoking_status", "current", cx)
                elif code == "Z87.891":
                    fill("smoking_status", "former", cx)
                elif code.startswith(("M80", "M81")):
                    fill("red_flags.osteoporosis_or_chronic_steroids", True, cx)
                elif code.startswith(("M47.1", "M50.0")):
                    fill("neurological.myelopathy", True, cx)

    def attachments(self, documents: list[tuple[str, dict]]) -> list[dict]:
        seen = {id(r) for _, r in documents}
        documents = documents + [
            (e, r) for e, r in self.index.of_type("DocumentReference") if id(r) not in seen
        ]
        out: list[dict] = []
        for expr, doc in documents:
            if doc.get("status") in {"superseded", "entered-in-error"}:
                continue
            kinds = [
                DOCUMENT_KINDS[c] for c in codes_of(doc.get("type"), LOINC) if c in DOCUMENT_KINDS
            ]
            for k, content in enumerate(doc.get("content") or []):
                attachment = (content or {}).get("attachment") or {}
                ax = f"{expr}.content[{k}].attachment"
                content_type = str(attachment.get("contentType") or "").split(";")[0].strip()
                if content_type != "text/plain":
                    self.fail(
                        "Lamina reads attached documents as plain text: send contentType "
                        "text/plain with the text in attachment.data.",
                        f"{ax}.contentType",
                        "not-supported",
                    )
                    continue
                if not attachment.get("data"):
                    self.fail(
                        "Send the document's text in attachment.data: Lamina does not fetch URLs.",
                        f"{ax}.data",
                        "required",
                    )
                    continue
                try:
                    text = base64.b64decode(attachment["data"], validate=True).decode("utf-8")
                except (binascii.Error, ValueError):
                    self.fail("attachment.data is not base64 of UTF-8 text.", f"{ax}.data")
                    continue
                when = str(doc.get("date") or attachment.get("creation") or "")[:10] or None
                title = (
                    attachment.get("title") or doc.get("description") or _text_of(doc.get("type"))
                )
                self.sources[f"attachments[{len(out)}]"] = expr
                self.sources[f"attachments[{len(out)}].text"] = f"{ax}.data"
                self.sources[f"attachments[{len(out)}].date"] = f"{expr}.date"
                self.sources[f"attachments[{len(out)}].title"] = f"{ax}.title"
                out.append(
                    {
                        "kind": kinds[0] if kinds else "other",
                        "date": when,
                        "title": str(title or "")[:200],
                        "text": text,
                    }
                )
        return out


def _line_of_business(coverage: dict | None) -> str | None:
    for code in codes_of((coverage or {}).get("type"), SOPT_SYSTEMS):
        # Source of Payment Typology: 1 Medicare (a plan's Medicare is Medicare Advantage),
        # 2 Medicaid, 5 private insurance, 6 Blue Cross/Blue Shield.
        if code.startswith("1"):
            return "medicare_advantage"
        if code.startswith("2"):
            return "medicaid"
        if code.startswith(("5", "6")):
            return "commercial"
    return None


def claim_bundle_map(bundle: dict) -> MappedClaim:
    """Read a validated PAS request Bundle into the REST request dict.

    Raises FhirError (422) with every problem found, each naming its element.
    """
    reader = _Reader(bundle)
    cx, claim = reader.claim()
    reader.sources[""] = cx
    member, member_record = reader.member(claim, cx)
    provider, requestor = reader.provider(claim, cx)
    service, items = reader.service(claim, cx)
    diagnoses = reader.diagnoses(claim, cx)
    responses, documents = reader.supporting(claim, cx)
    answered = reader.answers(responses)
    clinical = answered.get("clinical") or {}
    service.update({k: v for k, v in (answered.get("service") or {}).items() if k != "cpt_codes"})
    reader.sources.setdefault("clinical", f"{cx}.supportingInfo")
    reader.observations(clinical)
    reader.conditions(clinical)
    attachments = reader.attachments(documents)
    reader.sources.setdefault("attachments", f"{cx}.supportingInfo")
    if reader.issues:
        raise FhirError(422, reader.issues)

    data: dict[str, Any] = {
        "urgency": reader.urgency(claim, cx),
        "member": member,
        "requesting_provider": provider,
        "service": service,
        "diagnosis_codes": diagnoses,
        "clinical": clinical,
        "attachments": attachments,
    }
    k, external_id = _identifier(claim.get("identifier"))
    if external_id:
        data["external_id"] = external_id
        reader.sources["external_id"] = f"{cx}.identifier[{k}].value"
    covx, coverage = member_record.pop("coverage", (None, None))
    line_of_business = _line_of_business(coverage)
    if line_of_business:
        data["line_of_business"] = line_of_business
        reader.sources["line_of_business"] = f"{covx}.type"

    identifier = (claim.get("identifier") or [None])[0] or {}
    insurer_expr, insurer = reader.index.resolve(claim.get("insurer"))
    record = {
        **member_record,
        "identifier_system": str(identifier.get("system") or "")[:300],
        "identifier_value": str(identifier.get("value") or "")[:100],
        "bundle_identifier": bundle.get("identifier"),
        "claim_id": str(claim.get("id") or "")[:64],
        "claim_type": next(iter(codes_of(claim.get("type"))), "")[:20],
        "provider_npi": provider.get("npi", ""),
        "requestor_npi": (_identifier((requestor or {}).get("identifier"), system=NPI)[1] or "")[
            :10
        ],
        "items": items,
        "insurer": insurer,
        "requestor": requestor,
        "claim_status": str(claim.get("status") or ""),
        "related": _related_identifiers(reader, claim),
    }
    return MappedClaim(data=data, sources=reader.sources, record=record)


def _related_identifiers(reader: "_Reader", claim: dict) -> list[list[str]]:
    """The earlier Claims an update names: [system, value] of each one's identifiers, read from
    the earlier Claim in the Bundle, or from the reference's own identifier."""
    out: list[list[str]] = []
    for related in claim.get("related") or []:
        ref = (related or {}).get("claim") or {}
        _, target = reader.index.resolve(ref)
        identifiers = (target or {}).get("identifier") or []
        if isinstance(ref.get("identifier"), dict):
            identifiers = [*identifiers, ref["identifier"]]
        out.extend(
            [str(i.get("system") or ""), str(i["value"])]
            for i in identifiers
            if isinstance(i, dict) and i.get("value")
        )
    return out


def error_paths(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested serializer errors -> {"clinical.imaging[0].date": ["..."]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            for k, v in error_paths(value, field_path(prefix, key)).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list) and any(isinstance(i, dict | list) for i in detail):
        for index, item in enumerate(detail):
            for k, v in error_paths(item, field_path(prefix, index)).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        out.setdefault(prefix, []).extend(str(i) for i in detail)
    else:
        out.setdefault(prefix, []).append(str(detail))
    return {k: v for k, v in out.items() if v}


def validation_issues(mapped: MappedClaim, fields: dict[str, list[str]]) -> list[dict]:
    """The REST validation errors, each against the FHIR element the field came from."""
    issues = []
    for path, messages in fields.items():
        for message in messages:
            code = (
                "code-invalid"
                if path.startswith(("service.cpt_codes", "diagnosis_codes"))
                else "invalid"
            )
            issues.append(
                issue(f"{path}: {message}", expression=mapped.expression_for(path), code=code)
            )
    return issues


def inquiry_keys(bundle: dict) -> dict:
    """What a Claim/$inquire bundle asks about, query by example as PAS 2.2.1 describes: the member
    (Coverage or Patient member id), the provider (NPI), the services (item codes, any system) and
    the item trace numbers. Claim.identifier is the inquiry's own trace number, not a key; only
    Lamina's own reference (urn:lamina:request), when sent, names a request."""
    reader = _Reader(bundle)
    cx, claim = reader.claim()
    member, _ = reader.member(claim, cx)
    issues = list(reader.issues)
    reader.issues = []
    provider, _ = reader.provider(claim, cx)
    if issues or not (member or {}).get("member_id"):
        # Without the member the inquiry cannot be matched; a missing birth date does not matter.
        raise FhirError(
            422,
            issues
            or [
                issue(
                    "The inquiry names no member id (Coverage or Patient identifier typed MB/MIN, "
                    "or the subscriber id).",
                    expression=f"{cx}.insurance",
                    code="required",
                )
            ],
        )
    codes, traces = [], []
    for _, item in _sorted_by_sequence(claim.get("item")):
        codes.extend(
            str(c["code"])
            for c in (item.get("productOrService") or {}).get("coding") or []
            if isinstance(c, dict) and c.get("code")
        )
        trace = (_extension(item, PAS_EXT + "itemTraceNumber") or {}).get("valueIdentifier")
        if isinstance(trace, dict) and trace.get("value"):
            traces.append(str(trace["value"]))
    return {
        "references": [
            str(i["value"])
            for i in claim.get("identifier") or []
            if isinstance(i, dict) and i.get("system") == LAMINA_REQUEST and i.get("value")
        ],
        "member_id": member["member_id"],
        "provider_npi": provider.get("npi"),
        "codes": codes,
        "trace_numbers": traces,
    }
