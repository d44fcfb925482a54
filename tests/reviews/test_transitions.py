"""The state machine: every pair of statuses, allowed exactly when the table says so, audited."""

import pytest

from reviews.errors import Conflict, InvalidTransition
from reviews.models import AuditEvent, PriorAuthRequest, Status
from reviews.transitions import TRANSITIONS, request_transition
from tests.factories import PriorAuthRequestFactory

ALL = [s.value for s in Status]
PAIRS = [(a, b) for a in ALL for b in ALL]


@pytest.mark.parametrize(("from_status", "to_status"), PAIRS)
def test_transition_table(db, nurse, from_status, to_status):
    # given a request in from_status, held by the nurse who moves it
    pa_request = PriorAuthRequestFactory(status=from_status, assigned_to=nurse)
    events_before = AuditEvent.objects.count()
    allowed = to_status in TRANSITIONS[from_status]

    # when it is moved
    if allowed:
        moved = request_transition(pa_request=pa_request, to=to_status, actor=nurse, reason="t")
        # then the status changed and exactly one audit event says so
        assert moved.status == to_status
        event = AuditEvent.objects.latest("id")
        assert AuditEvent.objects.count() == events_before + 1
        assert event.action == "status_changed"
        assert event.data["from"] == from_status and event.data["to"] == to_status
        assert event.request_id_ref == pa_request.pk
        assert event.actor == nurse and event.role == "nurse"
    else:
        with pytest.raises(InvalidTransition) as info:
            request_transition(pa_request=pa_request, to=to_status, actor=nurse)
        # then nothing moved and nothing was recorded
        assert info.value.status == 409
        assert PriorAuthRequest.objects.get(pk=pa_request.pk).status == from_status
        assert AuditEvent.objects.count() == events_before


def test_every_status_has_a_row():
    assert set(TRANSITIONS) == set(ALL)


def test_terminal_statuses_and_no_way_back_from_a_decision():
    assert TRANSITIONS[Status.APPROVED] == frozenset()
    assert TRANSITIONS[Status.WITHDRAWN] == frozenset()
    # A denial can only be appealed: never silently reopened.
    assert TRANSITIONS[Status.DENIED] == frozenset({Status.APPEAL})


def test_expect_narrows_the_starting_status(db, nurse):
    pa_request = PriorAuthRequestFactory(status=Status.PHYSICIAN_REVIEW, assigned_to=nurse)
    with pytest.raises(InvalidTransition):
        request_transition(
            pa_request=pa_request, to=Status.APPROVED, actor=nurse, expect={Status.NURSE_REVIEW}
        )


def test_entering_evaluating_starts_a_new_round(db, provider_a):
    pa_request = PriorAuthRequestFactory(
        status=Status.PENDING_INFORMATION,
        evaluation_round=1,
        organization=provider_a.organization,
        submitted_by=provider_a,
    )
    moved = request_transition(pa_request=pa_request, to=Status.EVALUATING, actor=provider_a)
    assert moved.evaluation_round == 2
    assert moved.enqueued_at is not None


@pytest.mark.parametrize("holder", [None, "nurse2"])
def test_a_reviewer_moves_only_a_case_they_hold(db, nurse, holder):
    from reviews.models import Role
    from reviews.roles import user_create

    other = user_create(username="nurse2", password="x" * 20, role=Role.NURSE)
    pa_request = PriorAuthRequestFactory(
        status=Status.NURSE_REVIEW, assigned_to=other if holder else None
    )
    events_before = AuditEvent.objects.count()

    with pytest.raises(Conflict) as info:
        request_transition(pa_request=pa_request, to=Status.APPROVED, actor=nurse)

    assert info.value.status == 409
    if holder:
        assert info.value.code == "held_by_other" and "nurse2 holds this case" in info.value.message
    else:
        assert info.value.code == "not_claimed" and "Claim the case first" in info.value.message
    assert PriorAuthRequest.objects.get(pk=pa_request.pk).status == Status.NURSE_REVIEW
    assert AuditEvent.objects.count() == events_before


def test_the_engine_and_the_provider_hold_nothing(db, nurse, provider_a):
    held = PriorAuthRequestFactory(
        status=Status.EVALUATING,
        assigned_to=nurse,
        organization=provider_a.organization,
        submitted_by=provider_a,
    )
    assert request_transition(pa_request=held, to=Status.NURSE_REVIEW, actor="engine").status == (
        Status.NURSE_REVIEW
    )
    moved = request_transition(pa_request=held, to=Status.WITHDRAWN, actor=provider_a)
    assert moved.status == Status.WITHDRAWN and moved.assigned_to is None
