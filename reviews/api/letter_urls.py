"""GET /api/v1/requests/{id}/letters/ and /letters/{determination_id}/ (JSON; ?format=pdf or
the .pdf route for the PDF)."""

from django.urls import path

from reviews.api.letters import LetterDetailApi, LetterListApi

urlpatterns = [
    path("requests/<int:request_id>/letters/", LetterListApi.as_view(), name="api-letters"),
    path(
        "requests/<int:request_id>/letters/<int:determination_id>/",
        LetterDetailApi.as_view(),
        name="api-letter",
    ),
    path(
        "requests/<int:request_id>/letters/<int:determination_id>.pdf",
        LetterDetailApi.as_view(),
        {"format": "pdf"},
        name="api-letter-pdf",
    ),
]
