"""The PAS response Bundle for a request: a ClaimResponse with the review action per item.

Review actions (X12 306), as the PAS examples carry them in item.adjudication's reviewAction
extension: A1 certified in total (with the authorization number and itemPreAuthPeriod), A6 modified
(a partial approval that approves the item with fewer units or levels), A3 not certified (with the
specific reasons and claimResponseReviewer.wasHumanReviewedFlag), A4 pended (with Lamina's
reference as administrationReferenceNumber and, when Lamina waits for the provider, what is
missing), C cancelled (withdrawn). Anything still open, including nurse and physician review and an
appeal, is pended from the EHR's point of view.
"""

import uuid
from datetime import date

from django.conf import settings
from django.utils import timezone

from pas.fhir import (
    ADJUDICATION,
    CLAIM_TYPE,
    LAMINA_REQUEST,
    NPI,
    PAS,
    PAS_EXT,
    REVIEW_ACTIONS,
    V2_0203,
    X12_REVIEW_ACTION,
    concept,
)
from reviews.models import Determination, Outcome, PriorAuthRequest, Role, Status

PROFILE_RESPONSE_BUNDLE = f"{PAS}/StructureDefinition/profile-pas-response-bundle"
PROFILE_CLAIM_RESPONSE = f"{PAS}/StructureDefinition/profile-claimresponse"
PROFILE_INQUIRY_BUNDLE = f"{PAS}/StructureDefinition/profile-pas-inquiry-response-bundle"
PROFILE_INQUIRY_RESPONSE = f"{PAS}/StructureDefinition/profile-claiminquiryresponse"
HUMAN_ROLES = frozenset({Role.NURSE, Role.PHYSICIAN})


def latest_determination(pa_request: PriorAuthRequest) -> Determination | None:
    return pa_request.determinations.order_by("-decided_at", "-pk").first()


def _items(pa_request: PriorAuthRequest, record) -> list[dict]:
    if record is not None and record.items:
        return list(record.items)
    return [
        {"sequence": line.sequence, "cpt_code": line.cpt_code, "trace_number": None}
        for line in pa_request.lines.all()
    ]


def _action(pa_request: PriorAuthRequest, determination, cpt_code: str) -> str:
    status = pa_request.status
    if status == Status.APPROVED:
        return "A1"
    if status == Status.DENIED:
        return "A3"
    if status == Status.WITHDRAWN:
        return "C"
    if status == Status.PARTIALLY_APPROVED and determination is not None:
        if cpt_code not in (determination.approved_cpt_codes or []):
            return "A3"
        requested_units = int(pa_request.service.get("units") or 1)
        requested_levels = list(pa_request.service.get("levels") or [])
        fewer = (determination.approved_units or requested_units) < requested_units or len(
            determination.approved_levels or []
        ) < len(requested_levels)
        return "A6" if fewer else "A1"
    return "A4"


def _period(determination) -> dict:
    return {
        "start": determination.valid_from.isoformat(),
        "end": determination.valid_to.isoformat(),
    }


class _Notes:
    def __init__(self):
        self.notes: list[dict] = []

    def add(self, text: str) -> int:
        number = len(self.notes) + 1
        self.notes.append({"number": number, "type": "display", "text": text[:2000]})
        return number


def _reasons(determination, notes: _Notes) -> list[int]:
    numbers = []
    for reason in determination.reasons or []:
        criterion = str(reason.get("criterion") or "").strip()
        statement = str(reason.get("statement") or "").strip()
        numbers.append(notes.add(f"Not met: {criterion} {statement}".replace("  ", " ").strip()))
    if determination.rationale:
        numbers.append(notes.add(f"Rationale: {determination.rationale}"))
    policy = (determination.evaluation_snapshot or {}).get("policy_version")
    if policy:
        numbers.append(notes.add(f"Criteria policy version: {policy}."))
    numbers.append(
        notes.add(
            f"To appeal, file within {settings.APPEAL_WINDOW_DAYS} days of this decision, "
            f"quoting {determination.request.reference}."
        )
    )
    return numbers


