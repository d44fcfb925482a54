"""Sign-ins and failed sign-ins are audit events (DESIGN rule 5)."""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

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
