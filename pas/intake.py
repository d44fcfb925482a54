"""Claim/$submit as EHRs send it: take what PAS allows, cancel, update, and answer retries once.

The REST intake contract is the base: the mapped request is validated by a serializer derived
from the REST one and stored by reviews.services.request_submit. What PAS allows and Lamina would
like to have is taken, not refused:

- no diagnosis: the request is pended (A4) for its ICD-10-CM codes;
- a service not coded in CPT (an X12 service type, a HCPCS Level II code), or a service date in
  the past: the request goes to a nurse reviewer, as a service no Lamina policy covers does;
- a member who cannot be identified (an unknown member id and no birth date; no member id and no
  single member on file with the name and birth date): a HeldClaim, answered pended for
  identification; an update that identifies the member files it.

A cancellation (Claim.status = cancelled) withdraws the open request it names; a decided one is
answered with its decision, unchanged. An update (two Claims, the new one naming the earlier one
in Claim.related) replaces the diagnoses, service and clinical facts of an undecided request (a
pend or a case in review) and it is evaluated again.
The same Bundle sent again answers the first response and stores nothing.
"""

import hashlib
import json
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import serializers

from pas.fhir import FhirError, issue
from pas.mapping import (
    MappedClaim,
    claim_bundle_map,
    error_paths,
    unknown_modifiers,
    validation_issues,
)
from pas.models import ClaimRecord, HeldClaim, Submission
from reviews import reference
from reviews.audit import audit_record
from reviews.contract import (
    RequestCreateInput,
    ServiceInput,
    validate_cpt_format,
    validate_icd10,
)
from reviews.errors import InvalidTransition, LaminaError, NotPermitted
from reviews.models import OPEN_STATUSES, PriorAuthRequest, Role, Status
from reviews.services import (
    request_information_ask,
    request_submit,
    request_update,
    request_withdraw,
)
from reviews.services.intake import UPDATABLE
from reviews.transitions import request_transition


class _FhirServiceInput(ServiceInput):
    # PAS items need not be CPT: the CPT lines may be none (the other items go to a reviewer).
    cpt_codes = serializers.ListField(
        child=serializers.CharField(max_length=5, validators=[validate_cpt_format]),
        min_length=0,
        max_length=20,
    )

    def validate_planned_date(self, value):
        return value  # a past service date is taken and sent to a reviewer


class FhirRequestInput(RequestCreateInput):
    """The REST contract, less what PAS makes optional (diagnosis, CPT coding, future dates)."""

    service = _FhirServiceInput()
    diagnosis_codes = serializers.ListField(
        child=serializers.CharField(max_length=8, validators=[validate_icd10]),
        min_length=0,
        max_length=12,
    )


@dataclass
class Submitted:
    """What a $submit produced: a request, or a claim held for member identification."""

    request: PriorAuthRequest | None = None
    held: HeldClaim | None = None
    note: str = ""  # said in the answer (e.g. an update that changed nothing)


def _require_provider(actor) -> None:
    if not actor.has_role(Role.PROVIDER) or actor.organization_id is None:
        raise FhirError(
            403,
            [issue("Only a provider user of an organization may do this.", code="forbidden")],
        )


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def submission_key(bundle: dict, mapped: MappedClaim) -> str:
    """The Bundle identifier, the Claim's trace number and the submitter (provider NPI)."""
    record = mapped.record
    parts = [
        bundle.get("identifier") if isinstance(bundle.get("identifier"), dict) else None,
        record.get("identifier_system"),
        record.get("identifier_value"),
        record.get("requestor_npi") or record.get("provider_npi"),
        record.get("claim_status"),
    ]
    return hashlib.sha256(_canonical(parts).encode()).hexdigest()


def _content_hash(bundle: dict) -> str:
    # Bundle.timestamp and meta change on every send of the same content: not part of it.
    content = {k: v for k, v in bundle.items() if k not in {"timestamp", "meta", "id"}}
    return hashlib.sha256(_canonical(content).encode()).hexdigest()


def claim_validate(mapped: MappedClaim) -> dict:
    serializer = FhirRequestInput(data=mapped.data)
    if not serializer.is_valid():
        raise FhirError(422, validation_issues(mapped, error_paths(serializer.errors)))
    return serializer.validated_data