def _missing(pa_request: PriorAuthRequest, notes: _Notes) -> list[int]:
    numbers = []
    for item in pa_request.missing_information or []:
        if not isinstance(item, dict):
            continue
        criterion = f" ({item['criterion']})" if item.get("criterion") else ""
        numbers.append(
            notes.add(
                f"Lamina needs {item.get('field') or 'more information'}{criterion}: "
                f"{item.get('why') or ''}".strip()
            )
        )
    return numbers


def _pended_note(pa_request: PriorAuthRequest) -> str:
    status = pa_request.status
    if status == Status.PENDING_INFORMATION:
        return "Pended: Lamina needs the information listed to finish the review."
    if status in {Status.NURSE_REVIEW, Status.PHYSICIAN_REVIEW}:
        return (
            "Pended for clinical review by a Lamina reviewer; the decision is due by "
            f"{timezone.localtime(pa_request.due_at).isoformat(timespec='minutes')}."
        )
    if status == Status.APPEAL:
        return "Pended: the appeal is under review by a physician."
    return "Pended: Lamina's checks are still running."


def _item(
    seq: int,
    cpt_code: str,
    action: str,
    determination,
    pa_request,
    note_numbers,
    trace_number: dict | None = None,
):
    ext: list[dict] = []
    review = [
        {
            "url": PAS_EXT + "reviewActionCode",
            "valueCodeableConcept": concept(X12_REVIEW_ACTION, action, REVIEW_ACTIONS[action]),
        }
    ]
    if action in {"A1", "A6"} and determination is not None:
        review.insert(0, {"url": "number", "valueString": determination.authorization_number})
        ext.append(
            {
                "url": PAS_EXT + "itemPreAuthIssueDate",
                "valueDate": timezone.localdate(determination.decided_at).isoformat(),
            }
        )
        ext.append({"url": PAS_EXT + "itemPreAuthPeriod", "valuePeriod": _period(determination)})
        if action == "A6":
            ext.append(
                {
                    "url": PAS_EXT + "itemAuthorizedDetail",
                    "extension": [
                        {
                            "url": "productOrServiceCode",
                            "valueCodeableConcept": concept(
                                "http://www.ama-assn.org/go/cpt", cpt_code
                            ),
                        },
                        {
                            "url": "quantity",
                            "valueQuantity": {"value": determination.approved_units or 1},
                        },
                    ],
                }
            )
    if action == "A4":
        ext.append(
            {
                "url": PAS_EXT + "administrationReferenceNumber",
                "valueString": pa_request.reference,
            }
        )
    if trace_number:
        ext.insert(0, {"url": PAS_EXT + "itemTraceNumber", "valueIdentifier": trace_number})
    item = {
        "itemSequence": seq,
        "adjudication": [
            {
                "extension": [{"url": PAS_EXT + "reviewAction", "extension": review}],
                "category": concept(ADJUDICATION, "submitted"),
            }
        ],
    }
    if ext:
        item["extension"] = ext
    if note_numbers:
        item["noteNumber"] = list(note_numbers)
    return item


def _patient(pa_request: PriorAuthRequest, patient_id: str) -> dict:
    member = pa_request.member
    patient = {
        "resourceType": "Patient",
        "id": patient_id,
        "identifier": [
            {
                "type": concept(V2_0203, "MB", "Member Number"),
                "value": member.member_id,
            }
        ],
        "name": [{"family": member.last_name, "given": [member.first_name]}],
        "gender": member.sex if member.sex in {"male", "female", "other", "unknown"} else "unknown",
    }
    if isinstance(member.birth_date, date):
        patient["birthDate"] = member.birth_date.isoformat()
    return patient


LAMINA_PAYER = {
    "resourceType": "Organization",
    "id": "lamina",
    "active": True,
    "type": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/organization-type",
                    "code": "pay",
                    "display": "Payer",
                }
            ]
        }
    ],
    "name": "Lamina",
}


def _organization(organization) -> dict | None:
    """The submitting organization as a FHIR Organization (NPI when it has one)."""
    if organization is None:
        return None
    resource = {
        "resourceType": "Organization",
        "id": f"organization-{organization.pk}",
        "active": True,
        "name": organization.name,
    }
    if organization.npi:
        resource["identifier"] = [{"system": NPI, "value": organization.npi}]
    return resource


