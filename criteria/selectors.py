"""Reads of policies: which version applies to a request."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db.models import Q, QuerySet

from criteria.models import PolicyVersion

S = PolicyVersion.Status
DEFAULT_PROFILE = "baseline"


def profile_for(line_of_business: str) -> str:
    """The profile a line of business uses (settings.POLICY_PROFILES; baseline by default)."""
    return getattr(settings, "POLICY_PROFILES", {}).get(line_of_business) or DEFAULT_PROFILE


def policy_version_for(
    *, family: str, line_of_business: str, on_date: date, profile: str | None = None
) -> PolicyVersion | None:
    """The version in force for a family and profile on a date, or None.

    In force: active, or retired with the date before its successor took effect
    ([effective_from, effective_to)). A request dated before a newer version's effective date is
    judged by the criteria of its date. Drafts never apply. The determination pins the version
    returned here, so later changes never rewrite its basis.
    """
    return (
        PolicyVersion.objects.select_related("policy")
        .filter(
            policy__family=family,
            profile=profile or profile_for(line_of_business),
            status__in=[S.ACTIVE, S.RETIRED],
            effective_from__lte=on_date,
        )
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=on_date))
        .order_by("-effective_from", "-version")
        .first()
    )


def policy_version_list(*, family: str | None = None) -> QuerySet[PolicyVersion]:
    versions = PolicyVersion.objects.select_related("policy")
    return versions.filter(policy__family=family) if family else versions