def _earlier(actor, identifiers: list[list[str]]) -> PriorAuthRequest | HeldClaim | None:
    """The organization's request (or held claim) a cancellation or update names."""
    if not identifiers:
        return None
    match = Q()
    held_match = Q()
    for system, value in identifiers:
        q = Q(claim_record__identifier_value=value)
        h = Q(identifier_value=value)
        if system:
            q &= Q(claim_record__identifier_system=system)
            h &= Q(identifier_system=system)
        match |= q
        held_match |= h
    held = (
        HeldClaim.objects.filter(held_match, organization_id=actor.organization_id)
        .order_by("-created_at", "-pk")
        .first()
    )
    if held is not None and held.filed_request_id is None:
        return held
    return (
        PriorAuthRequest.objects.filter(match, organization_id=actor.organization_id)
        .order_by("-received_at", "-pk")
        .first()
    )


def claim_submit(*, actor, bundle: dict, base: str) -> Submitted:
    """Claim/$submit. See the module docstring for what is taken and how."""
    _require_provider(actor)
    refused = list(unknown_modifiers(bundle))
    if refused:
        raise FhirError(422, refused)
    mapped = claim_bundle_map(bundle)
    key = submission_key(bundle, mapped)
    digest = _content_hash(bundle)
    first = Submission.objects.filter(organization_id=actor.organization_id, key=key).first()
    if first is not None:
        if first.content_hash != digest:
            raise FhirError(
                409,
                [
                    issue(
                        "A different Bundle was already submitted with this Bundle identifier, "
                        "Claim identifier and submitter: give a changed request a new "
                        "identifier, or send it as an update (Claim.related).",
                        expression="Bundle.identifier",
                        code="duplicate",
                    )
                ],
            )
        return Submitted(request=first.request, held=first.held)
    try:
        with transaction.atomic():
            submitted = _submit(actor=actor, bundle=bundle, mapped=mapped, base=base)
            Submission.objects.create(
                organization_id=actor.organization_id,
                key=key,
                content_hash=digest,
                request=submitted.request,
                held=submitted.held,
            )
    except IntegrityError:
        # The same Bundle raced in twice: the first one stored; answer it.
        first = Submission.objects.filter(organization_id=actor.organization_id, key=key).first()
        if first is None:
            raise
        return Submitted(request=first.request, held=first.held)
    except NotPermitted as exc:
        raise FhirError(403, [issue(exc.message, code="forbidden")]) from exc
    except InvalidTransition as exc:
        raise FhirError(409, [issue(exc.message, code="conflict")]) from exc
    except LaminaError as exc:
        fields = exc.fields or {"": [exc.message]}
        raise FhirError(
            exc.status if exc.status != 400 else 422, validation_issues(mapped, fields)
        ) from exc
    return submitted


def _submit(*, actor, bundle: dict, mapped: MappedClaim, base: str) -> Submitted:
    record = mapped.record
    earlier = _earlier(actor, record.get("related") or [])
    if record.get("claim_status") == "cancelled":
        target = earlier or _earlier(
            actor, [[record.get("identifier_system") or "", record.get("identifier_value") or ""]]
        )
        return _cancel(actor=actor, target=target)
    if isinstance(earlier, PriorAuthRequest):
        return _update(actor=actor, pa_request=earlier, mapped=mapped)
    submitted = _new(actor=actor, mapped=mapped, base=base)
    if isinstance(earlier, HeldClaim) and submitted.request is not None:
        HeldClaim.objects.filter(pk=earlier.pk).update(filed_request=submitted.request)
    return submitted


def _cancel(*, actor, target) -> Submitted:
    if target is None:
        raise FhirError(
            404,
            [
                issue(
                    "The cancellation names no request of your organization (match on the "
                    "Claim identifier, or Claim.related).",
                    expression="Claim.identifier",
                    code="not-found",
                )
            ],
        )
    if isinstance(target, HeldClaim):
        # Never filed: the held claim is closed and answered cancelled.
        audit_record(action="fhir_held_claim_cancelled", subject=target, actor=actor, data={})
        return Submitted(held=target, note="cancelled")
    locked = PriorAuthRequest.objects.select_for_update().get(pk=target.pk)
    if locked.status in OPEN_STATUSES and locked.status != Status.APPEAL:
        request_withdraw(pa_request=locked, actor=actor, reason="cancelled by the EHR (PAS)")
        return Submitted(request=locked)
    # Decided (or under appeal): the decision stands and is answered unchanged.
    return Submitted(
        request=locked, note="The request was already decided; the decision stands unchanged."
    )


