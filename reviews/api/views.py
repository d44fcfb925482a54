"""The provider API: submit, list, read, answer a request for information, withdraw.

Each view parses, calls a service (writes) or a selector (reads), and renders. Scoping lives in
the selectors: another organization's request is a 404 here because it is not in the queryset.
"""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from reviews import reference
from reviews.api.filters import RequestFilter
from reviews.api.idempotency import HEADER, idempotent
from reviews.api.permissions import IsProvider
from reviews.api.serializers import (
    ErrorOutput,
    RequestDetailOutput,
    RequestListOutput,
    RequestListPageOutput,
)
from reviews.audit import audit_record
from reviews.contract import InformationAnswerInput, RequestCreateInput, WithdrawInput
from reviews.errors import ValidationFailed
from reviews.models import Status, Urgency
from reviews.selectors import request_get_for, request_list_for
from reviews.services import request_answer_information, request_submit, request_withdraw
from reviews.services.intake import request_submitted_answer_cache

TAG = "requests"

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=HEADER,
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=True,
    description=(
        "Any string up to 255 characters, unique per intended action. A retry with the same key "
        "and body returns the first response and stores nothing new; the same key with a "
        "different body is a 409."
    ),
)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorOutput, description=description)


COMMON_ERRORS = {
    401: _error("No or an invalid token."),
    403: _error("The token's user is not a provider of an organization."),
}
POST_ERRORS = {
    **COMMON_ERRORS,
    400: _error(
        "Malformed JSON, a missing Idempotency-Key, or invalid fields (listed per field path)."
    ),
    409: _error(
        "The Idempotency-Key was used with a different body, or the request's status does not "
        "allow this action."
    ),
    413: _error("The body is larger than 1 MiB."),
    415: _error("The body is not application/json."),
}


def _detail(pa_request, request) -> dict:
    return RequestDetailOutput(pa_request, context={"request": request}).data


class RequestPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


class RequestCollectionApi(APIView):
    """POST submits a request (RequestCreate); GET lists the organization's requests (RequestList).

    One class because REQUEST.md puts both on /api/v1/requests/; each method is its own action.
    """

    permission_classes = [IsProvider]

    @extend_schema(
        operation_id="requests_create",
        tags=[TAG],
        summary="Submit a prior-authorization request",
        request=RequestCreateInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: OpenApiResponse(
                RequestDetailOutput, description="Accepted and stored; the checks are queued."
            ),
            **POST_ERRORS,
        },
    )
    @idempotent("requests.create")
    def post(self, request):
        data = RequestCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        pa_request = request_submit(actor=request.user, data=data.validated_data, channel="rest")
        request_submitted_answer_cache(pa_request)  # still inside the submitting transaction
        return Response(
            _detail(pa_request, request),
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-request-detail", args=[pa_request.pk])},
        )

    @extend_schema(
        operation_id="requests_list",
        tags=[TAG],
        summary="List the organization's requests",
        parameters=[
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                enum=Status.values,
                description="Only requests in this status.",
            ),
            OpenApiParameter(
                "procedure_family",
                OpenApiTypes.STR,
                enum=list(reference.FAMILIES),
                description="Only requests of this procedure family.",
            ),
            OpenApiParameter(
                "urgency",
                OpenApiTypes.STR,
                enum=Urgency.values,
                description="Only standard or only expedited requests.",
            ),
            OpenApiParameter(
                "received_after",
                OpenApiTypes.DATE,
                description="Received on or after this date (YYYY-MM-DD).",
            ),
            OpenApiParameter(
                "received_before",
                OpenApiTypes.DATE,
                description="Received on or before this date (YYYY-MM-DD).",
            ),
            OpenApiParameter("page", OpenApiTypes.INT, description="The page number, from 1."),
            OpenApiParameter(
                "page_size", OpenApiTypes.INT, description="Requests per page (at most 200)."
            ),
        ],
        responses={
            200: RequestListPageOutput,
            400: _error("A filter value is invalid."),
            404: _error("The page does not exist."),
            **COMMON_ERRORS,
        },
    )
    def get(self, request):
        filtered = RequestFilter(
            request.query_params,
            # The links name the latest determination's letter: one query for the whole page.
            queryset=request_list_for(user=request.user)
            .prefetch_related("determinations")
            .order_by("-received_at", "-pk"),
        )
        if not filtered.is_valid():
            raise ValidationFailed("A filter is invalid.", fields=dict(filtered.errors))
        paginator = RequestPagination()
        page = paginator.paginate_queryset(filtered.qs, request, view=self)
        data = RequestListOutput(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)


class RequestDetailApi(APIView):
    permission_classes = [IsProvider]

    @extend_schema(
        operation_id="requests_retrieve",
        tags=[TAG],
        summary="Read a request: status, criteria results, what is missing, the decision",
        responses={
            200: RequestDetailOutput,
            404: _error("No such request in your organization."),
            **COMMON_ERRORS,
        },
    )
    def get(self, request, request_id: int):
        pa_request = request_get_for(user=request.user, request_id=request_id)
        # DESIGN rule 5: every view of a patient's case is on the record.
        audit_record(
            action="request_viewed", subject=pa_request, actor=request.user, data={"via": "api"}
        )
        return Response(_detail(pa_request, request))


class RequestInformationApi(APIView):
    permission_classes = [IsProvider]

    @extend_schema(
        operation_id="requests_information",
        tags=[TAG],
        summary="Answer a request for information",
        description="Clinical facts and attachments are merged into the request, the answer is "
        "recorded, and the request is evaluated again.",
        request=InformationAnswerInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            200: RequestDetailOutput,
            404: _error("No such request in your organization."),
            **POST_ERRORS,
        },
    )
    @idempotent("requests.information")
    def post(self, request, request_id: int):
        pa_request = request_get_for(user=request.user, request_id=request_id)
        data = InformationAnswerInput(data=request.data)
        data.is_valid(raise_exception=True)
        answer = data.validated_data
        pa_request = request_answer_information(
            pa_request=pa_request,
            actor=request.user,
            clinical=answer.get("clinical"),
            attachments=answer.get("attachments"),
            message=answer.get("message") or "",
        )
        return Response(_detail(pa_request, request))


class RequestWithdrawApi(APIView):
    permission_classes = [IsProvider]

    @extend_schema(
        operation_id="requests_withdraw",
        tags=[TAG],
        summary="Withdraw an open request",
        request=WithdrawInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            200: RequestDetailOutput,
            404: _error("No such request in your organization."),
            **POST_ERRORS,
        },
    )
    @idempotent("requests.withdraw")
    def post(self, request, request_id: int):
        pa_request = request_get_for(user=request.user, request_id=request_id)
        data = WithdrawInput(data=request.data)
        data.is_valid(raise_exception=True)
        pa_request = request_withdraw(
            pa_request=pa_request,
            actor=request.user,
            reason=data.validated_data.get("reason") or "",
        )
        return Response(_detail(pa_request, request))
