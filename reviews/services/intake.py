"""Provider-side services: submit a request, answer a request for information, withdraw."""

from datetime import date
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from reviews import reference
from reviews.audit import audit_record
from reviews.authority import Act, may, statuses_for
from reviews.clocks import due_at_for
from reviews.errors import InvalidTransition, NotPermitted, ValidationFailed
from reviews.models import (
    Attachment,
    Determination,
    Evaluation,
    InformationRequest,
    Member,
    Outcome,
    PriorAuthRequest,
    Role,
    ServiceLine,
    Status,
)
from reviews.services.enqueue import enqueue_evidence_checks
from reviews.transitions import request_transition


def _require_provider(actor, pa_request: PriorAuthRequest | None = None) -> None:
    if not actor.has_role(Role.PROVIDER) or actor.organization_id is None:
        raise NotPermitted("Only a provider user of an organization may do this.")
    if pa_request is not None and pa_request.organization_id != actor.organization_id:
        raise NotPermitted("This request belongs to another organization.")


_MEMBER_COLUMNS = ("member_id", "first_name", "last_name", "birth_date", "sex")


def _member_upsert(values: dict[str, Any]) -> Member | None:
    """One round trip: insert the member unless its member_id is on file, and return the row as
    stored either way (None only when a concurrent first sight of the same member committed
    during the statement: the caller reads it then)."""
    table = Member._meta.db_table
    columns = ", ".join(_MEMBER_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH new AS (INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s) "  # noqa: S608
            f"ON CONFLICT (member_id) DO NOTHING RETURNING id, {columns}) "
            f"SELECT id, {columns} FROM new UNION ALL "
            f"SELECT id, {columns} FROM {table} WHERE member_id = %s "
            "AND NOT EXISTS (SELECT 1 FROM new)",
            [*(values[c] for c in _MEMBER_COLUMNS), values["member_id"]],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    member = Member(pk=row[0], **dict(zip(_MEMBER_COLUMNS, row[1:], strict=True)))
    member._state.adding = False
    return member


def _member_for(data: dict[str, Any]) -> Member:
    """The member on file for member_id, created on first sight.

    A member_id already on file with a different birth date is refused rather than merged: two
    people under one id would mix their histories.
    """
    birth_date = data["birth_date"]
    if isinstance(birth_date, str):
        birth_date = date.fromisoformat(birth_date)
    values = {
        "member_id": data["member_id"],
        "first_name": data["first_name"],
        "last_name": data["last_name"],
        "birth_date": birth_date,
        "sex": data["sex"],
    }
    member = _member_upsert(values) if connection.vendor == "postgresql" else None
    if member is None:
        member, _ = Member.objects.get_or_create(member_id=values["member_id"], defaults=values)
    if member.birth_date != birth_date:
        raise ValidationFailed(
            "The member does not match the member on file.",
            fields={"member.birth_date": ["Does not match the member on file for this member_id."]},
        )
    return member


def _json_safe(value: Any) -> Any:
    """Dates to ISO strings, recursively: JSON fields store what the provider sent, as sent."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


# No savepoint when a caller's transaction (the idempotency claim) is already open: a failure
# rolls back that whole transaction, which is what the callers do anyway.
@transaction.atomic(savepoint=False)
def request_submit(*, actor, data: dict[str, Any], channel: str = "rest") -> PriorAuthRequest:
    """Store a validated request and queue its evidence checks.

    1. Match or create the member.
    2. Derive the procedure family from the CPT lines (none: accepted, routed to a human later).
    3. Stamp received_at and due_at from the urgency and line of business.
    4. Store the request, its service lines and attachments; audit the submission.
    5. Move it to `evaluating` and enqueue the checks after commit.

    The returned request carries its member, its service lines and the fact that it has no
    evaluation or determination yet, so the response is built without reading anything back.
    """
    _require_provider(actor)
    codes = list(data["service"]["cpt_codes"])
    family, problem = reference.family_for_codes(codes)
    if problem:
        raise ValidationFailed(problem, fields={"service.cpt_codes": [problem]})
    member = _member_for(data["member"])
    provider = data["requesting_provider"]
    line_of_business = data.get("line_of_business") or "commercial"
    received_at = timezone.now()
    pa_request = PriorAuthRequest.objects.create(
        organization_id=actor.organization_id,
        submitted_by=actor,
        member=member,
        external_id=data.get("external_id") or "",
        urgency=data["urgency"],
        line_of_business=line_of_business,
        channel=channel,
        requesting_provider_npi=provider["npi"],
        requesting_provider_name=provider["name"],
        requesting_provider_specialty=provider.get("specialty") or "",
        procedure_family=family,
        service=_json_safe(data["service"]),
        diagnosis_codes=list(data["diagnosis_codes"]),
        clinical=_json_safe(data["clinical"]),
        status=Status.RECEIVED,
        received_at=received_at,
        due_at=due_at_for(
            urgency=data["urgency"], line_of_business=line_of_business, received_at=received_at
        ),
    )
    lines = _lines_for(pa_request, codes)
    ServiceLine.objects.bulk_create(lines)
    _add_attachments(pa_request, data.get("attachments") or [], source="submission")
    audit_record(
        action="request_submitted",
        subject=pa_request,
        actor=actor,
        # Codes and references only: the audit data carries no names or clinical text.
        data={
            "channel": channel,
            "external_id": pa_request.external_id,
            "cpt_codes": codes,
            "procedure_family": family,
            "urgency": pa_request.urgency,
            "line_of_business": line_of_business,
            "due_at": pa_request.due_at.isoformat(),
            "attachments": len(data.get("attachments") or []),
        },
    )
    pa_request = request_transition(
        pa_request=pa_request, to=Status.EVALUATING, actor=actor, reason="submitted"
    )
    enqueue_evidence_checks(pa_request.pk)
    pa_request.member = member
    _cache_related(pa_request, lines)
    return pa_request


def _lines_for(pa_request: PriorAuthRequest, codes: list[str]) -> list[ServiceLine]:
    """One line per CPT code, with Lamina's own description and family."""
    lines = []
    for sequence, code in enumerate(codes, start=1):
        known = reference.cpt_lookup(code)
        lines.append(
            ServiceLine(
                request=pa_request,
                sequence=sequence,
                cpt_code=code,
                family=known.family if known else "",
                description=known.description if known else "Not covered by a Lamina policy",
                is_add_on=bool(known and known.add_on),
            )
        )
    return lines


def _cache_related(pa_request: PriorAuthRequest, lines: list[ServiceLine]) -> None:
    """The lines just written, as prefetch_related would give them (they never change)."""
    cached = ServiceLine.objects.filter(request=pa_request)
    cached._result_cache = lines
    cached._prefetch_done = True
    pa_request._prefetched_objects_cache = {"lines": cached}


def request_submitted_answer_cache(pa_request: PriorAuthRequest) -> None:
    """For the answer to the submission, built inside the submitting transaction: the request
    has no evaluation, determination or request for information yet, so the response reads
    them from memory (an empty queryset stays empty through any filter or ordering without
    asking the database). Only for that answer: the checks may add them once it commits."""
    pa_request._prefetched_objects_cache.update(
        {
            "evaluations": Evaluation.objects.none(),
            "determinations": Determination.objects.none(),
            "information_requests": InformationRequest.objects.none(),
        }
    )


def _add_attachments(pa_request: PriorAuthRequest, attachments: list[dict], *, source: str) -> None:
    Attachment.objects.bulk_create(
        Attachment(
            request=pa_request,
            kind=a["kind"],
            date=a.get("date"),
            title=a.get("title") or "",
            text=a["text"],
            source=source,
        )
        for a in attachments
    )


def _merge_clinical(current: dict, update: dict) -> tuple[dict, list[str]]:
    """Top-level keys sent replace the stored ones; objects of booleans (red_flags, neurological,
    oncology, fracture) merge key by key so an answer can add one fact without restating the rest."""
    merged = dict(current)
    changed = []
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(current.get(key), dict):
            value = {**current[key], **value}
        if merged.get(key) != value:
            changed.append(key)
        merged[key] = value
    return merged, changed


@transaction.atomic
def request_answer_information(
    *,
    pa_request: PriorAuthRequest,
    actor,
    clinical: dict | None = None,
    attachments: list[dict] | None = None,
    message: str = "",
) -> PriorAuthRequest:
    """The provider answers a request for information: facts merged, request re-evaluated."""
    _require_provider(actor, pa_request)
    locked = PriorAuthRequest.objects.select_for_update().get(pk=pa_request.pk)
    if not may(Role.PROVIDER, Act.ANSWER_INFORMATION, locked.status):
        raise InvalidTransition(
            from_status=locked.status,
            to_status=Status.EVALUATING,
            message="This request is not waiting for information.",
        )
    if not clinical and not attachments:
        raise ValidationFailed(
            "Send clinical facts or attachments to answer the request for information.",
            fields={"clinical": ["Send clinical facts, attachments, or both."]},
        )
    changed: list[str] = []
    if clinical:
        locked.clinical, changed = _merge_clinical(locked.clinical, _json_safe(clinical))
        locked.save(update_fields=["clinical", "updated_at"])
    if attachments:
        _add_attachments(locked, attachments, source="information")
    now = timezone.now()
    answer = {"clinical_fields": changed, "attachments": len(attachments or []), "message": message}
    InformationRequest.objects.filter(request=locked, answered_at__isnull=True).update(
        answered_at=now, answer=answer
    )
    audit_record(action="information_answered", subject=locked, actor=actor, data=answer)
    locked = request_transition(
        pa_request=locked,
        to=Status.EVALUATING,
        actor=actor,
        reason="information answered",
        extra_updates={"missing_information": [], "recommendation": ""},
    )
    enqueue_evidence_checks(locked.pk)
    return locked


# The statuses an update (a PAS Claim naming the earlier one in Claim.related) re-evaluates
# from (reviews.authority): a pend, and review before any determination.
UPDATABLE = statuses_for(Role.PROVIDER, Act.UPDATE)


@transaction.atomic
def request_update(
    *,
    pa_request: PriorAuthRequest,
    actor,
    diagnosis_codes: list[str] | None = None,
    service: dict | None = None,
    clinical: dict | None = None,
    attachments: list[dict] | None = None,
    message: str = "",
) -> tuple[PriorAuthRequest, list[str]]:
    """The provider replaces what it said of an undecided request; the request is evaluated again.

    Diagnosis codes and the service, when sent, replace the stored ones (the procedure family
    stays: a different procedure is a new request); clinical facts merge as an answer's do;
    attachments are added. A pend is answered; a case in review leaves its reviewer (who may hold
    it) and goes back to the evidence checks, which route it again. Returns the request and the
    names of what changed; nothing changed is an update that changes nothing (no new round).
    """
    _require_provider(actor, pa_request)
    locked = PriorAuthRequest.objects.select_for_update().get(pk=pa_request.pk)
    if locked.status not in UPDATABLE:
        raise InvalidTransition(
            from_status=locked.status,
            to_status=Status.EVALUATING,
            message="Only a pended request or one in review can be updated.",
        )
    changed: list[str] = []
    before: dict[str, Any] = {}
    fields = ["updated_at"]
    if diagnosis_codes and list(diagnosis_codes) != list(locked.diagnosis_codes):
        before["diagnosis_codes"] = list(locked.diagnosis_codes)
        locked.diagnosis_codes = list(diagnosis_codes)
        changed.append("diagnosis_codes")
        fields.append("diagnosis_codes")
    if service:
        service = _json_safe(service)
        codes = list(service.get("cpt_codes") or [])
        family, problem = reference.family_for_codes(codes)
        if problem or family != locked.procedure_family:
            message = (
                "An update keeps the procedure requested: cancel this request and submit a new "
                "one for a different procedure."
            )
            raise ValidationFailed(message, fields={"service.cpt_codes": [problem or message]})
        if service != locked.service:
            before["cpt_codes"] = list(locked.service.get("cpt_codes") or [])
            before["levels"] = list(locked.service.get("levels") or [])
            if codes != before["cpt_codes"]:
                ServiceLine.objects.filter(request=locked).delete()
                ServiceLine.objects.bulk_create(_lines_for(locked, codes))
            locked.service = service
            changed.append("service")
            fields.append("service")
    if clinical:
        locked.clinical, clinical_changed = _merge_clinical(locked.clinical, _json_safe(clinical))
        changed += [f"clinical.{key}" for key in clinical_changed]
        fields.append("clinical")
    if attachments:
        _add_attachments(locked, attachments, source="information")
        changed.append("attachments")
    if not changed:
        return locked, []
    locked.save(update_fields=fields)
    now = timezone.now()
    was = locked.status
    answer = {"changed": changed, "attachments": len(attachments or []), "message": message}
    if was == Status.PENDING_INFORMATION:
        InformationRequest.objects.filter(request=locked, answered_at__isnull=True).update(
            answered_at=now, answer=answer
        )
    audit_record(
        action="request_updated",
        subject=locked,
        actor=actor,
        # Codes and field names only: the audit data carries no clinical text.
        data={
            **answer,
            "from_status": was,
            "released_from": locked.assigned_to.get_username() if locked.assigned_to else "",
            "before": before,
            "diagnosis_codes": list(locked.diagnosis_codes),
            "cpt_codes": list(locked.service.get("cpt_codes") or []),
            "levels": list(locked.service.get("levels") or []),
        },
    )
    locked = request_transition(
        pa_request=locked,
        to=Status.EVALUATING,
        actor=actor,
        reason="updated by the provider",
        extra_updates={"missing_information": [], "recommendation": "", "assigned_to": None},
    )
    enqueue_evidence_checks(locked.pk)
    return locked, changed


@transaction.atomic
def request_withdraw(*, pa_request: PriorAuthRequest, actor, reason: str = "") -> PriorAuthRequest:
    """The provider withdraws an open request; the withdrawal is its determination."""
    _require_provider(actor, pa_request)
    locked = request_transition(
        pa_request=pa_request,
        to=Status.WITHDRAWN,
        actor=actor,
        reason=reason or "withdrawn by the provider",
        expect=statuses_for(Role.PROVIDER, Act.WITHDRAW),
    )
    determination = Determination.objects.create(
        request=locked,
        outcome=Outcome.WITHDRAWN,
        decided_by=actor,
        decided_by_role=Role.PROVIDER,
        rationale=reason,
        decided_at=locked.decided_at,
    )
    audit_record(
        action="determination_recorded",
        subject=determination,
        actor=actor,
        request=locked,
        data={"outcome": Outcome.WITHDRAWN, "reason": reason},
    )
    return locked
