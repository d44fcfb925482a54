"""Sign-ins and failed sign-ins are audit events (DESIGN rule 5)."""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from criteria.signals import policy_version_changed
from reviews.audit import audit_record


@receiver(user_logged_in)
def _signed_in(sender, request, user, **kwargs):
    audit_record(
        action="signed_in",
        subject=user,
        actor=user,
        subject_type="user",
        ip=request.META.get("REMOTE_ADDR") if request is not None else None,
    )


@receiver(user_login_failed)
def _sign_in_failed(sender, credentials, request=None, **kwargs):
    # The username tried is recorded, never the password.
    audit_record(
        action="sign_in_failed",
        actor="system",
        subject_type="user",
        subject_id=str(credentials.get("username", ""))[:64],
        role="",
        ip=request.META.get("REMOTE_ADDR") if request is not None else None,
        data={"username": str(credentials.get("username", ""))[:150]},
    )


@receiver(policy_version_changed)
def _policy_version_changed(sender, version, change, actor=None, **kwargs):
    # Criteria are versioned data (DESIGN rule 6): loading, drafting, activating and retiring a
    # version are on the record like any other change, with the checksum that identifies it.
    audit_record(
        action=f"policy_version_{change}",
        subject=version,
        subject_type="policyversion",
        actor=actor if getattr(actor, "is_authenticated", False) else "system",
        data={
            "policy_version": version.label,
            "status": version.status,
            "checksum": version.checksum,
            "effective_from": version.effective_from,
            **_simulations_of(version, change),
        },
    )


def _simulations_of(version, change: str) -> dict:
    """On activation, the finished simulations that replayed this stored version."""
    if change != "activated":
        return {}
    from reviews.models import PolicySimulation

    ids = list(
        PolicySimulation.objects.filter(state=PolicySimulation.State.DONE, version=version)
        .values_list("pk", flat=True)
        .order_by("pk")
    )
    return {"simulations": ids}