def _update(*, actor, pa_request: PriorAuthRequest, mapped: MappedClaim) -> Submitted:
    """An update of an undecided request: its diagnoses, service and clinical facts replace the
    earlier ones and it is evaluated again (reviews.services.request_update). A decided request,
    or one under appeal, keeps its decision; one the engine is evaluating this moment is asked
    to be sent again once answered."""
    data = claim_validate(mapped)
    locked = PriorAuthRequest.objects.select_for_update().get(pk=pa_request.pk)
    items = mapped.record.get("items") or []
    cancelled = [i.get("sequence") for i in items if i.get("cancelled")]
    if locked.status not in UPDATABLE:
        if locked.status not in OPEN_STATUSES:
            note = "The request was already decided; the update changes nothing."
        elif locked.status == Status.APPEAL:
            note = "The request is under appeal; the update changes nothing while it is decided."
        else:
            note = (
                "The request is being evaluated; the update changes nothing. Send it again once "
                "this request is answered."
            )
        audit_record(
            action="fhir_update_received",
            subject=locked,
            actor=actor,
            data={"status": locked.status, "applied": False},
        )
        return Submitted(request=locked, note=note)
    # The answer echoes the update's items: changed ones, added ones, and cancelled ones (C).
    ClaimRecord.objects.filter(request=locked).update(
        items=items,
        claim_id=str(mapped.record.get("claim_id") or "")[:64],
        bundle_identifier=mapped.record.get("bundle_identifier"),
    )
    audit_record(
        action="fhir_update_received",
        subject=locked,
        actor=actor,
        data={"status": locked.status, "applied": True, "cancelled_items": cancelled},
    )
    locked, changed = request_update(
        pa_request=locked,
        actor=actor,
        diagnosis_codes=list(data.get("diagnosis_codes") or []),
        service=dict(data["service"]),
        clinical=dict(data.get("clinical") or {}),
        attachments=list(data.get("attachments") or []),
        message="Update through FHIR (Claim.related).",
    )
    if not changed:
        return Submitted(request=locked, note="The update changes none of the request's facts.")
    # What the engine cannot decide goes to a reviewer again, as on submission.
    _route(locked, data, mapped.record)
    return Submitted(request=PriorAuthRequest.objects.get(pk=locked.pk))


def _new(*, actor, mapped: MappedClaim, base: str) -> Submitted:
    record = dict(mapped.record)
    unidentified = record.pop("unidentified", None)
    record.pop("claim_status", None)
    record.pop("related", None)
    if unidentified:
        held = HeldClaim.objects.create(
            organization_id=actor.organization_id,
            submitted_by=actor,
            reason=unidentified[:300],
            member_id=str(record.get("member_id") or "")[:64],
            record={k: v for k, v in record.items() if k != "coverage"},
            identifier_system=record.get("identifier_system") or "",
            identifier_value=record.get("identifier_value") or "",
            server_base=base[:300],
        )
        audit_record(
            action="fhir_claim_held",
            subject=held,
            actor=actor,
            data={"reason": "member not identified", "claim": held.identifier_value},
        )
        return Submitted(held=held)
    data = claim_validate(mapped)
    pa_request = request_submit(actor=actor, data=data, channel="fhir")
    ClaimRecord.objects.create(request=pa_request, server_base=base[:300], **record)
    _route(pa_request, data, record)
    return Submitted(request=PriorAuthRequest.objects.get(pk=pa_request.pk))


def _route(pa_request: PriorAuthRequest, data: dict, record: dict) -> None:
    """What PAS allows and the engine cannot decide: pend for it, or hand it to a reviewer."""
    if not data["diagnosis_codes"]:
        request_information_ask(
            pa_request=pa_request,
            actor="engine",
            items=[
                {
                    "field": "diagnosis_codes",
                    "fact": "diagnosis",
                    "why": "The request names no ICD-10-CM diagnosis: send the diagnosis codes "
                    "(Claim.diagnosis) in an update.",
                    "criterion": "",
                }
            ],
            message="Lamina needs the information listed to finish the review.",
        )
        return
    other = [i for i in record.get("items") or [] if not i.get("cpt_code")]
    planned = data["service"].get("planned_date")
    reasons = []
    if other:
        codes = ", ".join(f"{i.get('code')}" for i in other)
        reasons.append(f"services not coded in CPT ({codes}): a reviewer decides")
    if planned is not None and planned < timezone.localdate():
        reasons.append("the service date is in the past: a reviewer decides (retrospective)")
    if not data["service"]["cpt_codes"] and not other:
        reasons.append("no service Lamina can read")
    if reasons and reference.family_for_codes(list(data["service"]["cpt_codes"]))[1] == "":
        request_transition(
            pa_request=pa_request,
            to=Status.NURSE_REVIEW,
            actor="engine",
            reason="; ".join(reasons)[:500],
        )
