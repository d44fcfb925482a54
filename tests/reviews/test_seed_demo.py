"""The demo data: every role, varied states through the real services, and nothing new twice."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from reviews.models import (
    Appeal,
    AuditEvent,
    Determination,
    Organization,
    PriorAuthRequest,
    Status,
    User,
)


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def test_it_refuses_to_run_with_debug_off_unless_forced(db, settings):
    settings.DEBUG = False

    with pytest.raises(CommandError):
        seed()
    assert not User.objects.exists()


def test_it_creates_every_role_and_requests_in_varied_states(db, settings, policies):
    settings.DEBUG = True

    output = seed()

    assert Organization.objects.count() == 2
    roles = {u.username: u.role for u in User.objects.all()}
    assert roles == {
        "provider_a": "provider",
        "provider_b": "provider",
        "nurse": "nurse",
        "physician": "physician",
        "physician2": "physician",
        "auditor": "auditor",
        "admin": "admin",
    }
    assert User.objects.get(username="admin").is_superuser
    for username in ("provider_a", "provider_b"):
        assert Token.objects.get(user__username=username).key in output
    assert User.objects.get(username="nurse").check_password("demo-nurse")
    assert "demo-nurse" in output

    statuses = set(PriorAuthRequest.objects.values_list("status", flat=True))
    assert {
        Status.APPROVED,
        Status.PENDING_INFORMATION,
        Status.NURSE_REVIEW,
        Status.PHYSICIAN_REVIEW,
        Status.DENIED,
        Status.PARTIALLY_APPROVED,
        Status.WITHDRAWN,
        Status.APPEAL,
    } <= statuses
    assert PriorAuthRequest.objects.count() >= 24
    engine_approvals = Determination.objects.filter(outcome="approved", decided_by_role="engine")
    assert engine_approvals.count() >= 5
    denial = Determination.objects.filter(outcome="denied").first()
    assert denial.decided_by_role == "physician" and denial.reasons and denial.rationale
    assert Appeal.objects.filter(status=Appeal.AppealStatus.OPEN).exists()
    # Each organization's requests belong to its own provider.
    for request in PriorAuthRequest.objects.select_related("submitted_by"):
        assert request.submitted_by.organization_id == request.organization_id


def test_running_it_twice_creates_nothing_new(db, settings, policies):
    settings.DEBUG = True
    seed()
    counts = (
        User.objects.count(),
        Organization.objects.count(),
        PriorAuthRequest.objects.count(),
        Determination.objects.count(),
        AuditEvent.objects.count(),
    )

    output = seed()

    assert (
        User.objects.count(),
        Organization.objects.count(),
        PriorAuthRequest.objects.count(),
        Determination.objects.count(),
        AuditEvent.objects.count(),
    ) == counts
    assert "0 new requests" in output


def test_without_policies_it_stores_the_requests_and_does_not_crash(db, settings):
    settings.DEBUG = True

    output = seed(force=True)

    assert "No criteria policies are loaded" in output
    assert PriorAuthRequest.objects.count() >= 24
    assert PriorAuthRequest.objects.filter(status=Status.WITHDRAWN).exists()
