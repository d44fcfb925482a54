"""Every action writes exactly the audit events expected, with who, role, where and what changed."""

from django.urls import reverse

from reviews.audit import audit_seal
from reviews.models import AuditEvent, PriorAuthRequest, Status
from reviews.services import (
    determination_record,
    evidence_checks_run,
    request_answer_information,
    request_claim,
    request_information_ask,
    request_release,
    request_withdraw,
)
from reviews.services.appeals import appeal_file
from tests.conftest import PASSWORD
from tests.factories import PriorAuthRequestFactory, submit
from tests.reviews.audit_cases import actions_since, fusion_request, last_event_id
from tests.reviews.held import FUSION_REASONS as REASONS
from tests.reviews.held import denied_by, held


def denied_request(*, organization, submitted_by, physician):
    pa_request = fusion_request(organization=organization, submitted_by=submitted_by)
    return denied_by(pa_request, physician)


ITEMS = [
    {"field": "clinical.conservative_care", "why": "Six weeks of therapy.", "criterion": "FU-03"}
]


def events_after(start: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(pk__gt=start).order_by("id"))


def test_a_submission_records_the_submission_and_the_move_to_evaluating(db, provider_a):
    start = last_event_id()

    pa_request = submit(provider_a)

    submitted, moved = events_after(start)
    assert submitted.action == "request_submitted"
    assert (submitted.actor, submitted.role, submitted.request_id_ref) == (
        provider_a,
        "provider",
        pa_request.pk,
    )
    assert submitted.data["cpt_codes"] == pa_request.cpt_codes
    # No patient data in the trail: codes and references only.
    assert pa_request.member.last_name not in str(submitted.data)
    assert moved.action == "status_changed"
    assert (moved.data["from"], moved.data["to"]) == ("received", "evaluating")


def test_an_evaluation_records_itself_and_the_routing(db, org_a, provider_a):
    # No Lamina policy covers the code, so the checks route the request to a nurse.
    pa_request = PriorAuthRequestFactory(
        organization=org_a,
        submitted_by=provider_a,
        status=Status.EVALUATING,
        evaluation_round=1,
        procedure_family="",
        service={"cpt_codes": ["20610"], "spinal_region": "lumbar", "levels": ["L4-L5"]},
    )
    start = last_event_id()

    evaluation = evidence_checks_run(pa_request=pa_request)

    recorded, moved = events_after(start)
    assert (recorded.action, recorded.actor_label, recorded.role) == (
        "evaluation_recorded",
        "engine",
        "engine",
    )
    assert (recorded.subject_type, recorded.subject_id) == ("evaluation", str(evaluation.pk))
    assert recorded.data["recommendation"] == "nurse_review"
    assert (moved.action, moved.data["to"]) == ("status_changed", "nurse_review")


def test_a_request_for_information_and_its_answer(db, org_a, provider_a, nurse):
    pa_request = fusion_request(
        organization=org_a, submitted_by=provider_a, status=Status.NURSE_REVIEW
    )
    held(pa_request, nurse)
    start = last_event_id()

    request_information_ask(pa_request=pa_request, actor=nurse, items=ITEMS, message="Therapy?")
    asked = last_event_id()
    request_answer_information(
        pa_request=pa_request,
        actor=provider_a,
        attachments=[{"kind": "clinical_note", "text": "PT notes, 8 weeks."}],
    )

    assert actions_since(start, pk__lte=asked) == ["status_changed", "information_requested"]
    assert actions_since(asked) == ["information_answered", "status_changed"]
    answered = AuditEvent.objects.get(pk__gt=asked, action="information_answered")
    assert (answered.actor, answered.data["attachments"]) == (provider_a, 1)
    assert AuditEvent.objects.get(pk__gt=start, action="information_requested").data["items"] == [
        "clinical.conservative_care"
    ]


def test_claiming_and_releasing_a_case(db, org_a, provider_a, nurse):
    pa_request = fusion_request(
        organization=org_a, submitted_by=provider_a, status=Status.NURSE_REVIEW
    )
    start = last_event_id()

    request_claim(pa_request=pa_request, actor=nurse)
    request_release(pa_request=pa_request, actor=nurse)

    assigned, unassigned = events_after(start)
    assert (assigned.action, assigned.actor, assigned.data) == (
        "assigned",
        nurse,
        {"assigned_to": "nurse"},
    )
    assert unassigned.action == "unassigned"


