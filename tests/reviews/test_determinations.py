"""Determinations: who may record what, what an adverse one needs, and exactly one per decision."""

import threading

import pytest
from django.db import connection

from reviews.errors import Conflict, InvalidTransition, NotPermitted, ValidationFailed
from reviews.models import AuditEvent, Determination, PriorAuthRequest, Status
from reviews.services import (
    determination_record,
    request_claim,
    request_escalate,
    request_information_ask,
)
from tests.factories import PriorAuthRequestFactory

# A criterion of the shipped fusion policy (the `policies` fixture loads it): the service checks
# every reason against the policy version the case was evaluated under, or the one in force.
REASON = [{"criterion": "FU-03"}]
FU_03 = "At least 6 weeks of formal physical therapy plus a medication trial"


def fusion_request(status, holder=None):
    """A two-level fusion request in `status`, held by `holder` when given."""
    pa_request = PriorAuthRequestFactory(
        status=status,
        procedure_family="spinal_fusion",
        service={
            "cpt_codes": ["22633", "22840"],
            "spinal_region": "lumbar",
            "levels": ["L4-L5", "L5-S1"],
            "units": 2,
        },
    )
    if holder is not None:
        pa_request = request_claim(pa_request=pa_request, actor=holder)
    return pa_request


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
    pa_request = fusion_request(Status.NURSE_REVIEW, holder=nurse)
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
    ) == ["assigned", "status_changed", "determination_recorded"]


def test_a_physician_denial_needs_reasons_and_a_rationale(db, policies, physician):
    pa_request = fusion_request(Status.PHYSICIAN_REVIEW, holder=physician)
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
    # stored with the policy's own statement, whatever the caller sent
    ((reason),) = determination.reasons
    assert reason["criterion"] == "FU-03" and reason["statement"].startswith(FU_03)


def test_a_partial_approval_approves_less_than_requested(db, policies, physician):
    pa_request = fusion_request(Status.PHYSICIAN_REVIEW, holder=physician)
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


def test_a_physician_must_escalate_before_denying_a_nurse_case(db, policies, physician):
    pa_request = fusion_request(Status.NURSE_REVIEW)
    # nurse_review -> denied is not a transition: the case must be escalated first.
    with pytest.raises(InvalidTransition):
        determination_record(
            pa_request=pa_request, outcome="denied", actor=physician, reasons=REASON, rationale="r"
        )


def test_nurse_escalation_and_information_request(db, nurse, physician):
    pa_request = fusion_request(Status.NURSE_REVIEW, holder=nurse)
    with pytest.raises(NotPermitted):
        request_escalate(pa_request=pa_request, actor=physician, note="n")
    request_escalate(pa_request=pa_request, actor=nurse, note="Smoker; PT short.")
    pa_request.refresh_from_db()
    assert pa_request.status == Status.PHYSICIAN_REVIEW
    assert pa_request.notes.get().kind == "escalation"
    request_claim(pa_request=pa_request, actor=physician)
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