def _ref(resource: dict | None) -> str | None:
    if isinstance(resource, dict) and resource.get("resourceType") and resource.get("id"):
        return f"{resource['resourceType']}/{resource['id']}"
    return None


def claim_response(
    pa_request: PriorAuthRequest, *, now=None, inquiry: bool = False, note: str = ""
) -> tuple[dict, list[dict]]:
    """The ClaimResponse for the request as it stands, and the resources it references."""
    now = now or timezone.now()
    record = pa_request.claim_record if _has_record(pa_request) else None
    determination = latest_determination(pa_request)
    notes = _Notes()
    status = pa_request.status
    decided = status in {
        Status.APPROVED,
        Status.PARTIALLY_APPROVED,
        Status.DENIED,
        Status.WITHDRAWN,
    }
    shared_notes: list[int] = []
    if status in {Status.DENIED, Status.PARTIALLY_APPROVED} and determination is not None:
        shared_notes = _reasons(determination, notes)
    elif not decided:
        shared_notes = [notes.add(_pended_note(pa_request)), *_missing(pa_request, notes)]

    items = []
    for line in _items(pa_request, record):
        action = _action(pa_request, determination, line["cpt_code"])
        numbers = shared_notes if action in {"A3", "A6", "A4"} else []
        if line.get("cancelled"):
            action = "C"
        items.append(
            _item(
                line["sequence"],
                line["cpt_code"],
                action,
                determination,
                pa_request,
                numbers,
                line.get("trace_number") if isinstance(line.get("trace_number"), dict) else None,
            )
        )

    patient_id = (record.patient_id if record and record.patient_id else "") or (
        f"member-{pa_request.member_id}"
    )
    patient = _patient(pa_request, patient_id)
    included = [patient]
    insurer = record.insurer if record else None
    requestor = record.requestor if record else None
    # A request that came through the REST API has no Claim: the payer and the submitting
    # organization are described here, so every response names them.
    if not _ref(insurer):
        insurer = LAMINA_PAYER
    if not _ref(requestor):
        requestor = _organization(pa_request.organization)
    for resource in (insurer, requestor):
        if _ref(resource) and resource not in included:
            included.append(resource)

    identifiers = []
    if record and record.identifier_value:
        ident = {"value": record.identifier_value}
        if record.identifier_system:
            ident["system"] = record.identifier_system
        identifiers.append(ident)
    elif pa_request.external_id:
        identifiers.append({"value": pa_request.external_id})
    identifiers.append({"system": LAMINA_REQUEST, "value": pa_request.reference})

    response: dict = {
        "resourceType": "ClaimResponse",
        "id": pa_request.reference,
        "meta": {"profile": [PROFILE_INQUIRY_RESPONSE if inquiry else PROFILE_CLAIM_RESPONSE]},
        "identifier": identifiers,
        "status": "active",
        "type": concept(CLAIM_TYPE, (record.claim_type if record else "") or "professional"),
        "use": "preauthorization",
        "patient": {"reference": f"Patient/{patient_id}"},
        "created": now.isoformat(),
        "insurer": {"reference": _ref(insurer)} if _ref(insurer) else {"display": "Lamina"},
        "outcome": "complete",
        "disposition": _disposition(pa_request, determination),
        "item": items,
    }
    if _ref(requestor):
        response["requestor"] = {"reference": _ref(requestor)}
    if record and record.claim_id:
        response["request"] = {"reference": f"Claim/{record.claim_id}"}
    else:
        # No Claim resource to point at: the request by its identifier (a logical reference).
        response["request"] = {
            "type": "Claim",
            "identifier": {"system": LAMINA_REQUEST, "value": pa_request.reference},
        }
    if determination is not None and determination.outcome != Outcome.WITHDRAWN:
        response["extension"] = [
            {
                "url": PAS_EXT + "claimResponseReviewer",
                "extension": [
                    {
                        "url": "wasHumanReviewedFlag",
                        "valueBoolean": determination.decided_by_role in HUMAN_ROLES,
                    }
                ],
            }
        ]
    if status in {Status.APPROVED, Status.PARTIALLY_APPROVED} and determination is not None:
        response["preAuthRef"] = determination.authorization_number
        response["preAuthPeriod"] = _period(determination)
    if status == Status.PENDING_INFORMATION and pa_request.missing_information:
        wanted = communication_request(
            f"{pa_request.reference}-information",
            patient_id,
            [
                f"{m.get('field') or 'information'}: {m.get('why') or ''}".strip()
                for m in pa_request.missing_information
                if isinstance(m, dict)
            ],
            insurer,
            requestor,
        )
        included.append(wanted)
        response["communicationRequest"] = [{"reference": f"CommunicationRequest/{wanted['id']}"}]
    if note:
        notes.add(note)
    eligible = _eligible_note(pa_request)
    if eligible:
        notes.add(eligible)
    if notes.notes:
        response["processNote"] = notes.notes
    return response, included


