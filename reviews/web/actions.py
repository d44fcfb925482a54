"""The reviewers' actions: which role may take which, from which status, and the service each
one calls. The case page offers what this table allows; the services check again on submit."""

from dataclasses import dataclass
from typing import Any

from reviews import services
from reviews.errors import LaminaError, NotPermitted
from reviews.models import Outcome, Role, Status
from reviews.selectors.queue import information_choices
from reviews.services.appeals import NOT_ELIGIBLE, appeal_eligible
from reviews.services.decisions import reason_criteria, reason_sources
from reviews.transitions import ensure_holder
from reviews.web import forms


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    roles: frozenset[str]
    statuses: frozenset[str]
    # What the confirmation step says the action will do.
    confirm: str
    danger: bool = False


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action(
            "approve",
            "Approve",
            frozenset({Role.NURSE, Role.PHYSICIAN}),
            frozenset({Status.NURSE_REVIEW, Status.PHYSICIAN_REVIEW, Status.APPEAL}),
            "Approve the request as requested: Lamina issues an authorization number and the "
            "provider and member are sent an approval letter.",
        ),
        Action(
            "request_information",
            "Request information",
            frozenset({Role.NURSE, Role.PHYSICIAN}),
            frozenset({Status.NURSE_REVIEW, Status.PHYSICIAN_REVIEW}),
            "Pend the request and ask the provider for the items below. The case leaves the "
            "queue until the provider answers; it is then evaluated again.",
        ),
        Action(
            "escalate",
            "Escalate to physician",
            frozenset({Role.NURSE}),
            frozenset({Status.NURSE_REVIEW}),
            "Send the case to physician review with your note. You will no longer hold it.",
        ),
        Action(
            "partial",
            "Partially approve",
            frozenset({Role.PHYSICIAN}),
            frozenset({Status.PHYSICIAN_REVIEW, Status.APPEAL}),
            "Approve only part of the request and deny the rest for the criteria below. This is an "
            "adverse determination: the letter names the criteria and explains how to appeal.",
            danger=True,
        ),
        Action(
            "deny",
            "Deny",
            frozenset({Role.PHYSICIAN}),
            frozenset({Status.PHYSICIAN_REVIEW, Status.APPEAL}),
            "Deny the request for the criteria below. This is an adverse determination: the "
            "letter names the criteria and explains how to appeal.",
            danger=True,
        ),
        Action(
            "peer_to_peer",
            "Record peer-to-peer",
            frozenset({Role.PHYSICIAN}),
            frozenset({Status.PHYSICIAN_REVIEW, Status.APPEAL}),
            "Add this peer-to-peer conversation to the case record. The case stays in review.",
        ),
    )
}


def actions_for(*, user, pa_request) -> list[Action]:
    """The actions open to this user on the case: none on a case another reviewer holds, none on
    an appeal the user took part in. The user acts once they hold the case (refusal_for)."""
    role = user.role
    if pa_request.assigned_to_id and pa_request.assigned_to_id != user.pk:
        return []
    if pa_request.status == Status.APPEAL and not appeal_eligible(pa_request, user):
        return []
    return [a for a in ACTIONS.values() if role in a.roles and pa_request.status in a.statuses]


def refusal_for(action: Action, *, user, pa_request) -> LaminaError | None:
    """Why `user` may not take `action` on the case now, or None: the role, the appeal rule and
    the claim, in that order. A case whose status no longer allows the action is left to the
    service, which says it moved on. The services check all of it again under the row lock."""
    if user.role not in action.roles:
        return NotPermitted(f"Your role may not {action.label.lower()} a case.")
    if pa_request.status not in action.statuses:
        return None
    if pa_request.status == Status.APPEAL and not appeal_eligible(pa_request, user):
        return NotPermitted(NOT_ELIGIBLE, code="not_eligible")
    try:
        ensure_holder(pa_request, user)
    except LaminaError as exc:
        return exc
    return None


