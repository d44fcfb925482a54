"""Determinations and the reviewers' actions on a case."""

from datetime import datetime, timedelta

import django.dispatch
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from reviews.audit import audit_record
from reviews.authority import Act, may, roles_for, statuses_for
from reviews.errors import InvalidTransition, NotPermitted, ValidationFailed
from reviews.models import (
    Appeal,
    Determination,
    Evaluation,
    InformationRequest,
    Outcome,
    PriorAuthRequest,
    ReviewNote,
    Role,
    Status,
)
from reviews.services.appeals import took_part_in_review
from reviews.transitions import can_transition, ensure_holder, request_transition

# Sent after the commit of every determination: the FHIR subscription notifier listens.
request_decided = django.dispatch.Signal()  # kwargs: request_id, determination_id

OUTCOME_STATUS = {
    Outcome.APPROVED: Status.APPROVED,
    Outcome.PARTIALLY_APPROVED: Status.PARTIALLY_APPROVED,
    Outcome.DENIED: Status.DENIED,
}
OUTCOME_ACT = {
    Outcome.APPROVED: Act.APPROVE,
    Outcome.PARTIALLY_APPROVED: Act.PARTIALLY_APPROVE,
    Outcome.DENIED: Act.DENY,
}
ADVERSE = frozenset({Outcome.DENIED, Outcome.PARTIALLY_APPROVED})
# The roles that record a determination of any outcome (reviews.authority says from where).
DECIDERS = frozenset().union(*(roles_for(act) for act in OUTCOME_ACT.values()))


def _actor_role(actor) -> str:
    if actor is None or actor == "engine":
        return Role.ENGINE
    return actor.role


def _authorization_number(pa_request: PriorAuthRequest) -> str:
    sequence = Determination.objects.filter(request=pa_request).count() + 1
    return f"LAM-{pa_request.pk:08d}-{sequence}"


def _validate_partial(pa_request, approved_levels, approved_units, approved_cpt_codes) -> None:
    requested_levels = list(pa_request.service.get("levels") or [])
    requested_units = int(pa_request.service.get("units") or 1)
    levels = list(approved_levels if approved_levels is not None else requested_levels)
    units = approved_units if approved_units is not None else requested_units
    codes = list(approved_cpt_codes if approved_cpt_codes is not None else pa_request.cpt_codes)
    fields = {}
    if not set(levels) <= set(requested_levels):
        fields["approved_levels"] = ["Approved levels must be among the requested levels."]
    if units < 1 or units > requested_units:
        fields["approved_units"] = [f"Approved units must be between 1 and {requested_units}."]
    if not set(codes) <= set(pa_request.cpt_codes) or not codes:
        fields["approved_cpt_codes"] = ["Approved codes must be among the requested codes."]
    if fields:
        raise ValidationFailed("The partial approval is not within the request.", fields=fields)
    if (
        len(levels) == len(requested_levels)
        and units == requested_units
        and len(codes) == len(pa_request.cpt_codes)
    ):
        raise ValidationFailed(
            "A partial approval approves less than was requested: fewer levels, units or codes.",
            fields={"approved_levels": ["Approve fewer levels, units or codes than requested."]},
        )


# --- Reasons of an adverse determination -------------------------------------------------------

REASONABLE_KINDS = frozenset({"requirement", "red_flag"})  # a waiver only lifts another criterion
RECORDS_SOURCE = "records"


def reason_criteria(evaluation: Evaluation | None) -> list[dict]:
    """The criteria a physician may name as a reason: every requirement and red flag of the
    policy version the case was evaluated under, whatever the engine answered (a waiver is not
    a reason to deny: it only lifts another criterion)."""
    if evaluation is None:
        return []
    rank = {"not_met": 0, "insufficient_information": 1, "met": 2}
    return sorted(
        (
            r
            for r in evaluation.trace or []
            if isinstance(r, dict)
            and r.get("id")
            and r.get("kind", "requirement") in REASONABLE_KINDS
        ),
        key=lambda r: rank.get(r.get("answer"), 3),
    )


def reason_sources(evaluation: Evaluation | None) -> list[dict]:
    """Where a written reason (one no criterion fits) may come from: each note conflict, each
    history flag, the absence of a policy, and the records themselves. Each: {"key", "label"}."""
    sources = []
    if evaluation is None or evaluation.policy_version_id is None:
        sources.append({"key": "no_policy", "label": "No Lamina policy covers the requested codes"})
    for index, conflict in enumerate((evaluation.note_conflicts if evaluation else None) or []):
        text = conflict.get("explanation") or conflict.get("statement") or "a note conflict"
        criterion = conflict.get("criterion") or ""
        sources.append(
            {
                "key": f"conflict:{index}",
                "label": f"Clinical note conflict{f' ({criterion})' if criterion else ''}: {text}",
            }
        )
    for check in (evaluation.history_checks if evaluation else None) or []:
        if check.get("result") == "flag":
            name = str(check.get("check") or "")
            words = name.replace("_", " ")
            sources.append(
                {
                    "key": f"history:{name}",
                    "label": f"History check, {words}: {check.get('detail', '')}",
                }
            )
    sources.append({"key": RECORDS_SOURCE, "label": "The clinical records sent with the request"})
    return sources