def _eligible_note(pa_request: PriorAuthRequest) -> str:
    """The date the request would qualify if its facts stay as they are, as a process note (PAS
    has no structured element for it)."""
    if pa_request.status in {Status.APPROVED, Status.WITHDRAWN}:
        return ""
    evaluation = pa_request.evaluations.order_by("-round").first()
    if evaluation is None or evaluation.eligible_on is None:
        return ""
    cured = ", ".join(
        str(r.get("criterion") or r.get("check") or "") for r in evaluation.eligible_on_reasons
    )
    return (
        f"Eligible on {evaluation.eligible_on.isoformat()}: only time keeps this request from "
        f"approval ({cured}); if the facts stay as they are it qualifies on that date. Ask for a "
        "recheck on that date, or send an update."
    )


def communication_request(
    rid: str, patient_id: str, texts: list[str], insurer: dict | None, requestor: dict | None
) -> dict:
    """What the payer asks the EHR to send, one payload per item (PAS: the pended answer's
    communicationRequest)."""
    resource = {
        "resourceType": "CommunicationRequest",
        "id": rid,
        "status": "active",
        "subject": {"reference": f"Patient/{patient_id}"},
        "payload": [{"contentString": text[:2000]} for text in texts]
        or [{"contentString": "Send the information the review needs."}],
        "authoredOn": timezone.now().isoformat(),
    }
    if _ref(insurer):
        resource["sender"] = {"reference": _ref(insurer)}
    if _ref(requestor):
        resource["recipient"] = [{"reference": _ref(requestor)}]
    return resource


def _has_record(pa_request: PriorAuthRequest) -> bool:
    from pas.models import ClaimRecord

    try:
        return pa_request.claim_record is not None
    except ClaimRecord.DoesNotExist:
        return False


def _disposition(pa_request: PriorAuthRequest, determination) -> str:
    status = pa_request.status
    if status == Status.APPROVED and determination is not None:
        return f"Approved: authorization {determination.authorization_number}."
    if status == Status.PARTIALLY_APPROVED and determination is not None:
        return (
            f"Partially approved: authorization {determination.authorization_number} for "
            f"{', '.join(determination.approved_cpt_codes)}"
            + (
                f" at {', '.join(determination.approved_levels)}"
                if determination.approved_levels
                else ""
            )
            + "."
        )
    if status == Status.DENIED:
        return "Not certified after physician review; the reasons and how to appeal are noted."
    if status == Status.WITHDRAWN:
        return "Withdrawn by the provider."
    return _pended_note(pa_request)


def response_bundle(
    pa_request: PriorAuthRequest, *, base: str, now=None, inquiry: bool = False, note: str = ""
) -> dict:
    """The PAS response Bundle: the ClaimResponse first, then what it references."""
    now = now or timezone.now()
    response, included = claim_response(pa_request, now=now, inquiry=inquiry, note=note)
    record = pa_request.claim_record if _has_record(pa_request) else None
    base = base.rstrip("/")

    def full_url(resource: dict) -> str:
        return f"{base}/{resource['resourceType']}/{resource['id']}"

    bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [PROFILE_INQUIRY_BUNDLE if inquiry else PROFILE_RESPONSE_BUNDLE]},
        "type": "collection",
        "timestamp": now.isoformat(),
        "entry": [{"fullUrl": full_url(r), "resource": r} for r in [response, *included]],
    }
    if record and isinstance(record.bundle_identifier, dict):
        bundle["identifier"] = record.bundle_identifier
    return bundle


