"""The evidence checks: criteria, history, documentation and notes, then the recommendation acts."""

import json
from dataclasses import dataclass
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from reviews import spine
from reviews.audit import audit_record, canonical
from reviews.authority import Act, statuses_for
from reviews.models import (
    OPEN_STATUSES,
    Evaluation,
    PriorAuthRequest,
    Recommendation,
    Role,
    Status,
)
from reviews.services.decide import decide
from reviews.transitions import request_transition


def _levels_overlap(a: list[str], b: list[str]) -> bool:
    """The criteria's overlap (reviews/spine.py): 'L4-L5' and 'L5' overlap here as there."""
    return bool(spine.overlap(a, b))


def history_checks(pa_request: PriorAuthRequest) -> list[dict]:
    """Checks across the member's other requests in Lamina that the criteria do not already read.

    Frequency limits and repeat intervals are criteria (ESI-08..10, FJ-05..09) fed by facts.py;
    here: a duplicate open request, and an approval still valid for the same service.
    """
    results = []
    others = (
        PriorAuthRequest.objects.filter(
            member_id=pa_request.member_id, procedure_family=pa_request.procedure_family
        )
        .exclude(pk=pa_request.pk)
        .exclude(status=Status.WITHDRAWN)
        .prefetch_related("determinations")
    )
    duplicates = [
        o.pk
        for o in others
        if o.status in OPEN_STATUSES
        and _levels_overlap(o.service.get("levels"), pa_request.service.get("levels"))
    ]
    results.append(
        {
            "check": "duplicate_open_request",
            "result": "flag" if duplicates else "ok",
            "detail": (
                f"Open request(s) {', '.join(f'PA-{d:08d}' for d in duplicates)} for the same member, "
                "procedure family and levels."
                if duplicates
                else "No other open request for the same member, procedure family and levels."
            ),
            "requests": duplicates,
        }
    )
    today = timezone.localdate()
    still_valid = [
        o.pk
        for o in others
        if o.status == Status.APPROVED
        and _levels_overlap(o.service.get("levels"), pa_request.service.get("levels"))
        and any(d.valid_to and d.valid_to >= today for d in o.determinations.all())
    ]
    results.append(
        {
            "check": "existing_authorization",
            "result": "flag" if still_valid else "ok",
            "detail": (
                f"An authorization still valid for the same levels: "
                f"{', '.join(f'PA-{d:08d}' for d in still_valid)}."
                if still_valid
                else "No authorization still valid for the same service and levels."
            ),
            "requests": still_valid,
        }
    )
    return results


def documentation_checks(pa_request: PriorAuthRequest) -> list[dict]:
    """What documentation the file holds; nothing clinical at all sends the request to a pend."""
    attachments = list(pa_request.attachments.values_list("kind", flat=True))
    imaging = pa_request.clinical.get("imaging") or []
    has_report = any(i.get("report_text") for i in imaging) or "imaging_report" in attachments
    return [
        {
            "item": "clinical_note",
            "present": "clinical_note" in attachments,
            "detail": "A clinical note from the requesting provider.",
        },
        {
            "item": "imaging_report",
            "present": has_report,
            "detail": "The radiologist's report of the imaging the criteria read.",
        },
        {
            "item": "any_documentation",
            "present": bool(attachments) or has_report,
            "detail": "At least one note or report supporting the attested facts.",
        },
    ]


@dataclass(frozen=True)
class _Inputs:
    """What the checks read of a request, read once per evaluation (reviews.facts.request_inputs)
    plus the attachments with their text, which the consistency checks also read."""

    request_data: dict
    history: list
    member: dict
    with_text: dict


def _inputs(pa_request: PriorAuthRequest) -> _Inputs:
    from reviews.facts import request_inputs

    request_data, history, member = request_inputs(pa_request)
    # The side of the pathology may be written in a note: the consistency checks read the text.
    with_text = {
        **request_data,
        "attachments": [
            {"kind": a.kind, "date": a.date, "title": a.title, "text": a.text}
            for a in pa_request.attachments.all()
        ],
    }
    return _Inputs(request_data, history, member, with_text)


def _evaluate_criteria(
    pa_request: PriorAuthRequest, review_date: date, inputs: _Inputs | None = None
):
    """(policy_version, facts, engine outcome dict) or (None, facts, None) when no policy applies."""
    from criteria.engine import evaluate
    from criteria.selectors import policy_version_for
    from reviews.facts import build_facts

    if not pa_request.procedure_family:
        return None, {}, None
    version = policy_version_for(
        family=pa_request.procedure_family,
        line_of_business=pa_request.line_of_business,
        on_date=review_date,
    )
    if version is None:
        return None, {}, None
    inputs = inputs or _inputs(pa_request)
    facts = build_facts(
        request_data=inputs.request_data,
        review_date=review_date,
        history=inputs.history,
        member=inputs.member,
    )
    outcome = evaluate(version.content, facts, review_date=review_date)
    # Stored as JSON: dates become ISO strings, which the engine reads back on replay.
    return version, json.loads(canonical(facts)), json.loads(canonical(outcome.to_dict()))


def _note_conflicts(pa_request: PriorAuthRequest) -> list[dict]:
    """Read the request's unread notes, then compare the findings with its facts."""
    from notes.services import notes_read_for_request

    return notes_read_for_request(pa_request=pa_request)


