"""Appeals: who may appeal what and when, the appeal's own clock, and who may decide it."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from reviews.errors import Conflict, NotPermitted
from reviews.models import (
    Appeal,
    Attachment,
    AuditEvent,
    Determination,
    PriorAuthRequest,
    Role,
    Status,
)
from reviews.roles import user_create
from reviews.services import (
    determination_record,
    peer_to_peer_record,
    request_claim,
    request_release,
)
from reviews.services.appeals import appeal_file
from tests.conftest import PASSWORD, post_json, token_client
from tests.reviews.audit_cases import fusion_request
from tests.reviews.held import FUSION_REASONS as REASONS
from tests.reviews.held import decided, denied_by, held


def denied_request(*, organization, submitted_by, physician, **fields):
    """A fusion request the physician claimed and denied for FU-03."""
    pa_request = fusion_request(organization=organization, submitted_by=submitted_by, **fields)
    return denied_by(pa_request, physician)


BODY = {
    "reason": "Eight weeks of supervised physical therapy were completed; notes attached.",
    "attachments": [
        {
            "kind": "clinical_note",
            "date": "2026-01-10",
            "title": "PT discharge summary",
            "text": "Completed 16 visits over 8 weeks without relief.",
        }
    ],
}


def url(pa_request) -> str:
    return f"/api/v1/requests/{pa_request.pk}/appeal/"


@pytest.fixture
def denied(org_a, provider_a, physician):
    return denied_request(organization=org_a, submitted_by=provider_a, physician=physician)


@pytest.fixture
def physician3(db):
    return user_create(username="physician3", password=PASSWORD, role=Role.PHYSICIAN)


def test_a_provider_appeals_a_denial(api_a, denied):
    response = post_json(api_a, url(denied), BODY)

    assert response.status_code == 201, response.json()
    body = response.json()
    appeal = Appeal.objects.get()
    assert body["id"] == appeal.pk
    assert (body["request_status"], body["status"], body["urgency"]) == (
        "appeal",
        "open",
        "standard",
    )
    assert body["original_determination"]["outcome"] == "denied"
    assert PriorAuthRequest.objects.get(pk=denied.pk).status == Status.APPEAL
    assert appeal.original_determination == Determination.objects.get(request=denied)
    (attachment,) = Attachment.objects.filter(request=denied)
    assert (attachment.source, attachment.kind, attachment.title) == (
        "appeal",
        "clinical_note",
        "PT discharge summary",
    )


def test_the_appeal_clock_is_thirty_days_standard_and_72_hours_expedited(
    provider_a, org_a, physician
):
    standard = denied_request(organization=org_a, submitted_by=provider_a, physician=physician)
    expedited = denied_request(
        organization=org_a, submitted_by=provider_a, physician=physician, urgency="expedited"
    )

    a = appeal_file(pa_request=standard, actor=provider_a, reason="PT documented.")
    b = appeal_file(pa_request=expedited, actor=provider_a, reason="Progressive weakness.")
    c_request = denied_request(organization=org_a, submitted_by=provider_a, physician=physician)
    c = appeal_file(
        pa_request=c_request, actor=provider_a, reason="Worsening.", urgency="expedited"
    )

    assert a.due_at - a.filed_at == timedelta(days=30)
    assert b.due_at - b.filed_at == timedelta(hours=72)
    # The provider may ask for an expedited appeal of a standard request.
    assert (c.urgency, c.due_at - c.filed_at) == ("expedited", timedelta(hours=72))


def test_the_appeal_clock_follows_the_settings(settings, provider_a, denied):
    settings.APPEAL_WINDOWS_HOURS = {"expedited": 24, "standard": 240}

    appeal = appeal_file(pa_request=denied, actor=provider_a, reason="PT documented.")

    assert appeal.due_at - appeal.filed_at == timedelta(hours=240)


def test_a_partial_approval_can_be_appealed(api_a, policies, org_a, provider_a, physician):
    pa_request = fusion_request(organization=org_a, submitted_by=provider_a)
    decided(
        pa_request,
        physician,
        "partially_approved",
        reasons=REASONS,
        rationale="One level only.",
        approved_levels=["L4-L5"],
        approved_units=1,
    )

    response = post_json(api_a, url(pa_request), {"reason": "Both levels are unstable."})

    assert response.status_code == 201, response.json()
    assert Appeal.objects.get().original_determination.outcome == "partially_approved"


@pytest.mark.parametrize("status", [Status.APPROVED, Status.PHYSICIAN_REVIEW, Status.WITHDRAWN])
def test_only_a_denial_or_partial_approval_can_be_appealed(api_a, org_a, provider_a, status):
    pa_request = fusion_request(organization=org_a, submitted_by=provider_a, status=status)

    response = post_json(api_a, url(pa_request), BODY)

    assert response.status_code == 409
    assert response.json()["code"] == "not_appealable"
    assert not Appeal.objects.exists()
    assert PriorAuthRequest.objects.get(pk=pa_request.pk).status == status


def test_the_appeal_window_is_enforced(settings, api_a, denied):
    decided_at = Determination.objects.get(request=denied).decided_at
    assert settings.APPEAL_WINDOW_DAYS == 60

    with time_machine.travel(decided_at + timedelta(days=60, seconds=1)):
        late = post_json(api_a, url(denied), BODY)
    with time_machine.travel(decided_at + timedelta(days=59, hours=23)):
        in_time = post_json(api_a, url(denied), BODY)

    assert late.status_code == 409
    assert late.json()["code"] == "appeal_window_closed"
    assert in_time.status_code == 201, in_time.json()
    assert Appeal.objects.count() == 1


def test_the_appeal_window_follows_the_setting(settings, provider_a, denied):
    settings.APPEAL_WINDOW_DAYS = 10
    decided_at = Determination.objects.get(request=denied).decided_at

    with pytest.raises(Conflict, match="10 days"):
        appeal_file(
            pa_request=denied,
            actor=provider_a,
            reason="Late.",
            now=decided_at + timedelta(days=11),
        )


def test_another_organizations_request_is_a_404(api_b, denied):
    response = post_json(api_b, url(denied), BODY)

    assert response.status_code == 404
    assert not Appeal.objects.exists()
    assert PriorAuthRequest.objects.get(pk=denied.pk).status == Status.DENIED


def test_the_service_refuses_another_organization(provider_b, denied):
    with pytest.raises(NotPermitted):
        appeal_file(pa_request=denied, actor=provider_b, reason="Not ours.")


@pytest.mark.parametrize("persona", ["auditor", "nurse", "physician2"])
def test_only_providers_appeal(request, denied, persona):
    client = token_client(request.getfixturevalue(persona))

    response = post_json(client, url(denied), BODY)

    assert response.status_code == 403
    assert not Appeal.objects.exists()


def test_an_appeal_needs_a_reason_and_valid_attachments(api_a, denied):
    response = post_json(
        api_a,
        url(denied),
        {"reason": "  ", "urgency": "urgent", "attachments": [{"kind": "selfie", "text": ""}]},
    )

    assert response.status_code == 400
    fields = response.json()["fields"]
    assert {"reason", "urgency", "attachments[0].kind", "attachments[0].text"} <= set(fields)
    assert not Appeal.objects.exists()


def test_a_retry_with_the_same_key_returns_the_same_appeal(api_a, denied):
    first = post_json(api_a, url(denied), BODY, key="appeal-1")
    again = post_json(api_a, url(denied), BODY, key="appeal-1")
    different = post_json(api_a, url(denied), {**BODY, "reason": "Other."}, key="appeal-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert different.status_code == 409
    assert Appeal.objects.count() == 1
    assert AuditEvent.objects.filter(action="appeal_filed").count() == 1


def test_the_original_physician_cannot_decide_the_appeal(provider_a, physician, denied):
    appeal_file(pa_request=denied, actor=provider_a, reason="PT documented.")

    with pytest.raises(NotPermitted, match="took no part"):
        determination_record(
            pa_request=denied, outcome="approved", actor=physician, rationale="Fine."
        )

    assert PriorAuthRequest.objects.get(pk=denied.pk).status == Status.APPEAL
    assert Determination.objects.filter(request=denied).count() == 1


def test_a_physician_who_worked_on_the_case_cannot_decide_the_appeal(
    policies, org_a, provider_a, physician, physician2, physician3
):
    # physician2 claimed the case and held the peer-to-peer; physician decided it.
    pa_request = fusion_request(organization=org_a, submitted_by=provider_a)
    request_claim(pa_request=pa_request, actor=physician2)
    peer_to_peer_record(
        pa_request=pa_request,
        actor=physician2,
        counterpart="Dr. Raman",
        occurred_at=timezone.now() - timedelta(minutes=5),
        text="Discussed the therapy record.",
    )
    request_release(pa_request=pa_request, actor=physician2)
    decided(pa_request, physician, "denied", reasons=REASONS, rationale="No.")
    appeal_file(pa_request=pa_request, actor=provider_a, reason="PT documented.")

    for former in (physician, physician2):
        with pytest.raises(NotPermitted):
            determination_record(
                pa_request=pa_request, outcome="approved", actor=former, rationale="Fine."
            )
    decision = decided(pa_request, physician3, "approved", rationale="Fine.")

    assert decision.decided_by == physician3


def test_only_an_eligible_physician_can_claim_an_appeal(
    policies, org_a, provider_a, physician, physician2, physician3
):
    # physician2 asked the provider for information; physician decided the case
    pa_request = fusion_request(organization=org_a, submitted_by=provider_a)
    held(pa_request, physician2)
    peer_to_peer_record(
        pa_request=pa_request,
        actor=physician2,
        counterpart="Dr. Raman",
        occurred_at=timezone.now() - timedelta(minutes=5),
        text="Discussed the therapy record.",
    )
    request_release(pa_request=pa_request, actor=physician2)
    denied_by(pa_request, physician)
    appeal_file(pa_request=pa_request, actor=provider_a, reason="PT documented.")

    # the physicians who took part are refused when they claim, not at the last step
    for former in (physician, physician2):
        with pytest.raises(NotPermitted, match="took no part"):
            request_claim(pa_request=pa_request, actor=former)
    assert PriorAuthRequest.objects.get(pk=pa_request.pk).assigned_to is None
    # so the physician who may decide it is not locked out
    assert request_claim(pa_request=pa_request, actor=physician3).assigned_to == physician3
    assert not AuditEvent.objects.filter(
        request_id_ref=pa_request.pk,
        action="assigned",
        actor__in=[physician, physician2],
        occurred_at__gte=Appeal.objects.get().filed_at,
    ).exists()


def test_an_appeal_is_decided_only_by_the_physician_who_holds_it(
    provider_a, physician2, physician3, denied
):
    appeal_file(pa_request=denied, actor=provider_a, reason="PT documented.")
    held(denied, physician3)

    with pytest.raises(Conflict, match="physician3 holds this case"):
        determination_record(
            pa_request=denied, outcome="approved", actor=physician2, rationale="Fine."
        )
    request_release(pa_request=denied, actor=physician3)
    with pytest.raises(Conflict, match="Claim the case first"):
        determination_record(
            pa_request=denied, outcome="approved", actor=physician2, rationale="Fine."
        )

    assert PriorAuthRequest.objects.get(pk=denied.pk).status == Status.APPEAL


def test_a_nurse_cannot_decide_an_appeal(provider_a, nurse, denied):
    appeal_file(pa_request=denied, actor=provider_a, reason="PT documented.")

    with pytest.raises(NotPermitted):
        determination_record(pa_request=denied, outcome="approved", actor=nurse)


def test_an_overturned_appeal_is_a_new_determination_linked_to_the_first(
    provider_a, physician2, denied
):
    appeal = appeal_file(pa_request=denied, actor=provider_a, reason="PT documented.")

    decision = decided(denied, physician2, "approved", rationale="PT documented.")

    appeal.refresh_from_db()
    assert (decision.kind, decision.appeal, decision.appeal_result) == (
        "appeal",
        appeal,
        "overturned",
    )
    assert decision.authorization_number
    assert appeal.status == Appeal.AppealStatus.DECIDED
    assert appeal.original_determination.kind == "initial"
    assert PriorAuthRequest.objects.get(pk=denied.pk).status == Status.APPROVED


def test_an_upheld_appeal_cannot_be_appealed_again(api_a, provider_a, physician2, denied):
    appeal_file(pa_request=denied, actor=provider_a, reason="PT documented.")
    decision = decided(
        denied,
        physician2,
        "denied",
        reasons=REASONS,
        rationale="Still four weeks.",
    )
    assert decision.appeal_result == "upheld"

    response = post_json(api_a, url(denied), BODY)

    assert response.status_code == 409
    assert response.json()["code"] == "appeal_exhausted"