def held_response_bundle(held, *, base: str, now=None, cancelled: bool = False) -> dict:
    """The answer for a claim held for member identification: every item pended (A4) with what
    identifies the member asked for, or cancelled (C) once the EHR cancelled it."""
    now = now or timezone.now()
    record = held.record or {}
    patient_id = record.get("patient_id") or f"held-{held.pk}"
    notes = _Notes()
    insurer, requestor = record.get("insurer"), record.get("requestor")
    if not _ref(insurer):
        insurer = LAMINA_PAYER
    if not _ref(requestor):
        requestor = _organization(held.organization)
    included: list[dict] = [
        {"resourceType": "Patient", "id": patient_id, "identifier": _held_identifiers(held)}
    ]
    for resource in (insurer, requestor):
        if _ref(resource) and resource not in included:
            included.append(resource)
    numbers = []
    if not cancelled:
        numbers = [
            notes.add(f"Pended for member identification: {held.reason}"),
            notes.add(
                "Send an update (Claim.related naming this Claim) with the Patient's birth date, "
                "or the plan's member id typed MB."
            ),
        ]
    action = "C" if cancelled else "A4"
    items = []
    for line in record.get("items") or []:
        review = [
            {
                "url": PAS_EXT + "reviewActionCode",
                "valueCodeableConcept": concept(X12_REVIEW_ACTION, action, REVIEW_ACTIONS[action]),
            }
        ]
        ext = []
        if isinstance(line.get("trace_number"), dict):
            ext.append(
                {"url": PAS_EXT + "itemTraceNumber", "valueIdentifier": line["trace_number"]}
            )
        if action == "A4":
            ext.append(
                {"url": PAS_EXT + "administrationReferenceNumber", "valueString": held.reference}
            )
        item = {
            "itemSequence": line.get("sequence") or 1,
            "adjudication": [
                {
                    "extension": [{"url": PAS_EXT + "reviewAction", "extension": review}],
                    "category": concept(ADJUDICATION, "submitted"),
                }
            ],
        }
        if ext:
            item["extension"] = ext
        if numbers:
            item["noteNumber"] = numbers
        items.append(item)
    identifiers = []
    if held.identifier_value:
        ident = {"value": held.identifier_value}
        if held.identifier_system:
            ident["system"] = held.identifier_system
        identifiers.append(ident)
    identifiers.append({"system": LAMINA_REQUEST, "value": held.reference})
    response = {
        "resourceType": "ClaimResponse",
        "id": held.reference,
        "meta": {"profile": [PROFILE_CLAIM_RESPONSE]},
        "identifier": identifiers,
        "status": "active",
        "type": concept(CLAIM_TYPE, record.get("claim_type") or "professional"),
        "use": "preauthorization",
        "patient": {"reference": f"Patient/{patient_id}"},
        "created": now.isoformat(),
        "insurer": {"reference": _ref(insurer)} if _ref(insurer) else {"display": "Lamina"},
        "outcome": "complete",
        "disposition": "Cancelled by the provider."
        if cancelled
        else "Pended: the member could not be identified.",
        "item": items,
    }
    if _ref(requestor):
        response["requestor"] = {"reference": _ref(requestor)}
    if record.get("claim_id"):
        response["request"] = {"reference": f"Claim/{record['claim_id']}"}
    if not cancelled:
        wanted = communication_request(
            f"{held.reference}-identification",
            patient_id,
            ["Patient.birthDate, or the member id (Coverage.identifier typed MB)."],
            insurer,
            requestor,
        )
        included.append(wanted)
        response["communicationRequest"] = [{"reference": f"CommunicationRequest/{wanted['id']}"}]
    if notes.notes:
        response["processNote"] = notes.notes
    base = base.rstrip("/")
    bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [PROFILE_RESPONSE_BUNDLE]},
        "type": "collection",
        "timestamp": now.isoformat(),
        "entry": [
            {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r}
            for r in [response, *included]
        ],
    }
    if isinstance(record.get("bundle_identifier"), dict):
        bundle["identifier"] = record["bundle_identifier"]
    return bundle


def _held_identifiers(held) -> list[dict]:
    if not held.member_id:
        return []
    return [{"type": concept(V2_0203, "MB", "Member Number"), "value": held.member_id}]