def _reasons_basis(pa_request: PriorAuthRequest):
    """The evaluation the reasons are checked against: the latest one; for a request that never
    went through the checks, the criteria of the policy version in force for it (every answer
    unknown), so a reason still has to be a real criterion."""
    evaluation = pa_request.evaluations.order_by("-round").select_related("policy_version").first()
    if evaluation is not None or not pa_request.procedure_family:
        return evaluation
    from criteria.selectors import policy_version_for

    version = policy_version_for(
        family=pa_request.procedure_family,
        line_of_business=pa_request.line_of_business,
        on_date=timezone.localdate(),
    )
    if version is None:
        return None
    trace = [
        {**c, "answer": "", "kind": c.get("kind", "requirement")}
        for c in version.content.get("criteria", [])
    ]
    return Evaluation(policy_version=version, trace=trace, note_conflicts=[], history_checks=[])


def reasons_validate(*, reasons: list, evaluation: Evaluation | None) -> list[dict]:
    """The reasons of an adverse determination, checked against the evaluation the case was
    evaluated under; returns them as stored.

    A reason names a criterion of that policy version (any requirement or red flag, met or not;
    the statement is the policy's own, and a criterion the engine found met needs the
    physician's note on why it is not), or is a written reason with one of `reason_sources`.
    Anything else (none, an unknown or waiver criterion, an empty text, an unknown source) is
    refused with ValidationFailed.
    """
    if not reasons:
        raise ValidationFailed(
            "Name at least one reason: a criterion not met, or a written reason with its source.",
            fields={"reasons": ["Name at least one reason."]},
        )
    by_id = {r["id"]: r for r in reason_criteria(evaluation)}
    sources = {s["key"]: s["label"] for s in reason_sources(evaluation)}
    clean, problems = [], []
    for reason in reasons:
        if not isinstance(reason, dict):
            problems.append("A reason must be a criterion or a written reason.")
            continue
        criterion = str(reason.get("criterion") or "").strip()
        note = str(reason.get("note") or "").strip()
        if criterion:
            result = by_id.get(criterion)
            if result is None:
                problems.append(
                    f"{criterion} is not a criterion of the policy this case was evaluated under."
                )
                continue
            if result.get("answer") == "met" and not note:
                problems.append(f"The engine found {criterion} met: say why you judge it is not.")
                continue
            clean.append(
                {
                    "criterion": criterion,
                    "statement": str(result.get("statement") or ""),
                    "answer": str(result.get("answer") or ""),
                    "note": note,
                }
            )
            continue
        statement = str(reason.get("statement") or "").strip()
        source = str(reason.get("source") or "").strip()
        if not statement:
            problems.append("A written reason needs its text.")
            continue
        if source not in sources:
            problems.append(
                f"The written reason \u201c{statement[:60]}\u201d needs a source from this case."
            )
            continue
        clean.append(
            {
                "criterion": "",
                "statement": statement,
                "source": source,
                "source_label": sources[source],
                "note": note,
            }
        )
    if problems:
        raise ValidationFailed(" ".join(problems), fields={"reasons": problems})
    return clean


def _snapshot(evaluation: Evaluation | None) -> dict:
    if evaluation is None:
        return {}
    return {
        "evaluation_id": evaluation.pk,
        "round": evaluation.round,
        "policy_version": evaluation.policy_version.label if evaluation.policy_version else None,
        "policy_checksum": evaluation.policy_version.checksum
        if evaluation.policy_version
        else None,
        "profile": evaluation.profile,
        "review_date": evaluation.review_date.isoformat(),
        "recommendation": evaluation.recommendation,
        "reasons": evaluation.reasons,
        "missing_information": evaluation.missing_information,
        "trace": evaluation.trace,
        "history_checks": evaluation.history_checks,
        "note_conflicts": evaluation.note_conflicts,
    }


