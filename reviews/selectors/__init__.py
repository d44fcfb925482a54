"""Selectors: functions that read. Every rule about who may read what lives here."""

from django.db.models import QuerySet
from django.http import Http404

from reviews.models import PriorAuthRequest, Role

READ_ALL_ROLES = frozenset({Role.NURSE, Role.PHYSICIAN, Role.AUDITOR, Role.ADMIN})


def request_list_for(*, user) -> QuerySet[PriorAuthRequest]:
    """The requests a user may read: a provider its own organization's, reviewers and auditors all.

    DESIGN rule 7: another organization's request is invisible (a 404, never a 403).
    """
    base = PriorAuthRequest.objects.select_related("member", "organization", "assigned_to")
    if not getattr(user, "is_authenticated", False):
        return base.none()
    role = user.role
    if role == Role.PROVIDER and user.organization_id:
        return base.filter(organization_id=user.organization_id)
    if role in READ_ALL_ROLES:
        return base
    return base.none()


def request_get_for(*, user, request_id) -> PriorAuthRequest:
    try:
        return request_list_for(user=user).get(pk=int(request_id))
    except (PriorAuthRequest.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise Http404("No such request.") from exc
