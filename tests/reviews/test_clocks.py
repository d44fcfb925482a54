"""Decision clocks: due times by urgency and line of business, at-risk and overdue marks."""

from datetime import UTC, datetime, timedelta

import pytest

from reviews.clocks import clock_state_at, due_at_for
from reviews.models import AuditEvent, ClockState, PriorAuthRequest, Status
from reviews.services import clocks_mark
from tests.factories import PriorAuthRequestFactory

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("line_of_business", ["commercial", "medicare_advantage", "medicaid"])
def test_expedited_is_due_in_72_hours_and_standard_in_7_days(line_of_business):
    assert due_at_for(
        urgency="expedited", line_of_business=line_of_business, received_at=T0
    ) == T0 + timedelta(hours=72)
    assert due_at_for(
        urgency="standard", line_of_business=line_of_business, received_at=T0
    ) == T0 + timedelta(days=7)


def test_windows_are_settings_per_line_of_business(settings):
    settings.DECISION_WINDOWS_HOURS = {
        **settings.DECISION_WINDOWS_HOURS,
        "medicaid": {"expedited": 24, "standard": 96},
    }
    assert due_at_for(
        urgency="standard", line_of_business="medicaid", received_at=T0
    ) == T0 + timedelta(hours=96)
    assert due_at_for(
        urgency="standard", line_of_business="commercial", received_at=T0
    ) == T0 + timedelta(days=7)


@pytest.mark.parametrize(
    ("elapsed", "state"),
    [
        (timedelta(hours=0), ClockState.ON_TIME),
        (timedelta(hours=53, minutes=59), ClockState.ON_TIME),  # 18h01m of 72h left: > 1/4
        (timedelta(hours=54), ClockState.ON_TIME),  # exactly a quarter left is not yet at risk
        (timedelta(hours=54, seconds=1), ClockState.AT_RISK),
        (timedelta(hours=71, minutes=59), ClockState.AT_RISK),
        (timedelta(hours=72), ClockState.OVERDUE),
        (timedelta(days=3, hours=1), ClockState.OVERDUE),
    ],
)
def test_clock_state_for_an_expedited_request(elapsed, state):
    due = T0 + timedelta(hours=72)
    assert clock_state_at(received_at=T0, due_at=due, now=T0 + elapsed) == state


def test_the_sweep_marks_each_request_once_and_audits_it(db):
    # given a standard request received at T0 and waiting in nurse review
    pa_request = PriorAuthRequestFactory(
        status=Status.NURSE_REVIEW, received_at=T0, due_at=T0 + timedelta(days=7)
    )
    decided = PriorAuthRequestFactory(
        status=Status.APPROVED, received_at=T0, due_at=T0 + timedelta(days=7)
    )

    # when the sweep runs at 126 hours (42 of 168 hours left is exactly a quarter: on time)
    assert clocks_mark(now=T0 + timedelta(hours=126)) == {"at_risk": 0, "overdue": 0}
    # and a minute later, and again
    assert clocks_mark(now=T0 + timedelta(hours=126, minutes=1)) == {"at_risk": 1, "overdue": 0}
    assert clocks_mark(now=T0 + timedelta(hours=126, minutes=2)) == {"at_risk": 0, "overdue": 0}
    # and after the due time
    assert clocks_mark(now=T0 + timedelta(days=7)) == {"at_risk": 0, "overdue": 1}

    # then the request carries the marks, each audited once; a decided request is left alone
    assert PriorAuthRequest.objects.get(pk=pa_request.pk).clock_state == ClockState.OVERDUE
    assert PriorAuthRequest.objects.get(pk=decided.pk).clock_state == ClockState.ON_TIME
    actions = list(
        AuditEvent.objects.filter(request_id_ref=pa_request.pk).values_list("action", flat=True)
    )
    assert actions == ["clock_at_risk", "clock_overdue"]