def build_form(action: Action, *, pa_request, evaluation, data=None):
    if action.name == "approve":
        return forms.ApproveForm(data)
    if action.name == "escalate":
        return forms.EscalateForm(data)
    if action.name == "request_information":
        return forms.InformationForm(data, choices=information_choices(evaluation))
    if action.name == "deny":
        return forms.DenyForm(
            data, criteria=reason_criteria(evaluation), sources=reason_sources(evaluation)
        )
    if action.name == "partial":
        return forms.PartialForm(
            data,
            criteria=reason_criteria(evaluation),
            sources=reason_sources(evaluation),
            pa_request=pa_request,
        )
    if action.name == "peer_to_peer":
        return forms.PeerToPeerForm(data)
    raise KeyError(action.name)


def summary(action: Action, form) -> list[tuple[str, Any]]:
    """What the confirmation page lists back to the reviewer before anything is done."""
    data = form.cleaned_data
    if action.name == "approve":
        return [("Note", data.get("rationale") or "none")]
    if action.name == "escalate":
        return [("Note to the physician", data["note"])]
    if action.name == "request_information":
        return [
            ("Items", [f"{i['field']}: {i['why']}" for i in form.chosen_items()]),
            ("Message", data["message"]),
        ]
    if action.name in {"deny", "partial"}:
        rows = []
        if action.name == "partial":
            rows += [
                ("Codes approved", ", ".join(data["approved_cpt_codes"])),
                ("Levels approved", ", ".join(data["approved_levels"]) or "none"),
                ("Units approved", data["approved_units"]),
            ]
        rows += [
            ("Reasons", form.reason_lines()),
            ("Rationale", data["rationale"]),
        ]
        return rows
    if action.name == "peer_to_peer":
        return [
            ("Spoke with", data["counterpart"]),
            ("When", data["occurred_at"]),
            ("Summary", data["text"]),
        ]
    raise KeyError(action.name)


def perform(action: Action, form, *, pa_request, actor) -> str:
    """Call the service; returns the message shown after success. LaminaError propagates: a
    refusal (refusal_for) before any service runs, or the service's own."""
    refusal = refusal_for(action, user=actor, pa_request=pa_request)
    if refusal is not None:
        raise refusal
    data = form.cleaned_data
    if action.name == "approve":
        services.determination_record(
            pa_request=pa_request,
            outcome=Outcome.APPROVED,
            actor=actor,
            rationale=data.get("rationale") or "",
        )
        return "Approved. The determination letter is ready."
    if action.name == "escalate":
        services.request_escalate(pa_request=pa_request, actor=actor, note=data["note"])
        return "Escalated to physician review."
    if action.name == "request_information":
        services.request_information_ask(
            pa_request=pa_request,
            actor=actor,
            items=form.chosen_items(),
            message=data["message"],
        )
        return "Information requested from the provider; the request is pended."
    if action.name == "deny":
        services.determination_record(
            pa_request=pa_request,
            outcome=Outcome.DENIED,
            actor=actor,
            reasons=form.chosen_reasons(),
            rationale=data["rationale"],
        )
        return "Denied. The determination letter is ready."
    if action.name == "partial":
        services.determination_record(
            pa_request=pa_request,
            outcome=Outcome.PARTIALLY_APPROVED,
            actor=actor,
            reasons=form.chosen_reasons(),
            rationale=data["rationale"],
            approved_cpt_codes=list(data["approved_cpt_codes"]),
            approved_levels=list(data["approved_levels"]),
            approved_units=data["approved_units"],
        )
        return "Partially approved. The determination letter is ready."
    if action.name == "peer_to_peer":
        services.peer_to_peer_record(
            pa_request=pa_request,
            actor=actor,
            counterpart=data["counterpart"],
            occurred_at=data["occurred_at"],
            text=data["text"],
        )
        return "Peer-to-peer conversation recorded."
    raise KeyError(action.name)
