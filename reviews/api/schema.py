"""OpenAPI pieces of the letters, appeal and audit endpoints that are not a response shape.

The shapes themselves are the serializers the views render through (reviews/api/
audit_serializers.py, letter_serializers.py): here are the error responses, the query
parameters, the CSV and PDF media types, the letter's two routes as two operations, and the
original determination an appeal names (reviews/api/appeals.py).
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from reviews import reference
from reviews.api.letter_serializers import LetterOutput
from reviews.api.serializers import ErrorOutput
from reviews.models import Determination, Outcome
from reviews.selectors.audit import EXPORT_HEADER, NO_FAMILY
from reviews.selectors.metrics import CSV_HEADER

CSV = "text/csv"
PDF = "application/pdf"
JSON = "application/json"


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorOutput, description=description)


# --- Letters --------------------------------------------------------------------------------------


class LetterDetailSchema(AutoSchema):
    """The letter has two addresses: `/letters/{id}/` (JSON, or the PDF with `?format=pdf` or
    `Accept: application/pdf`) and `/letters/{id}.pdf` (always the PDF); each is its own
    operation."""

    def _is_pdf_route(self) -> bool:
        return self.path.endswith(".pdf")

    def get_operation_id(self) -> str:
        return "letters_pdf" if self._is_pdf_route() else "letters_retrieve"

    def get_summary(self) -> str:
        if self._is_pdf_route():
            return "Download a determination letter as a PDF"
        return "Read a determination letter (JSON or PDF)"

    def _get_format_parameters(self) -> list:
        # The .pdf route fixes the format itself; a ?format there changes nothing.
        return [] if self._is_pdf_route() else super()._get_format_parameters()

    def get_override_parameters(self) -> list:
        parameters = super().get_override_parameters()
        if self._is_pdf_route():
            return parameters
        return [
            *parameters,
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=["json", "pdf"],
                description="`pdf` for the PDF (as `Accept: application/pdf` does); JSON "
                "otherwise.",
            ),
        ]

    def get_response_serializers(self) -> dict:
        pdf = OpenApiResponse(
            OpenApiTypes.BINARY,
            description="The letter as a PDF, sent as an attachment "
            "(`lamina-PA-00000012-determination-7.pdf`).",
        )
        responses = {} if self._is_pdf_route() else {(200, JSON): LetterOutput}
        return {
            **responses,
            (200, PDF): pdf,
            (401, JSON): error("No or an invalid token."),
            (404, JSON): error(
                "No such request in your organization, or no such determination of it."
            ),
        }


# --- Appeals ---------------------------------------------------------------------------------------


class AppealOriginalDeterminationOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="The determination appealed.")
    outcome = serializers.ChoiceField(
        choices=Outcome.choices, help_text="Its outcome: denied or partially_approved."
    )
    decided_at = serializers.DateTimeField(help_text="When it was decided.")


# --- Audit ---------------------------------------------------------------------------------------

AUDIT_ERRORS = {
    401: error("No or an invalid token (or session)."),
    403: error("The user is not an auditor or plan administrator."),
}
CSV_ERRORS = {(status, JSON): response for status, response in AUDIT_ERRORS.items()}

DETERMINATION_FILTERS = [
    OpenApiParameter(
        "date_from", OpenApiTypes.DATE, description="Decided on or after this day (YYYY-MM-DD)."
    ),
    OpenApiParameter(
        "date_to", OpenApiTypes.DATE, description="Decided on or before this day (YYYY-MM-DD)."
    ),
    OpenApiParameter(
        "outcome", OpenApiTypes.STR, enum=Outcome.values, description="Only this outcome."
    ),
    OpenApiParameter(
        "kind",
        OpenApiTypes.STR,
        enum=Determination.Kind.values,
        description="Only initial determinations or only appeal decisions.",
    ),
    OpenApiParameter(
        "procedure_family",
        OpenApiTypes.STR,
        enum=[*reference.FAMILIES, NO_FAMILY],
        description=f"Only this procedure family; `{NO_FAMILY}` for requests no Lamina policy "
        "covers.",
    ),
    OpenApiParameter("reviewer", OpenApiTypes.STR, description="Only decisions by this username."),
    OpenApiParameter(
        "organization", OpenApiTypes.INT, description="Only this provider organization's (id)."
    ),
    OpenApiParameter(
        "provider_npi",
        OpenApiTypes.STR,
        pattern=r"^\d{10}$",
        description="Only requests from this requesting provider NPI.",
    ),
]
PAGE_PARAMETERS = [
    OpenApiParameter("page", OpenApiTypes.INT, description="The page number, from 1."),
    OpenApiParameter(
        "page_size", OpenApiTypes.INT, description="Determinations per page (50; at most 500)."
    ),
]
PERIOD_PARAMETERS = [
    OpenApiParameter(
        "start",
        OpenApiTypes.DATE,
        required=True,
        description="The first day of the period (YYYY-MM-DD).",
    ),
    OpenApiParameter(
        "end",
        OpenApiTypes.DATE,
        required=True,
        description="The last day of the period, inclusive (YYYY-MM-DD).",
    ),
]


def csv_response(description: str, header) -> OpenApiResponse:
    return OpenApiResponse(
        OpenApiTypes.STR,
        description=f"{description} Columns: {', '.join(f'`{c}`' for c in header)}.",
    )


DETERMINATIONS_CSV = csv_response(
    "Every matching determination, one row each, sent as an attachment.", EXPORT_HEADER
)
METRICS_CSV = csv_response("The metrics rows, sent as an attachment.", CSV_HEADER)
