"""POST /api/v1/requests/{id}/appeal/: a provider appeals a denial or partial approval."""

from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from reviews.api.idempotency import idempotent
from reviews.api.permissions import IsProvider
from reviews.models import Appeal, Attachment, Urgency
from reviews.selectors import request_get_for
from reviews.services.appeals import appeal_file


class AppealAttachmentInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Attachment.Kind.choices)
    date = serializers.DateField(required=False, allow_null=True)
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    text = serializers.CharField(max_length=200_000)


class AppealOutput(serializers.ModelSerializer):
    request_id = serializers.IntegerField(source="request.pk")
    reference = serializers.CharField(source="request.reference")
    request_status = serializers.CharField(source="request.status")
    original_determination = serializers.SerializerMethodField()

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

    def get_original_determination(self, appeal: Appeal) -> dict:
        determination = appeal.original_determination
        return {
            "id": determination.pk,
            "outcome": determination.outcome,
            "decided_at": determination.decided_at.isoformat(),
        }


class RequestAppealApi(APIView):
    permission_classes = [IsProvider]

    class Input(serializers.Serializer):
        reason = serializers.CharField(max_length=20_000)
        urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
        attachments = AppealAttachmentInput(many=True, required=False, max_length=50)

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
