from django.apps import AppConfig


class PasConfig(AppConfig):
    name = "pas"
    verbose_name = "FHIR (Da Vinci PAS)"

    def ready(self) -> None:
        from reviews.services.decisions import request_decided

        request_decided.connect(_request_decided, dispatch_uid="pas.notify_subscribers")


def _request_decided(sender, request_id: int, determination_id: int, **kwargs) -> None:
    """Sent after commit of each determination: queue a notification per active subscription."""
    from pas.services import notifications_enqueue

    notifications_enqueue(request_id=request_id, determination_id=determination_id)
