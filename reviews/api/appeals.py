"""POST /api/v1/requests/{id}/appeal/: a provider appeals a denial or partial approval."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from notes.limits import NoteSizeLimits
from reviews.api.idempotency import idempotent
from reviews.api.permissions import IsProvider
from reviews.api.schema import AppealOriginalDeterminationOutput, error
from reviews.api.views import IDEMPOTENCY_PARAMETER, POST_ERRORS
from reviews.models import Appeal, Attachment, Urgency
from reviews.selectors import request_get_for
from reviews.services.appeals import appeal_file


class AppealAttachmentInput(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=Attachment.Kind.choices, help_text="What the document is."
    )
    date = serializers.DateField(
        required=False, allow_null=True, help_text="The document's date (YYYY-MM-DD)."
    )
    title = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="A short title."
    )
    text = serializers.CharField(
        help_text="The document as plain text (NOTE_MAX_CHARS per document, NOTE_MAX_SUBMISSION_CHARS "
        "for all of them: 20,000 and 100,000 characters unless the plan sets otherwise)."
    )


class AppealOutput(serializers.ModelSerializer):
    request_id = serializers.IntegerField(
        source="request.pk", help_text="Lamina's id of the request."
    )
    reference = serializers.CharField(
        source="request.reference", help_text="The request's reference, e.g. `PA-00000012`."
    )
    request_status = serializers.CharField(
        source="request.status", help_text="The request's status now: `appeal`."
    )
    original_determination = serializers.SerializerMethodField(
        help_text="The determination appealed."
    )

    class Meta:
        model = Appeal
        fields = [
            "id",
            "request_id",
            "reference",
            "request_status",
            "status",
            "urgency",
            "reason",
            "filed_at",
            "due_at",
            "original_determination",
        ]
        extra_kwargs = {
            "id": {"help_text": "Lamina's id of the appeal."},
            "status": {"help_text": "open until a physician decides the appeal, then decided."},
            "urgency": {"help_text": "standard or expedited: sets the appeal's decision clock."},
            "reason": {"help_text": "The provider's reasons, as sent."},
            "filed_at": {"help_text": "When the appeal was filed."},
            "due_at": {"help_text": "When the appeal decision is due."},
        }

    @extend_schema_field(AppealOriginalDeterminationOutput)
    def get_original_determination(self, appeal: Appeal) -> dict:
        determination = appeal.original_determination
        return {
            "id": determination.pk,
            "outcome": determination.outcome,
            "decided_at": determination.decided_at.isoformat(),
        }


class RequestAppealApi(APIView):
    permission_classes = [IsProvider]

    class Input(NoteSizeLimits, serializers.Serializer):
        reason = serializers.CharField(
            max_length=20_000,
            help_text="Why the decision should change, in plain language.",
        )
        urgency = serializers.ChoiceField(
            choices=Urgency.choices,
            required=False,
            help_text="expedited when waiting could seriously jeopardize the member's life, "
            "health or function; the request's urgency when omitted.",
        )
        attachments = AppealAttachmentInput(
            many=True,
            required=False,
            max_length=50,
            help_text="Records that show the criteria are met, as plain text (at most 50).",
        )

    @extend_schema(
        operation_id="requests_appeal",
        tags=["appeals"],
        summary="Appeal a denial or partial approval",
        description="Files an appeal of the request's latest determination. A physician who took "
        "no part in the decision reviews it; the request's status becomes `appeal`.",
        request=Input,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: OpenApiResponse(AppealOutput, description="Filed; the appeal clock runs."),
            404: error("No such request in your organization."),
            **POST_ERRORS,
        },
    )
    @idempotent("appeal")
    def post(self, request, request_id):
        # Another organization's request is a 404, never a 403 (DESIGN rule 7).
        pa_request = request_get_for(user=request.user, request_id=request_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        appeal = appeal_file(
            pa_request=pa_request,
            actor=request.user,
            reason=data.validated_data["reason"],
            urgency=data.validated_data.get("urgency"),
            attachments=data.validated_data.get("attachments") or [],
        )
        return Response(AppealOutput(appeal).data, status=status.HTTP_201_CREATED)