@transaction.atomic
def determination_record(
    *,
    pa_request: PriorAuthRequest,
    outcome: str,
    actor,
    reasons: list[dict] | None = None,
    rationale: str = "",
    approved_levels: list[str] | None = None,
    approved_units: int | None = None,
    approved_cpt_codes: list[str] | None = None,
    appeal: Appeal | None = None,
    now: datetime | None = None,
) -> Determination:
    """The only creator of approved / partially approved / denied determinations.

    1. Check the actor's role may record this outcome from the case's current status
       (reviews.authority: engine and nurse approve only; a physician anything, appeals too).
    2. Adverse outcomes need a rationale and at least one reason that holds (reasons_validate:
       a criterion of the evaluated policy version, or a written reason with its source).
    3. Move the request (locked; a concurrent second decision gets InvalidTransition, a 409).
    4. Write the determination with the policy version and a snapshot of the latest evaluation,
       and its audit event, in the same transaction; notify after commit.
    """
    role = _actor_role(actor)
    reasons = list(reasons or [])
    if role not in DECIDERS:
        raise NotPermitted("Only reviewers may record a determination.")
    if outcome in ADVERSE and not statuses_for(role, OUTCOME_ACT[outcome]):
        # DESIGN rule 1: no automated denial; only a physician issues an adverse determination.
        raise NotPermitted(
            "Only a physician reviewer may deny or partially approve; escalate the case."
        )
    if outcome not in OUTCOME_STATUS:
        raise ValidationFailed(f"Unknown outcome '{outcome}'.", fields={"outcome": ["Unknown."]})
    if outcome in ADVERSE:
        # Every problem at once: a rationale and reasons that hold.
        fields, problems = {}, []
        if not (rationale or "").strip():
            problems.append("An adverse determination needs a rationale.")
            fields["rationale"] = ["Explain the decision in plain language."]
        try:
            reasons = reasons_validate(reasons=reasons, evaluation=_reasons_basis(pa_request))
        except ValidationFailed as exc:
            problems.append(exc.message)
            fields.update(exc.fields)
        if fields:
            raise ValidationFailed(" ".join(problems), fields=fields)
    if outcome == Outcome.PARTIALLY_APPROVED:
        _validate_partial(pa_request, approved_levels, approved_units, approved_cpt_codes)

    locked = PriorAuthRequest.objects.select_for_update().get(pk=pa_request.pk)
    if not can_transition(locked.status, OUTCOME_STATUS[outcome]):
        # Decided or moved by someone else meanwhile: a conflict (409), not a permission problem.
        raise InvalidTransition(from_status=locked.status, to_status=OUTCOME_STATUS[outcome])
    if not may(role, OUTCOME_ACT[outcome], locked.status):
        raise NotPermitted(f"The {role} role does not decide cases in {locked.status}.")
    if locked.status == Status.APPEAL:
        appeal = appeal or locked.appeals.filter(status=Appeal.AppealStatus.OPEN).first()
        if appeal is None:
            raise ValidationFailed("No open appeal on this request.")
        # DESIGN rule 4: the appeal is decided by a physician (only a physician decides from
        # appeal, reviews.authority) who took no part in the decision.
        if took_part_in_review(locked, actor, before=appeal.filed_at):
            raise NotPermitted(
                "An appeal must be decided by a physician who took no part in the original decision."
            )
    locked = request_transition(
        pa_request=locked,
        to=OUTCOME_STATUS[outcome],
        actor=actor if role != Role.ENGINE else "engine",
        reason=f"determination: {outcome}",
    )
    evaluation = locked.evaluations.order_by("-round").select_related("policy_version").first()
    today = timezone.localdate(now) if now else timezone.localdate()
    approving = outcome in {Outcome.APPROVED, Outcome.PARTIALLY_APPROVED}
    review_extended = InformationRequest.objects.filter(request=locked).exists()
    determination = Determination.objects.create(
        request=locked,
        kind=Determination.Kind.APPEAL if appeal else Determination.Kind.INITIAL,
        outcome=outcome,
        decided_by=None if role == Role.ENGINE else actor,
        decided_by_role=role,
        reasons=reasons,
        rationale=rationale,
        policy_version=evaluation.policy_version if evaluation else None,
        evaluation=evaluation,
        evaluation_snapshot=_snapshot(evaluation),
        authorization_number=_authorization_number(locked) if approving else None,
        approved_cpt_codes=(list(approved_cpt_codes or locked.cpt_codes) if approving else []),
        approved_units=(
            (approved_units or int(locked.service.get("units") or 1)) if approving else None
        ),
        approved_levels=(
            list(
                approved_levels
                if approved_levels is not None
                else locked.service.get("levels") or []
            )
            if approving
            else []
        ),
        valid_from=today if approving else None,
        valid_to=today + timedelta(days=settings.AUTHORIZATION_VALID_DAYS) if approving else None,
        appeal=appeal,
        appeal_result=(
            ("overturned" if outcome == Outcome.APPROVED else "upheld") if appeal else ""
        ),
        review_extended=review_extended,
        decided_at=locked.decided_at,
    )
    if appeal is not None:
        appeal.status = Appeal.AppealStatus.DECIDED
        appeal.save(update_fields=["status"])
    audit_record(
        action="determination_recorded",
        subject=determination,
        actor=actor if role != Role.ENGINE else "engine",
        request=locked,
        data={
            "outcome": outcome,
            "kind": determination.kind,
            "authorization_number": determination.authorization_number,
            "reasons": [r.get("criterion") or r.get("source") for r in reasons],
            "policy_version": determination.evaluation_snapshot.get("policy_version"),
            "appeal_id": appeal.pk if appeal else None,
        },
    )
    transaction.on_commit(
        lambda: request_decided.send(
            sender=Determination, request_id=locked.pk, determination_id=determination.pk
        )
    )
    return determination


