"""Who may act on a request, and from which statuses: the one table, beside the state machine.

Each act names, for every role that may take it, the statuses it is taken from. The services
(claims, determinations, requests for information, escalation, peer-to-peer, appeals, rechecks,
the engine's routing) and the reviewers' case page read it; none keeps a copy.
reviews.transitions checks at import that every act allowed here leads along the state machine,
so the two tables cannot drift apart.

Other rules stay with their services: holding the case (reviews.transitions.ensure_holder), the
appeal going to a physician who took no part (reviews.services.appeals), the organization that
owns the request, and which outcome a reason must justify.
"""

from enum import StrEnum

from reviews.models import OPEN_STATUSES, Role, Status

S = Status


class Act(StrEnum):
    CLAIM = "claim"
    APPROVE = "approve"
    PARTIALLY_APPROVE = "partially_approve"
    DENY = "deny"
    REQUEST_INFORMATION = "request_information"
    ESCALATE = "escalate"
    PEER_TO_PEER = "peer_to_peer"
    # The engine's own move after the evidence checks: into the nurse or the physician queue.
    ROUTE = "route"
    WITHDRAW = "withdraw"
    ANSWER_INFORMATION = "answer_information"
    # A PAS update of an undecided request: its facts replaced, the request evaluated again.
    UPDATE = "update"
    APPEAL = "appeal"
    RECHECK = "recheck"


AUTHORITY: dict[Act, dict[str, frozenset[str]]] = {
    # A reviewer holds a case of their own queue; physicians reach nurse-review cases only by
    # escalation, and work appeals.
    Act.CLAIM: {
        Role.NURSE: frozenset({S.NURSE_REVIEW}),
        Role.PHYSICIAN: frozenset({S.PHYSICIAN_REVIEW, S.APPEAL}),
    },
    Act.APPROVE: {
        Role.ENGINE: frozenset({S.EVALUATING}),
        Role.NURSE: frozenset({S.NURSE_REVIEW}),
        Role.PHYSICIAN: frozenset({S.NURSE_REVIEW, S.PHYSICIAN_REVIEW, S.APPEAL}),
    },
    # DESIGN rule 1: no automated denial; only a physician issues an adverse determination.
    Act.PARTIALLY_APPROVE: {Role.PHYSICIAN: frozenset({S.PHYSICIAN_REVIEW, S.APPEAL})},
    Act.DENY: {Role.PHYSICIAN: frozenset({S.PHYSICIAN_REVIEW, S.APPEAL})},
    Act.REQUEST_INFORMATION: {
        Role.ENGINE: frozenset({S.EVALUATING}),
        Role.NURSE: frozenset({S.NURSE_REVIEW, S.PHYSICIAN_REVIEW}),
        Role.PHYSICIAN: frozenset({S.NURSE_REVIEW, S.PHYSICIAN_REVIEW}),
    },
    Act.ESCALATE: {Role.NURSE: frozenset({S.NURSE_REVIEW})},
    Act.PEER_TO_PEER: {Role.PHYSICIAN: frozenset({S.PHYSICIAN_REVIEW, S.APPEAL})},
    Act.ROUTE: {Role.ENGINE: frozenset({S.EVALUATING})},
    # The provider withdraws any open request; the withdrawal is its determination.
    Act.WITHDRAW: {Role.PROVIDER: OPEN_STATUSES},
    Act.ANSWER_INFORMATION: {Role.PROVIDER: frozenset({S.PENDING_INFORMATION})},
    # A pend, and review before any determination. Received and evaluating are moments of the
    # engine's own; a decided request or an appeal keeps its decision.
    Act.UPDATE: {
        Role.PROVIDER: frozenset({S.PENDING_INFORMATION, S.NURSE_REVIEW, S.PHYSICIAN_REVIEW})
    },
    # An initial adverse determination is appealed; an appeal decision is final inside Lamina.
    Act.APPEAL: {Role.PROVIDER: frozenset({S.DENIED, S.PARTIALLY_APPROVED})},
    # Open, waiting on the provider or on a reviewer: a request still being evaluated needs no
    # recheck, a decided one is final. The recheck runs on its date with the same rule.
    Act.RECHECK: {
        Role.PROVIDER: frozenset({S.PENDING_INFORMATION, S.NURSE_REVIEW, S.PHYSICIAN_REVIEW})
    },
}

# Where each act takes the request. An empty set: the request stays where it is.
LEADS_TO: dict[Act, frozenset[str]] = {
    Act.CLAIM: frozenset(),
    Act.APPROVE: frozenset({S.APPROVED}),
    Act.PARTIALLY_APPROVE: frozenset({S.PARTIALLY_APPROVED}),
    Act.DENY: frozenset({S.DENIED}),
    Act.REQUEST_INFORMATION: frozenset({S.PENDING_INFORMATION}),
    Act.ESCALATE: frozenset({S.PHYSICIAN_REVIEW}),
    Act.PEER_TO_PEER: frozenset(),
    Act.ROUTE: frozenset({S.NURSE_REVIEW, S.PHYSICIAN_REVIEW}),
    Act.WITHDRAW: frozenset({S.WITHDRAWN}),
    Act.ANSWER_INFORMATION: frozenset({S.EVALUATING}),
    Act.UPDATE: frozenset({S.EVALUATING}),
    Act.APPEAL: frozenset({S.APPEAL}),
    Act.RECHECK: frozenset({S.EVALUATING}),
}


def statuses_for(role: str, act: Act) -> frozenset[str]:
    """The statuses `role` may take `act` from; empty when the role never takes it."""
    return AUTHORITY[act].get(role, frozenset())


def roles_for(act: Act) -> frozenset[str]:
    """The roles that may take `act` from some status."""
    return frozenset(role for role, statuses in AUTHORITY[act].items() if statuses)


def may(role: str, act: Act, status: str) -> bool:
    """Whether `role` may take `act` on a request in `status`."""
    return status in statuses_for(role, act)


def authority_problems(
    transitions: dict[str, frozenset[str]],
    authority: dict[Act, dict[str, frozenset[str]]] = AUTHORITY,
    leads_to: dict[Act, frozenset[str]] = LEADS_TO,
) -> list[str]:
    """Where the table disagrees with the state machine `transitions`; empty when it agrees.

    Every act has a row and a destination; an act that moves the request leads, from every
    status it is allowed from, along an existing transition; an act that leaves it in place is
    taken only on an open request; and a role claims only the statuses it may then act from.
    """
    problems = []
    for act in Act:
        if act not in authority or act not in leads_to:
            problems.append(f"{act}: no row in the authority table or no destination.")
    for act, by_role in authority.items():
        for role, statuses in by_role.items():
            if role not in Role.values:
                problems.append(f"{act}: unknown role {role!r}.")
            for status in sorted(statuses):
                if status not in transitions:
                    problems.append(f"{act} by {role}: unknown status {status!r}.")
                    continue
                missing = sorted(leads_to.get(act, frozenset()) - transitions[status])
                if missing:
                    problems.append(
                        f"{act} by {role} from {status}: no transition to {', '.join(missing)}."
                    )
                if not leads_to.get(act) and not transitions[status]:
                    problems.append(f"{act} by {role} from {status}: the request is closed.")
    for role, statuses in authority.get(Act.CLAIM, {}).items():
        for status in sorted(statuses):
            if not any(
                status in authority[act].get(role, frozenset())
                for act in authority
                if leads_to.get(act)
            ):
                problems.append(f"{role} claims {status} but may not act from it.")
    return problems
