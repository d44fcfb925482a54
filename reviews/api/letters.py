"""Provider API: the determination letters of a request, as JSON or PDF.

A provider reads only its own organization's requests (another's is a 404, DESIGN rule 7);
reviewers and auditors read all. Every read of a letter is an audit event.
"""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from reviews.api.letter_serializers import LetterListOutput, LetterOutput
from reviews.api.schema import LetterDetailSchema, error
from reviews.letters import letter_context, letter_filename, letter_pdf, letter_viewed
from reviews.models import Determination
from reviews.selectors import request_get_for


class PdfRenderer(BaseRenderer):
    """Lets ?format=pdf and Accept: application/pdf select the PDF; the view writes the bytes."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


TAG = "letters"


class LetterListApi(APIView):
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="letters_list",
        tags=[TAG],
        summary="List a request's determination letters",
        description="One letter per determination, oldest first, with where to read each as JSON "
        "or PDF.",
        responses={
            200: LetterListOutput,
            401: error("No or an invalid token."),
            404: error("No such request in your organization."),
        },
    )
    def get(self, request, request_id):
        pa_request = request_get_for(user=request.user, request_id=request_id)
        determinations = Determination.objects.filter(request=pa_request).order_by(
            "decided_at", "pk"
        )
        letters = {
            "request_id": pa_request.pk,
            "reference": pa_request.reference,
            "results": determinations,
        }
        return Response(LetterListOutput(letters, context={"request": request}).data)


class LetterDetailApi(APIView):
    renderer_classes = [JSONRenderer, PdfRenderer]
    # Two routes, two operations: the schema tells the .pdf route from the JSON one.
    schema = LetterDetailSchema()

    @extend_schema(
        tags=[TAG],
        description="The letter sent to provider and member: the decision, what is authorized, "
        "the criteria not met and the appeal rights, in plain language. The JSON, the PDF and "
        "the reviewers' letter page say the same. Every read is an audit event.",
    )
    def handle_exception(self, exc):
        # An error asked for as PDF (a missing letter, a 401) is answered as the JSON error it
        # is, labelled application/json, never as a "PDF" holding JSON.
        renderer = getattr(self.request, "accepted_renderer", None)
        if renderer is not None and renderer.format == "pdf":
            self.request.accepted_renderer = JSONRenderer()
            self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    def get(self, request, request_id, determination_id, format=None):
        pa_request = request_get_for(user=request.user, request_id=request_id)
        determination = get_object_or_404(
            Determination.objects.select_related(
                "request__member", "request__organization", "policy_version__policy"
            ),
            pk=determination_id,
            request=pa_request,
        )
        letter = letter_context(determination)
        if request.accepted_renderer.format == "pdf":
            body = letter_pdf(letter)
            letter_viewed(determination=determination, actor=request.user, fmt="pdf", channel="api")
            response = HttpResponse(body, content_type="application/pdf")
            response["Content-Disposition"] = f'attachment; filename="{letter_filename(letter)}"'
            return response
        letter_viewed(determination=determination, actor=request.user, fmt="json", channel="api")
        return Response(LetterOutput(letter, context={"request": request}).data)
