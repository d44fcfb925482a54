"""The evidence checks and what their recommendation does, run in-process (no worker needed)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reviews.models import (
    AuditEvent,
    Determination,
    Evaluation,
    InformationRequest,
    PriorAuthRequest,
    Status,
)
from reviews.services import evidence_checks_run, request_answer_information, request_withdraw
from reviews.services.decide import NO_POLICY_REASON
from reviews.services.sweep import stale_requests
from tests.conftest import example
from tests.factories import submit

EXPECTED = {
    "esi-lumbar-radiculopathy": Status.APPROVED,
    "rfa-lumbar-after-two-blocks": Status.APPROVED,
    "fusion-spondylolisthesis-short-therapy": Status.PHYSICIAN_REVIEW,
}


def checked(pa_request) -> PriorAuthRequest:
    evidence_checks_run(pa_request=pa_request)
    return PriorAuthRequest.objects.get(pk=pa_request.pk)


@pytest.mark.parametrize(("name", "status"), EXPECTED.items())
def test_the_shared_examples_land_where_expected(policies, provider_a, name, status):
    pa_request = checked(submit(provider_a, name))
    assert pa_request.status == status
    evaluation = pa_request.evaluations.get()
    assert evaluation.policy_version.profile == "baseline"
    assert evaluation.policy_version.policy.family == pa_request.procedure_family
    assert evaluation.trace, "the trace explains every criterion"


def test_an_engine_approval_carries_an_authorization(policies, provider_a):
    pa_request = checked(submit(provider_a, "rfa-lumbar-after-two-blocks"))
    determination = pa_request.determinations.get()
    assert determination.decided_by is None and determination.decided_by_role == "engine"
    assert determination.outcome == "approved"
    assert determination.authorization_number == f"LAM-{pa_request.pk:08d}-1"
    assert determination.approved_cpt_codes == ["64635", "64636"]
    assert determination.approved_levels == ["L4-L5", "L5-S1"]
    assert determination.approved_units == 2
    assert determination.valid_to - determination.valid_from == timedelta(days=90)
    assert determination.policy_version == pa_request.evaluations.get().policy_version
    assert determination.evaluation_snapshot["recommendation"] == "approve"


def test_a_would_be_denial_waits_for_a_physician_with_its_reasons(policies, provider_a):
    pa_request = checked(submit(provider_a, "fusion-spondylolisthesis-short-therapy"))
    evaluation = pa_request.evaluations.get()
    assert evaluation.recommendation == "physician_review"
    assert {"FU-03", "FU-06"} <= {r["criterion"] for r in evaluation.reasons}
    assert not Determination.objects.filter(request=pa_request).exists()


def test_under_evidence_strict_the_chronic_pain_guideline_decides(settings, policies, provider_a):
    settings.POLICY_PROFILES = {
        **settings.POLICY_PROFILES,
        "commercial": "evidence_strict",
        "medicare_advantage": "evidence_strict",
    }
    for name in ("esi-lumbar-radiculopathy", "rfa-lumbar-after-two-blocks"):
        pa_request = checked(submit(provider_a, name))
        assert pa_request.status == Status.PHYSICIAN_REVIEW, name
        evaluation = pa_request.evaluations.get()
        assert evaluation.policy_version.profile == "evidence_strict"
        assert "GEN-09" in {r["criterion"] for r in evaluation.reasons}


def test_missing_facts_pend_and_the_answer_is_evaluated_again(policies, provider_a):
    # given the ESI example without its imaging
    imaging = example("esi-lumbar-radiculopathy")["clinical"]["imaging"]
    pa_request = checked(submit(provider_a, clinical__imaging=None))

    # then it is pended with the exact list of what is missing
    assert pa_request.status == Status.PENDING_INFORMATION
    fields = {item["field"] for item in pa_request.missing_information}
    assert any(f.startswith("clinical.imaging") for f in fields), fields
    info = InformationRequest.objects.get(request=pa_request)
    assert info.requested_by_role == "engine" and info.answered_at is None

    # when the provider answers with the imaging
    pa_request = request_answer_information(
        pa_request=pa_request, actor=provider_a, clinical={"imaging": imaging}
    )
    assert pa_request.status == Status.EVALUATING and pa_request.evaluation_round == 2
    info.refresh_from_db()
    assert info.answered_at is not None and info.answer["clinical_fields"] == ["imaging"]

    # then the second round approves it
    pa_request = checked(pa_request)
    assert pa_request.status == Status.APPROVED
    assert list(pa_request.evaluations.values_list("round", "recommendation")) == [
        (1, "pend_missing_information"),
        (2, "approve"),
    ]
    actions = list(
        AuditEvent.objects.filter(request_id_ref=pa_request.pk).values_list("action", flat=True)
    )
    assert actions == [
        "request_submitted",
        "status_changed",  # -> evaluating
        "evaluation_recorded",
        "status_changed",
        "information_requested",
        "information_answered",
        "status_changed",  # -> evaluating
        "evaluation_recorded",
        "status_changed",
        "determination_recorded",
    ]


def test_a_service_no_policy_covers_goes_to_a_nurse(policies, provider_a):
    pa_request = checked(submit(provider_a, service__cpt_codes=["33510"]))
    assert pa_request.procedure_family == ""
    assert pa_request.status == Status.NURSE_REVIEW
    assert pa_request.evaluations.get().reasons[0]["statement"] == NO_POLICY_REASON


def test_checks_run_once_per_round(policies, provider_a):
    pa_request = submit(provider_a)
    first = evidence_checks_run(pa_request=pa_request)
    assert first is not None
    assert evidence_checks_run(pa_request=pa_request) is None
    assert Evaluation.objects.filter(request=pa_request).count() == 1
    assert Determination.objects.filter(request=pa_request).count() == 1


def test_a_duplicate_open_request_is_flagged_for_a_nurse(policies, provider_a):
    first = submit(provider_a, "fusion-spondylolisthesis-short-therapy", member_id="DUP1")
    checked(first)
    second = checked(submit(provider_a, "fusion-spondylolisthesis-short-therapy", member_id="DUP1"))
    check = next(
        h for h in second.evaluations.get().history_checks if h["check"] == "duplicate_open_request"
    )
    assert check["result"] == "flag" and check["requests"] == [first.pk]


def test_a_duplicate_of_an_approvable_request_is_not_auto_approved(policies, provider_a):
    first = submit(provider_a, "esi-lumbar-radiculopathy", member_id="DUP2")
    second = checked(submit(provider_a, "esi-lumbar-radiculopathy", member_id="DUP2"))
    assert second.status == Status.NURSE_REVIEW
    assert (
        first.pk
        in next(
            h
            for h in second.evaluations.get().history_checks
            if h["check"] == "duplicate_open_request"
        )["requests"]
    )


def test_withdrawal_is_a_determination_and_stops_the_checks(policies, provider_a):
    pa_request = submit(provider_a)
    request_withdraw(pa_request=pa_request, actor=provider_a, reason="Patient improved.")
    assert evidence_checks_run(pa_request=pa_request) is None
    pa_request.refresh_from_db()
    assert pa_request.status == Status.WITHDRAWN
    assert pa_request.determinations.get().outcome == "withdrawn"


def test_the_sweep_finds_requests_whose_checks_never_ran(db, provider_a, settings):
    settings.SWEEP_AFTER_SECONDS = 180
    fresh = submit(provider_a)
    stale = submit(provider_a)
    PriorAuthRequest.objects.filter(pk=stale.pk).update(
        enqueued_at=timezone.now() - timedelta(minutes=5)
    )
    assert stale_requests() == [stale.pk]
    assert fresh.pk not in stale_requests()
