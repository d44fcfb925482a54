"""What the queue orders and badges by: an appeal's own due time, the provider's answer, and
whether the physician may work an appeal at all (one who took part in the case may not)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviews.models import Role, Status
from reviews.roles import user_create
from reviews.selectors.queue import QueueFilters, queue_page_for, queue_row
from reviews.services import (
    request_answer_information,
    request_information_ask,
)
from reviews.services.appeals import appeal_file
from tests.conftest import PASSWORD
from tests.reviews.audit_cases import fusion_request
from tests.reviews.held import denied_by, held
from tests.reviews.web.conftest import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def physician3(db):
    return user_create(username="physician3", password=PASSWORD, role=Role.PHYSICIAN)


def rows_for(user):
    return list(queue_page_for(user=user, filters=QueueFilters()).object_list)


def appealed(org, provider, physician, *, received_days_ago: int, urgency: str):
    """A request received long ago, denied, and appealed today with the given urgency."""
    received = timezone.now() - timedelta(days=received_days_ago)
    pa_request = fusion_request(
        organization=org,
        submitted_by=provider,
        received_at=received,
        due_at=received + timedelta(days=7),
    )
    pa_request = denied_by(pa_request, physician)
    appeal = appeal_file(pa_request=pa_request, actor=provider, reason="PT notes.", urgency=urgency)
    pa_request.refresh_from_db()
    return pa_request, appeal


def test_the_queue_orders_an_appeal_by_its_own_due_time(
    policies, org_a, provider_a, physician, physician3
):
    # an appeal whose request was due 33 days ago, due itself in 30 days
    standard, standard_appeal = appealed(
        org_a, provider_a, physician, received_days_ago=40, urgency="standard"
    )
    # a case in physician review due in 5 days
    waiting = fusion_request(
        organization=org_a, submitted_by=provider_a, due_at=timezone.now() + timedelta(days=5)
    )
    # an expedited appeal due in 72 hours
    expedited, expedited_appeal = appealed(
        org_a, provider_a, physician, received_days_ago=20, urgency="expedited"
    )

    rows = rows_for(physician3)

    assert [r.pa_request.pk for r in rows] == [expedited.pk, waiting.pk, standard.pk]
    by_pk = {r.pa_request.pk: r for r in rows}
    assert by_pk[standard.pk].due_at == standard_appeal.due_at
    assert by_pk[standard.pk].appeal_due_at == standard_appeal.due_at
    assert by_pk[expedited.pk].appeal_due_at == expedited_appeal.due_at
    assert (by_pk[waiting.pk].due_at, by_pk[waiting.pk].appeal_due_at) == (waiting.due_at, None)
    # the appeal's own clock: the request's due date passed long ago, the appeal's did not
    assert by_pk[standard.pk].clock == "on_time"


def test_an_appeal_is_claimable_only_by_a_physician_who_took_no_part(
    policies, org_a, provider_a, physician, physician3
):
    pa_request, _ = appealed(org_a, provider_a, physician, received_days_ago=3, urgency="standard")

    (former,) = rows_for(physician)
    (eligible,) = rows_for(physician3)

    assert (former.appeal_eligible, former.can_claim) == (False, False)
    assert (eligible.appeal_eligible, eligible.can_claim) == (True, True)
    # the single row the case page and the claim button read says the same
    assert queue_row(pa_request=pa_request, user=physician).can_claim is False
    assert queue_row(pa_request=pa_request, user=physician3).can_claim is True


def test_the_former_physician_is_refused_at_the_claim_through_the_web(
    policies, org_a, provider_a, physician, physician3
):
    pa_request, _ = appealed(org_a, provider_a, physician, received_days_ago=3, urgency="standard")

    response = signed_in(physician).post(reverse("claim", args=[pa_request.pk]), follow=True)
    pa_request.refresh_from_db()
    assert pa_request.assigned_to is None
    assert "took no part in the case" in response.content.decode()
    # their own form is refused too, before anything is filled in
    response = signed_in(physician).post(
        reverse("action", args=[pa_request.pk, "approve"]), {"confirmed": "yes"}
    )
    assert response.status_code == 403
    assert "took no part in the case" in response.content.decode()

    signed_in(physician3).post(reverse("claim", args=[pa_request.pk]))
    pa_request.refresh_from_db()
    assert pa_request.assigned_to == physician3
    response = signed_in(physician3).post(
        reverse("action", args=[pa_request.pk, "approve"]), {"confirmed": "yes"}
    )
    assert response.status_code == 302
    pa_request.refresh_from_db()
    assert pa_request.status == Status.APPROVED


def test_an_answered_case_carries_the_answered_badge(org_a, provider_a, nurse):
    asked = fusion_request(organization=org_a, submitted_by=provider_a, status=Status.NURSE_REVIEW)
    fresh = fusion_request(organization=org_a, submitted_by=provider_a, status=Status.NURSE_REVIEW)
    held(asked, nurse)
    request_information_ask(
        pa_request=asked,
        actor=nurse,
        items=[{"field": "clinical.conservative_care", "why": "PT dates", "criterion": "FU-03"}],
        message="Please send the therapy notes.",
    )
    request_answer_information(
        pa_request=asked,
        actor=provider_a,
        attachments=[{"kind": "clinical_note", "text": "PT 8 weeks, failed."}],
        message="Therapy notes attached.",
    )
    # the checks send it back to the nurse's queue
    from reviews.transitions import request_transition

    request_transition(pa_request=asked, to=Status.NURSE_REVIEW, actor="engine")

    answered = {r.pa_request.pk: r.answered for r in rows_for(nurse)}

    assert answered == {asked.pk: True, fresh.pk: False}
    assert queue_row(pa_request=asked, user=nurse).answered is True
