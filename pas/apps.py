from django.apps import AppConfig


class PasConfig(AppConfig):
    name = "pas"
    verbose_name = "FHIR (Da Vinci PAS)"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from reviews.models import Determination
        from reviews.services.decisions import request_decided

        post_save.connect(
            _determination_saved, sender=Determination, dispatch_uid="pas.notification_outbox"
        )
        request_decided.connect(_request_decided, dispatch_uid="pas.notify_subscribers")


def _determination_saved(sender, instance, created: bool, **kwargs) -> None:
    """In the decision's own transaction: the outbox rows of its notifications."""
    if created:
        from pas.notifications import notifications_record

        notifications_record(determination=instance)


def _request_decided(sender, request_id: int, determination_id: int, **kwargs) -> None:
    """Sent after commit of each determination: hand its notifications to the delivery task."""
    from pas.notifications import notifications_enqueue

    notifications_enqueue(request_id=request_id, determination_id=determination_id)