def test_a_decided_request_refuses_a_second_decision(db, policies, physician):
    pa_request = fusion_request(Status.PHYSICIAN_REVIEW, holder=physician)
    determination_record(pa_request=pa_request, outcome="approved", actor=physician)
    with pytest.raises(InvalidTransition):
        determination_record(
            pa_request=pa_request, outcome="denied", actor=physician, reasons=REASON, rationale="r"
        )
    assert Determination.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_decisions_produce_exactly_one(policies, physician, physician2):
    # given one case in physician review, held by one physician
    pa_request = fusion_request(Status.PHYSICIAN_REVIEW, holder=physician)
    barrier = threading.Barrier(20)
    outcomes: list[tuple[str, str]] = []
    lock = threading.Lock()

    def decide(i: int) -> None:
        # the holder and a colleague who does not hold it, each approving and denying at once
        actor = physician if i % 4 in (0, 1) else physician2
        barrier.wait()
        try:
            if i % 2:
                determination_record(pa_request=pa_request, outcome="approved", actor=actor)
            else:
                determination_record(
                    pa_request=pa_request,
                    outcome="denied",
                    actor=actor,
                    reasons=REASON,
                    rationale="Not met.",
                )
            result = "ok"
        except Conflict as exc:  # decided meanwhile (invalid_transition) or held by another
            result = exc.code
        finally:
            connection.close()  # this thread's own connection: leave none open behind the test
        with lock:
            outcomes.append((actor.username, result))

    # when twenty decisions arrive at once
    threads = [threading.Thread(target=decide, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # then exactly one succeeds, by the holder; the holder's other nine find it decided, and
    # the colleague is refused (the case is held by another, or already decided): all 409s
    assert sorted(r for who, r in outcomes if who == "physician") == ["invalid_transition"] * 9 + [
        "ok"
    ]
    assert {r for who, r in outcomes if who == "physician2"} <= {
        "held_by_other",
        "invalid_transition",
    }
    assert len(outcomes) == 20
    (determination,) = Determination.objects.filter(request=pa_request)
    assert determination.decided_by == physician
    assert AuditEvent.objects.filter(action="determination_recorded").count() == 1


def test_a_case_held_by_one_reviewer_is_acted_on_by_that_reviewer_only(
    db, nurse, physician, physician2, provider_a
):
    from reviews.services import peer_to_peer_record
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


# --- The reasons of an adverse determination ----------------------------------------------------


def evaluated(pa_request, **fields):
    """The request's evaluation under the fusion policy in force, with the given results."""
    from django.utils import timezone

    from criteria.selectors import policy_version_for
    from reviews.models import Evaluation

    version = policy_version_for(
        family="spinal_fusion", line_of_business="commercial", on_date=timezone.localdate()
    )
    return Evaluation.objects.create(
        request=pa_request,
        round=1,
        policy_version=fields.pop("policy_version", version),
        review_date=timezone.localdate(),
        facts={},
        recommendation="physician_review",
        **fields,
    )


def refused(pa_request, physician, reasons) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        determination_record(
            pa_request=pa_request,
            outcome="denied",
            actor=physician,
            reasons=reasons,
            rationale="Not supported.",
        )
    assert PriorAuthRequest.objects.get(pk=pa_request.pk).status == Status.PHYSICIAN_REVIEW
    assert not Determination.objects.exists()
    return info.value


@pytest.mark.parametrize(
    ("reasons", "message"),
    [
        ([], "Name at least one reason"),
        ([{"criterion": "FU-99"}], "FU-99 is not a criterion of the policy"),
        ([{"criterion": "FU-04"}], "FU-04 is not a criterion of the policy"),  # a waiver
        (["FU-03"], "A reason must be a criterion or a written reason."),
        ([{"criterion": "", "statement": "  "}], "A written reason needs its text."),
        ([{"statement": "Too soon.", "source": "gut"}], "needs a source from this case"),
        ([{"statement": "Too soon."}], "needs a source from this case"),
    ],
)
def test_the_service_refuses_reasons_that_do_not_hold(db, policies, physician, reasons, message):
    pa_request = fusion_request(Status.PHYSICIAN_REVIEW, holder=physician)
    error = refused(pa_request, physician, reasons)
    assert message in error.message
    assert "reasons" in error.fields


def test_a_criterion_the_engine_found_met_needs_the_physicians_note(db, policies, physician):
    pa_request = fusion_request(Status.PHYSICIAN_REVIEW, holder=physician)
    evaluated(
        pa_request,
        trace=[
            {"id": "FU-01", "answer": "met", "kind": "requirement", "statement": "Indication."},
            {"id": "FU-03", "answer": "not_met", "kind": "requirement", "statement": "PT."},
            {"id": "FU-04", "answer": "met", "kind": "waiver", "statement": "Waiver."},
        ],
    )
    assert (
        "say why you judge it is not"
        in refused(pa_request, physician, [{"criterion": "FU-01"}]).message
    )
    assert (
        "FU-04 is not a criterion"
        in refused(pa_request, physician, [{"criterion": "FU-04"}]).message
    )

    determination = determination_record(
        pa_request=pa_request,
        outcome="denied",
        actor=physician,
        reasons=[
            {"criterion": "FU-01", "note": "The flexion films show no motion."},
            {"criterion": "FU-03", "statement": "Anything the caller says"},
        ],
        rationale="No instability; therapy too short.",
    )
    assert determination.reasons == [
        {
            "criterion": "FU-01",
            "statement": "Indication.",
            "answer": "met",
            "note": "The flexion films show no motion.",
        },
        {"criterion": "FU-03", "statement": "PT.", "answer": "not_met", "note": ""},
    ]


def test_a_case_no_policy_covers_is_denied_with_a_written_reason(db, policies, physician):
    pa_request = fusion_request(Status.PHYSICIAN_REVIEW, holder=physician)
    PriorAuthRequest.objects.filter(pk=pa_request.pk).update(procedure_family="")
    evaluated(pa_request, policy_version=None, trace=[])

    assert "FU-03 is not a criterion" in refused(pa_request, physician, REASON).message
    determination = determination_record(
        pa_request=pa_request,
        outcome="denied",
        actor=physician,
        reasons=[{"statement": "A fusion at L4-L5 was done in March.", "source": "no_policy"}],
        rationale="Repeat surgery without a new indication.",
    )
    (reason,) = determination.reasons
    assert (reason["criterion"], reason["source"]) == ("", "no_policy")
    assert reason["source_label"] == "No Lamina policy covers the requested codes"
    assert reason["statement"] == "A fusion at L4-L5 was done in March."


def test_a_note_conflict_or_a_history_flag_is_a_source_of_a_written_reason(db, policies, physician):
    pa_request = fusion_request(Status.PHYSICIAN_REVIEW, holder=physician)
    evaluated(
        pa_request,
        trace=[],
        note_conflicts=[{"criterion": "GEN-06", "explanation": "The note says she smokes daily."}],
        history_checks=[
            {"check": "repeat_interval", "result": "flag", "detail": "An injection 3 weeks ago."},
            {"check": "duplicate_open_request", "result": "ok", "detail": "None."},
        ],
    )
    # a history check that passed is no source
    assert (
        "needs a source"
        in refused(
            pa_request, physician, [{"statement": "x", "source": "history:duplicate_open_request"}]
        ).message
    )

    determination = determination_record(
        pa_request=pa_request,
        outcome="denied",
        actor=physician,
        reasons=[
            {"statement": "The note says she smokes.", "source": "conflict:0"},
            {"statement": "Too soon after the last one.", "source": "history:repeat_interval"},
        ],
        rationale="Active smoker; repeat too soon.",
    )
    labels = [r["source_label"] for r in determination.reasons]
    assert labels == [
        "Clinical note conflict (GEN-06): The note says she smokes daily.",
        "History check, repeat interval: An injection 3 weeks ago.",
    ]


def test_a_reviewer_acts_only_on_a_case_they_hold(db, policies, nurse, physician):
    from reviews.services import peer_to_peer_record

    nursing = fusion_request(Status.NURSE_REVIEW)
    reviewing = fusion_request(Status.PHYSICIAN_REVIEW)
    attempts = [
        lambda: determination_record(pa_request=nursing, outcome="approved", actor=nurse),
        lambda: request_escalate(pa_request=nursing, actor=nurse, note="Needs a physician."),
        lambda: request_information_ask(
            pa_request=nursing, actor=nurse, items=[{"field": "clinical.imaging"}]
        ),
        lambda: determination_record(
            pa_request=reviewing, outcome="denied", actor=physician, reasons=REASON, rationale="r"
        ),
        lambda: peer_to_peer_record(
            pa_request=reviewing,
            actor=physician,
            counterpart="Dr A",
            occurred_at=reviewing.received_at,
            text="Talked.",
        ),
    ]
    for attempt in attempts:
        with pytest.raises(Conflict) as info:
            attempt()
        assert info.value.code == "not_claimed"
        assert info.value.message.startswith("Claim the case first")

    assert not Determination.objects.exists()
    assert not AuditEvent.objects.filter(request_id_ref__in=[nursing.pk, reviewing.pk]).exists()
    assert PriorAuthRequest.objects.get(pk=nursing.pk).status == Status.NURSE_REVIEW
    assert PriorAuthRequest.objects.get(pk=reviewing.pk).status == Status.PHYSICIAN_REVIEW