def _require_reviewer(actor, act: Act) -> None:
    """The actor is a signed-in user whose role may take `act` from some status."""
    if (
        not getattr(actor, "is_authenticated", False)
        or actor.role == Role.ENGINE
        or actor.role not in roles_for(act)
    ):
        raise NotPermitted("Your role may not do this.")


@transaction.atomic
def request_information_ask(
    *, pa_request: PriorAuthRequest, actor, items: list[dict], message: str = ""
) -> InformationRequest:
    """A reviewer (or the engine) pends the request for the listed information."""
    if actor not in (None, "engine"):
        _require_reviewer(actor, Act.REQUEST_INFORMATION)
    if not items:
        raise ValidationFailed(
            "Pick at least one item the provider must send.",
            fields={"items": ["Pick at least one item."]},
        )
    role = _actor_role(actor)
    locked = request_transition(
        pa_request=pa_request,
        to=Status.PENDING_INFORMATION,
        actor=actor if role != Role.ENGINE else "engine",
        reason="information requested",
        expect=statuses_for(role, Act.REQUEST_INFORMATION),
        extra_updates={"missing_information": items, "assigned_to": None},
    )
    info = InformationRequest.objects.create(
        request=locked,
        requested_by=None if role == Role.ENGINE else actor,
        requested_by_role=role,
        items=items,
        message=message,
        requested_at=timezone.now(),
    )
    audit_record(
        action="information_requested",
        subject=info,
        actor=actor if role != Role.ENGINE else "engine",
        request=locked,
        data={"items": [i.get("field") for i in items], "message": message},
    )
    return info


@transaction.atomic
def request_escalate(*, pa_request: PriorAuthRequest, actor, note: str) -> PriorAuthRequest:
    """A nurse sends the case to a physician reviewer with a note."""
    _require_reviewer(actor, Act.ESCALATE)
    if not note.strip():
        raise ValidationFailed(
            "Say why the case needs a physician.", fields={"note": ["Required."]}
        )
    locked = request_transition(
        pa_request=pa_request,
        to=Status.PHYSICIAN_REVIEW,
        actor=actor,
        reason="escalated to physician",
        expect=statuses_for(actor.role, Act.ESCALATE),
        extra_updates={"assigned_to": None},
    )
    ReviewNote.objects.create(
        request=locked,
        author=actor,
        author_role=actor.role,
        kind=ReviewNote.Kind.ESCALATION,
        text=note,
    )
    return locked


@transaction.atomic
def peer_to_peer_record(
    *, pa_request: PriorAuthRequest, actor, counterpart: str, occurred_at: datetime, text: str
) -> ReviewNote:
    """A physician records a peer-to-peer conversation with the requesting provider."""
    _require_reviewer(actor, Act.PEER_TO_PEER)
    fields = {}
    if not counterpart.strip():
        fields["counterpart"] = ["Whom did you speak with?"]
    if not text.strip():
        fields["text"] = ["Summarise the conversation."]
    if occurred_at > timezone.now():
        fields["occurred_at"] = ["A conversation cannot be in the future."]
    if fields:
        raise ValidationFailed("The peer-to-peer record is incomplete.", fields=fields)
    locked = PriorAuthRequest.objects.select_for_update().get(pk=pa_request.pk)
    ensure_holder(locked, actor)
    if not may(actor.role, Act.PEER_TO_PEER, locked.status):
        raise NotPermitted("A peer-to-peer is recorded while the case is in physician review.")
    note = ReviewNote.objects.create(
        request=locked,
        author=actor,
        author_role=actor.role,
        kind=ReviewNote.Kind.PEER_TO_PEER,
        text=text,
        counterpart=counterpart,
        occurred_at=occurred_at,
    )
    audit_record(
        action="peer_to_peer_recorded",
        subject=note,
        actor=actor,
        request=locked,
        data={"counterpart": counterpart, "occurred_at": occurred_at.isoformat()},
    )
    return note