def _eligibility(version, review_date: date, recommendation: str, inputs: _Inputs, checks: dict):
    """(eligible_on, the criteria time cures) for a request only time keeps from approval."""
    from reviews.consistency import consistency_run
    from reviews.eligibility import eligible_on

    if version is None or recommendation == Recommendation.APPROVE:
        return None, []
    entries = version.content.get("consistency") or []
    day, reasons = eligible_on(
        content=version.content,
        request_data=inputs.request_data,
        history=inputs.history,
        member=inputs.member,
        review_date=review_date,
        checks=checks,
        findings_on=lambda day, facts: consistency_run(
            entries, request=inputs.with_text, facts=facts, history=inputs.history, review_date=day
        ),
        decide=lambda outcome, recorded: decide(
            outcome,
            recorded["history_checks"],
            recorded["documentation"],
            recorded["note_conflicts"],
            recorded["consistency"],
        )[0],
    )
    return day, json.loads(canonical(reasons))


def _consistency(version, facts: dict, review_date: date, inputs: _Inputs):
    """The findings of the consistency checks the policy version names (reviews/consistency.py)."""
    from reviews.consistency import consistency_run

    entries = (version.content.get("consistency") or []) if version is not None else []
    if not entries:
        return []
    findings = consistency_run(
        entries,
        request=inputs.with_text,
        facts=facts,
        history=inputs.history,
        review_date=review_date,
    )
    return json.loads(canonical(findings))


# The evaluation found an attachment added after the notes were read: read it, then try again.
_NOTES_ADDED = object()


def evidence_checks_run(*, pa_request: PriorAuthRequest, review_date: date | None = None):
    """Run every check for the request's current evaluation round, once, and act on the result.

    1. Read the notes not yet read, outside the row lock (reading is the costly step; the task
       reviews.tasks.read_notes does it ahead of this, and then there is nothing left to read).
    2. Lock the request; return if it is no longer evaluating or this round already has an
       evaluation (a redelivered task does nothing).
    3. Compare the stored note findings with the facts, evaluate the criteria under the
       applicable policy version, run the history, documentation and consistency checks.
    4. Store the immutable evaluation record and audit it.
    5. Act: approve (the engine's determination), pend with the list of what is missing, or put
       the request in the nurse or physician queue. The engine never denies.
    """
    from notes.services import notes_read_pending

    for _attempt in range(3):
        if not PriorAuthRequest.objects.filter(pk=pa_request.pk, status=Status.EVALUATING).exists():
            return None
        notes_read_pending(pa_request=pa_request)
        evaluation = _evidence_checks_locked(pa_request=pa_request, review_date=review_date)
        if evaluation is not _NOTES_ADDED:
            return evaluation
    return None  # notes keep arriving: the sweep runs the checks again later


@transaction.atomic
def _evidence_checks_locked(*, pa_request: PriorAuthRequest, review_date: date | None):
    from notes.services import note_conflicts, notes_unread
    from reviews.services.decisions import determination_record, request_information_ask

    locked = PriorAuthRequest.objects.select_for_update().get(pk=pa_request.pk)
    if locked.status != Status.EVALUATING:
        return None
    if Evaluation.objects.filter(request=locked, round=locked.evaluation_round).exists():
        return None
    if notes_unread(pa_request=locked):
        return _NOTES_ADDED  # never read a note with the row locked
    review_date = review_date or timezone.localdate()
    conflicts = note_conflicts(pa_request=locked)
    inputs = _inputs(locked)
    version, facts, engine = _evaluate_criteria(locked, review_date, inputs)
    history = history_checks(locked)
    documentation = documentation_checks(locked)
    findings = _consistency(version, facts, review_date, inputs)
    recommendation, reasons, missing = decide(engine, history, documentation, conflicts, findings)
    eligible, eligible_reasons = _eligibility(
        version,
        review_date,
        recommendation,
        inputs,
        checks={
            "history_checks": history,
            "documentation": documentation,
            "note_conflicts": conflicts,
            "consistency": findings,
        },
    )
    try:
        with transaction.atomic():
            evaluation = Evaluation.objects.create(
                request=locked,
                round=locked.evaluation_round,
                policy_version=version,
                profile=version.profile if version else "",
                review_date=review_date,
                facts=facts,
                trace=(engine or {}).get("results", []),
                history_checks=history,
                documentation=documentation,
                note_conflicts=conflicts,
                consistency=findings,
                eligible_on=eligible,
                eligible_on_reasons=eligible_reasons,
                recommendation=recommendation,
                reasons=reasons,
                missing_information=missing,
            )
    except IntegrityError:
        return None  # another delivery recorded this round first
    audit_record(
        action="evaluation_recorded",
        subject=evaluation,
        actor="engine",
        request=locked,
        data={
            "round": evaluation.round,
            "policy_version": version.label if version else None,
            "recommendation": recommendation,
            "not_met": [r["id"] for r in evaluation.trace if r.get("answer") == "not_met"],
            "missing": [m.get("field") for m in missing],
            "note_conflicts": len(conflicts),
            "consistency": [f["check"] for f in findings],
            "eligible_on": eligible.isoformat() if eligible else None,
        },
    )
    PriorAuthRequest.objects.filter(pk=locked.pk).update(recommendation=recommendation)
    locked.recommendation = recommendation
    if recommendation == Recommendation.APPROVE:
        determination_record(pa_request=locked, outcome="approved", actor="engine")
    elif recommendation == Recommendation.PEND_MISSING_INFORMATION:
        request_information_ask(
            pa_request=locked,
            actor="engine",
            items=missing,
            message="Lamina needs the information listed to finish the review.",
        )
    else:
        to = (
            Status.NURSE_REVIEW
            if recommendation == Recommendation.NURSE_REVIEW
            else Status.PHYSICIAN_REVIEW
        )
        request_transition(
            pa_request=locked,
            to=to,
            actor="engine",
            reason=reasons[0]["statement"] if reasons else recommendation,
            expect=statuses_for(Role.ENGINE, Act.ROUTE),
        )
    return evaluation
