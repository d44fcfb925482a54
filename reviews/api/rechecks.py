"""POST /api/v1/requests/{id}/recheck/: evaluate an open request again on a date.

The date is usually the request's `eligible_on`, the day it would qualify if its facts stay as
they are; on that day Celery beat sends it back to the evidence checks with the facts it has by
then (reviews.services.rechecks). Idempotent like every POST: the same Idempotency-Key and body
answer the first response; the same date asked again answers the same recheck (200).
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from reviews.api.idempotency import idempotent
from reviews.api.permissions import IsProvider
from reviews.api.views import IDEMPOTENCY_PARAMETER, POST_ERRORS, TAG, _error
from reviews.contract import StrictInput
from reviews.selectors import request_get_for
from reviews.services.rechecks import recheck_schedule


class RecheckInput(StrictInput):
    date = serializers.DateField(
        help_text="The day to evaluate the request again (YYYY-MM-DD), today or later: usually "
        "the request's `eligible_on`."
    )


class RecheckOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="The recheck's id.")
    request_id = serializers.IntegerField(help_text="The request it evaluates again.")
    date = serializers.DateField(source="on_date", help_text="The day it runs.")
    state = serializers.CharField(help_text="`scheduled`, `done` or `skipped`.")
    outcome = serializers.CharField(help_text="Why a due recheck was skipped (empty otherwise).")
    created_at = serializers.DateTimeField(help_text="When it was asked.")


class RequestRecheckApi(APIView):
    permission_classes = [IsProvider]

    @extend_schema(
        operation_id="requests_recheck",
        tags=[TAG],
        summary="Evaluate an open request again on a date (its eligible_on)",
        request=RecheckInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: RecheckOutput,
            200: RecheckOutput,
            404: _error("No such request in your organization."),
            **POST_ERRORS,
        },
    )
    @idempotent("requests.recheck")
    def post(self, request, request_id: int):
        pa_request = request_get_for(user=request.user, request_id=request_id)
        data = RecheckInput(data=request.data)
        data.is_valid(raise_exception=True)
        recheck, created = recheck_schedule(
            pa_request=pa_request, actor=request.user, on_date=data.validated_data["date"]
        )
        return Response(
            RecheckOutput(recheck).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
