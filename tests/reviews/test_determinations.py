"""Determinations: who may record what, what an adverse one needs, and exactly one per decision."""

import threading

import pytest
from django.db import connection

from reviews.errors import InvalidTransition, NotPermitted, ValidationFailed
from reviews.models import AuditEvent, Determination, PriorAuthRequest, Status
from reviews.services import determination_record, request_escalate, request_information_ask
from tests.factories import PriorAuthRequestFactory

REASON = [{"criterion": "FU-03", "statement": "At least 6 weeks of formal physical therapy."}]


def fusion_request(status):
    return PriorAuthRequestFactory(
        status=status,
        procedure_family="spinal_fusion",
        service={
            "cpt_codes": ["22633", "22840"],
            "spinal_region": "lumbar",
            "levels": ["L4-L5", "L5-S1"],
            "units": 2,
        },
    )


@pytest.mark.parametrize("outcome", ["denied", "partially_approved"])
def test_the_engine_never_records_an_adverse_determination(db, outcome):
    pa_request = fusion_request(Status.EVALUATING)
    with pytest.raises(NotPermitted):
        determination_record(
            pa_request=pa_request,
            outcome=outcome,
            actor="engine",
            reasons=REASON,
            rationale="x",
            approved_levels=["L4-L5"],
        )
    assert not Determination.objects.exists()
    assert PriorAuthRequest.objects.get(pk=pa_request.pk).status == Status.EVALUATING


@pytest.mark.parametrize("outcome", ["denied", "partially_approved"])
def test_a_nurse_cannot_deny_or_partially_approve(db, nurse, outcome):
    pa_request = fusion_request(Status.NURSE_REVIEW)
    with pytest.raises(NotPermitted):
        determination_record(
            pa_request=pa_request,
            outcome=outcome,
            actor=nurse,
            reasons=REASON,
            rationale="x",
            approved_levels=["L4-L5"],
        )
    assert not Determination.objects.exists()


def test_a_nurse_approves_with_an_authorization(db, nurse):
    pa_request = fusion_request(Status.NURSE_REVIEW)
    determination = determination_record(pa_request=pa_request, outcome="approved", actor=nurse)
    assert determination.decided_by == nurse and determination.decided_by_role == "nurse"
    assert determination.authorization_number.startswith("LAM-")
    assert determination.approved_levels == ["L4-L5", "L5-S1"]
    assert determination.approved_units == 2
    assert (determination.valid_to - determination.valid_from).days == 90
    pa_request.refresh_from_db()
    assert pa_request.status == Status.APPROVED and pa_request.decided_at is not None
    assert list(
        AuditEvent.objects.filter(request_id_ref=pa_request.pk).values_list("action", flat=True)
    ) == ["status_changed", "determination_recorded"]


def test_a_physician_denial_needs_reasons_and_a_rationale(db, physician):
    pa_request = fusion_request(Status.PHYSICIAN_REVIEW)
    with pytest.raises(ValidationFailed) as info:
        determination_record(
            pa_request=pa_request, outcome="denied", actor=physician, reasons=[], rationale=" "
        )
    assert set(info.value.fields) == {"reasons", "rationale"}
    determination = determination_record(
        pa_request=pa_request,
        outcome="denied",
        actor=physician,
        reasons=REASON,
        rationale="Physical therapy lasted 21 days; the policy asks for 42.",
    )
    assert determination.outcome == "denied" and determination.authorization_number is None
    assert determination.reasons == REASON


def test_a_partial_approval_approves_less_than_requested(db, physician):
    pa_request = fusion_request(Status.PHYSICIAN_REVIEW)
    with pytest.raises(ValidationFailed):  # the same as requested is not partial
        determination_record(
            pa_request=pa_request,
            outcome="partially_approved",
            actor=physician,
            reasons=REASON,
            rationale="r",
        )
    with pytest.raises(ValidationFailed):  # a level that was not requested
        determination_record(
            pa_request=pa_request,
            outcome="partially_approved",
            actor=physician,
            reasons=REASON,
            rationale="r",
            approved_levels=["L3-L4"],
        )
    determination = determination_record(
        pa_request=pa_request,
        outcome="partially_approved",
        actor=physician,
        reasons=REASON,
        rationale="One level is supported by imaging.",
        approved_levels=["L4-L5"],
        approved_units=1,
    )
    assert determination.approved_levels == ["L4-L5"] and determination.approved_units == 1
    assert determination.authorization_number


