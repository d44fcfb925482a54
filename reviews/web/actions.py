"""The reviewers' actions, declared: each names its act in reviews.authority (which role may
take it, from which status), its form, what the confirmation page lists, the service it calls
and what the page says after. The case page offers what the table allows; the services check
again on submit."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reviews import services
from reviews.authority import Act, may, roles_for, statuses_for
from reviews.errors import LaminaError, NotPermitted
from reviews.models import Outcome, Status
from reviews.selectors.queue import information_choices
from reviews.services.appeals import NOT_ELIGIBLE, appeal_eligible
from reviews.services.decisions import reason_criteria, reason_sources
from reviews.transitions import REVIEWER_ROLES, ensure_holder
from reviews.web import forms

Rows = list[tuple[str, Any]]


def _no_kwargs(*, pa_request, evaluation) -> dict:
    return {}


@dataclass(frozen=True)
class Action:
    name: str
    act: Act
    label: str
    # What the confirmation step says the action will do.
    confirm: str
    form_class: type
    # The rows the confirmation page lists back: (label, text or list of lines).
    rows: Callable[[Any], Rows]
    # The service call, given the valid form: form, *, pa_request, actor.
    call: Callable[..., object]
    # The message shown after success.
    done: str
    # The form's arguments beyond the posted data.
    form_kwargs: Callable[..., dict] = _no_kwargs
    danger: bool = False

    @property
    def roles(self) -> frozenset[str]:
        """The reviewer roles that may take it from some status (reviews.authority)."""
        return roles_for(self.act) & REVIEWER_ROLES

    @property
    def statuses(self) -> frozenset[str]:
        """The statuses some reviewer role may take it from (reviews.authority)."""
        return frozenset().union(*(statuses_for(role, self.act) for role in self.roles))


# --- Forms, summaries and service calls ---------------------------------------------------------


def _information_kwargs(*, pa_request, evaluation) -> dict:
    return {"choices": information_choices(evaluation)}


def _reasons_kwargs(*, pa_request, evaluation) -> dict:
    return {"criteria": reason_criteria(evaluation), "sources": reason_sources(evaluation)}


def _partial_kwargs(*, pa_request, evaluation) -> dict:
    return {
        **_reasons_kwargs(pa_request=pa_request, evaluation=evaluation),
        "pa_request": pa_request,
    }


def _approve_rows(form) -> Rows:
    return [("Note", form.cleaned_data.get("rationale") or "none")]


def _escalate_rows(form) -> Rows:
    return [("Note to the physician", form.cleaned_data["note"])]


def _information_rows(form) -> Rows:
    return [
        ("Items", [f"{i['field']}: {i['why']}" for i in form.chosen_items()]),
        ("Message", form.cleaned_data["message"]),
    ]


def _reason_rows(form) -> Rows:
    return [("Reasons", form.reason_lines()), ("Rationale", form.cleaned_data["rationale"])]


def _partial_rows(form) -> Rows:
    data = form.cleaned_data
    return [
        ("Codes approved", ", ".join(data["approved_cpt_codes"])),
        ("Levels approved", ", ".join(data["approved_levels"]) or "none"),
        ("Units approved", data["approved_units"]),
        *_reason_rows(form),
    ]


def _peer_to_peer_rows(form) -> Rows:
    data = form.cleaned_data
    return [
        ("Spoke with", data["counterpart"]),
        ("When", data["occurred_at"]),
        ("Summary", data["text"]),
    ]


def _approve(form, *, pa_request, actor):
    return services.determination_record(
        pa_request=pa_request,
        outcome=Outcome.APPROVED,
        actor=actor,
        rationale=form.cleaned_data.get("rationale") or "",
    )


def _escalate(form, *, pa_request, actor):
    return services.request_escalate(
        pa_request=pa_request, actor=actor, note=form.cleaned_data["note"]
    )


def _request_information(form, *, pa_request, actor):
    return services.request_information_ask(
        pa_request=pa_request,
        actor=actor,
        items=form.chosen_items(),
        message=form.cleaned_data["message"],
    )


def _deny(form, *, pa_request, actor):
    return services.determination_record(
        pa_request=pa_request,
        outcome=Outcome.DENIED,
        actor=actor,
        reasons=form.chosen_reasons(),
        rationale=form.cleaned_data["rationale"],
    )


def _partial(form, *, pa_request, actor):
    data = form.cleaned_data
    return services.determination_record(
        pa_request=pa_request,
        outcome=Outcome.PARTIALLY_APPROVED,
        actor=actor,
        reasons=form.chosen_reasons(),
        rationale=data["rationale"],
        approved_cpt_codes=list(data["approved_cpt_codes"]),
        approved_levels=list(data["approved_levels"]),
        approved_units=data["approved_units"],
    )


def _peer_to_peer(form, *, pa_request, actor):
    data = form.cleaned_data
    return services.peer_to_peer_record(
        pa_request=pa_request,
        actor=actor,
        counterpart=data["counterpart"],
        occurred_at=data["occurred_at"],
        text=data["text"],
    )


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action(
            name="approve",
            act=Act.APPROVE,
            label="Approve",
            confirm="Approve the request as requested: Lamina issues an authorization number and "
            "the provider and member are sent an approval letter.",
            form_class=forms.ApproveForm,
            rows=_approve_rows,
            call=_approve,
            done="Approved. The determination letter is ready.",
        ),
        Action(
            name="request_information",
            act=Act.REQUEST_INFORMATION,
            label="Request information",
            confirm="Pend the request and ask the provider for the items below. The case leaves "
            "the queue until the provider answers; it is then evaluated again.",
            form_class=forms.InformationForm,
            form_kwargs=_information_kwargs,
            rows=_information_rows,
            call=_request_information,
            done="Information requested from the provider; the request is pended.",
        ),
        Action(
            name="escalate",
            act=Act.ESCALATE,
            label="Escalate to physician",
            confirm="Send the case to physician review with your note. You will no longer hold it.",
            form_class=forms.EscalateForm,
            rows=_escalate_rows,
            call=_escalate,
            done="Escalated to physician review.",
        ),
        Action(
            name="partial",
            act=Act.PARTIALLY_APPROVE,
            label="Partially approve",
            confirm="Approve only part of the request and deny the rest for the criteria below. "
            "This is an adverse determination: the letter names the criteria and explains how "
            "to appeal.",
            form_class=forms.PartialForm,
            form_kwargs=_partial_kwargs,
            rows=_partial_rows,
            call=_partial,
            done="Partially approved. The determination letter is ready.",
            danger=True,
        ),
        Action(
            name="deny",
            act=Act.DENY,
            label="Deny",
            confirm="Deny the request for the criteria below. This is an adverse determination: "
            "the letter names the criteria and explains how to appeal.",
            form_class=forms.DenyForm,
            form_kwargs=_reasons_kwargs,
            rows=_reason_rows,
            call=_deny,
            done="Denied. The determination letter is ready.",
            danger=True,
        ),
        Action(
            name="peer_to_peer",
            act=Act.PEER_TO_PEER,
            label="Record peer-to-peer",
            confirm="Add this peer-to-peer conversation to the case record. The case stays in "
            "review.",
            form_class=forms.PeerToPeerForm,
            rows=_peer_to_peer_rows,
            call=_peer_to_peer,
            done="Peer-to-peer conversation recorded.",
        ),
    )
}


def actions_for(*, user, pa_request) -> list[Action]:
    """The actions open to this user on the case: none on a case another reviewer holds, none on
    an appeal the user took part in. The user acts once they hold the case (refusal_for)."""
    if pa_request.assigned_to_id and pa_request.assigned_to_id != user.pk:
        return []
    if pa_request.status == Status.APPEAL and not appeal_eligible(pa_request, user):
        return []
    return [a for a in ACTIONS.values() if may(user.role, a.act, pa_request.status)]


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
    return action.form_class(
        data, **action.form_kwargs(pa_request=pa_request, evaluation=evaluation)
    )


def summary(action: Action, form) -> Rows:
    """What the confirmation page lists back to the reviewer before anything is done."""
    return action.rows(form)


def perform(action: Action, form, *, pa_request, actor) -> str:
    """Call the service; returns the message shown after success. LaminaError propagates: a
    refusal (refusal_for) before any service runs, or the service's own."""
    refusal = refusal_for(action, user=actor, pa_request=pa_request)
    if refusal is not None:
        raise refusal
    action.call(form, pa_request=pa_request, actor=actor)
    return action.done
