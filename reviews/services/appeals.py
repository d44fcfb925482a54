"""Appeals: a provider asks for a denial or partial approval to be reviewed again."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from reviews.audit import audit_record
from reviews.authority import Act, may, roles_for, statuses_for
from reviews.errors import Conflict, NotPermitted, ValidationFailed
from reviews.models import (
    Appeal,
    Attachment,
    AuditEvent,
    Determination,
    Outcome,
    PriorAuthRequest,
    ReviewNote,
    Role,
    Status,
    Urgency,
)
from reviews.transitions import request_transition

APPEALABLE = statuses_for(Role.PROVIDER, Act.APPEAL)
ADVERSE = frozenset({Outcome.DENIED, Outcome.PARTIALLY_APPROVED})


# What a reviewer does on a case that makes them part of its review. Reading it is not.
PARTICIPATION_ACTIONS = frozenset(
    {"assigned", "status_changed", "information_requested", "peer_to_peer_recorded"}
)
NOT_ELIGIBLE = (
    "An appeal is decided by a physician who took no part in the case; you worked on this one."
)


def took_part_in_review(pa_request: PriorAuthRequest, actor, *, before: datetime) -> bool:
    """Whether `actor` decided the request, or worked on it before the appeal was filed:
    claimed it, moved it, asked for information, wrote a note or held the peer-to-peer."""
    return (
        Determination.objects.filter(request=pa_request, decided_by=actor).exists()
        or ReviewNote.objects.filter(
            request=pa_request, author=actor, created_at__lt=before
        ).exists()
        or AuditEvent.objects.filter(
            request_id_ref=pa_request.pk,
            actor=actor,
            action__in=PARTICIPATION_ACTIONS,
            occurred_at__lt=before,
        ).exists()
    )


def appeal_open(pa_request: PriorAuthRequest) -> Appeal | None:
    """The request's open appeal, if it is under appeal."""
    return pa_request.appeals.filter(status=Appeal.AppealStatus.OPEN).order_by("-filed_at").first()


def appeal_eligible(pa_request: PriorAuthRequest, actor) -> bool:
    """Whether `actor` may work this request's open appeal (DESIGN rule 4): a physician who took
    no part in the case before the appeal was filed. True when there is no open appeal."""
    appeal = appeal_open(pa_request)
    if appeal is None:
        return True
    if not may(getattr(actor, "role", ""), Act.CLAIM, Status.APPEAL):
        return False
    return not took_part_in_review(pa_request, actor, before=appeal.filed_at)


def appeal_window_closes_at(determination: Determination) -> datetime:
    """The last moment an adverse determination may be appealed (APPEAL_WINDOW_DAYS after it)."""
    return determination.decided_at + timedelta(days=settings.APPEAL_WINDOW_DAYS)


def appeal_due_at(*, urgency: str, filed_at: datetime) -> datetime:
    """The appeal's own clock: 72 hours expedited, 30 days standard (settings)."""
    return filed_at + timedelta(hours=settings.APPEAL_WINDOWS_HOURS[urgency])


@transaction.atomic
def appeal_file(
    *,
    pa_request: PriorAuthRequest,
    actor,
    reason: str,
    attachments: list[dict] | None = None,
    urgency: str | None = None,
    now: datetime | None = None,
) -> Appeal:
    """File an appeal of the request's adverse determination.

    1. Only a provider of the request's organization appeals, with a reason.
    2. Lock the request: it must stand denied or partially approved, by an initial determination
       (an appeal decision is final inside Lamina), decided no more than APPEAL_WINDOW_DAYS ago.
    3. Move the request to `appeal`, store the appeal with its own due time and the new
       attachments (source "appeal"), and audit it, in this one transaction.
    """
    if not getattr(actor, "is_authenticated", False) or actor.role not in roles_for(Act.APPEAL):
        raise NotPermitted("Only the requesting provider's organization may appeal.")
    if pa_request.organization_id != actor.organization_id:
        raise NotPermitted("This request belongs to another organization.")
    urgency = urgency or pa_request.urgency
    fields = {}
    if not (reason or "").strip():
        fields["reason"] = ["Say why the determination should be reviewed again."]
    if urgency not in Urgency.values:
        fields["urgency"] = [f"One of: {', '.join(Urgency.values)}."]
    if fields:
        raise ValidationFailed("The appeal is incomplete.", fields=fields)

    now = now or timezone.now()
    locked = PriorAuthRequest.objects.select_for_update().get(pk=pa_request.pk)
    if locked.status not in APPEALABLE:
        raise Conflict(
            f"Only a denial or a partial approval can be appealed; this request is "
            f"'{locked.status}'.",
            code="not_appealable",
        )
    determination = (
        Determination.objects.filter(request=locked, outcome__in=ADVERSE)
        .order_by("-decided_at", "-pk")
        .first()
    )
    if determination is None:
        raise Conflict(
            "This request has no adverse determination to appeal.", code="not_appealable"
        )
    if determination.kind == Determination.Kind.APPEAL:
        raise Conflict(
            "This determination already decided an appeal; it cannot be appealed again in Lamina.",
            code="appeal_exhausted",
        )
    closes_at = appeal_window_closes_at(determination)
    if now > closes_at:
        raise Conflict(
            f"The appeal window of {settings.APPEAL_WINDOW_DAYS} days closed on "
            f"{closes_at.date().isoformat()}.",
            code="appeal_window_closed",
        )

    locked = request_transition(
        pa_request=locked,
        to=Status.APPEAL,
        actor=actor,
        reason="appeal filed",
        data={"determination_id": determination.pk},
        expect=APPEALABLE,
    )
    appeal = Appeal.objects.create(
        request=locked,
        original_determination=determination,
        filed_by=actor,
        reason=reason.strip(),
        urgency=urgency,
        filed_at=now,
        due_at=appeal_due_at(urgency=urgency, filed_at=now),
    )
    Attachment.objects.bulk_create(
        Attachment(
            request=locked,
            kind=a["kind"],
            date=a.get("date"),
            title=a.get("title") or "",
            text=a["text"],
            source="appeal",
        )
        for a in attachments or []
    )
    audit_record(
        action="appeal_filed",
        subject=appeal,
        actor=actor,
        request=locked,
        # References only: the reason and attachments are clinical text and stay out of the trail.
        data={
            "original_determination": determination.pk,
            "original_outcome": determination.outcome,
            "urgency": urgency,
            "due_at": appeal.due_at.isoformat(),
            "attachments": len(attachments or []),
        },
    )
    return appeal