def test_a_determination_records_the_move_and_the_decision(
    db, policies, org_a, provider_a, physician
):
    pa_request = held(fusion_request(organization=org_a, submitted_by=provider_a), physician)
    start = last_event_id()

    determination = determination_record(
        pa_request=pa_request,
        outcome="denied",
        actor=physician,
        reasons=REASONS,
        rationale="Four weeks only.",
    )

    moved, decided = events_after(start)
    assert (moved.action, moved.data["from"], moved.data["to"]) == (
        "status_changed",
        "physician_review",
        "denied",
    )
    assert (decided.action, decided.subject_id, decided.role) == (
        "determination_recorded",
        str(determination.pk),
        "physician",
    )
    assert decided.data["outcome"] == "denied"
    assert decided.data["reasons"] == ["FU-03"]


def test_a_withdrawal_records_the_move_and_the_determination(db, org_a, provider_a):
    pa_request = fusion_request(
        organization=org_a, submitted_by=provider_a, status=Status.NURSE_REVIEW
    )
    start = last_event_id()

    request_withdraw(pa_request=pa_request, actor=provider_a, reason="Surgery cancelled.")

    assert actions_since(start) == ["status_changed", "determination_recorded"]


def test_an_appeal_and_its_decision(db, org_a, provider_a, physician, physician2):
    pa_request = denied_request(organization=org_a, submitted_by=provider_a, physician=physician)
    start = last_event_id()

    appeal = appeal_file(pa_request=pa_request, actor=provider_a, reason="Eight weeks of PT.")
    filed = last_event_id()
    held(pa_request, physician2)
    determination_record(
        pa_request=pa_request,
        outcome="approved",
        actor=physician2,
        rationale="Therapy documented.",
    )

    assert actions_since(start, pk__lte=filed) == ["status_changed", "appeal_filed"]
    filed_event = AuditEvent.objects.get(pk=filed)
    assert (filed_event.subject_type, filed_event.subject_id) == ("appeal", str(appeal.pk))
    assert filed_event.data["original_outcome"] == "denied"
    # The provider's reason is clinical text: it stays on the appeal, out of the trail.
    assert "Eight weeks" not in str(filed_event.data)
    assert actions_since(filed) == ["assigned", "status_changed", "determination_recorded"]
    decided = AuditEvent.objects.get(pk__gt=filed, action="determination_recorded")
    assert (decided.actor, decided.data["kind"], decided.data["appeal_id"]) == (
        physician2,
        "appeal",
        appeal.pk,
    )


def test_sign_in_and_failed_sign_in(db, client, nurse):
    start = last_event_id()

    client.post(
        reverse("login"), {"username": "nurse", "password": "wrong"}, REMOTE_ADDR="10.1.2.3"
    )
    client.post(
        reverse("login"), {"username": "nurse", "password": PASSWORD}, REMOTE_ADDR="10.1.2.4"
    )

    failed, signed_in = events_after(start)
    assert (failed.action, failed.actor, failed.source_ip) == ("sign_in_failed", None, "10.1.2.3")
    assert failed.data == {"username": "nurse"}
    assert "wrong" not in str(failed.data)
    assert (signed_in.action, signed_in.actor, signed_in.role, signed_in.source_ip) == (
        "signed_in",
        nurse,
        "nurse",
        "10.1.2.4",
    )


def test_viewing_a_history_is_recorded_with_its_source_address(
    db, client, auditor, org_a, provider_a
):
    pa_request = fusion_request(organization=org_a, submitted_by=provider_a)
    client.force_login(auditor)
    start = last_event_id()

    client.get(reverse("audit_history", args=[pa_request.pk]), REMOTE_ADDR="10.9.8.7")
    client.get(f"/api/v1/audit/requests/{pa_request.pk}/history/", REMOTE_ADDR="10.9.8.6")

    web, api = events_after(start)
    assert (web.action, web.actor, web.role, web.source_ip, web.data) == (
        "history_viewed",
        auditor,
        "auditor",
        "10.9.8.7",
        {"via": "web"},
    )
    assert (api.action, api.request_id_ref, api.data) == (
        "history_viewed",
        pa_request.pk,
        {"via": "api"},
    )


def test_an_export_is_recorded_with_its_filters(db, client, auditor):
    client.force_login(auditor)
    start = last_event_id()

    response = client.get("/api/v1/audit/determinations.csv?outcome=denied")
    b"".join(response.streaming_content)

    (exported,) = events_after(start)
    assert (exported.action, exported.actor, exported.data) == (
        "determinations_exported",
        auditor,
        {"outcome": "denied"},
    )


def test_each_event_links_to_the_one_before(db, org_a, provider_a, physician):
    denied_request(organization=org_a, submitted_by=provider_a, physician=physician)
    assert not AuditEvent.objects.filter(hash__isnull=False).exists()  # written unsealed

    audit_seal()

    events = list(AuditEvent.objects.order_by("position"))
    assert [e.pk for e in events] == sorted(e.pk for e in events)  # one writer: commit order
    assert events[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    assert PriorAuthRequest.objects.get().status == Status.DENIED
