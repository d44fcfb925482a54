"""Who may act from which status is one table (reviews.authority): the state machine agrees with
it, and the services, the claim and the case page do what it says, status by status."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from reviews.authority import (
    AUTHORITY,
    LEADS_TO,
    Act,
    authority_problems,
    may,
    roles_for,
    statuses_for,
)
from reviews.errors import LaminaError
from reviews.models import (
    Appeal,
    Determination,
    Outcome,
    PriorAuthRequest,
    Role,
    Status,
)
from reviews.services import (
    determination_record,
    peer_to_peer_record,
    request_answer_information,
    request_claim,
    request_escalate,
    request_information_ask,
    request_update,
    request_withdraw,
)
from reviews.services.appeals import APPEALABLE, appeal_file
from reviews.services.assignments import QUEUE_OF_ROLE
from reviews.services.intake import UPDATABLE
from reviews.services.rechecks import RECHECKABLE, recheck_schedule
from reviews.transitions import REVIEWER_ROLES, TRANSITIONS
from reviews.web.actions import ACTIONS, actions_for
from tests.factories import PriorAuthRequestFactory

ALL = [s.value for s in Status]


# --- The table and the state machine ------------------------------------------------------------


def test_every_act_allowed_leads_along_the_state_machine():
    assert authority_problems(TRANSITIONS) == []
    for act, by_role in AUTHORITY.items():
        for statuses in by_role.values():
            for status in statuses:
                assert LEADS_TO[act] <= TRANSITIONS[status], (act, status)


def _with(act: Act, role: str, statuses: set[str]) -> dict:
    """A copy of the table where `role` takes `act` from `statuses`."""
    table = {a: dict(by_role) for a, by_role in AUTHORITY.items()}
    table[act][role] = frozenset(statuses)
    return table


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        # Pending information cannot be approved: it goes back to evaluating first.
        (
            _with(Act.APPROVE, Role.NURSE, {Status.PENDING_INFORMATION}),
            "approve by nurse from pending_information: no transition to approved.",
        ),
        # A denial is final but for an appeal: nothing is recorded on it in review.
        (
            _with(Act.PEER_TO_PEER, Role.PHYSICIAN, {Status.APPROVED}),
            "peer_to_peer by physician from approved: the request is closed.",
        ),
        # A queue a role claims but cannot act from would hold cases nobody can decide.
        (
            _with(Act.CLAIM, Role.NURSE, {Status.NURSE_REVIEW, Status.APPEAL}),
            "nurse claims appeal but may not act from it.",
        ),
        (
            _with(Act.ESCALATE, Role.NURSE, {"triage"}),
            "escalate by nurse: unknown status 'triage'.",
        ),
        (
            _with(Act.ESCALATE, "clerk", {Status.NURSE_REVIEW}),
            "escalate: unknown role 'clerk'.",
        ),
    ],
)
def test_a_table_that_disagrees_is_caught(table, problem):
    assert problem in authority_problems(TRANSITIONS, table)


def test_an_act_without_a_row_is_caught():
    table = {a: by_role for a, by_role in AUTHORITY.items() if a != Act.RECHECK}
    assert "recheck: no row in the authority table or no destination." in authority_problems(
        TRANSITIONS, table
    )


def test_helpers_read_the_table():
    assert statuses_for(Role.NURSE, Act.DENY) == frozenset()
    assert roles_for(Act.DENY) == {Role.PHYSICIAN}
    assert may(Role.PHYSICIAN, Act.DENY, Status.APPEAL)
    assert not may(Role.NURSE, Act.APPROVE, Status.PHYSICIAN_REVIEW)
    assert not may(Role.AUDITOR, Act.CLAIM, Status.NURSE_REVIEW)


# --- The derived views: no copy elsewhere -------------------------------------------------------


def test_the_views_other_modules_read_are_the_table():
    assert {r: statuses_for(r, Act.CLAIM) for r in (Role.NURSE, Role.PHYSICIAN)} == QUEUE_OF_ROLE
    assert roles_for(Act.CLAIM) == REVIEWER_ROLES
    assert statuses_for(Role.PROVIDER, Act.APPEAL) == APPEALABLE
    assert statuses_for(Role.PROVIDER, Act.RECHECK) == RECHECKABLE
    assert statuses_for(Role.PROVIDER, Act.UPDATE) == UPDATABLE


def test_the_case_page_offers_every_reviewer_act_of_the_table():
    reviewer_acts = {act for act in Act if roles_for(act) & REVIEWER_ROLES} - {Act.CLAIM}
    assert {a.act for a in ACTIONS.values()} == reviewer_acts
    for action in ACTIONS.values():
        assert action.roles == roles_for(action.act) & REVIEWER_ROLES
        assert action.statuses == frozenset().union(
            *(statuses_for(role, action.act) for role in action.roles)
        )


@pytest.mark.parametrize("status", ALL)
@pytest.mark.parametrize("reviewer", ["nurse", "physician"])
def test_the_case_page_offers_what_the_table_allows(db, request, reviewer, status):
    user = request.getfixturevalue(reviewer)
    case = PriorAuthRequestFactory(status=status, assigned_to=user)
    offered = {a.name for a in actions_for(user=user, pa_request=case)}
    assert offered == {a.name for a in ACTIONS.values() if may(user.role, a.act, status)}


def test_a_nurse_is_offered_no_decision_on_a_physician_case(db, nurse):
    case = PriorAuthRequestFactory(status=Status.PHYSICIAN_REVIEW)
    assert [a.name for a in actions_for(user=nurse, pa_request=case)] == ["request_information"]


# --- The services do what the table says, status by status -------------------------------------


WRITTEN_REASON = [{"statement": "The records do not support it.", "source": "records"}]


def _case(status: str, holder, provider) -> PriorAuthRequest:
    """A request of `provider`'s organization in `status`, held by `holder` (or by nobody), with
    an initial denial behind it and, under appeal, the open appeal: only the status differs."""
    pa_request = PriorAuthRequestFactory(
        status=status,
        assigned_to=holder,
        organization=provider.organization,
        submitted_by=provider,
        service={"cpt_codes": ["64483"], "spinal_region": "lumbar", "levels": ["L5-S1"]},
    )
    denial = Determination.objects.create(
        request=pa_request,
        outcome=Outcome.DENIED,
        decided_by_role=Role.PHYSICIAN,
        rationale="x",
        decided_at=timezone.now() - timedelta(days=1),
    )
    if status == Status.APPEAL:
        now = timezone.now()
        Appeal.objects.create(
            request=pa_request,
            original_determination=denial,
            filed_by=provider,
            reason="Please look again.",
            urgency="standard",
            filed_at=now,
            due_at=now + timedelta(days=30),
        )
    return pa_request


def _do(act: Act, pa_request: PriorAuthRequest, actor) -> None:
    if act == Act.CLAIM:
        request_claim(pa_request=pa_request, actor=actor)
    elif act == Act.APPROVE:
        determination_record(pa_request=pa_request, outcome=Outcome.APPROVED, actor=actor)
    elif act in (Act.DENY, Act.PARTIALLY_APPROVE):
        determination_record(
            pa_request=pa_request,
            outcome=Outcome.DENIED if act == Act.DENY else Outcome.PARTIALLY_APPROVED,
            actor=actor,
            reasons=WRITTEN_REASON,
            rationale="Not supported.",
            approved_levels=[],
        )
    elif act == Act.REQUEST_INFORMATION:
        request_information_ask(
            pa_request=pa_request, actor=actor, items=[{"field": "attachments", "why": "MRI"}]
        )
    elif act == Act.ESCALATE:
        request_escalate(pa_request=pa_request, actor=actor, note="Needs a physician.")
    elif act == Act.PEER_TO_PEER:
        peer_to_peer_record(
            pa_request=pa_request,
            actor=actor,
            counterpart="Dr R",
            occurred_at=timezone.now() - timedelta(hours=1),
            text="Discussed the imaging.",
        )
    elif act == Act.WITHDRAW:
        request_withdraw(pa_request=pa_request, actor=actor)
    elif act == Act.ANSWER_INFORMATION:
        request_answer_information(
            pa_request=pa_request, actor=actor, clinical={"weeks_of_therapy": 8}
        )
    elif act == Act.UPDATE:
        request_update(pa_request=pa_request, actor=actor, clinical={"weeks_of_therapy": 8})
    elif act == Act.APPEAL:
        appeal_file(pa_request=pa_request, actor=actor, reason="Please look again.")
    elif act == Act.RECHECK:
        recheck_schedule(pa_request=pa_request, actor=actor, on_date=timezone.localdate())
    else:
        raise AssertionError(f"no service for {act}")


SERVICE_CASES = [
    (Act.CLAIM, "nurse"),
    (Act.CLAIM, "physician"),
    (Act.CLAIM, "auditor"),
    (Act.APPROVE, "engine"),
    (Act.APPROVE, "nurse"),
    (Act.APPROVE, "physician"),
    (Act.PARTIALLY_APPROVE, "engine"),
    (Act.PARTIALLY_APPROVE, "nurse"),
    (Act.PARTIALLY_APPROVE, "physician"),
    (Act.DENY, "engine"),
    (Act.DENY, "nurse"),
    (Act.DENY, "physician"),
    (Act.REQUEST_INFORMATION, "engine"),
    (Act.REQUEST_INFORMATION, "nurse"),
    (Act.REQUEST_INFORMATION, "physician"),
    (Act.ESCALATE, "nurse"),
    (Act.ESCALATE, "physician"),
    (Act.PEER_TO_PEER, "nurse"),
    (Act.PEER_TO_PEER, "physician"),
    (Act.WITHDRAW, "provider_a"),
    (Act.ANSWER_INFORMATION, "provider_a"),
    (Act.UPDATE, "provider_a"),
    (Act.APPEAL, "provider_a"),
    (Act.RECHECK, "provider_a"),
]


@pytest.mark.parametrize(("act", "who"), SERVICE_CASES)
def test_the_service_acts_from_exactly_the_statuses_of_the_table(db, request, act, who):
    provider = request.getfixturevalue("provider_a")
    actor = "engine" if who == "engine" else request.getfixturevalue(who)
    role = Role.ENGINE if who == "engine" else actor.role
    # A reviewer acts on a case they hold; a claim is of a case nobody holds.
    holder = actor if role in REVIEWER_ROLES and act != Act.CLAIM else None
    accepted = set()
    for status in ALL:
        try:
            # Each attempt on its own request, undone after: only the status differs.
            with transaction.atomic():
                _do(act, _case(status, holder, provider), actor)
                accepted.add(status)
                transaction.set_rollback(True)
        except LaminaError:
            pass
    assert accepted == statuses_for(role, act)


def test_the_table_covers_every_act_the_services_take():
    # The engine's routing is the evidence checks' last step (tests/reviews/test_workflow.py).
    assert {act for act, _ in SERVICE_CASES} == set(Act) - {Act.ROUTE}
