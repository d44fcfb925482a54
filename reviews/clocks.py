"""Decision clocks: due times per urgency and line of business, and at-risk / overdue marks."""

from datetime import datetime, timedelta

from django.conf import settings

from reviews.models import ClockState


def window_for(*, urgency: str, line_of_business: str) -> timedelta:
    windows = settings.DECISION_WINDOWS_HOURS.get(
        line_of_business, settings.DECISION_WINDOWS_HOURS[settings.DEFAULT_LINE_OF_BUSINESS]
    )
    return timedelta(hours=windows[urgency])


def due_at_for(*, urgency: str, line_of_business: str, received_at: datetime) -> datetime:
    """72 hours for expedited, 7 calendar days for standard (CMS-0057-F), per line of business."""
    return received_at + window_for(urgency=urgency, line_of_business=line_of_business)


def clock_state_at(*, received_at: datetime, due_at: datetime, now: datetime) -> str:
    """on_time, at_risk (less than AT_RISK_FRACTION of the window left) or overdue."""
    if now >= due_at:
        return ClockState.OVERDUE
    window = due_at - received_at
    if due_at - now < window * settings.AT_RISK_FRACTION:
        return ClockState.AT_RISK
    return ClockState.ON_TIME
