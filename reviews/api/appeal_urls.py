"""The provider's appeal of a determination (mounted under /api/v1/)."""

from django.urls import path

from reviews.api.appeals import RequestAppealApi

urlpatterns = [
    path(
        "requests/<int:request_id>/appeal/",
        RequestAppealApi.as_view(),
        name="api-request-appeal",
    ),
]