def test_a_physician_must_escalate_before_denying_a_nurse_case(db, physician):
    pa_request = fusion_request(Status.NURSE_REVIEW)
    # nurse_review -> denied is not a transition: the case must be escalated first.
    with pytest.raises(InvalidTransition):
        determination_record(
            pa_request=pa_request, outcome="denied", actor=physician, reasons=REASON, rationale="r"
        )


def test_nurse_escalation_and_information_request(db, nurse, physician):
    pa_request = fusion_request(Status.NURSE_REVIEW)
    with pytest.raises(NotPermitted):
        request_escalate(pa_request=pa_request, actor=physician, note="n")
    request_escalate(pa_request=pa_request, actor=nurse, note="Smoker; PT short.")
    pa_request.refresh_from_db()
    assert pa_request.status == Status.PHYSICIAN_REVIEW
    assert pa_request.notes.get().kind == "escalation"
    info = request_information_ask(
        pa_request=pa_request,
        actor=physician,
        items=[{"field": "clinical.conservative_care", "why": "PT dates", "criterion": "FU-03"}],
        message="Please send the therapy notes.",
    )
    pa_request.refresh_from_db()
    assert pa_request.status == Status.PENDING_INFORMATION
    assert pa_request.missing_information == info.items
    assert info.requested_by_role == "physician"


def test_a_decided_request_refuses_a_second_decision(db, physician):
    pa_request = fusion_request(Status.PHYSICIAN_REVIEW)
    determination_record(pa_request=pa_request, outcome="approved", actor=physician)
    with pytest.raises(InvalidTransition):
        determination_record(
            pa_request=pa_request, outcome="denied", actor=physician, reasons=REASON, rationale="r"
        )
    assert Determination.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_decisions_produce_exactly_one(physician, physician2):
    # given one case in physician review
    pa_request = fusion_request(Status.PHYSICIAN_REVIEW)
    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def decide(i: int) -> None:
        barrier.wait()
        try:
            if i % 2:
                determination_record(
                    pa_request=pa_request,
                    outcome="approved",
                    actor=physician if i % 4 == 1 else physician2,
                )
            else:
                determination_record(
                    pa_request=pa_request,
                    outcome="denied",
                    actor=physician2 if i % 4 == 0 else physician,
                    reasons=REASON,
                    rationale="Not met.",
                )
            result = "ok"
        except InvalidTransition:
            result = "conflict"
        finally:
            connection.close()  # this thread's own connection: leave none open behind the test
        with lock:
            outcomes.append(result)

    # when twenty reviewers decide at once
    threads = [threading.Thread(target=decide, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # then exactly one succeeds, the others get a 409, and one decision is on record
    assert sorted(outcomes) == ["conflict"] * 19 + ["ok"]
    assert Determination.objects.filter(request=pa_request).count() == 1
    assert AuditEvent.objects.filter(action="determination_recorded").count() == 1


def test_a_case_held_by_one_reviewer_is_acted_on_by_that_reviewer_only(
    db, nurse, physician, physician2, provider_a
):
    from reviews.errors import Conflict
    from reviews.services import peer_to_peer_record, request_claim
    from reviews.transitions import request_transition

    pa_request = fusion_request(Status.PHYSICIAN_REVIEW)
    request_claim(pa_request=pa_request, actor=physician)
    with pytest.raises(Conflict):
        request_claim(pa_request=pa_request, actor=physician2)
    with pytest.raises(Conflict):
        determination_record(pa_request=pa_request, outcome="approved", actor=physician2)
    with pytest.raises(Conflict):
        peer_to_peer_record(
            pa_request=pa_request,
            actor=physician2,
            counterpart="Dr A",
            occurred_at=pa_request.received_at,
            text="Talked.",
        )
    assert not Determination.objects.exists()
    # the holder decides; the provider could still have withdrawn (not a reviewer)
    determination_record(pa_request=pa_request, outcome="approved", actor=physician)
    other = fusion_request(Status.PHYSICIAN_REVIEW)
    request_claim(pa_request=other, actor=physician)
    request_transition(pa_request=other, to=Status.WITHDRAWN, actor=other.submitted_by)
